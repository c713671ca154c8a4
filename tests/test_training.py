"""Fine-tuning: data checks, Trainer-based training, metrics, stop/interrupt, save/load, export, MLM, views."""

import gc
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from transformers import TrainerCallback, pipeline

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.plots import confusion_matrix, loss_curve
from bert_nb.render import finetune_html
from bert_nb.tasks.classify import metrics_from
from bert_nb.training import FineTuned, TrainingState, finetune, finetune_mlm
from bert_nb.widgets import FinetunePanel, LiveTraining

from tests.conftest import BAD, GOOD, run_script


@pytest.fixture(scope="module")
def tiny_vocab_engine(tmp_path_factory):
    """A tiny BERT whose vocabulary has 'good' and 'bad' as whole words."""
    import tests.conftest as c

    old = c.WORDS
    c.WORDS = old + ["good", "bad", "slow"]
    try:
        path = c.build_tiny_bert(tmp_path_factory.mktemp("tiny-clf"))
    finally:
        c.WORDS = old
    return bert_nb.load(path, device="cpu")


@pytest.fixture(scope="module")
def clf(tiny_vocab_engine, toy):
    return finetune(tiny_vocab_engine, toy, epochs=5, learning_rate=3e-3, batch_size=8, max_length=16)


def test_it_learns_and_reports(clf):
    assert isinstance(clf, FineTuned) and clf.heads == ("classification",)
    assert clf.label_names == ["neg", "pos"]
    assert len(clf.history.dropna(subset=["loss"])) >= 5
    assert list(clf.metrics["epoch"]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert clf.metrics["loss"].iloc[-1] < clf.metrics["loss"].iloc[0]
    assert {"accuracy", "precision", "recall", "f1", "loss"} <= set(clf.metrics.columns)
    assert clf.metrics["accuracy"].iloc[-1] == 1.0
    assert clf.confusion.shape == (2, 2) and clf.confusion.sum() == clf.training_config["eval_rows"]


def test_predict_frame(clf):
    out = clf.predict(["good play", "bad play"])
    assert list(out.columns) == ["text", "label", "neg", "pos"]
    assert out["label"].tolist() == ["pos", "neg"]
    np.testing.assert_allclose(out[["neg", "pos"]].sum(1), 1, atol=1e-5)
    for nothing in (["  "], None, 5):  # None and 5 were TypeErrors
        with pytest.raises(BertNbError, match="Give one or more non-empty texts to predict"):
            clf.predict(nothing)
    with pytest.raises(BertNbError, match="batch_size must be a whole number of at least 1; got 0"):
        clf.predict(["good play"], batch_size=0)  # range() arg 3 must not be zero


def test_fine_tuned_engine_works_with_other_commands(clf):
    assert bert_nb.attention(clf, "good play").weights.shape[0] == 2
    assert bert_nb.embed(clf, ["good play"]).vectors.shape == (1, 32)
    assert "labels: neg, pos" in str(clf.info())


def test_data_forms_give_the_same_labels(tiny_vocab_engine, toy, tmp_path):
    path = tmp_path / "d.csv"
    toy.to_csv(path, index=False)
    pairs = list(toy.itertuples(index=False, name=None))
    for data in (str(path), pairs):
        got = finetune(tiny_vocab_engine, data, epochs=0.2, batch_size=8, max_length=16)
        assert got.label_names == ["neg", "pos"]
    ints = toy.assign(label=toy.label.map({"neg": 0, "pos": 1}))
    assert finetune(tiny_vocab_engine, ints, epochs=0.2, batch_size=8, max_length=16).label_names == [0, 1]


@pytest.mark.parametrize("make, phrase", [
    (lambda d: d.rename(columns={"text": "body"}), "has no column 'text'"),
    (lambda d: d.assign(label="pos"), "1 class; a classifier needs at least two"),
    (lambda d: d.iloc[0:0], "no usable examples"),
    (lambda d: d.assign(text=""), "no usable examples"),
    (lambda d: d.assign(text=None), "no usable examples"),
    (lambda d: d.assign(text=range(len(d))),
     r"Column 'text' of the data holds int64 values, not texts; .*astype\(str\)"),
    (lambda d: d.join(d[["text"]], rsuffix="_").rename(columns={"text_": "text"}),
     "more than one column named 'text'; rename or drop the others"),  # a pandas ValueError before
])
def test_data_errors(tiny_vocab_engine, toy, make, phrase):
    with pytest.raises(BertNbError, match=phrase):
        finetune(tiny_vocab_engine, make(toy), epochs=0.2)


def test_data_files_of_each_kind(tiny_vocab_engine, toy, tmp_path):
    toy.to_parquet(tmp_path / "toy.parquet")
    toy.to_json(tmp_path / "toy.jsonl", orient="records", lines=True)
    toy.to_csv(tmp_path / "toy.tsv", sep="\t", index=False)
    toy.to_csv(tmp_path / "toy.txt", index=False)  # any other name is read as CSV, as before
    for name in ("toy.parquet", "toy.jsonl", "toy.tsv", "toy.txt"):  # read as CSV before: errors or one column
        assert finetune(tiny_vocab_engine, tmp_path / name, epochs=0.2, batch_size=8).label_names == ["neg", "pos"]
    (tmp_path / "broken.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BertNbError, match=r"Cannot read the data from broken.csv \("):
        finetune(tiny_vocab_engine, tmp_path / "broken.csv")


def test_bad_inputs(tiny_vocab_engine, toy):
    with pytest.raises(BertNbError, match="No file"):
        finetune(tiny_vocab_engine, "nowhere.csv")
    with pytest.raises(BertNbError, match="No file 'a text given where"):  # a name too long for a file: OSError before
        finetune(tiny_vocab_engine, "a text given where a path goes " * 20)
    with pytest.raises(BertNbError, match=r"label\(s\) maybe that training never sees"):
        finetune(tiny_vocab_engine, toy, eval_data=[("good", "pos"), ("so so", "maybe")])
    with pytest.raises(BertNbError, match="learning_rate"):
        finetune(tiny_vocab_engine, toy, learning_rate=3)
    limit = tiny_vocab_engine.max_length  # a longer example failed inside the model
    assert limit < 128  # so the default below is the model's maximum, not 128
    assert finetune(tiny_vocab_engine, toy, epochs=0.2, batch_size=8).training_config["max_length"] == limit
    for task, data in (("classify", toy), ("pairs", toy.assign(other=toy.text).rename(columns={"text": "one"}))):
        with pytest.raises(BertNbError, match=f"max_length {limit + 1} is more than this model's maximum of {limit}"):
            finetune(tiny_vocab_engine, data, task=task, max_length=limit + 1,
                     **({"text": ("one", "other")} if task == "pairs" else {}))


def test_warnings_for_dropped_tiny_and_unbalanced(tiny_vocab_engine, toy):
    messy = pd.concat([toy, pd.DataFrame({"text": ["", None, "ok"], "label": ["pos", "neg", None]})])
    with pytest.warns(UserWarning, match="3 row\\(s\\) of the data had an empty text or label and were dropped"):
        got = finetune(tiny_vocab_engine, messy, epochs=0.2, batch_size=8, max_length=16)
    assert got.training_config["dropped_rows"] == 3
    small = pd.DataFrame({"text": GOOD[:4] + BAD[:4], "label": ["pos"] * 4 + ["neg"] * 4})
    with pytest.warns(UserWarning, match="Only 8 training examples"):
        finetune(tiny_vocab_engine, small, epochs=0.2, max_length=16)
    lopsided = pd.DataFrame({"text": GOOD * 10 + BAD[:2], "label": ["pos"] * 60 + ["neg"] * 2})
    with pytest.warns(UserWarning, match="very unbalanced"):
        finetune(tiny_vocab_engine, lopsided, epochs=0.2, max_length=16)


def test_held_out_split_is_stratified(clf, toy):
    train, held = clf._data
    assert set(held.label) == {"neg", "pos"} and len(held) == round(0.2 * len(toy))
    assert not set(map(tuple, held.values)) - set(map(tuple, toy.values))


class _StopAt(TrainerCallback):
    def __init__(self, step, how, state=None):
        self.step, self.how, self.state = step, how, state

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            if self.how == "button":
                self.state.request_stop()
            else:
                os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("how", ["button", "interrupt"])
def test_stop_keeps_model_and_history(tiny_vocab_engine, toy, how):
    state, before = TrainingState(), signal.getsignal(signal.SIGINT)  # SIG_IGN when run in a background job
    got = finetune(tiny_vocab_engine, toy, epochs=3, batch_size=4, max_length=16, state=state,
                   callbacks=[_StopAt(2, how, state)])
    assert got.stopped_early is not None and got.stopped_early["step"] in (2, 3)
    assert got.state.step == got.stopped_early["step"] and len(got.history) >= 1
    assert got.predict(["good"]).shape == (1, 4)
    assert signal.getsignal(signal.SIGINT) is before  # the handler training put in place is gone again


def test_save_and_reload(clf, tmp_path):
    path = clf.save(tmp_path / "clf")
    assert (tmp_path / "clf" / "model.safetensors").is_file()
    again = bert_nb.load(path, device="cpu")
    assert again.heads == ("classification",)
    result = pipeline("text-classification", model=path, device="cpu")("good play")[0]
    assert result["label"] == "pos"


def run_exported(model, folder, metric: str, processes: int = 1):
    """Export ``model``'s fine-tuning to ``folder``, run the script for one epoch, check ``metric`` and load the result.

    ``processes`` above 1: under ``accelerate launch`` (``tests.conftest.run_script``).
    """
    script = model.export_script(folder / "job" / "train.py")
    out = run_script(script, "--epochs", "1", "--output", folder / "out", processes=processes)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"training on {processes} process(es), cpu" in out.stdout
    assert out.stdout.count(f'"eval_{metric}"') == 1  # one process reports
    return bert_nb.load(str(folder / "out"), device="cpu")


def test_export_script_runs(clf, tmp_path):
    assert run_exported(clf, tmp_path, "accuracy").heads == ("classification",)
    assert (tmp_path / "job" / "train_train.csv").is_file()


def test_an_export_path_is_a_file_or_a_folder(clf, tmp_path):
    assert clf.export_script(tmp_path / "jobs") == str(tmp_path / "jobs" / "train.py")
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == ["train.py", "train_eval.csv", "train_train.csv"]
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(BertNbError, match="a-file is a file, not a folder"):
        clf.export_script(tmp_path / "a-file" / "train.py")
    assert (tmp_path / "a-file").read_text() == "mine"


def test_finetune_mlm(tiny_vocab_engine, minilm, tmp_path):
    import torch
    import transformers

    from bert_nb.training import starting_model

    texts = ["the good cat sat on the mat"] * 16
    adapted = finetune_mlm(tiny_vocab_engine, texts, epochs=2, learning_rate=1e-3, batch_size=8, max_length=16)
    assert "mlm" in adapted.heads and len(adapted.state.history) >= 1
    assert bert_nb.fill_mask(adapted, "the good [MASK] sat").masks
    with pytest.raises(BertNbError, match="masked-LM head"):
        finetune_mlm(minilm, texts)
    # adapting or fine-tuning it again starts from the adapted weights, not the checkpoint it came from
    weights = adapted.encoder.embeddings.word_embeddings.weight
    assert not torch.equal(weights, tiny_vocab_engine.encoder.embeddings.word_embeddings.weight)
    for kind in (transformers.AutoModelForMaskedLM, transformers.AutoModelForSequenceClassification):
        torch.testing.assert_close(starting_model(adapted, kind).base_model.embeddings.word_embeddings.weight,
                                   weights)
    saved = bert_nb.load(adapted.save(tmp_path / "adapted"), device="cpu")
    assert saved.loadable and torch.equal(saved.encoder.embeddings.word_embeddings.weight, weights)


def test_metrics_from():
    metrics, confusion = metrics_from([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["precision"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert metrics["recall"] == pytest.approx((0.5 + 1 + 0) / 3)


def test_figures_and_html(clf):
    fig = loss_curve(clf.history, clf.metrics)
    assert [t.name for t in fig.data] == ["train loss", "eval loss", "eval accuracy", "eval f1"]
    assert len(fig.data[1].x) == 5
    cm = confusion_matrix(clf.confusion, ["<neg>", "pos"])
    assert cm.data[0].type == "heatmap" and "&lt;neg&gt;" in cm.data[0].x
    page = finetune_html(clf)
    assert "accuracy" in page and "true neg" in page


def test_live_view_updates_in_place(tiny_vocab_engine, toy):
    live = LiveTraining()
    figure = live.figure
    assert "first log" in figure.layout.annotations[0].text  # a placeholder, not an empty frame
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis2.visible is False
    finetune(tiny_vocab_engine, toy, epochs=1, batch_size=8, max_length=16, callbacks=[live.callback()], state=live.state)
    assert live.figure is figure and len(figure.data[0].x) >= 1 and len(figure.data[1].x) == 1
    assert live.progress.value == live.progress.max and live.label.value.startswith("done")
    assert not figure.layout.annotations and figure.layout.xaxis.visible and figure.layout.yaxis.visible


class _Folder(TrainerCallback):
    """Notes the Trainer's output folder, and that it exists while training runs."""

    def __init__(self):
        self.folders = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.folders.append((Path(args.output_dir), Path(args.output_dir).is_dir()))


def test_the_trainers_scratch_folder_goes_with_the_training(tiny_vocab_engine, toy):
    look = _Folder()
    done = finetune(tiny_vocab_engine, toy, epochs=1, batch_size=8, max_length=16, callbacks=[look], cache=False)
    adapted = finetune_mlm(tiny_vocab_engine, list(toy.text), epochs=1, batch_size=8, max_length=16, callbacks=[look])
    assert [made for _, made in look.folders] == [True, True]
    del done, adapted
    gc.collect()
    assert not any(folder.exists() for folder, _ in look.folders)


def test_finetune_magics(shell, tiny_vocab_engine, tmp_path):
    shell.run_cell(f"%bert load {tiny_vocab_engine.source} --device cpu")
    body = "\n".join([f"{t}\tpos" for t in GOOD] + [f"{t}\tneg" for t in BAD])
    got = shell.run_cell(f"%%bert finetune --epochs 2 --lr 1e-3 --max-length 16 -o clf\n{body}")
    assert isinstance(got, FineTuned) and shell.ip.user_ns["clf"] is got
    preds = shell.run_cell("%%bert predict --model clf\ngood play\nbad play")
    assert list(preds.columns)[:2] == ["text", "label"]
    assert shell.run_cell("%bert use clf") is got
    assert shell.run_cell("%%bert predict\ngood").shape == (1, 4)
    shell.ip.user_ns["toy_df"] = pd.DataFrame({"body": GOOD + BAD, "y": ["p"] * 6 + ["n"] * 6})
    shell.run_cell(f"%bert load {tiny_vocab_engine.source} --device cpu")
    got = shell.run_cell("%bert finetune --data toy_df --text body --label y --epochs 0.5 --max-length 16")
    assert got.label_names == ["n", "p"]
    csv = tmp_path / "toy.csv"
    shell.ip.user_ns["toy_df"].to_csv(csv, index=False)
    shell.run_cell(f"%bert load {tiny_vocab_engine.source} --device cpu")
    from_file = shell.run_cell(f"%bert finetune --data {csv} --text body --label y --epochs 0.5 --max-length 16")
    assert from_file.label_names == ["n", "p"]
    assert "No file 'toy.csv' (and no variable" in shell.usage_error("%bert finetune --data toy.csv")
    for source, phrase in [("%%bert finetune\ngood movie pos", "is not `text<TAB>label`"),
                           ("%bert finetune --data nothing", "No variable 'nothing'.*or give a .csv file"),
                           ("%%bert predict --model nothing\nhi", "No variable 'nothing'; fine-tune first"),
                           ("%bert use nothing", "does not hold a model"),
                           ("%bert use 5", r"'5' does not hold a model; .*finetune -o clf`, then `%bert use clf`"),
                           ("%%bert predict\nhello", "is not a fine-tuned classifier")]:
        with pytest.raises(UsageError, match=phrase):
            shell.run_cell(source)
    shell.run_cell("%bert load default --device cpu")


def test_finetune_panel(tiny_vocab_engine, toy):
    panel = FinetunePanel(tiny_vocab_engine, data=toy)
    assert "48 examples" in panel.preview.value
    assert max(panel.max_length.options) <= tiny_vocab_engine.max_length  # none the model cannot take
    assert panel._confusion_box.layout.display == "none"  # no blank figure before a run
    panel.epochs.value = 1
    panel.max_length.value = 32
    panel.start()
    result = panel.join(timeout=120)
    assert isinstance(result, FineTuned) and "done" in panel.status.value
    assert "accuracy" in panel.metrics.value and panel.confusion.data[0].type == "heatmap"
    assert panel._confusion_box.layout.display is None


def test_same_seed_same_model(tiny_vocab_engine, toy):
    runs = [finetune(tiny_vocab_engine, toy, epochs=1, batch_size=8, max_length=16, seed=3) for _ in range(2)]
    first, second = (r.history.filter(["step", "loss", "learning_rate"]) for r in runs)
    assert first.equals(second)
    assert runs[0].metrics["accuracy"].tolist() == runs[1].metrics["accuracy"].tolist()


def test_export_script_runs_under_accelerate_launch(clf, tmp_path):
    """Two CPU processes (distributed data parallel), as `accelerate launch` runs it on several GPUs."""
    assert run_exported(clf, tmp_path, "accuracy", processes=2).heads == ("classification",)


def test_predict_reads_long_texts_in_windows(clf):
    long = " ".join(["A gripping, beautifully acted film with a story that never lets go."] * 30)
    limit = clf.training_config["max_length"]
    out = clf.predict([long, "A dull mess."])
    assert out.windows.tolist()[0] > 1 and out.windows.tolist()[1] == 1
    assert f"longer than {limit} pieces read in" in out.attrs["note"]
    np.testing.assert_allclose(out[[str(n) for n in clf.label_names]].sum(axis=1), 1, atol=1e-5)
    cut = clf.predict([long, "A dull mess."], truncate=True)
    first = clf.predict([clf.tokenizer.decode(clf.tokenizer(long, add_special_tokens=False)["input_ids"][:limit - 2])])
    assert cut.cut.tolist()[0] > 0 and "cut there" in cut.attrs["note"]
    classes = [str(n) for n in clf.label_names]
    np.testing.assert_allclose(cut[classes].iloc[0].to_numpy(float), first[classes].iloc[0].to_numpy(float), atol=1e-4)
    short = clf.predict(["A dull mess."])
    assert "windows" not in short.columns and "cut" not in short.columns and not short.attrs.get("note")
    with pytest.raises(BertNbError, match="stride is the number of pieces"):
        clf.predict([long], stride=limit)


def test_predict_magic_windows_and_truncate(clf, shell):
    long = " ".join(["A gripping, beautifully acted film with a story that never lets go."] * 30)
    shell.user_ns["windowed_clf"] = clf
    out = shell.run_cell(f"%%bert predict --model windowed_clf --stride 4\n{long}\nA dull mess.")
    assert out.windows.tolist()[0] > 1 and "(4 pieces shared)" in out.attrs["note"]
    assert "cut" in shell.run_cell(f"%%bert predict --model windowed_clf --truncate\n{long}").columns


def test_a_sequence_classifier_from_the_hub_classifies(tmp_path, shell):
    import transformers

    from bert_nb.panels import TaskPanel
    from tests.conftest import build_tiny_bert

    base = build_tiny_bert(tmp_path / "base", words=["good", "bad"])
    saved = transformers.BertForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    saved.save_pretrained(tmp_path / "sst2")
    transformers.AutoTokenizer.from_pretrained(base).save_pretrained(tmp_path / "sst2")
    hub = bert_nb.load(str(tmp_path / "sst2"), device="cpu")  # as a hub sentiment model loads: no predict of its own
    got = bert_nb.classify(hub, ["good good", "bad"])
    assert list(got.columns) == ["text", "label", "NEGATIVE", "POSITIVE"] and set(got.label) <= {"NEGATIVE", "POSITIVE"}
    enc = hub.tokenizer(["good good"], return_tensors="pt")
    probs = saved.eval()(**enc).logits.softmax(-1)[0].detach().numpy()
    np.testing.assert_allclose(got.iloc[0][["NEGATIVE", "POSITIVE"]].to_numpy(float), probs, atol=1e-5)
    shell.user_ns["sst2"] = hub  # `%%bert predict` said "not a fine-tuned classifier", the task panel "hub classifier"
    assert list(shell.run_cell("%%bert predict --model sst2\ngood\nbad").label) == list(
        bert_nb.classify(hub, ["good", "bad"]).label)
    assert TaskPanel(hub, text="good").result is not None
    with pytest.raises(BertNbError, match="has no classification head"):
        bert_nb.classify(bert_nb.load(base, device="cpu"), ["good"])
    scorer = transformers.BertForSequenceClassification.from_pretrained(base, num_labels=1)  # a hub cross-encoder's head
    scorer.save_pretrained(tmp_path / "scorer")
    transformers.AutoTokenizer.from_pretrained(base).save_pretrained(tmp_path / "scorer")
    one_output = bert_nb.load(str(tmp_path / "scorer"), device="cpu")  # a score, not a softmax (always 1)
    got = bert_nb.classify(one_output, ["good"])
    logit = float(scorer.eval()(**one_output.tokenizer(["good"], return_tensors="pt")).logits[0, 0])
    assert list(got.columns) == ["text", "score", "logit"]
    np.testing.assert_allclose([got.logit[0], got.score[0]], [logit, 1 / (1 + np.exp(-logit))], atol=1e-5)
    why = bert_nb.explain(one_output, "good", method="occlusion")  # every word scored 0 before
    assert why.kind == "score" and why.value == pytest.approx(got.score[0], abs=1e-5)


def test_texts_of_mixed_lengths_are_classified_in_their_order(clf):
    texts = ["good and fast and good and the cat is good", "bad", "the cat is bad", "good", "it was good and fast"]
    together = clf.predict(texts, batch_size=2)
    assert together.text.tolist() == texts
    alone = pd.concat([clf.predict([t]) for t in texts], ignore_index=True)
    assert together.label.tolist() == alone.label.tolist()
    np.testing.assert_allclose(together[alone.columns[2:]].to_numpy(float), alone[alone.columns[2:]].to_numpy(float),
                               atol=1e-5)


def test_long_passes_show_progress_from_1024_inputs(clf, capsys):
    clf.predict(["the cat sat", "a good dog"])
    assert "predicting" not in capsys.readouterr().err  # a few texts: no bar
    many = clf.predict(["the cat sat", "a good dog"] * 512)  # 1,024: the bar, and the same labels as alone
    assert "predicting" in capsys.readouterr().err and len(many) == 1024
    assert many.label.tolist()[:2] == clf.predict(["the cat sat", "a good dog"]).label.tolist()
    clf.predict(["the cat sat"], progress=True)
    assert "predicting: 100%" in capsys.readouterr().err
    clf.predict(["the cat sat"] * 1024, progress=False)
    assert "predicting" not in capsys.readouterr().err
