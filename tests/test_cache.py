"""finetune(cache=...): the same fine-tuning again loads the classifier instead of training it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bert_nb.training as training
from bert_nb.cache import ENV, cache_folder, lookup
from bert_nb.errors import BertNbError
from bert_nb.training import TrainingState, finetune
from bert_nb.widgets import LiveTraining
from tests.test_training import _StopAt, tiny_vocab_engine  # noqa: F401  (a fixture)

SETTINGS = dict(epochs=2, learning_rate=3e-3, batch_size=8, max_length=16)


def _refuse_training(monkeypatch):
    """From here on any training fails: what runs next must load from the cache."""
    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("trained although the cache holds this run"))


def _entries(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_the_same_call_loads_what_the_first_one_trained(tiny_vocab_engine, toy, tmp_path, monkeypatch):
    first = finetune(tiny_vocab_engine, toy, cache=tmp_path, **SETTINGS)
    assert len(_entries(tmp_path)) == 1
    calls = []

    class Heard:
        def on_loaded(self, state, path):
            calls.append((len(state.epochs), path))

    _refuse_training(monkeypatch)
    again = finetune(tiny_vocab_engine, toy.copy(), cache=str(tmp_path), callbacks=[Heard()], **SETTINGS)
    assert calls == [(2, str(tmp_path / _entries(tmp_path)[0]))]
    pd.testing.assert_frame_equal(again.metrics, first.metrics)
    pd.testing.assert_frame_equal(again.history, first.history)
    np.testing.assert_array_equal(again.confusion, first.confusion)
    texts = list(toy.text[:6])
    pd.testing.assert_frame_equal(again.predict(texts), first.predict(texts))
    assert (again.name, again.label_names, again.training_config) == (first.name, first.label_names,
                                                                       first.training_config)
    assert again.state.step == again.state.total_steps == first.history.step.max()
    assert again.export_script(tmp_path / "script" / "train.py")  # the data came along
    floats = {**SETTINGS, "epochs": 2.0}  # as the magics pass it
    assert finetune(tiny_vocab_engine, toy, cache=tmp_path, **floats).metrics.equals(first.metrics)


def test_other_data_or_settings_train_again(tiny_vocab_engine, toy, tmp_path):
    finetune(tiny_vocab_engine, toy, cache=tmp_path, **SETTINGS)
    finetune(tiny_vocab_engine, toy, cache=tmp_path, **{**SETTINGS, "learning_rate": 1e-3})
    changed = toy.assign(text=toy.text.str.replace("cat", "dog"))
    finetune(tiny_vocab_engine, changed, cache=tmp_path, **SETTINGS)
    assert len(_entries(tmp_path)) == 3


def test_the_environment_names_the_folder_and_false_turns_it_off(tiny_vocab_engine, toy, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path / "env"))
    finetune(tiny_vocab_engine, toy, **SETTINGS)
    assert len(_entries(tmp_path / "env")) == 1
    assert cache_folder(None) == tmp_path / "env" and cache_folder(False) is None
    _refuse_training(monkeypatch)
    live = LiveTraining()  # the notebook's live view draws the loaded history
    finetune(tiny_vocab_engine, toy, callbacks=[live.callback()], state=live.state, **SETTINGS)
    assert len(live.figure.data[2].y) == 2 and "loaded from the cache" in live.label.value
    monkeypatch.delenv(ENV)
    with pytest.raises(BertNbError, match="needs a folder"):
        cache_folder(True)


def test_a_run_stopped_early_is_not_kept(tiny_vocab_engine, toy, tmp_path):
    state = TrainingState()
    got = finetune(tiny_vocab_engine, toy, state=state, callbacks=[_StopAt(2, "button", state)], cache=tmp_path,
                   **SETTINGS)
    assert got.stopped_early and _entries(tmp_path) == []


def test_a_half_written_entry_is_never_read(tmp_path):
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "model.safetensors").write_bytes(b"")  # the saving process died before the last file
    assert lookup(tmp_path, "abc") is None
