"""Predictions of a sequence-classification head, next to what a user would run instead, in one run:

- texts: ``bert_nb.classify`` (what ``FineTuned.predict`` and ``%%bert predict`` run) against the
  transformers ``text-classification`` pipeline (all class scores), on STS-B sentences;
- pairs: ``bert_nb.classify`` of pairs (what ``bert_nb.rerank`` runs) against sentence-transformers'
  ``CrossEncoder.predict``, on STS-B sentence pairs.

Same model on both sides (the packaged MiniLM with a seeded head, two labels for texts and one
output for pairs, saved to a folder as a hub model is, loaded by each), same inputs in the same
order, same batch size and threads; each side runs ``--rounds`` times, alternating, and the best
round counts. Reported: items/s, the ratio to the other side and the largest difference of their
numbers (class probabilities; the sigmoid of the one output). bert_nb runs batches of texts (and of
pairs) of similar length; a rerank reads a query with each of its hits, so its pairs differ in
length as much as the hits do.

    python bench/predict.py [--n 2048] [--batch-size 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path


def _pairs(n: int) -> list[tuple[str, str]]:
    """The first ``n`` STS-B training pairs (the list again past its end)."""
    import bert_nb

    sts = bert_nb.datasets.load("sts_b", split="train")
    pairs = list(zip(sts.sentence1.astype(str), sts.sentence2.astype(str)))
    return [pairs[i % len(pairs)] for i in range(n)]


def _best(runs: dict, rounds: int) -> tuple[dict, dict]:
    """Each contender's best seconds over ``rounds`` alternating rounds (after one warm-up call), and its numbers."""
    import numpy as np

    for fn in runs.values():
        fn()
    best, numbers = {name: float("inf") for name in runs}, {}
    for _ in range(rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            numbers[name] = np.asarray(fn(), dtype=np.float64)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, numbers


def _rows(best: dict, numbers: dict, base: str, n: int) -> dict:
    import numpy as np

    return {name: {"per_s": n / best[name], "seconds": best[name], "ratio": best[base] / best[name],
                   "max_abs_difference": float(np.abs(numbers[name] - numbers[base]).max())} for name in best}


def _head_folder(folder: Path, labels: int) -> str:
    """The packaged MiniLM with a seeded classification head of ``labels`` outputs, saved as transformers saves a hub
    model."""
    import torch
    import transformers

    import bert_nb

    source = bert_nb.load("default", device="cpu").source
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(source, num_labels=labels)
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return str(folder)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    import torch
    import transformers
    from sentence_transformers import CrossEncoder

    import bert_nb

    sys.path.insert(0, str(Path(__file__).parent))
    from embed import _sentences

    texts, pairs = _sentences(args.n), _pairs(args.n)
    report = {"machine": platform.machine(), "threads": torch.get_num_threads(), "n": args.n,
              "batch_size": args.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        folder = _head_folder(Path(tmp) / "classifier", 2)
        ours = bert_nb.load(folder, device="cpu")
        pipe = transformers.pipeline("text-classification", model=folder, device="cpu", top_k=None)

        def pipeline_probabilities():
            out = pipe(texts, batch_size=args.batch_size, truncation=True)
            return [[next(s["score"] for s in row if s["label"] == name) for name in ("LABEL_0", "LABEL_1")]
                    for row in out]

        best, numbers = _best({"transformers text-classification pipeline": pipeline_probabilities,
                               "bert_nb.classify (texts)": lambda: bert_nb.classify(
                                   ours, texts, batch_size=args.batch_size, progress=False)[["LABEL_0", "LABEL_1"]].to_numpy()},
                              args.rounds)
        report["texts"] = _rows(best, numbers, "transformers text-classification pipeline", args.n)
        folder = _head_folder(Path(tmp) / "cross-encoder", 1)
        ours = bert_nb.load(folder, device="cpu")
        theirs = CrossEncoder(folder, device="cpu", max_length=ours.read_length)
        best, numbers = _best({"sentence-transformers CrossEncoder.predict": lambda: theirs.predict(
                                   pairs, batch_size=args.batch_size, show_progress_bar=False),
                               "bert_nb.classify (pairs)": lambda: bert_nb.classify(
                                   ours, pairs, batch_size=args.batch_size, progress=False).score.to_numpy()},
                              args.rounds)
        report["pairs"] = _rows(best, numbers, "sentence-transformers CrossEncoder.predict", args.n)
    print(f"{args.n} STS-B sentences and pairs, batch {args.batch_size}, cpu, {torch.get_num_threads()} threads")
    print(f"{'':44s}  items/s  ratio  max |difference|")
    for part in ("texts", "pairs"):
        for name, row in report[part].items():
            print(f"{name:44s} {row['per_s']:8.0f}  {row['ratio']:5.2f}  {row['max_abs_difference']:.1e}")
    out = Path(__file__).parent / "results" / "predict.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
