"""Smaller and faster: quantize, head importance, pruning, distillation, compare; their views, magics and panel."""

import numpy as np
import pandas as pd
import pytest
import torch

import bert_nb
from bert_nb import compress, surgery
from bert_nb.errors import BertNbError, MissingHeadError
from bert_nb.training import FineTuned, TrainingState, finetune

from tests.conftest import BAD, GOOD, head_scale_gradients


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, toy):
    """A 4-layer, 4-head tiny BERT fine-tuned on good/bad: it learns the toy task."""
    from tests.conftest import build_tiny_bert

    path = build_tiny_bert(tmp_path_factory.mktemp("tiny-4x4"), layers=4, heads=4, words=["good", "bad", "slow"], seed=1)
    engine = bert_nb.load(path, device="cpu")
    clf = finetune(engine, toy, epochs=8, learning_rate=3e-3, batch_size=8, max_length=16)
    assert clf.metrics.accuracy.iloc[-1] == 1.0, "the teacher should learn the toy task"
    return clf


def _gated_logits(model, texts, zero: dict) -> torch.Tensor:
    """The original model's logits with the heads in ``zero`` ({layer: [heads]}) silenced by a hook."""
    parts = surgery.attention_parts(model.model)
    handles = []
    for layer, heads in zero.items():
        p = parts[layer]

        def hook(module, inputs, heads=heads, p=p):
            x = inputs[0].clone()
            for h in heads:
                x[..., h * p.head_size:(h + 1) * p.head_size] = 0
            return (x,)
        handles.append(p.output.register_forward_pre_hook(hook))
    try:
        enc = model.tokenizer(texts, padding=True, return_tensors="pt")
        return model.forward(dict(enc)).logits.float()
    finally:
        for h in handles:
            h.remove()


def _logits(model, texts) -> torch.Tensor:
    return model.forward(dict(model.tokenizer(texts, padding=True, return_tensors="pt"))).logits.float()


# -- quantize ----------------------------------------------------------------------------------
def test_int8_copy_is_a_classifier_and_leaves_the_original(teacher):
    small = bert_nb.quantize(teacher, "int8")
    assert isinstance(small, FineTuned) and small.quantize == "int8" and small.name.endswith("+int8")
    assert small.label_names == teacher.label_names
    assert type(teacher.model.bert.encoder.layer[0].attention.self.query) is torch.nn.Linear  # untouched
    assert teacher.quantize is None
    out = small.predict(GOOD[:2] + BAD[:2])
    assert list(out.label) == list(teacher.predict(GOOD[:2] + BAD[:2]).label)
    assert small.info().memory_bytes < teacher.info().memory_bytes


def test_quantize_refuses_what_it_cannot_do(teacher, monkeypatch):
    small = bert_nb.quantize(teacher, "int8")
    with pytest.raises(BertNbError, match="already int8; quantize the fp32 original"):
        bert_nb.quantize(small, "int8")
    with pytest.raises(BertNbError, match="Unknown quantization 'int4'"):
        bert_nb.quantize(teacher, "int4")
    monkeypatch.setattr("bert_nb.engine._cpu_flags", lambda: {"avx2"})
    with pytest.raises(BertNbError, match="This CPU has no native bf16"):
        bert_nb.quantize(teacher, "bf16")
    with pytest.raises(BertNbError, match="int8-quantized, which has no safetensors form"):
        small.save("unused")


def test_bf16_where_the_cpu_has_it(teacher, monkeypatch):
    monkeypatch.setattr("bert_nb.engine._cpu_flags", lambda: {"avx512_bf16", "avx512f"})
    assert bert_nb.engine.native_dtypes("cpu") == {"bf16": "avx512_bf16"}
    half = bert_nb.quantize(teacher, "bf16")
    assert half.dtype == torch.bfloat16 and next(half.model.parameters()).dtype == torch.bfloat16
    assert next(teacher.model.parameters()).dtype == torch.float32
    np.testing.assert_allclose(half.predict(GOOD[:3]).iloc[:, 2:].to_numpy(),
                               teacher.predict(GOOD[:3]).iloc[:, 2:].to_numpy(), atol=0.05)
    assert "native bf16 (avx512_bf16)" in str(half.info())


def test_status_says_whether_the_cpu_has_bf16(teacher, monkeypatch):
    monkeypatch.setattr("bert_nb.engine._cpu_flags", lambda: {"amx_bf16"})
    assert "cpu        native bf16 (amx_bf16): --dtype bf16 runs about 2x faster" in str(teacher.info())
    monkeypatch.setattr("bert_nb.engine._cpu_flags", lambda: set())
    assert "cpu        no native bf16" in str(teacher.info())


# -- head importance ---------------------------------------------------------------------------
def test_head_importance_is_the_mask_gradient(teacher):
    text, label = "a good dog", "pos"
    imp = bert_nb.head_importance(teacher, [(text, label)])
    frame = imp.to_frame()
    assert list(frame.columns) == ["layer", "head", "importance"] and len(frame) == 16
    norms = frame.groupby("layer").importance.apply(lambda s: float(np.sqrt((s ** 2).sum())))
    np.testing.assert_allclose(norms.to_numpy(), 1.0, rtol=1e-5)
    # independent check: central differences of the loss in each head's output scale
    enc = teacher.tokenizer([text], return_tensors="pt")
    y = torch.tensor([teacher.label_names.index(label)])
    expected = head_scale_gradients(teacher.model, lambda model: model(**enc, labels=y).loss, 4, 4)
    np.testing.assert_allclose(imp.matrix(), expected, atol=1e-3)
    assert "most important (layer.head)" in imp.to_text()


def test_head_importance_refuses(teacher, tiny, toy):
    with pytest.raises(BertNbError, match="int8-quantized and has no gradients"):
        bert_nb.head_importance(bert_nb.quantize(teacher), toy)
    with pytest.raises(BertNbError, match="label\\(s\\) meh that"):
        bert_nb.head_importance(teacher, [("good", "meh")])
    with pytest.raises(MissingHeadError):
        bert_nb.head_importance(tiny, toy)
    with pytest.raises(BertNbError, match="no column 'review'"):
        bert_nb.head_importance(teacher, toy, text="review")


# -- prune -------------------------------------------------------------------------------------
def test_pruned_model_equals_the_original_with_those_heads_silenced(teacher):
    heads = {0: [1, 3], 2: [0]}
    pruned = bert_nb.prune(teacher, heads=heads)
    assert isinstance(pruned, FineTuned) and pruned.name.endswith("+pruned3")
    texts = GOOD[:3] + BAD[:3]
    torch.testing.assert_close(_logits(pruned, texts), _gated_logits(teacher, texts, heads), atol=1e-5, rtol=1e-4)
    hidden, d = 32, 8  # 4 heads of size 8
    per_head = 3 * (hidden * d + d) + hidden * d  # q, k, v rows with biases; the output projection's columns
    assert teacher.info().parameters - pruned.info().parameters == 3 * per_head
    assert surgery.remaining_heads(pruned.config) == [[0, 2], [0, 1, 2, 3], [1, 2, 3], [0, 1, 2, 3]]
    assert surgery.remaining_heads(teacher.config) == [[0, 1, 2, 3]] * 4  # the original keeps its heads
    assert "3 attention heads pruned" in str(pruned.info())
    again = bert_nb.prune(pruned, heads={0: [2]})  # original numbering
    assert surgery.remaining_heads(again.config)[0] == [0]


def test_prune_by_fraction_removes_the_least_important(teacher, toy):
    imp = bert_nb.head_importance(teacher, toy)
    pruned = bert_nb.prune(teacher, fraction=0.25, data=toy)
    gone = surgery.pruned_heads(pruned.config)
    assert sum(map(len, gone.values())) == 4
    assert {(l, h) for l, hs in gone.items() for h in hs} == set(imp.least(4))
    most = bert_nb.prune(teacher, fraction=0.9, importance=imp)  # every layer keeps one head
    assert [len(h) for h in surgery.remaining_heads(most.config)] == [1, 1, 1, 1]


@pytest.mark.parametrize("kwargs, message", [
    ({"heads": {1: [0, 1, 2, 3]}}, "every head of layer 1; keep at least one"),
    ({"heads": {7: [0]}}, "no layer 7; this model has layers 0 to 3"),
    ({"heads": {0: [9]}}, "Layer 0 has no head 9"),
    ({"heads": {0: [1]}, "fraction": 0.2}, "either fraction="),
    ({}, "either fraction="),
    ({"fraction": 0.4}, "pass data="),
    ({"fraction": 1.5, "data": [("good", "pos")]}, "between 0 and 1"),
    ({"fraction": pd.DataFrame({"text": ["x"]})}, r"between 0 and 1 \(0.4 removes 40% of the heads\), not a DataFrame\.$"),
    ({"fraction": {0: [1]}}, r"A dict of heads goes to heads=: prune\(model, heads="),  # prune(model, {0: [1]})
])
def test_prune_refuses(teacher, kwargs, message):
    with pytest.raises(BertNbError, match=message):
        bert_nb.prune(teacher, **kwargs)


def test_attention_views_of_a_pruned_model(teacher):
    """Removed heads keep their numbers as NaN: averages skip them, the views leave them out, asking names them."""
    from bert_nb.attentions import attention, focus, recompute, select
    from bert_nb.panels import AttentionPanel
    from bert_nb.plots import attention_grid, token_focus

    heads = {0: [1, 3], 2: [0]}
    pruned = bert_nb.prune(teacher, heads=heads)
    text = "good good slow bad"
    att, full = attention(pruned, text), attention(teacher, text)
    assert att.weights.shape == full.weights.shape and att.pruned == heads and "(3 pruned)" in att.to_text()
    assert "4 layers x 4 heads (3 pruned) over" in bert_nb.render.attention_html(att)
    # layer 0 sees the same embeddings, so the heads it kept attend exactly as the original's did
    np.testing.assert_allclose(att.weights[0, [0, 2]], full.weights[0, [0, 2]], atol=1e-5)
    np.testing.assert_allclose(select(att, layer=0).matrix, full.weights[0, [0, 2]].mean(0), atol=1e-5)
    assert np.isfinite(select(att, layer=None, head=0).matrix).all()  # head 0 is left in layers 0, 1 and 3
    with pytest.raises(BertNbError, match=r"Head 3 was pruned from layer 0; choose one of the heads it kept \(0, 2\)"):
        select(att, layer=0, head=3)
    with pytest.raises(BertNbError, match="Head 0 was pruned from layer 2"):
        att.with_view(layer=2, head=0)
    grid = attention_grid(att)
    assert len(grid.data) == 16 - 3 and [a.text for a in grid.layout.annotations].count("pruned") == 3
    assert "3 pruned heads left blank" in grid.layout.title.text
    followed = focus(att, "slow")
    assert len(followed.to_frame()) == 13 and all(h != (0, 1) for h in followed.to_frame().index)
    assert all((l, h) not in [(0, 1), (0, 3), (2, 0)] for l, h, _, _ in followed.strongest(20))
    assert len(token_focus(followed).data[0].y) == 13
    again = recompute(pruned, text, layer=2)
    assert again.by_hand.shape[0] == 3 and again.matches
    for method in ("attention", "attention_rollout"):
        assert np.isfinite(bert_nb.explain(pruned, text, method=method).scores).all()
    panel = AttentionPanel(pruned, text=text)
    panel.layer.value, panel.average.value = 2, False
    shown = panel.figure.data[0].z
    panel.head.value = 0
    assert "Head 0 was pruned from layer 2" in panel.status.value
    np.testing.assert_array_equal(panel.figure.data[0].z, shown)  # the last figure stays
    panel.head.value = 1
    np.testing.assert_allclose(panel.figure.data[0].z, att.weights[2, 1], atol=1e-4)


def test_pruned_and_quantized(teacher):
    with pytest.raises(BertNbError, match="prune the fp32 model, then quantize"):
        bert_nb.prune(bert_nb.quantize(teacher), heads={0: [0]})
    small = bert_nb.quantize(bert_nb.prune(teacher, heads={0: [0]}))
    assert list(small.predict(["good play"]).label) == ["pos"]


def test_pruned_classifier_saves_and_reloads(teacher, tmp_path):
    pruned = bert_nb.prune(teacher, heads={1: [0, 2], 3: [3]})
    folder = pruned.save(tmp_path / "pruned")
    back = bert_nb.load(folder, device="cpu")
    assert isinstance(back, FineTuned) and back.label_names == teacher.label_names
    assert surgery.remaining_heads(back.config) == surgery.remaining_heads(pruned.config)
    assert back.info().parameters == pruned.info().parameters
    pd.testing.assert_frame_equal(back.predict(GOOD + BAD), pruned.predict(GOOD + BAD), atol=1e-6)
    pd.testing.assert_frame_equal(back.metrics, teacher.metrics)
    assert back.history.shape == teacher.history.shape


def test_prune_curve(teacher, toy):
    curve = bert_nb.prune_curve(teacher, toy, fractions=(0.25, 0.5))
    frame = curve.to_frame()
    assert list(frame.fraction) == [0.0, 0.25, 0.5] and list(frame.heads_pruned) == [0, 4, 8]
    assert list(frame.heads_left) == [16, 12, 8] and frame.parameters.is_monotonic_decreasing
    truth = (teacher.predict(list(toy.text)).label == toy.label).mean()
    assert frame.accuracy.iloc[0] == pytest.approx(truth)
    with pytest.raises(BertNbError, match="fractions must lie between 0 and 1"):
        bert_nb.prune_curve(teacher, toy, fractions=(0, 0.5))
    ranked = bert_nb.head_importance(teacher, toy)
    again = bert_nb.prune_curve(teacher, toy, fractions=(0.25, 0.5), importance=ranked).to_frame()
    pd.testing.assert_frame_equal(again, frame)  # the same ranking, not measured a second time


# -- distill -----------------------------------------------------------------------------------
def test_keep_layers_takes_the_teachers_layers(teacher):
    import copy

    student = copy.deepcopy(teacher.model)
    student.config = copy.deepcopy(teacher.config)
    surgery.keep_layers(student, compress._student_layers(teacher, None))
    assert student.config.num_hidden_layers == 2 and len(student.bert.encoder.layer) == 2
    for new, old in ((0, 0), (1, 2)):
        torch.testing.assert_close(student.bert.encoder.layer[new].output.dense.weight,
                                   teacher.model.bert.encoder.layer[old].output.dense.weight)
    assert compress._student_layers(teacher, 3) == [0, 1, 2]


def test_distilled_student_learns_from_its_teacher(teacher, toy, tmp_path):
    student = bert_nb.distill(teacher, toy, epochs=5, learning_rate=3e-3, batch_size=8)
    assert isinstance(student, FineTuned) and student.name.endswith("+distilled2")
    assert student.info().layers == 2 and student.info().parameters < teacher.info().parameters
    assert student.label_names == teacher.label_names and len(student.metrics) == 5
    assert student.training_config["student_layers"] == [0, 2] and student.training_config["alpha"] == 0.5
    agree = (student.predict(GOOD + BAD).label == teacher.predict(GOOD + BAD).label).mean()
    assert agree >= 0.9
    folder = student.save(tmp_path / "student")
    back = bert_nb.load(folder, device="cpu")
    assert isinstance(back, FineTuned) and back.info().layers == 2
    pd.testing.assert_frame_equal(back.predict(GOOD + BAD), student.predict(GOOD + BAD), atol=1e-6)
    for made in (student, back, finetune(student, toy, epochs=1, batch_size=8, from_model=True)):
        with pytest.raises(BertNbError, match="no fine-tuning to export; keep it with .save"):
            made.export_script(tmp_path / "job")


def test_a_pruned_or_quantized_model_exports_no_fine_tuning_script(teacher, toy, tmp_path):
    """The script re-runs the fine-tuning only: it wrote the unpruned fp32 classifier before, silently."""
    pruned = bert_nb.prune(teacher, heads={0: [0]})
    for made, said in ((pruned, "pruned of attention heads"), (bert_nb.quantize(teacher, "int8"), "quantized to int8"),
                       (bert_nb.quantize(pruned, "int8"), "quantized to int8")):
        with pytest.raises(BertNbError, match=f"was {said} after its fine-tuning, which the script would not do; "
                                              "export the fine-tuned model it came from, then (prune|quantize) what"):
            made.export_script(tmp_path / "job")
    assert not (tmp_path / "job").exists()
    assert teacher.export_script(tmp_path / "job").endswith("train.py")


def test_distill_loss_is_soft_targets_plus_labels(teacher):
    import transformers

    trainer_class = compress._distill_trainer(transformers, temperature=2.0, alpha=0.25)
    enc = teacher.tokenizer(["good play", "bad play"], padding=True, return_tensors="pt")
    labels = torch.tensor([1, 0])
    soft = torch.tensor([[0.0, 3.0], [2.0, -1.0]])
    teacher.model.eval()
    loss = trainer_class.compute_loss(None, teacher.model, {**enc, "labels": labels, "extra_teacher_logits": soft})
    with torch.no_grad():
        out = teacher.model(**enc, labels=labels)
    kl = torch.nn.functional.kl_div(torch.log_softmax(out.logits / 2, -1), torch.softmax(soft / 2, -1),
                                    reduction="batchmean") * 4
    torch.testing.assert_close(loss.detach(), 0.25 * kl + 0.75 * out.loss)


def test_distill_stops_and_keeps_the_student(teacher, toy):
    from transformers import TrainerCallback

    state = TrainingState()

    class StopAtTwo(TrainerCallback):
        def on_step_end(self, args, s, control, **kw):
            if s.global_step == 2:
                state.request_stop()

    student = bert_nb.distill(teacher, toy, epochs=5, batch_size=8, callbacks=[StopAtTwo()], state=state)
    assert student.stopped_early["step"] <= 3 and student.info().layers == 2
    assert list(student.predict(["good"]).columns) == ["text", "label", "neg", "pos"]


@pytest.mark.parametrize("kwargs, message", [
    ({"student_layers": 4}, "1 to 3 layers \\(fewer than its teacher's 4\\)"),
    ({"student_layers": 0}, "1 to 3 layers"),
    ({"alpha": 1.5}, "between 0 and 1"),
    ({"temperature": 0}, "temperature must be more than 0"),
])
def test_distill_refuses(teacher, toy, kwargs, message):
    with pytest.raises(BertNbError, match=message):
        bert_nb.distill(teacher, toy, **kwargs)


def test_distill_refuses_a_quantized_teacher_and_unknown_labels(teacher, toy):
    with pytest.raises(BertNbError, match="distill from the fp32 teacher"):
        bert_nb.distill(bert_nb.quantize(teacher), toy)
    with pytest.raises(BertNbError, match="label\\(s\\) meh that the classifier does not know"):
        bert_nb.distill(teacher, pd.concat([toy, pd.DataFrame({"text": ["x"] * 5, "label": ["meh"] * 5})]))


# -- compare -----------------------------------------------------------------------------------
def test_compare_side_by_side(teacher, toy):
    small = bert_nb.quantize(teacher)
    pruned = bert_nb.prune(teacher, heads={0: [0, 1]})
    calls = []
    result = bert_nb.compare({"fp32": teacher, "int8": small, "pruned": pruned}, toy,
                             progress=lambda done, total, message: calls.append((done, total)))
    frame = result.to_frame()
    assert list(frame.columns) == ["model", "parameters", "size_mb", "accuracy", "macro_f1", "agreement",
                                   "latency_ms", "throughput"]
    assert list(frame.model) == ["fp32", "int8", "pruned"] and frame.agreement.iloc[0] == 1.0
    by = frame.set_index("model")
    assert by.size_mb["int8"] < by.size_mb["fp32"] and by.parameters["pruned"] < by.parameters["fp32"]
    truth = (teacher.predict(list(toy.text)).label == toy.label).mean()
    assert by.accuracy["fp32"] == pytest.approx(truth)
    assert (frame.latency_ms > 0).all() and (frame.throughput > 0).all()
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    preds = result.predictions
    differ = result.disagreements()
    assert len(differ) == int((preds[["fp32", "int8", "pruned"]].nunique(axis=1) > 1).sum())
    assert "3 models on 48 texts (cpu)" in result.to_text()


def test_compare_refuses(teacher, toy, tiny_path, tmp_path):
    with pytest.raises(BertNbError, match="dict name -> model"):
        bert_nb.compare([teacher], toy)
    with pytest.raises(BertNbError, match="other than 'label'"):
        bert_nb.compare({"label": teacher, "b": teacher}, toy)
    with pytest.raises(BertNbError, match="'b' is a int, not a model; give classifiers"):  # an AttributeError before
        bert_nb.compare({"a": teacher, "b": 5}, toy)
    with pytest.raises(BertNbError, match="latency_texts is how many texts to time .* at least 1; got 0"):
        bert_nb.compare({"a": teacher}, toy, latency_texts=0)  # a StatisticsError before
    with pytest.raises(BertNbError, match="batch_size must be a whole number of at least 1; got 0"):
        bert_nb.compare({"a": teacher}, toy, batch_size=0)  # range() arg 3 must not be zero
    with pytest.raises(BertNbError, match="batch_size must be a whole number of at least 1; got 0"):
        bert_nb.head_importance(teacher, toy, batch_size=0)
    other = finetune(teacher, toy.assign(label=toy.label.map({"pos": "yes", "neg": "no"})), epochs=1,
                     batch_size=8, max_length=16)
    with pytest.raises(BertNbError, match="compare models trained on the same labels"):
        bert_nb.compare({"a": teacher, "b": other}, toy)


# -- views, magics, panel ------------------------------------------------------------------------
def test_views(teacher, toy):
    from bert_nb.plots import describe, head_importance_heatmap, pareto_scatter, prune_curve_line
    from bert_nb.plots.compress import compress_html

    imp = bert_nb.head_importance(teacher, toy)
    fig = head_importance_heatmap(imp)
    assert fig.data[0].type == "heatmap" and np.asarray(fig.data[0].z).shape == (4, 4)
    pruned = bert_nb.prune(teacher, heads={2: [1]})
    holes = head_importance_heatmap(bert_nb.head_importance(pruned, toy)).data[0].z
    assert np.isnan(np.asarray(holes, dtype=float)[2, 1])
    curve = prune_curve_line(bert_nb.prune_curve(teacher, toy, fractions=(0.5,)))
    assert curve.data[0].type == "scatter" and curve.layout.xaxis.title.text == "share of heads removed"
    comparison = bert_nb.compare({"<b>fp32</b>": teacher, "int8": bert_nb.quantize(teacher)}, toy)
    pareto = pareto_scatter(comparison)
    assert list(pareto.data[0].text) == ["&lt;b&gt;fp32&lt;/b&gt;", "int8"]
    assert "throughput" in describe(pareto)
    html = compress_html(comparison)
    assert "&lt;b&gt;fp32&lt;/b&gt;" in html and "<b>fp32</b>" not in html


def test_magics(shell, teacher, toy):
    shell.push({"teacher": teacher, "toy": toy})
    small = shell.run_cell("%bert quantize teacher int8 -o small")
    assert small.quantize == "int8" and shell.user_ns["small"] is small
    assert "already int8" in shell.usage_error("%bert quantize small")
    assert "No variable 'nope'" in shell.usage_error("%bert quantize nope")
    pruned = shell.run_cell("%%bert prune --model teacher -o pruned\n0: 1, 2\n3: 0")
    assert surgery.pruned_heads(pruned.config) == {0: [1, 2], 3: [0]}
    assert "Line 1 is not `layer: head, head`" in shell.usage_error("%%bert prune --model teacher\n0: x")
    assert "keep at least one head" in shell.usage_error("%%bert prune --model teacher\n1: 0, 1, 2, 3")
    assert "add --data VAR" in shell.usage_error("%bert prune --model teacher --fraction 0.4")
    assert "Say what to prune" in shell.usage_error("%bert prune --model teacher")
    by_share = shell.run_cell("%bert prune --model teacher --fraction 0.25 --data toy")
    assert sum(map(len, surgery.pruned_heads(by_share.config).values())) == 4
    imp = shell.run_cell("%bert heads --model teacher --data toy -o imp")
    assert len(imp.to_frame()) == 16
    ranked = shell.run_cell("%bert prune --model teacher --fraction 0.25 --importance imp")  # not measured again
    assert surgery.pruned_heads(ranked.config) == surgery.pruned_heads(by_share.config)
    assert "measure it first" in shell.usage_error("%bert prune --model teacher --fraction 0.25 --importance nope")
    student = shell.run_cell("%bert distill --model teacher --data toy --layers 1 --epochs 1 -o student")
    assert student.info().layers == 1
    assert "fewer than its teacher's 4" in shell.usage_error("%bert distill --model teacher --data toy --layers 5")
    result = shell.run_cell("%bert compare --models teacher,small,pruned,student --data toy -o cmp")
    assert list(result.to_frame().model) == ["teacher", "small", "pruned", "student"]
    assert "at least two models" in shell.usage_error("%bert compare --models teacher --data toy")
    bundle = shell.display_formatter.format(result)[0]
    assert {"text/html", "application/vnd.plotly.v1+json"} <= set(bundle)


def test_compare_panel(teacher, toy, minilm):
    from bert_nb.panels import ComparePanel

    student = bert_nb.prune(teacher, heads={0: [0]})
    panel = ComparePanel(models={"teacher": teacher, "pruned": student}, data=toy)
    assert panel.engine is teacher and panel.models.value == ("teacher", "pruned") and not panel.int8.value
    panel.int8.value = True
    panel.texts.value = 20
    panel.button.click()
    assert list(panel.result.to_frame().model) == ["teacher", "pruned", "teacher+int8"]
    assert len(panel.result.predictions) == 20 and panel.progress.value == 3
    assert panel.figure.data[0].type == "scatter" and "3 models measured on 20 texts" in panel.status.value
    assert "get different labels" in panel.disagreements.value
    panel.models.value = ("teacher",)
    panel.int8.value = False
    panel.button.click()
    assert "Choose at least two models" in panel.status.value and len(panel.result.to_frame()) == 3
    assert "compare" in bert_nb.dashboard(teacher).panels
    assert "compare" not in bert_nb.dashboard(minilm).panels
