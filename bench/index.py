"""A corpus index at scale: a million sentences embedded in a stream, HNSW against exact search, memory.

The corpus is every distinct English sentence of the packaged datasets (STS-B, Rotten Tomatoes,
tweets, CoNLL-2003; about 85,000) less 1,000 held out as queries, repeated until ``--n`` texts:
copy ``c`` of a sentence ends in `` (#c)``, so every text differs and each sentence has a dozen
close neighbours, a hard case for approximate search. The texts are made by a generator, so
``bert_nb.index`` reads them as a stream, never all in memory.

One run reports, side by side:

1. Throughput of the whole indexing path (stream, embed, write to disk) on the first
   ``--sample`` texts, best of ``--rounds`` alternating rounds: sentence-transformers ``encode`` (fp32, the same batch), then
   ``bert_nb.index`` in fp32 and, where the CPU computes bf16 natively (or on a GPU), bf16.
2. The ``--n`` index built in the fastest dtype (``batch_size="auto"``): minutes, the HNSW build on its own, peak
   resident memory beyond the vectors (faiss keeps them as float32; the store as float16).
3. Search: HNSW top-10 (M 32, efSearch 64 to 512; bert_nb's default is 256) one query at a time, milliseconds per query (mean
   and 95th percentile), recall@10 against exact inner-product search over the same vectors,
   and ``Index.search`` end to end (embedding the query, reading the texts).

    python bench/index.py [--n 1000000] [--sample 10000] [--rounds 2] [--batch-size 64] [--store /tmp/bench-index]

Results: ``bench/results/index.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import time
from pathlib import Path


def _distinct_sentences() -> list[str]:
    import pandas as pd

    from bert_nb.datasets import detokenize, load

    sts = load("sts_b")
    parts = [sts.sentence1, sts.sentence2, load("rotten_tomatoes").text, load("tweets").text,
             pd.Series([detokenize(list(w))[0] for w in load("conll2003").tokens])]
    texts = pd.concat(parts).astype(str).str.strip()
    return texts[texts.str.len() > 0].drop_duplicates().tolist()


def corpus_and_queries(queries: int = 1000, seed: int = 0) -> tuple[list[str], list[str]]:
    """The distinct sentences (shuffled) less ``queries`` held out, and those held out."""
    import numpy as np

    texts = _distinct_sentences()
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[queries:]], [texts[i] for i in order[:queries]]


def stream(base: list[str], n: int):
    """``n`` texts: the base sentences, then copies of them marked `` (#c)``."""
    for i in range(n):
        copy, j = divmod(i, len(base))
        yield base[j] if copy == 0 else f"{base[j]} (#{copy})"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _index_sample(engine, sample, batch_size) -> None:
    import tempfile

    import bert_nb

    with tempfile.TemporaryDirectory() as tmp:
        bert_nb.index(engine, iter(sample), store=Path(tmp) / "s", kind="flat", batch_size=batch_size, progress=False)


def _throughput(args, base, dtypes) -> dict:
    """Sentences/s of the whole indexing path on the sample, for each contender."""
    from sentence_transformers import SentenceTransformer

    import bert_nb

    sample = list(stream(base, args.sample))
    engine = bert_nb.load("default", device=args.device)
    st = SentenceTransformer(engine.source, device=engine.device)
    runs = {"sentence-transformers encode (fp32)": lambda: st.encode(sample, batch_size=args.batch_size,
                                                                     normalize_embeddings=True)}
    for dtype in dtypes:
        eng = bert_nb.load("default", device=args.device, dtype=dtype)
        runs[f"bert_nb.index ({dtype})"] = lambda eng=eng: _index_sample(eng, sample, args.batch_size)
    for fn in runs.values():  # warm
        fn()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.rounds):  # alternating, the best round counts
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    rows = {name: len(sample) / seconds for name, seconds in best.items()}
    ref = rows["sentence-transformers encode (fp32)"]
    return {name: {"sentences_per_s": v, "ratio_to_sentence_transformers": v / ref} for name, v in rows.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--store", default="/tmp/bert_nb-bench-index")
    ap.add_argument("--json", default="bench/results/index.json")
    args = ap.parse_args(argv)

    import faiss
    import numpy as np
    import torch

    import bert_nb
    from bert_nb import indexes
    from bert_nb.engine import native_dtypes

    base, held_out = corpus_and_queries(args.queries)
    fast = "bf16" if "bf16" in native_dtypes(args.device) else "fp32"
    dtypes = ["fp32"] + (["bf16"] if fast == "bf16" else [])
    print(f"{len(base):,} distinct sentences (+{len(held_out):,} held out as queries); "
          f"throughput on {args.sample:,} texts ...", flush=True)
    speed = _throughput(args, base, dtypes)
    for name, row in speed.items():
        print(f"  {name:<38}{row['sentences_per_s']:>8.0f}/s {row['ratio_to_sentence_transformers']:>6.2f}x")

    engine = bert_nb.load("default", device=args.device, dtype=fast)
    queries = bert_nb.embed(engine, held_out, batch_size=args.batch_size, progress=False)
    store = Path(args.store)
    shutil.rmtree(store, ignore_errors=True)
    built = {}
    plain_build = indexes._build

    def timed_build(blocks, dim, kind):  # the faiss build on its own, inside index()
        t = time.perf_counter()
        found = plain_build(blocks, dim, kind)
        built[kind] = time.perf_counter() - t
        return found

    indexes._build = timed_build
    rss_before = _rss_mib()
    t0 = time.perf_counter()
    try:
        idx = bert_nb.index(engine, stream(base, args.n), store=store, kind="hnsw", chunk=8192)  # batch_size auto
    finally:
        indexes._build = plain_build
    build_s = time.perf_counter() - t0
    peak_growth = _rss_mib() - rss_before
    vectors_mib = len(idx) * idx.meta.dim * 4 / 2**20  # faiss' float32 copy
    print(f"{len(idx):,} texts indexed in {build_s / 60:.1f} min (HNSW build {built['hnsw'] / 60:.1f} min); "
          f"peak memory +{peak_growth:,.0f} MiB, of which float32 vectors {vectors_mib:,.0f} MiB", flush=True)

    q = np.ascontiguousarray(queries.vectors, dtype=np.float32)
    exact_index = faiss.IndexFlatIP(idx.meta.dim)
    for block in idx._blocks():
        exact_index.add(block)
    t = time.perf_counter()
    _, exact = exact_index.search(q, 10)
    exact_ms = (time.perf_counter() - t) / len(q) * 1000
    del exact_index
    hnsw = idx._index()
    sweep = {}
    for ef in (64, 128, 256, 512):
        hnsw.hnsw.efSearch = ef
        times, approx = [], np.empty((len(q), 10), dtype=np.int64)
        for i in range(len(q)):  # one query at a time, as a user types them
            t = time.perf_counter()
            _, found = hnsw.search(q[i:i + 1], 10)
            times.append(time.perf_counter() - t)
            approx[i] = found[0]
        ms = np.asarray(times) * 1000
        sweep[ef] = {"recall_at_10": float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])),
                     "ms_per_query_mean": float(ms.mean()), "ms_per_query_p95": float(np.percentile(ms, 95))}
        print(f"  HNSW efSearch {ef:>3}: recall@10 {sweep[ef]['recall_at_10']:.3f}, "
              f"{sweep[ef]['ms_per_query_mean']:.2f} ms/query (p95 {sweep[ef]['ms_per_query_p95']:.2f})", flush=True)
    default = sweep[indexes._HNSW_EF_SEARCH]
    t = time.perf_counter()
    for text in held_out[:100]:
        idx.search(text, k=10, engine=engine)
    end_to_end_ms = (time.perf_counter() - t) / 100 * 1000
    report = {
        "device": args.device, "dtype": fast, "machine": platform.machine(), "cpu_native": native_dtypes(args.device),
        "threads": torch.get_num_threads(), "batch_size": args.batch_size, "distinct_sentences": len(base),
        "throughput_sample": args.sample, "throughput": speed,
        "n": len(idx), "kind": idx.kind, "build_batch_size": indexes._batch_size("auto", engine), "build_minutes": build_s / 60, "hnsw_build_minutes": built["hnsw"] / 60,
        "sentences_per_s_whole_build": len(idx) / build_s,
        "peak_rss_growth_mib": peak_growth, "float32_vectors_mib": vectors_mib,
        "peak_rss_beyond_vectors_mib": peak_growth - vectors_mib,
        "store_mib": sum(p.stat().st_size for p in store.iterdir()) / 2**20,
        "ef_search_default": indexes._HNSW_EF_SEARCH, "hnsw_by_ef_search": sweep,
        "hnsw_ms_per_query_mean": default["ms_per_query_mean"], "hnsw_ms_per_query_p95": default["ms_per_query_p95"],
        "exact_ms_per_query_batched": exact_ms, "recall_at_10": default["recall_at_10"],
        "index_search_end_to_end_ms": end_to_end_ms, "queries": len(q),
    }
    print(f"HNSW top-10 at efSearch {indexes._HNSW_EF_SEARCH}: {report['hnsw_ms_per_query_mean']:.2f} ms/query, "
          f"recall@10 {report['recall_at_10']:.3f} against exact search ({exact_ms:.1f} ms/query batched); "
          f"Index.search end to end (embedding the query, reading the texts) {end_to_end_ms:.1f} ms/query")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
