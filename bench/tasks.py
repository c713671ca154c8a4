"""The other tasks: a tagger on CoNLL-2003 and a cross-encoder on STS-B, each next to what a user would run instead.

- NER: the same CoNLL-2003 sentences, model (the packaged MiniLM), settings and machine, in one
  run: a plain transformers Trainer (token-classification head, first-piece labels,
  DataCollatorForTokenClassification, no callbacks), then ``bert_nb.finetune(task="tokens")``
  with its recorder and the text progress line. Reported: seconds per epoch of each and their
  ratio (goal <= 1.05), and the entity F1 of both on the CoNLL test split (seqeval; goal >= 0.85
  after a CPU-sized run; published BERT-base ~0.92).
- Pairs: ``bert_nb.finetune(text=("sentence1", "sentence2"), label="score")`` on STS-B train,
  Spearman x 100 on STS-B test, next to the bi-encoder's (the packaged MiniLM's cosine,
  ``bert_nb.evaluate_sts``: 82.0).
- QA: the questions built from CoNLL-2003 (``conll_qa``), the same way: a plain Trainer with a
  question-answering head on the same windows, then ``bert_nb.finetune(task="qa")``; seconds per
  epoch and their ratio, SQuAD exact match and F1 of both on the test questions.

    python bench/tasks.py [--ner-train 14041] [--ner-epochs 1] [--sts-train 5749] [--sts-epochs 2]
                          [--qa-epochs 2] [--skip ner|pairs|qa]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path


def _ner(args, engine) -> dict:
    import numpy as np
    import torch
    import transformers
    from seqeval.metrics import f1_score

    import bert_nb
    from bert_nb.tasks.tagging import IGNORE, _TaggedSet, _tag_names
    from bert_nb.training import _training_args, text_progress

    train = bert_nb.datasets.load("conll2003", split="train").head(args.ner_train)
    test = bert_nb.datasets.load("conll2003", split="test").head(args.ner_test)
    names = _tag_names(train, None, "tags")
    ids = {n: i for i, n in enumerate(names)}
    steps = math.ceil(len(train) / args.batch_size) * args.ner_epochs

    def f1_of(model):
        enc = _TaggedSet(engine.tokenizer, test.tokens, test.tags, ids, args.max_length)
        collate = transformers.DataCollatorForTokenClassification(engine.tokenizer, label_pad_token_id=IGNORE)
        truth, guess = [], []
        model.eval()
        for start in range(0, len(enc), 64):
            batch = collate([enc[i] for i in range(start, min(start + 64, len(enc)))])
            labels = batch.pop("labels").numpy()
            with torch.inference_mode():
                pred = model(**batch).logits.argmax(-1).numpy()
            for lab, pr in zip(labels, pred):
                keep = lab != IGNORE
                truth.append([names[i] for i in lab[keep]])
                guess.append([names[i] for i in pr[keep]])
        return float(f1_score(truth, guess))

    # 1. plain Trainer, same data, head, collator and settings, no bert_nb callbacks
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        engine.source, num_labels=len(names), id2label=dict(enumerate(names)), label2id=ids).float()
    targs = _training_args(transformers, engine, args.ner_epochs, args.lr, args.batch_size, 0,
                           warmup_steps=int(0.1 * steps), logging_steps=max(1, math.ceil(steps / 50)), evaluate=False)
    transformers.set_seed(0)
    trainer = transformers.Trainer(
        model=model, args=targs, train_dataset=_TaggedSet(engine.tokenizer, train.tokens, train.tags, ids,
                                                          args.max_length),
        data_collator=transformers.DataCollatorForTokenClassification(engine.tokenizer, label_pad_token_id=IGNORE))
    t0 = time.perf_counter()
    trainer.train()
    plain_s = time.perf_counter() - t0
    plain_f1 = f1_of(trainer.model)

    # 2. bert_nb, the same; its held-out evaluation each epoch is timed apart and left out of the ratio
    t0 = time.perf_counter()
    ner = bert_nb.finetune(engine, train, task="tokens", eval_data=test.head(200), epochs=args.ner_epochs,
                           learning_rate=args.lr, batch_size=args.batch_size, max_length=args.max_length,
                           callbacks=[text_progress(write=lambda s: None)], cache=False)
    ours_s = time.perf_counter() - t0
    eval_s = float(np.sum([r.get("runtime", 0.0) for r in ner.state.epochs]))
    ours_f1 = f1_of(ner.model)
    per_epoch = lambda s: s / args.ner_epochs  # noqa: E731
    return {"train_sentences": len(train), "test_sentences": len(test), "epochs": args.ner_epochs,
            "plain_trainer_s_per_epoch": per_epoch(plain_s), "bert_nb_s_per_epoch": per_epoch(ours_s - eval_s),
            "time_ratio": (ours_s - eval_s) / plain_s, "plain_trainer_test_f1": plain_f1, "bert_nb_test_f1": ours_f1,
            "bert_nb_f1_per_type": {k[3:]: v for k, v in ner.metrics.iloc[-1].items() if k.startswith("f1_")}}


def _pairs(args, engine) -> dict:
    from scipy.stats import spearmanr

    import bert_nb

    train = bert_nb.datasets.load("sts_b", split="train").head(args.sts_train)
    dev = bert_nb.datasets.load("sts_b", split="dev")
    test = bert_nb.datasets.load("sts_b", split="test")
    t0 = time.perf_counter()
    ce = bert_nb.finetune(engine, train, text=("sentence1", "sentence2"), label="score", eval_data=dev,
                          epochs=args.sts_epochs, learning_rate=args.sts_lr, batch_size=args.batch_size,
                          max_length=args.max_length, cache=False)
    seconds = time.perf_counter() - t0
    predicted = ce.predict(test[["sentence1", "sentence2"]]).score
    return {"train_pairs": len(train), "epochs": args.sts_epochs, "learning_rate": args.sts_lr, "seconds": seconds,
            "cross_encoder_test_spearman": 100 * float(spearmanr(predicted, test.score)[0]),
            "bi_encoder_test_spearman": float(bert_nb.evaluate_sts(engine, split="test").spearman),
            "dev_by_epoch": ce.metrics[["epoch", "pearson", "spearman"]].round(4).to_dict("records")}


def _qa(args, engine) -> dict:
    import numpy as np
    import torch
    import transformers

    import bert_nb
    from bert_nb.tasks.qa import _best_answers, _Windows, check_squad, squad_scores
    from bert_nb.training import _training_args

    train = check_squad(bert_nb.datasets.load("conll_qa", split="train").head(args.qa_train))
    test = check_squad(bert_nb.datasets.load("conll_qa", split="test"))
    stride = args.max_length // 4
    steps = math.ceil(len(_Windows(engine.tokenizer, train, args.max_length, stride)) / args.batch_size) * args.qa_epochs

    def scores_of(model):
        held = _Windows(engine.tokenizer, test, args.max_length, stride)
        collate = transformers.DataCollatorWithPadding(engine.tokenizer)
        logits = []
        model.eval()
        for start in range(0, len(held), 64):
            batch = collate([{k: v for k, v in held[i].items() if not k.endswith("_positions")}
                             for i in range(start, min(start + 64, len(held)))])
            with torch.inference_mode():
                out = model(**batch)
            logits += list(zip(out.start_logits.numpy(), out.end_logits.numpy()))
        answers = _best_answers(logits, held.example, held.offsets, list(test.context), 1)
        return squad_scores([a[0][0] if a else "" for a in answers], list(test.answer))

    # 1. plain Trainer, the same windows, head and settings
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(engine.source).float()
    targs = _training_args(transformers, engine, args.qa_epochs, args.lr, args.batch_size, 0,
                           warmup_steps=int(0.1 * steps), logging_steps=max(1, math.ceil(steps / 50)), evaluate=False)
    transformers.set_seed(0)
    trainer = transformers.Trainer(model=model, args=targs,
                                   train_dataset=_Windows(engine.tokenizer, train, args.max_length, stride),
                                   data_collator=transformers.DataCollatorWithPadding(engine.tokenizer))
    t0 = time.perf_counter()
    trainer.train()
    plain_s = time.perf_counter() - t0
    plain = scores_of(trainer.model)

    # 2. bert_nb; its held-out evaluation each epoch is timed apart and left out of the ratio
    t0 = time.perf_counter()
    reader = bert_nb.finetune(engine, train, task="qa", eval_data=test.head(200), epochs=args.qa_epochs,
                              learning_rate=args.lr, batch_size=args.batch_size, max_length=args.max_length,
                              cache=False)
    ours_s = time.perf_counter() - t0
    eval_s = float(np.sum([r.get("runtime", 0.0) for r in reader.state.epochs]))
    ours = scores_of(reader.model)
    return {"train_questions": len(train), "test_questions": len(test), "epochs": args.qa_epochs,
            "max_length": args.max_length, "stride": stride,
            "plain_trainer_s_per_epoch": plain_s / args.qa_epochs, "bert_nb_s_per_epoch": (ours_s - eval_s) / args.qa_epochs,
            "time_ratio": (ours_s - eval_s) / plain_s, "plain_trainer_test": plain, "bert_nb_test": ours}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ner-train", type=int, default=14041)
    ap.add_argument("--ner-test", type=int, default=3453)
    ap.add_argument("--ner-epochs", type=float, default=1)
    ap.add_argument("--sts-train", type=int, default=5749)
    ap.add_argument("--sts-epochs", type=float, default=2)
    ap.add_argument("--sts-lr", type=float, default=1e-4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--qa-train", type=int, default=3232, help="questions to train on (all of them by default)")
    ap.add_argument("--qa-epochs", type=float, default=2)
    ap.add_argument("--skip", choices=["ner", "pairs", "qa"], action="append", default=[])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default="bench/results/tasks.json")
    args = ap.parse_args(argv)

    import torch

    import bert_nb

    engine = bert_nb.load("default", device=args.device)
    report = {"device": engine.device, "machine": platform.machine(), "torch_threads": torch.get_num_threads()}
    if "ner" not in args.skip:
        report["ner"] = _ner(args, engine)
        n = report["ner"]
        print(f"NER, {n['train_sentences']} CoNLL sentences x {n['epochs']} epoch(s): plain Trainer "
              f"{n['plain_trainer_s_per_epoch']:.0f} s/epoch, bert_nb {n['bert_nb_s_per_epoch']:.0f} s/epoch "
              f"({n['time_ratio']:.2f}x; goal <= 1.05); test entity F1 bert_nb {n['bert_nb_test_f1']:.3f}, "
              f"plain {n['plain_trainer_test_f1']:.3f} (goal >= 0.85)")
    if "pairs" not in args.skip:
        report["pairs"] = _pairs(args, engine)
        p = report["pairs"]
        print(f"STS-B cross-encoder, {p['train_pairs']} pairs x {p['epochs']} epoch(s), {p['seconds']:.0f} s: "
              f"test Spearman {p['cross_encoder_test_spearman']:.1f} vs bi-encoder {p['bi_encoder_test_spearman']:.1f}")
    if "qa" not in args.skip:
        report["qa"] = _qa(args, engine)
        q = report["qa"]
        print(f"QA on CoNLL questions, {q['train_questions']} x {q['epochs']} epoch(s): plain Trainer "
              f"{q['plain_trainer_s_per_epoch']:.0f} s/epoch, bert_nb {q['bert_nb_s_per_epoch']:.0f} s/epoch "
              f"({q['time_ratio']:.2f}x); test exact/F1 bert_nb {q['bert_nb_test']['exact']:.3f}/"
              f"{q['bert_nb_test']['f1']:.3f}, plain {q['plain_trainer_test']['exact']:.3f}/"
              f"{q['plain_trainer_test']['f1']:.3f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
