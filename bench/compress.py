"""Compression on the Rotten Tomatoes classifier: int8, 40% of heads pruned (+ a short re-fine-tune), a half-depth student.

One run on one machine: fine-tune the packaged MiniLM (the teacher), then quantize it to int8,
prune 40% of its heads by importance and re-fine-tune them one epoch, distill a student with
half the layers, and measure all of them with ``bert_nb.compare`` on the same held-out texts.
As the anchor users would reach for instead, the teacher's throughput through a transformers
``text-classification`` pipeline (same batch) is measured in the same run. The goals, beside the
published figures (DistilBERT: 97% of the quality, 60% faster with 40% fewer parameters; Michel
et al. 2019: many heads can go with little loss):

- int8: >= 1.5x the fp32 throughput, <= 1 point accuracy drop;
- 40% of heads pruned: <= 2 points drop (the re-fine-tune is counted in the time);
- student with half the layers: >= 97% of the teacher's accuracy, >= 1.8x its throughput.

    python bench/compress.py [--train 2000] [--eval 1000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--eval", type=int, default=1000)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--fraction", type=float, default=0.4)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default="bench/results/compress.json")
    args = ap.parse_args(argv)

    import torch
    import transformers

    import bert_nb

    engine = bert_nb.load("default", device=args.device)
    train = bert_nb.datasets.load("rotten_tomatoes", split="train").sample(args.train, random_state=0)
    held = bert_nb.datasets.load("rotten_tomatoes", split="test").sample(args.eval, random_state=0)
    fit = dict(epochs=args.epochs, learning_rate=1e-4, batch_size=16, max_length=args.max_length)
    seconds = {}

    t0 = time.perf_counter()
    teacher = bert_nb.finetune(engine, train, **fit)
    seconds["teacher_finetune"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    small = bert_nb.quantize(teacher, "int8")
    seconds["quantize"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pruned = bert_nb.prune(teacher, fraction=args.fraction, data=train.sample(500, random_state=1))
    seconds["prune"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retrained = bert_nb.finetune(pruned, train, from_model=True, **{**fit, "epochs": 1})
    seconds["prune_refinetune"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    student = bert_nb.distill(teacher, train, **fit)
    seconds["distill"] = time.perf_counter() - t0

    models = {"teacher fp32": teacher, "int8": small, f"pruned {args.fraction:.0%}": pruned,
              f"pruned {args.fraction:.0%} + 1 epoch": retrained, "student (half the layers)": student}
    if "bf16" in bert_nb.engine.native_dtypes(engine.device):
        models["bf16"] = bert_nb.quantize(teacher, "bf16")
    result = bert_nb.compare(models, held)
    table = result.to_frame().set_index("model")

    # the anchor: the same teacher through transformers' pipeline, batch 32, same texts
    folder = teacher.save(Path("build") / "bench-teacher")
    with bert_nb.engine.quiet_transformers(transformers):
        classify = transformers.pipeline("text-classification", model=folder, device=engine.device)
    texts = list(held.text)
    classify(texts[:32], batch_size=32, truncation=True, max_length=args.max_length)
    t0 = time.perf_counter()
    classify(texts, batch_size=32, truncation=True, max_length=args.max_length)
    pipeline_tps = len(texts) / (time.perf_counter() - t0)

    base = table.loc["teacher fp32"]
    ratios = {name: {"throughput_x": row.throughput / base.throughput, "accuracy_drop_points": 100 * (base.accuracy - row.accuracy),
                     "accuracy_share": row.accuracy / base.accuracy, "parameters_share": row.parameters / base.parameters,
                     "size_share": row.size_mb / base.size_mb}
              for name, row in table.iterrows()}
    report = {"device": engine.device, "machine": platform.machine(), "torch_threads": torch.get_num_threads(),
              "train": args.train, "eval": args.eval, "epochs": args.epochs, "fraction": args.fraction,
              "table": result.to_frame().to_dict(orient="records"), "ratios": ratios, "seconds": seconds,
              "teacher_vs_pipeline_throughput_x": base.throughput / pipeline_tps,
              "disagreements": len(result.disagreements())}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"{args.train} training / {args.eval} held-out Rotten Tomatoes texts on {engine.device} "
          f"({torch.get_num_threads()} threads)")
    print(result.to_frame().round(3).to_string(index=False))
    for name, r in ratios.items():
        print(f"  {name:28s} throughput {r['throughput_x']:.2f}x, accuracy {r['accuracy_drop_points']:+.1f} points "
              f"drop ({r['accuracy_share']:.1%} of the teacher), parameters {r['parameters_share']:.0%}, "
              f"size {r['size_share']:.0%}")
    print(f"  teacher through bert_nb.compare vs a transformers pipeline: {report['teacher_vs_pipeline_throughput_x']:.2f}x")
    print("  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
