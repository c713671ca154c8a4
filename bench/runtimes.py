"""fp32 embedding on a CPU: bert_nb.embed against other inference runtimes' fused BERT kernels, one run.

The question this answers: would running the encoder on another runtime's fused kernels (attention,
bias + GELU, residual + LayerNorm each one operator) make fp32 ``embed`` faster on a CPU? The
packaged all-MiniLM-L6-v2 is exported once to ONNX (eager attention, so that ONNX Runtime's BERT
fusions recognise it) and run by:

- ONNX Runtime, after its transformer optimizer fused the graph (the fused operators are listed);
- OpenVINO, with its inference precision held at f32 (on CPUs with AMX it would otherwise run bf16).

Both get the batches ``embed`` would run padded: STS-B sentences tokenized, sorted by pieces,
``--batch-size`` at a time, mean-pooled and normalised; tokenizing is timed on every side, as it is
for sentence-transformers ``encode`` (the 1.00x) and ``embed``. Each contender runs ``--rounds``
times, alternating, and the best round counts; each row gives its cosine to sentence-transformers.
The runtimes are not bert_nb dependencies; install the versions measured to run them (a missing one
is skipped with the reason)::

    .venv/bin/pip install onnxruntime==1.32.0 onnx==1.23.2 openvino==2026.4.1
    python bench/runtimes.py [--n 2048] [--batch-size 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from embed import _sentences


def _export(source: str, folder: Path) -> Path:
    """The encoder at ``source`` as ONNX (opset 17, batch and length dynamic), eager attention."""
    import torch
    from transformers import AutoTokenizer, BertModel

    class Hidden(torch.nn.Module):  # keyword arguments in, the last hidden state out
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = BertModel.from_pretrained(source, attn_implementation="eager").eval()
    example = AutoTokenizer.from_pretrained(source)(["an example", "a longer example sentence"],
                                                    padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = folder / "encoder.onnx"
    torch.onnx.export(Hidden(model), tuple(example[n] for n in names), str(path), input_names=names,
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "pieces"} for n in names + ["last_hidden_state"]})
    return path


def _padded_embed(tokenizer, run, texts, batch_size: int, limit: int):
    """Unit mean-pooled vectors of ``texts``: sorted by pieces, padded batches, ``run(feeds)`` -> hidden states."""
    import numpy as np

    ids = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    out = np.empty((len(texts), 0), np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(ids[i]) for i in rows)
        input_ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros_like(input_ids)
        for r, i in enumerate(rows):
            input_ids[r, :len(ids[i])], mask[r, :len(ids[i])] = ids[i], 1
        hidden = run({"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)})
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        if not out.shape[1]:
            out = np.empty((len(texts), pooled.shape[1]), np.float32)
        out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def _onnxruntime(path: Path, hidden: int, heads: int, threads: int):
    """ONNX Runtime's session on the fused graph (its threads sleep between calls: spinning would slow the
    contender that runs next), and the fused operators' counts."""
    import onnxruntime as ort
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden)
    fused_path = path.with_name("encoder_fused.onnx")
    fused.save_model_to_file(str(fused_path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(fused_path), options, providers=["CPUExecutionProvider"])
    counts = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    return (lambda feeds: session.run(None, feeds)[0]), {"version": ort.__version__, "fused_operators": counts}


def _openvino(path: Path, threads: int):
    """OpenVINO's CPU plugin on the ONNX graph, inference precision f32."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                          "PERFORMANCE_HINT": "LATENCY",
                                                          "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    return (lambda feeds: request.infer(feeds)[0]), {"version": ov.__version__,
                                                     "precision": str(compiled.get_property("INFERENCE_PRECISION_HINT"))}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default="bench/results/runtimes.json")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    import bert_nb
    from bert_nb.embeddings import _sentence_max_length

    texts = _sentences(args.n)
    engine = bert_nb.load("default", device="cpu")
    cfg, threads = engine.encoder.config, torch.get_num_threads()
    limit = _sentence_max_length(engine)
    st = SentenceTransformer(engine.source, device="cpu")
    runs = {
        "sentence-transformers encode": lambda: st.encode(texts, batch_size=args.batch_size,
                                                          normalize_embeddings=True, convert_to_numpy=True),
        "bert_nb.embed": lambda: bert_nb.embed(engine, texts, batch_size=args.batch_size, progress=False).vectors,
    }
    about, skipped = {}, {}
    folder = Path(tempfile.mkdtemp(prefix="bert_nb_runtimes_"))
    try:
        path = _export(engine.source, folder)
    except Exception as e:  # noqa: BLE001 - the exporter needs `onnx`
        path, skipped["export"] = None, f"{type(e).__name__}: {e}"
    if path is not None:
        for name, make in (("ONNX Runtime (fused)", lambda: _onnxruntime(path, cfg.hidden_size,
                                                                          cfg.num_attention_heads, threads)),
                           ("OpenVINO (f32)", lambda: _openvino(path, threads))):
            try:
                run, about[name] = make()
            except ImportError as e:
                skipped[name] = f"not installed ({e.name})"
                continue
            runs[name] = lambda run=run: _padded_embed(engine.tokenizer, run, texts, args.batch_size, limit)

    seconds, vectors = {name: [] for name in runs}, {}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            vectors[name] = np.asarray(fn())
            seconds[name].append(time.perf_counter() - t0)
    base = min(seconds["sentence-transformers encode"])
    reference = vectors["sentence-transformers encode"]
    results = {name: {"sentences_per_s": len(texts) / min(s), "ratio_to_sentence_transformers": base / min(s),
                      "min_cosine_to_sentence_transformers": float((vectors[name] * reference).sum(1).min()),
                      **about.get(name, {})}
               for name, s in seconds.items()}
    report = {"machine": platform.machine(), "threads": threads,
              "n": len(texts), "batch_size": args.batch_size, "rounds": args.rounds, "results": results,
              "skipped": skipped}
    for name, r in results.items():
        print(f"{name:32s} {r['sentences_per_s']:8.0f} sentences/s  {r['ratio_to_sentence_transformers']:.2f}x"
              f"  min cosine {r['min_cosine_to_sentence_transformers']:.6f}")
    for name, why in skipped.items():
        print(f"{name}: skipped, {why}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
