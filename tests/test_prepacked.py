"""Prepacked encoder copies: the embedding path's linear layers with weights laid out once for oneDNN (CPU)."""

import copy

import numpy as np
import pytest
import torch

import bert_nb
from bert_nb import _prepacked
from bert_nb.embeddings import _sentence_max_length, embed, pooled_vectors, prepacks

from tests.conftest import build_tiny_bert

TEXTS = ["A man is playing a guitar.", "Someone is playing an instrument.", "word " * 90, "Short.",
         "The stock market fell sharply today."]

needs_onednn = pytest.mark.skipif(not _prepacked.supported(torch.nn.Linear(2, 2), "cpu"),
                                  reason="this torch has no oneDNN linear operators (mkldnn) on this CPU")


def _vectors(engine, prepack: bool):
    return pooled_vectors(engine, TEXTS, "mean", [-1], _sentence_max_length(engine), 0, False, 2,
                          prepack=prepack)[0][0]


@needs_onednn
def test_copy_gives_the_encoders_outputs_shares_its_tensors_and_leaves_it_alone(tiny):
    batch = tiny.tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    clone = _prepacked.packed_copy(tiny.encoder)
    with torch.inference_mode():
        want = tiny.encoder(**batch).last_hidden_state
        got = clone(**batch).last_hidden_state
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    assert clone.embeddings.word_embeddings.weight is tiny.encoder.embeddings.word_embeddings.weight
    assert clone.config is tiny.encoder.config  # the packed attention is switched on the model's config
    kinds = {type(m).__name__ for m in clone.modules()}
    assert "Linear" not in kinds and "_PackedLinear" in kinds
    inner = clone.encoder.layer[0].intermediate
    assert isinstance(inner.intermediate_act_fn, torch.nn.Identity) and "gelu=True" in repr(inner.dense)
    assert "gelu=False" in repr(clone.encoder.layer[0].output.dense)
    original = tiny.encoder.encoder.layer[0]
    assert type(original.output.dense) is torch.nn.Linear  # the model itself is untouched
    assert type(original.intermediate.intermediate_act_fn).__name__ == "GELUActivation"


@needs_onednn
def test_embed_runs_the_copy_on_a_cpu_with_the_same_vectors(minilm):
    assert prepacks(minilm)
    plain, fast = _vectors(minilm, False), _vectors(minilm, True)
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    key, model, clone = minilm._prepacked[id(minilm.encoder)]
    assert model is minilm.encoder and key == _prepacked._key(minilm.encoder)
    embed(minilm, TEXTS[:2])
    assert minilm._prepacked[id(minilm.encoder)][2] is clone  # made once, kept while the weights stay


@needs_onednn
def test_copy_is_made_again_when_the_weights_change(tmp_path):
    engine = bert_nb.load(build_tiny_bert(tmp_path / "m"), device="cpu")
    before = _vectors(engine, True)
    clone = engine._prepacked[id(engine.encoder)][2]
    with torch.no_grad():  # as an optimizer step would
        engine.encoder.encoder.layer[1].output.dense.weight.mul_(3.0)
    after = _vectors(engine, True)
    assert engine._prepacked[id(engine.encoder)][2] is not clone
    assert np.abs(after - before).max() > 1e-2
    np.testing.assert_allclose(after, _vectors(engine, False), atol=1e-5)


@needs_onednn
def test_a_copy_of_the_engine_gets_its_own_prepacked_encoder(tmp_path):
    engine = bert_nb.load(build_tiny_bert(tmp_path / "m"), device="cpu")
    first = _vectors(engine, True)
    other = copy.deepcopy(engine.model)
    with torch.no_grad():
        other.base_model.encoder.layer[0].attention.output.dense.weight.mul_(-1.0)
    twin = engine.with_model(other, name="changed")
    assert np.abs(_vectors(twin, True) - first).max() > 1e-2
    np.testing.assert_allclose(_vectors(twin, True), _vectors(twin, False), atol=1e-5)
    np.testing.assert_allclose(_vectors(engine, True), first, atol=1e-6)


@needs_onednn
def test_hooks_on_the_model_run_in_the_copy_until_removed(tmp_path):
    engine = bert_nb.load(build_tiny_bert(tmp_path / "m"), device="cpu")
    _vectors(engine, True)
    calls = []
    handle = engine.encoder.encoder.layer[0].register_forward_hook(lambda *args: calls.append(1))
    _vectors(engine, True)
    assert calls  # added after the copy was made: made again, with it
    handle.remove()
    calls.clear()
    np.testing.assert_allclose(embed(engine, TEXTS, layer=1).vectors,  # hidden states: transformers' own hooks
                               embed(engine, TEXTS, layer=1, batch_size=1).vectors, atol=1e-5)
    assert calls == []


@needs_onednn
def test_bf16_copies_keep_bf16_and_int8_engines_are_not_prepacked(tmp_path):
    path = build_tiny_bert(tmp_path / "m")
    half = bert_nb.load(path, device="cpu", dtype="bf16")
    assert prepacks(half)
    plain, fast = _vectors(half, False), _vectors(half, True)
    cos = np.sum(plain * fast, 1) / np.linalg.norm(plain, axis=1) / np.linalg.norm(fast, axis=1)
    assert cos.min() >= 0.999
    assert not prepacks(bert_nb.load(path, device="cpu", quantize="int8"))
    assert not _prepacked.supported(torch.nn.Linear(2, 2).half(), "cpu")
    assert not _prepacked.supported(torch.nn.Linear(2, 2), "cuda")


@needs_onednn
def test_predictions_run_the_copy_and_give_the_models_probabilities(tmp_path, monkeypatch):
    import transformers

    base = build_tiny_bert(tmp_path / "base", head="base")
    config = transformers.AutoConfig.from_pretrained(base, num_labels=3, id2label={0: "a", 1: "b", 2: "c"},
                                                     label2id={"a": 0, "b": 1, "c": 2})
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path / "clf")
    transformers.AutoTokenizer.from_pretrained(base).save_pretrained(tmp_path / "clf")
    engine = bert_nb.load(str(tmp_path / "clf"), device="cpu")
    fast = bert_nb.classify(engine, TEXTS)
    assert id(engine.model) in engine._prepacked  # the whole classifier, head included
    small = bert_nb.load(str(tmp_path / "clf"), device="cpu", quantize="int8")
    bert_nb.classify(small, TEXTS[:2])
    assert not small.__dict__.get("_prepacked")  # int8 runs its own quantized layers
    monkeypatch.setattr(_prepacked, "applies", lambda engine, model: False)
    plain = bert_nb.classify(engine, TEXTS)
    assert list(fast.label) == list(plain.label)
    np.testing.assert_allclose(fast[["a", "b", "c"]].to_numpy(), plain[["a", "b", "c"]].to_numpy(), atol=1e-5)


def test_a_copy_onednn_refuses_leaves_the_model_to_run_itself(tiny, monkeypatch):
    owner = type("Owner", (), {})()

    def refuse(model):
        raise RuntimeError("no such layout here")

    monkeypatch.setattr(_prepacked, "packed_copy", refuse)
    assert _prepacked.cached(owner, tiny.encoder) is tiny.encoder
