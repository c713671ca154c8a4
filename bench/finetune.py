"""Fine-tuning: accuracy on Rotten Tomatoes and throughput with bert_nb's live view vs a plain Trainer.

Same data (2,000 training / 1,000 held-out snippets), model (the packaged MiniLM), config
(2 epochs, max_length 64, batch 16, lr 1e-4) and machine, in one run: first a plain
transformers Trainer with no bert_nb callbacks, then bert_nb.finetune with its recorder and
the live widget view (the FigureWidget updated at every log, the progress bar every step).

    python bench/finetune.py [--train 2000] [--eval 1000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--eval", type=int, default=1000)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default="bench/results/finetune.json")
    args = ap.parse_args(argv)

    import torch
    import transformers

    import bert_nb
    from bert_nb.tasks.classify import metrics_from
    from bert_nb.training import TrainingState, _Encoded, _training_args, text_progress

    engine = bert_nb.load("default", device=args.device)
    data = bert_nb.datasets.load("rotten_tomatoes", split="train").sample(args.train, random_state=0)
    held = bert_nb.datasets.load("rotten_tomatoes", split="test").sample(args.eval, random_state=0)
    names = sorted(data.label.unique())
    ids = {n: i for i, n in enumerate(names)}
    steps = math.ceil(args.train / args.batch_size) * args.epochs

    # 1. plain Trainer, same config, no bert_nb callbacks
    model = transformers.AutoModelForSequenceClassification.from_pretrained(engine.source, num_labels=len(names)).float()
    if engine.device.startswith("cuda"):  # warm the GPU up first, so neither run pays for it
        warm = torch.randn(4096, 4096, device=engine.device)
        for _ in range(50):
            warm = warm @ warm / 64
        torch.cuda.synchronize()
    targs = _training_args(transformers, engine, args.epochs, args.lr, args.batch_size, 0,
                           warmup_steps=int(0.1 * steps), logging_steps=max(1, math.ceil(steps / 50)), evaluate=False)
    trainer = transformers.Trainer(model=model, args=targs,
                                   train_dataset=_Encoded(engine.tokenizer, data.text, data.label.map(ids), args.max_length),
                                   data_collator=transformers.DataCollatorWithPadding(engine.tokenizer))
    t0 = time.perf_counter()
    trainer.train()
    plain_s = time.perf_counter() - t0
    pred = trainer.predict(_Encoded(engine.tokenizer, held.text, held.label.map(ids), args.max_length))
    plain_acc = metrics_from(pred.label_ids, pred.predictions.argmax(-1), len(names))[0]["accuracy"]

    # 2. bert_nb.finetune with the live view
    try:  # the widget view where ipywidgets is installed, the text line elsewhere
        from bert_nb.panels import LiveTraining

        live = LiveTraining()
        callbacks, state, view = [live.callback()], live.state, "widget"
    except ImportError:
        callbacks, state, view = [text_progress(write=lambda s: None)], TrainingState(), "text"
    t0 = time.perf_counter()
    clf = bert_nb.finetune(engine, data, eval_data=held, epochs=args.epochs, learning_rate=args.lr,
                           batch_size=args.batch_size, max_length=args.max_length,
                           callbacks=callbacks, state=state)
    ours_s = time.perf_counter() - t0
    eval_s = float(clf.metrics["runtime"].sum()) if "runtime" in clf.metrics else 0.0
    train_s = ours_s - eval_s  # bert_nb also evaluates every epoch; count training time only
    samples = args.train * args.epochs
    report = {
        "device": engine.device, "dtype": str(engine.dtype), "threads": torch.get_num_threads(),
        "config": vars(args),
        "plain_trainer": {"seconds": plain_s, "samples_per_s": samples / plain_s, "accuracy": plain_acc},
        "bert_nb": {"live_view": view, "seconds_training": train_s, "seconds_with_eval": ours_s, "samples_per_s": samples / train_s,
                    "accuracy": float(clf.metrics["accuracy"].iloc[-1]), "f1": float(clf.metrics["f1"].iloc[-1])},
    }
    report["overhead"] = train_s / plain_s - 1
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"{args.train} train / {args.eval} held-out, {args.epochs} epochs, max_length {args.max_length}, {engine.device}")
    print(f"plain Trainer: {report['plain_trainer']['samples_per_s']:.1f} samples/s, accuracy {plain_acc:.3f}")
    print(f"bert_nb      : {report['bert_nb']['samples_per_s']:.1f} samples/s, accuracy {report['bert_nb']['accuracy']:.3f}, "
          f"macro-F1 {report['bert_nb']['f1']:.3f}; live-view overhead {report['overhead']:+.1%} (goal <= 5%)")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
