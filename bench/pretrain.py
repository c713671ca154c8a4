"""Pre-training from nothing: how fast a small BERT leaves the unigram baseline, and the packaged chinese-tiny.

``bert_nb.pretrain`` (the Trainer, masked-LM logits at masked positions only, NSP) on the
packaged Chinese text: People's Daily, January 1998 (``peoples_daily_text``, its train split)
and the shopping reviews (``chinese_reviews``, train). Every evaluation measures top-1 and top-5
accuracy on 15% of the pieces of held-out People's Daily paragraphs (the test split, never trained
on), next to always guessing the most frequent pieces (the unigram baseline, about 0.11-0.15
top-5). The run stops at ``--steps`` or after ``--minutes``, whichever comes first.

Reported (``bench/results/pretrain_chinese.json``): the curve of accuracy against minutes, the
recipe, the final top-1/top-5 and the ratio to the baseline (goals: 2x within 15 minutes, 3x for
the packaged model). ``--save`` writes the model as fp16 safetensors (the packaged
``chinese-tiny`` is made with it):

    python bench/pretrain.py --corpus chinese [--steps 8000] [--minutes 45] [--lr 5e-4] [--batch 64]
                             [--save bert_nb/models/chinese_tiny]
    python bench/pretrain.py --finetune chinese-tiny [--epochs 1]

The second command fine-tunes the packaged model on ``chinese_reviews`` (train split) and compares
test accuracy with a logistic regression on character counts trained on the same split
(``bench/results/pretrain_reviews.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def _corpus():
    import bert_nb

    daily = bert_nb.datasets.load("peoples_daily_text", split="train").text.tolist()
    reviews = bert_nb.datasets.load("chinese_reviews", split="train").text.tolist()
    held = bert_nb.datasets.load("peoples_daily_text", split="test").text.tolist()
    return daily + reviews, held


def _stop_after(minutes: float):
    from transformers import TrainerCallback

    class _Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if time.perf_counter() - self.start > minutes * 60:
                control.should_training_stop = True

    return _Clock()


def _reviews(model_name: str, epochs: float, out: str) -> None:
    """chinese_reviews fine-tuned from the pre-trained model, next to a logistic regression on character counts."""
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    import bert_nb
    from bert_nb.training import text_progress

    train = bert_nb.datasets.load("chinese_reviews", split="train")
    test = bert_nb.datasets.load("chinese_reviews", split="test")
    counts = CountVectorizer(analyzer="char")
    baseline = LogisticRegression(max_iter=2000).fit(counts.fit_transform(train.text), train.label)
    baseline_acc = float((baseline.predict(counts.transform(test.text)) == test.label).mean())
    start = time.perf_counter()
    clf = bert_nb.finetune(bert_nb.load(model_name, device="cpu"), train, epochs=epochs, learning_rate=2e-4,
                           batch_size=32, max_length=128, callbacks=[text_progress(every=50)], cache=False)
    seconds = time.perf_counter() - start
    predicted = clf.predict(test.text.tolist())
    acc = float((predicted.label == test.label).mean())
    result = {"model": model_name, "train": len(train), "test": len(test), "epochs": epochs,
              "minutes": round(seconds / 60, 1), "accuracy": round(acc, 4),
              "logistic_regression_char_counts": round(baseline_acc, 4),
              "majority_class": round(float(np.mean(test.label == train.label.mode()[0])), 4)}
    Path(out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=["chinese"], default="chinese")
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--save", help="write the model here as fp16 safetensors (the packaged chinese-tiny)")
    parser.add_argument("--out", default="bench/results/pretrain_chinese.json")
    parser.add_argument("--finetune", metavar="MODEL", help="instead: fine-tune MODEL (e.g. chinese-tiny) on "
                        "chinese_reviews and compare with a logistic regression on character counts")
    parser.add_argument("--epochs", type=float, default=1)
    args = parser.parse_args()
    if args.finetune:
        return _reviews(args.finetune, args.epochs, "bench/results/pretrain_reviews.json")

    import torch

    import bert_nb
    from bert_nb.training import text_progress

    texts, held = _corpus()
    probes = ["中国人[MASK]代表大会。", "我爱北[MASK]天安门。", "这本书很[MASK]看。", "经济发[MASK]很快。"]
    start = time.perf_counter()
    model = bert_nb.pretrain(texts, config=args.config, tokenizer="chinese", steps=args.steps,
                             batch_size=args.batch, learning_rate=args.lr, max_length=args.max_length,
                             eval_every=args.eval_every, eval_texts=held[:400], probes=probes,
                             callbacks=[text_progress(every=50), _stop_after(args.minutes)], name="chinese-tiny")
    seconds = time.perf_counter() - start
    last = model.state.epochs[-1]
    result = {
        "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
        "recipe": {"config": args.config, "steps_planned": args.steps, "steps_run": model.state.step,
                   "batch_size": args.batch, "learning_rate": args.lr, "max_length": args.max_length,
                   "objectives": ["mlm", "nsp"], "minutes_limit": args.minutes,
                   "documents": model.training_config["documents"]},
        "minutes": round(seconds / 60, 1),
        "final": {k: last[k] for k in ("top1", "top5", "unigram_top1", "unigram_top5", "masked")},
        "top5_over_baseline": round(last["top5"] / last["unigram_top5"], 2),
        "curve": [{k: r[k] for k in ("step", "seconds", "top1", "top5")} for r in model.state.epochs],
        "probes": model.state.epochs[-1].get("probes"),
    }
    if args.save:
        folder = Path(args.save)
        model.model.half()
        model.save(folder)
        model.model.float()
        result["saved"] = {"folder": str(folder), "megabytes": round(
            sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
