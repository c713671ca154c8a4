"""probe and logit_lens: the probe's cost next to one embed pass, its accuracy with and without the inner C search.

probe reads every layer from one forward pass with hidden states, so its embedding part should
cost about one ``embed`` pass. Its regularisation C is chosen per layer by an inner
cross-validation; the bench puts that next to the fixed C=1 the probe used before (which
overfits a few hundred 384-d vectors and underestimates what a layer holds), on the same texts
and folds, with both costs. The logit lens of a 128-piece text through the packaged
masked-LM's head should take under a second on a CPU.

    python bench/layers.py [--texts 2000] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path


def _timed(run, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default="bench/results/layers.json")
    args = ap.parse_args(argv)

    import torch

    import bert_nb
    from bert_nb.internals import hidden_pooled

    engine = bert_nb.load("default", device=args.device)
    mlm = bert_nb.load("default-mlm", device=args.device)
    data = bert_nb.datasets.load("rotten_tomatoes", split="train").sample(args.texts, random_state=0)
    texts = list(data.text)
    bert_nb.embed(engine, texts[:64], progress=False)  # warm-up
    embed_s = _timed(lambda: bert_nb.embed(engine, texts, progress=False), args.rounds)
    hidden_s = _timed(lambda: hidden_pooled(engine, texts, progress=False), args.rounds)
    probe_s = _timed(lambda: bert_nb.probe(engine, data, progress=False), args.rounds)
    fixed_s = _timed(lambda: bert_nb.probe(engine, data, progress=False, Cs=[1.0]), args.rounds)
    searched = bert_nb.probe(engine, data, progress=False).to_frame()
    fixed = bert_nb.probe(engine, data, progress=False, Cs=[1.0]).to_frame()
    long_text = " ".join(["The committee met on Tuesday to discuss the [MASK] for next year."] * 9)
    pieces = len(mlm.tokenizer(long_text)["input_ids"])
    lens_s = _timed(lambda: bert_nb.logit_lens(mlm, long_text), 5)
    report = {"device": engine.device, "machine": platform.machine(), "torch_threads": torch.get_num_threads(),
              "texts": len(texts), "embed_s": embed_s, "all_layers_pass_s": hidden_s, "probe_s": probe_s,
              "all_layers_pass_ratio": hidden_s / embed_s, "probe_ratio": probe_s / embed_s,
              "probe_fixed_c1_s": fixed_s, "probe_accuracy": searched.accuracy.round(4).tolist(),
              "probe_chosen_C": searched.C.tolist(), "probe_fixed_c1_accuracy": fixed.accuracy.round(4).tolist(),
              "logit_lens_pieces": pieces, "logit_lens_s": lens_s}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(texts)} Rotten Tomatoes texts on {engine.device} ({torch.get_num_threads()} threads)")
    print(f"  embed (last layer)                 {embed_s:7.2f} s")
    print(f"  every layer pooled, one pass       {hidden_s:7.2f} s  ({hidden_s / embed_s:.2f}x embed)")
    print(f"  probe, C by inner 3-fold CV (that pass + 7 layers x 5 folds) {probe_s:.2f} s  ({probe_s / embed_s:.2f}x embed)")
    print(f"  probe, fixed C=1 (as before)                            {fixed_s:.2f} s  ({fixed_s / embed_s:.2f}x embed)")
    print("  layer  accuracy (C by CV, chosen C)  accuracy (C=1)")
    for (_, a), (_, b) in zip(searched.iterrows(), fixed.iterrows()):
        print(f"  {int(a.layer):5d}  {a.accuracy:8.3f} ({a.C:g}){'':14s}  {b.accuracy:8.3f}")
    print(f"  logit lens, {pieces} pieces, default-mlm: {lens_s * 1e3:.0f} ms")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
