"""Cross-encoder scoring of pairs: bert_nb.classify (what bert_nb.rerank runs) against sentence-transformers'
CrossEncoder.predict, one run.

Same model (the packaged MiniLM with a one-output sequence-classification head, saved to a folder
as a hub cross-encoder is, loaded by both), same STS-B pairs in the same order, same batch size and
threads; each side runs ``--rounds`` times, alternating, and the best round counts. Reported: pairs/s,
the ratio to sentence-transformers and the largest difference of the scores (both the sigmoid of the
one output). bert_nb runs the pairs in batches of similar length; a rerank reads a query with each
of its hits, so its pairs differ in length as much as the hits do.

    python bench/rerank.py [--n 2048] [--batch-size 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path


def _pairs(n: int) -> list[tuple[str, str]]:
    """The first ``n`` STS-B training pairs (the list again past its end)."""
    import bert_nb

    sts = bert_nb.datasets.load("sts_b", split="train")
    pairs = list(zip(sts.sentence1.astype(str), sts.sentence2.astype(str)))
    return [pairs[i % len(pairs)] for i in range(n)]


def _cross_encoder_folder(folder: Path) -> str:
    """The packaged MiniLM with a one-output head (seeded), saved as transformers saves a hub cross-encoder."""
    import torch
    import transformers

    import bert_nb

    source = bert_nb.load("default", device="cpu").source
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return str(folder)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder

    import bert_nb

    pairs = _pairs(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = _cross_encoder_folder(Path(tmp) / "cross-encoder")
        ours_model = bert_nb.load(folder, device="cpu")
        theirs_model = CrossEncoder(folder, device="cpu", max_length=ours_model.read_length)
        runs = {"sentence-transformers CrossEncoder.predict":
                lambda: theirs_model.predict(pairs, batch_size=args.batch_size, show_progress_bar=False),
                "bert_nb.classify (pairs)":
                lambda: bert_nb.classify(ours_model, pairs, batch_size=args.batch_size).score.to_numpy()}
        for fn in runs.values():  # warm both
            fn()
        best, scores = {name: float("inf") for name in runs}, {}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                start = time.perf_counter()
                scores[name] = np.asarray(fn(), dtype=np.float64).ravel()
                best[name] = min(best[name], time.perf_counter() - start)
    base = "sentence-transformers CrossEncoder.predict"
    rows = {name: {"pairs_per_s": args.n / best[name], "seconds": best[name],
                   "ratio_to_sentence_transformers": best[base] / best[name],
                   "max_abs_score_difference": float(np.abs(scores[name] - scores[base]).max())}
            for name in runs}
    report = {"machine": platform.machine(), "threads": torch.get_num_threads(), "n": args.n,
              "batch_size": args.batch_size, "results": rows}
    print(f"{args.n} STS-B pairs, batch {args.batch_size}, cpu, {torch.get_num_threads()} threads")
    print(f"{'':44s} pairs/s   x ST  max |score diff|")
    for name, row in rows.items():
        print(f"{name:44s} {row['pairs_per_s']:7.0f}  {row['ratio_to_sentence_transformers']:5.2f}  "
              f"{row['max_abs_score_difference']:.1e}")
    out = Path(__file__).parent / "results" / "rerank.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return report


if __name__ == "__main__":
    main()
