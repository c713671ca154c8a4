"""fill_mask latency against the transformers fill-mask pipeline, same model and sentences, one run.

Per-sentence latency (p50, p90) over the same sentences, interleaved so that both see the
same machine state; reports the ratio ours / pipeline (goal: at most 0.8).

    python bench/fill_mask.py [--model default-mlm] [--device cpu] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

SENTENCES = [
    "Paris is the [MASK] of France.",
    "The man worked as a [MASK] in the city.",
    "She poured the [MASK] into a glass.",
    "The quick brown fox jumps over the lazy [MASK].",
    "Neural networks are trained with gradient [MASK].",
    "He plays the [MASK] in an orchestra.",
    "The capital of Japan is [MASK].",
    "I would like a cup of [MASK], please.",
    "The [MASK] barked at the postman all morning long.",
    "Water boils at one hundred degrees [MASK].",
] * 3


def _pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default-mlm")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--json", default="bench/results/fill_mask.json")
    args = ap.parse_args(argv)

    import torch
    from transformers import pipeline

    import bert_nb

    engine = bert_nb.load(args.model, device=args.device)
    pipe = pipeline("fill-mask", model=engine.model, tokenizer=engine.tokenizer, device=engine.device,
                    dtype=engine.dtype)
    runners = {
        "bert_nb.fill_mask": lambda s: bert_nb.fill_mask(engine, s, top_k=args.top_k),
        "transformers pipeline": lambda s: pipe(s, top_k=args.top_k),
    }
    for run in runners.values():  # warm-up
        for s in SENTENCES[:5]:
            run(s)
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for s in SENTENCES:
            for name, run in runners.items():
                if engine.device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                run(s)
                if engine.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
    rows = {name: {"p50_ms": 1e3 * statistics.median(t), "p90_ms": 1e3 * _pct(t, 0.9), "n": len(t)}
            for name, t in times.items()}
    base = rows["transformers pipeline"]
    for row in rows.values():
        row["ratio_p50"] = row["p50_ms"] / base["p50_ms"]
        row["ratio_p90"] = row["p90_ms"] / base["p90_ms"]
    report = {"model": args.model, "device": engine.device, "dtype": str(engine.dtype),
              "machine": platform.machine(), "torch_threads": torch.get_num_threads(), "results": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.model} on {engine.device} ({engine.dtype}), {len(SENTENCES)} sentences x {args.rounds}")
    print(f"{'':<24}{'p50 ms':>9}{'p90 ms':>9}{'x pipeline p50':>16}{'x p90':>8}")
    for name, row in rows.items():
        print(f"{name:<24}{row['p50_ms']:>9.2f}{row['p90_ms']:>9.2f}{row['ratio_p50']:>16.2f}{row['ratio_p90']:>8.2f}")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
