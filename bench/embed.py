"""Sentence-embedding throughput: bert_nb.embed against sentence-transformers encode, one run.

Same model (the packaged all-MiniLM-L6-v2), same sentences (STS-B), same batch size, the
same threads; each contender runs `--rounds` times, alternating, and the best round counts.
Where the CPU computes bf16 natively (avx512_bf16 or AMX) both sides also run in bf16; with
``--compile`` (default) ``embed(compile=True)`` is timed too, with its compile time; where ``embed`` runs
packed batches (no padding: a CPU, or CUDA in fp16/bf16), the same path with padded batches too; where it
runs a copy of the encoder with its weights laid out once for oneDNN (a CPU), the same path without. Also: peak
resident memory growth of each, the cosine of our vectors to theirs, the share of this CPU's own
2048 x 2048 matrix-multiply rate the encoder reaches (MFU against the GPU's peak on CUDA), and
for int8 the STS-B Spearman next to fp32. On a CPU, one profiled fp32 call of each side says where
the time goes (the share in the linear layers' matrix multiplies, their GFLOP/s, the padding each
side runs) and the ceiling: how fast ``embed`` could be with no padding and nothing but matrix
multiplies at the CPU's large-matrix rate. Last, how many texts/s the host side alone (tokenizing,
sorting, batching) makes ready: the most a GPU can be fed.

    python bench/embed.py [--n 2048] [--batch-size 64] [--rounds 3] [--device cpu] [--no-compile] [--no-breakdown]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path


def _sentences(n: int) -> list[str]:
    """The first ``n`` distinct STS-B training sentences; past its 10,566, the list again (for a GPU's longer runs)."""
    import itertools

    import pandas as pd

    from bert_nb.datasets import load

    data = load("sts_b", split="train")
    texts = pd.concat([data.sentence1, data.sentence2]).drop_duplicates().tolist()
    return list(itertools.islice(itertools.cycle(texts), n))


def _timed(fn, device: str):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def _flops_per_text(engine, texts) -> float:
    """Forward FLOPs of the encoder per text at the sentences' mean length (2 x MACs)."""
    cfg = engine.encoder.config
    lengths = [len(x) for x in engine.tokenizer(texts)["input_ids"]]
    t = sum(lengths) / len(lengths)
    h, i, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    per_layer = 2 * t * (4 * h * h + 2 * h * i) + 2 * 2 * t * t * h
    return layers * per_layer


def _matmul_rates(bf16: bool) -> dict:
    """FLOP/s of a 2048 x 2048 matrix multiply on this CPU, fp32 (and bf16 where native), best of 5."""
    import torch

    rates = {}
    for kind, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))[: 2 if bf16 else 1]:
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        a @ b
        best = min(_timed(lambda: a @ b, "cpu")[0] for _ in range(5))
        rates[kind] = 2 * 2048 ** 3 / best
    return rates


def _linear_flops_per_piece(engine) -> float:
    """FLOPs of the encoder's linear layers per piece: ``2 x (4H^2 + 2HI)`` a layer."""
    cfg = engine.encoder.config
    return cfg.num_hidden_layers * 2 * (4 * cfg.hidden_size ** 2 + 2 * cfg.hidden_size * cfg.intermediate_size)


def _padded_pieces(engine, st, texts, batch_size: int) -> dict:
    """Pieces each side runs through the encoder (padding included) per real piece, at ``batch_size``.

    bert_nb sorts by pieces within its blocks and, packed, runs no padding at all; sentence-transformers
    sorts by characters and pads each batch to its longest text (unless it runs flash attention's
    variable-length kernels, on a GPU).
    """
    from bert_nb.embeddings import _batches, _sentence_max_length, block_size

    limit, block = _sentence_max_length(engine), block_size(batch_size)  # as embed runs them
    ours = list(_batches(engine.tokenizer, texts, None, limit, 0, True, batch_size, False, block))
    real = sum(int(b.mask.sum()) for b in ours)
    order = sorted(texts, key=len, reverse=True)
    encode = getattr(st, "preprocess", st.tokenize)
    theirs = sum(encode(order[i:i + batch_size])["input_ids"].numel() for i in range(0, len(order), batch_size))
    if getattr(st, "_can_flatten_inputs", lambda: False)():  # flash attention's varlen kernels: no padding
        theirs = real
    return {"bert_nb padded": sum(b.tensors["input_ids"].numel() for b in ours) / real, "bert_nb packed": 1.0,
            "sentence-transformers": theirs / real, "real_pieces": real}


_MATMULS = ("aten::addmm", "aten::mm", "mkldnn::_linear_pointwise")  # the last: prepacked weights


def _where_time_goes(runs: dict, pieces: dict, engine, rate: float, packed) -> dict:
    """One profiled call of each fp32 contender: the share of its wall time in matrix multiplies, their rate.

    The matrix multiplies of the encoder's linear layers do :func:`_linear_flops_per_piece`, padding
    included; attention scores and everything else are the rest. ``packed(name)``: whether that
    contender runs packed batches.
    """
    from torch.profiler import ProfilerActivity, profile

    per_piece = _linear_flops_per_piece(engine)
    out = {}
    for name, fn in runs.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            seconds, _ = _timed(fn, "cpu")
        events = prof.key_averages()
        self_s = {e.key: e.self_cpu_time_total / 1e6 for e in events}
        total_s = {e.key: e.cpu_time_total / 1e6 for e in events}
        matmul = sum(v for k, v in self_s.items() if k in _MATMULS)
        # packed rows: all of attention inside bert_nb's operator (its matrix multiplies too); else SDPA's kernels
        attention = total_s.get("bert_nb::within_windows") or \
            sum(v for k, v in self_s.items() if "scaled_dot_product" in k)
        side = ("sentence-transformers" if name.startswith("sentence") else
                "bert_nb packed" if packed(name) else "bert_nb padded")
        flops = per_piece * pieces[side] * pieces["real_pieces"]
        out[name] = {"profiled_seconds": seconds, "matmul_share": matmul / seconds,
                     "attention_share": attention / seconds, "matmul_gflops": flops / matmul / 1e9,
                     "matmul_share_of_rate": flops / matmul / rate,
                     "padded_pieces_per_real_piece": pieces[side]}
    return out


def _feed_rates(engine, texts, batch_size: int) -> dict:
    """Texts/s the host side alone makes ready for the model (tokenized into windows, sorted, in packed or
    padded batches, pinned on CUDA): the most a GPU can be fed; and the transformers tokenizer call alone."""
    from bert_nb.embeddings import _batches, _row_multiple, _sentence_max_length, block_size, packs, prepacks

    limit = _sentence_max_length(engine)

    def ready():
        return list(_batches(engine.tokenizer, texts, None, limit, 0, True, batch_size,
                             engine.device.startswith("cuda"), block_size(batch_size), None, packs(engine),
                             _row_multiple(engine, prepacks(engine))))

    def transformers_call():
        return engine.tokenizer(texts, truncation=True, max_length=limit, return_overflowing_tokens=True)

    return {name: len(texts) / min(_timed(fn, "cpu")[0] for _ in range(3))
            for name, fn in (("batches_ready", ready), ("transformers_tokenizer_call", transformers_call))}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                    help="also time embed(compile=True) (compiling takes about 30 s per dtype on a CPU)")
    ap.add_argument("--breakdown", action=argparse.BooleanOptionalAction, default=True,
                    help="profile one fp32 call of each side: the share of time in matrix multiplies and their rate")
    ap.add_argument("--json", default="bench/results/embed.json")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    import bert_nb
    from bert_nb.embeddings import _sentence_max_length, _unit, packs, pooled_vectors, prepacks
    from bert_nb.engine import native_dtypes

    texts = _sentences(args.n)
    engine = bert_nb.load("default", device=args.device)
    st = SentenceTransformer(engine.source, device=engine.device)
    if engine.device.startswith("cuda"):
        st = st.to(engine.dtype)
    fast = "bf16" in native_dtypes(engine.device)  # a GPU, or a CPU with avx512_bf16 / AMX
    runs = {
        "sentence-transformers encode": lambda: st.encode(texts, batch_size=args.batch_size,
                                                          normalize_embeddings=True, convert_to_numpy=True),
    }
    if fast and engine.device == "cpu":  # sentence-transformers at its fastest dtype too
        st16 = SentenceTransformer(engine.source, device="cpu").to(torch.bfloat16)
        runs["sentence-transformers encode (bf16)"] = lambda: st16.encode(
            texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    engines = {engine.info().dtype: engine}
    if fast and engine.device == "cpu":
        engines["bf16"] = bert_nb.load("default", device="cpu", dtype="bf16")
    if engine.device == "cpu" and not args.no_int8:
        engines["int8"] = bert_nb.load("default", device="cpu", quantize="int8")
    compile_s = {}
    for name, eng in engines.items():
        runs[f"bert_nb.embed ({name})"] = lambda eng=eng: bert_nb.embed(eng, texts, batch_size=args.batch_size,
                                                                         progress=False).vectors
        if eng is engine and packs(engine):  # what packing gains: the same path with padded batches
            runs[f"bert_nb.embed ({name}, padded batches)"] = lambda: _unit(pooled_vectors(
                engine, texts, "mean", [-1], _sentence_max_length(engine), 0, True, args.batch_size,
                packed=False)[0][0])
        if eng is engine and prepacks(engine):  # what laying the weights out once gains
            runs[f"bert_nb.embed ({name}, not prepacked)"] = lambda: _unit(pooled_vectors(
                engine, texts, "mean", [-1], _sentence_max_length(engine), 0, True, args.batch_size,
                prepack=False)[0][0])
        if args.compile and name != "int8":
            t0 = time.perf_counter()
            bert_nb.embed(eng, texts[:args.batch_size], compile=True, progress=False)  # compiles
            compile_s[f"bert_nb.embed ({name}, compiled)"] = time.perf_counter() - t0
            runs[f"bert_nb.embed ({name}, compiled)"] = lambda eng=eng: bert_nb.embed(
                eng, texts, batch_size=args.batch_size, progress=False, compile=True).vectors
    for fn in runs.values():  # warm: first calls, and compiled graphs for every shape
        fn()
    best = {name: float("inf") for name in runs}
    vectors, rss = {}, {}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            seconds, out = _timed(fn, engine.device)
            rss[name] = max(rss.get(name, 0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
            best[name] = min(best[name], seconds)
            vectors[name] = np.asarray(out, dtype=np.float32)
    ref_name = "sentence-transformers encode"
    ref = vectors[ref_name]
    rows = {}
    for name in runs:
        cos = np.sum(vectors[name] * ref, axis=1) / (np.linalg.norm(vectors[name], axis=1) * np.linalg.norm(ref, axis=1))
        rows[name] = {"sentences_per_s": len(texts) / best[name], "seconds": best[name],
                      "ratio_to_sentence_transformers": best[ref_name] / best[name],
                      "min_cosine_to_sentence_transformers": float(cos.min()),
                      "peak_rss_growth_mib": rss[name] / 1024}
        if name in compile_s:
            rows[name]["compile_seconds"] = compile_s[name]
    feed = _feed_rates(engine, texts, args.batch_size)
    flops = _flops_per_text(engine, texts)
    if engine.device == "cpu":  # how close the encoder runs to this CPU's own matrix-multiply rate
        rates = _matmul_rates(fast)
        for name, row in rows.items():
            kind = "bf16" if "bf16" in name else "fp32" if "int8" not in name else None
            if kind:
                row["share_of_matmul_rate"] = row["sentences_per_s"] * flops / rates[kind]
    if engine.device.startswith("cuda"):
        peak = {torch.bfloat16: 989e12, torch.float16: 989e12}.get(engine.dtype, 67e12)  # H100 SXM dense
        for name, row in rows.items():
            row["model_flops_utilisation"] = row["sentences_per_s"] * flops / peak
    breakdown, ceiling = {}, None
    if engine.device == "cpu" and args.breakdown:  # why fp32 is where it is: the matrix multiplies
        pieces = _padded_pieces(engine, st, texts, args.batch_size)
        fp32 = {k: fn for k, fn in runs.items() if k == ref_name or k.startswith("bert_nb.embed (fp32")}
        breakdown = _where_time_goes(fp32, pieces, engine, rates["fp32"],
                                     lambda name: packs(engine) and "padded" not in name)
        least = _linear_flops_per_piece(engine) * pieces["real_pieces"] / rates["fp32"]  # no padding, all at
        # the large-matrix rate, nothing else
        ceiling = best[ref_name] / least
    sts = {}
    if "bert_nb.embed (int8)" in runs:
        sts = {"fp32": bert_nb.evaluate_sts(engine).spearman,
               "int8": bert_nb.evaluate_sts(bert_nb.load("default", device="cpu", quantize="int8")).spearman}
    report = {"device": engine.device, "dtype": str(engine.dtype), "machine": platform.machine(),
              "threads": torch.get_num_threads(), "n": len(texts), "batch_size": args.batch_size,
              "cpu_native": native_dtypes(engine.device), "flops_per_text": flops,
              "matmul_gflops": {k: v / 1e9 for k, v in rates.items()} if engine.device == "cpu" else {},
              "results": rows, "feed_texts_per_s": feed, "sts_b_test_spearman": sts, "fp32_time_breakdown": breakdown,
              "fp32_ceiling_ratio": ceiling}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(texts)} STS-B sentences, batch {args.batch_size}, {engine.device}, {torch.get_num_threads()} threads")
    print(f"{'':<40}{'sent/s':>9}{'x ST':>7}{'min cos':>9}{'RSS+ MiB':>10}")
    for name, row in rows.items():
        print(f"{name:<40}{row['sentences_per_s']:>9.0f}{row['ratio_to_sentence_transformers']:>7.2f}"
              f"{row['min_cosine_to_sentence_transformers']:>9.4f}{row['peak_rss_growth_mib']:>10.0f}"
              + (f"  MFU {row['model_flops_utilisation']:.1%}" if "model_flops_utilisation" in row else "")
              + (f"  {row['share_of_matmul_rate']:.0%} of matmul rate" if "share_of_matmul_rate" in row else "")
              + (f"  (compiled in {row['compile_seconds']:.0f} s)" if "compile_seconds" in row else ""))
    if engine.device == "cpu":
        print("this CPU's matrix multiply (2048 x 2048): " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in rates.items()))
    print(f"host side alone: {feed['batches_ready']:,.0f} texts/s made ready for the model (tokenized, sorted, "
          f"batched); the transformers tokenizer call alone: {feed['transformers_tokenizer_call']:,.0f} texts/s")
    if breakdown:
        print(f"fp32, one profiled call each:{'':<13}{'matmul':>8}{'GFLOP/s':>9}{'of rate':>9}{'attn':>7}{'pieces':>8}")
        for name, row in breakdown.items():
            print(f"{name:<40}{row['matmul_share']:>8.0%}{row['matmul_gflops']:>9.0f}{row['matmul_share_of_rate']:>9.0%}"
                  f"{row['attention_share']:>7.0%}{row['padded_pieces_per_real_piece']:>8.3f}")
        print(f"fp32 ceiling: with no padding, every matrix multiply at the 2048 x 2048 rate and nothing else "
              f"taking time, embed would be {ceiling:.2f}x sentence-transformers")
    if sts:
        print(f"STS-B test Spearman: fp32 {sts['fp32']:.2f}, int8 {sts['int8']:.2f} (drop {sts['fp32'] - sts['int8']:.2f})")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
