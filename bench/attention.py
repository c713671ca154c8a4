"""AttentionPanel responsiveness: time per slider move on a 128-piece text, next to a full recompute.

A slider move only re-slices the weights computed once per text; the comparison is what a
tool that re-runs the model on every move (as bertviz's re-render does) would pay.

    python bench/attention.py [--pieces 128] [--moves 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=128)
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--json", default="bench/results/attention.json")
    args = ap.parse_args(argv)

    import bert_nb
    from bert_nb.panels import AttentionPanel

    engine = bert_nb.load("default", device="cpu")
    words = "the animal did not cross the street because it was too tired and the road was wide".split()
    text = " ".join(words[i % len(words)] for i in range(args.pieces - 2))
    panel = AttentionPanel(engine, text=text)
    assert len(panel.result.tokens) == args.pieces, len(panel.result.tokens)
    moves = []
    for i in range(args.moves):
        t0 = time.perf_counter()
        panel.layer.value = (panel.layer.value + 1) % panel.result.layers
        moves.append(time.perf_counter() - t0)
    heads = []
    panel.average.value = False
    for i in range(args.moves):
        t0 = time.perf_counter()
        panel.head.value = (panel.head.value + 1) % panel.result.heads
        heads.append(time.perf_counter() - t0)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        bert_nb.attention(engine, text)
        runs.append(time.perf_counter() - t0)
    report = {"pieces": args.pieces, "layer_move_ms_p50": 1e3 * statistics.median(moves),
              "layer_move_ms_max": 1e3 * max(moves), "head_move_ms_p50": 1e3 * statistics.median(heads),
              "recompute_ms_p50": 1e3 * statistics.median(runs), "goal_ms": 100}
    report["recompute_over_move"] = report["recompute_ms_p50"] / report["layer_move_ms_p50"]
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.pieces} pieces: slider move p50 {report['layer_move_ms_p50']:.1f} ms "
          f"(max {report['layer_move_ms_max']:.1f}), head move p50 {report['head_move_ms_p50']:.1f} ms; "
          f"a full attention pass {report['recompute_ms_p50']:.1f} ms ({report['recompute_over_move']:.0f}x a move); goal < 100 ms")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
