"""Inside the layers: embedding parts, positions, layer states, the logit lens, probes; views, magics, panel."""

import numpy as np
import pandas as pd
import pytest
import torch
import transformers

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.internals import (MEASURES, EmbeddingParts, LayerStates, LogitLens, Positions, Probe, embedding_parts,
                               layers, logit_lens, positions, probe, sinusoidal)

SENTENCE = "The animal didn't cross the street because it was too tired."


@pytest.fixture(scope="module")
def distil(tmp_path_factory, tiny_base_path):
    """A tiny DistilBERT masked-LM: no segment embeddings, another layer layout."""
    folder = tmp_path_factory.mktemp("distil")
    cfg = transformers.DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=2, hidden_dim=37,
                                        max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.DistilBertForMaskedLM(cfg).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_base_path).save_pretrained(folder)
    return bert_nb.load(str(folder), device="cpu")


def _our_hooks(engine) -> list:
    """Forward hooks bert_nb.layers registered and did not remove (transformers keeps its own)."""
    return [h for m in engine.model.modules() for h in m._forward_hooks.values()
            if "layers.<locals>" in getattr(h, "__qualname__", "")]


def test_embedding_parts_add_up_to_the_models_input(minilm):
    parts = embedding_parts(minilm, "The cat sat.", pair="It purred.")
    assert isinstance(parts, EmbeddingParts) and parts.note is None
    frame = parts.to_frame()
    assert list(frame.columns) == ["piece", "segment_id", "token", "position", "segment", "sum", "layernorm"]
    assert list(frame.segment_id) == [0] * 6 + [1] * 5
    enc = minilm.tokenizer("The cat sat.", "It purred.", return_tensors="pt")
    with torch.no_grad():
        first = minilm.encoder(**enc, output_hidden_states=True).hidden_states[0][0]  # the model's own input to layer 1
    np.testing.assert_allclose(frame.layernorm, first.norm(dim=-1).numpy(), rtol=1e-5)
    assert frame["segment"].iloc[0] != frame["segment"].iloc[-1]  # segment A and B embeddings differ
    assert "mean norm token" in parts.to_text()


def test_a_model_without_segments_says_so(distil):
    parts = embedding_parts(distil, "the cat sat")
    assert parts.to_frame()["segment"].isna().all() and "has no segment embeddings" in parts.note


def test_positions_learned_and_sinusoidal(minilm):
    pos = positions(minilm, n=64)
    assert isinstance(pos, Positions) and pos.learned.shape == pos.sinusoidal.shape == (64, 64)
    np.testing.assert_allclose(np.diag(pos.learned), 1, atol=1e-5)
    pe = sinusoidal(4, 6)  # the formula itself
    assert pe[1, 0] == pytest.approx(np.sin(1)) and pe[1, 1] == pytest.approx(np.cos(1))
    assert pe[2, 2] == pytest.approx(np.sin(2 / 10000 ** (2 / 6))) and pe[2, 5] == pytest.approx(np.cos(2 / 10000 ** (4 / 6)))
    frame = pos.to_frame()
    assert list(frame.distance) == [1, 2, 4, 8, 16, 32]
    assert frame.sinusoidal.iloc[0] > frame.sinusoidal.iloc[-1]  # sinusoids: nearer positions are more alike
    assert len(positions(minilm).learned) == 512
    with pytest.raises(BertNbError, match="n must be a whole number from 2 to 512"):
        positions(minilm, n=1000)


def test_layer_states_measure_what_the_blocks_add(minilm):
    states = layers(minilm, SENTENCE)
    assert isinstance(states, LayerStates) and states.layers == 6 and states.hidden.shape == (7, 16, 384)
    enc = minilm.tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        out = minilm.encoder(**enc, output_hidden_states=True)
        layer = minilm.encoder.encoder.layer[2]
        x = out.hidden_states[2]
        attn = layer.attention.output.dense(layer.attention.self(x, attention_mask=None)[0])
        mid = layer.attention.output.LayerNorm(attn + x)
        ffn = layer.output.dense(layer.intermediate(mid))
    np.testing.assert_allclose(states.hidden, torch.stack(out.hidden_states)[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(states.attention_ratio[2], (attn.norm(dim=-1) / x.norm(dim=-1))[0].numpy(), rtol=1e-4)
    np.testing.assert_allclose(states.ffn_ratio[2], (ffn.norm(dim=-1) / mid.norm(dim=-1))[0].numpy(), rtol=1e-4)
    h = torch.nn.functional.normalize(out.hidden_states[4][0], dim=-1)
    assert states.cos_first[3, 5] == pytest.approx(float(h[5] @ torch.nn.functional.normalize(out.hidden_states[0][0], dim=-1)[5]), abs=1e-5)
    off = (h @ h.T)[~torch.eye(16, dtype=torch.bool)].mean()
    assert states.anisotropy[4] == pytest.approx(float(off), abs=1e-5)
    assert not _our_hooks(minilm)  # no hooks left behind
    frame = states.to_frame()
    assert list(frame.columns) == ["layer", "position", "piece", *MEASURES, "anisotropy"] and len(frame) == 6 * 16
    assert "layer 6:" in states.to_text() and len(states.summary()) == 6


def test_one_layer_piece_by_piece_and_other_layouts(minilm, distil):
    one = layers(minilm, "a cat").at(2)
    assert one.layer == 2 and one.to_text().startswith("layer 2 of 6") and "cat 2:" in one.to_text()
    with pytest.raises(BertNbError, match="layers 1 to 6"):
        layers(minilm, "a cat").at(7)
    d = layers(distil, "the cat sat")
    assert d.note is None and np.isfinite(d.attention_ratio).all()  # DistilBERT's layout is known too
    assert not _our_hooks(distil)


def test_logit_lens_last_layer_is_fill_mask(mini_mlm):
    lens = logit_lens(mini_mlm, "Paris is the [MASK] of France.", top_k=3)
    assert isinstance(lens, LogitLens) and lens.layers == 2
    frame = lens.to_frame()
    assert list(frame.columns) == ["layer", "position", "piece", "rank", "token", "probability"]
    assert len(frame) == 3 * 9 * 3
    at_mask = frame[(frame.layer == 2) & (frame.position == 4)]
    fills = bert_nb.fill_mask(mini_mlm, "Paris is the [MASK] of France.", top_k=3).masks[0]
    assert list(at_mask.token) == [c.token_str for c in fills]
    np.testing.assert_allclose(at_mask.probability, [c.score for c in fills], rtol=1e-4)
    assert lens.top(4)[-1][1] == "city" and "[MASK] 4:" in lens.to_text()


def test_logit_lens_needs_a_masked_lm_head(minilm, distil):
    with pytest.raises(BertNbError, match="no masked-LM head"):
        logit_lens(minilm, "a text")
    assert logit_lens(distil, "the [MASK] sat").layers == 2  # DistilBERT's head is composed by hand
    with pytest.raises(BertNbError, match="top_k must be a positive"):
        logit_lens(distil, "the cat", top_k=0)


def test_probe_by_layer_against_the_majority(minilm, tmp_path):
    good = ["a wonderful film", "great acting and a moving story", "I loved it", "brilliant and funny", "a joy to watch"]
    bad = ["a boring mess", "dull and far too long", "I hated it", "terrible acting", "a waste of time"]
    data = pd.DataFrame({"review": good * 3 + bad * 3, "y": ["pos"] * 15 + ["neg"] * 15})
    p = probe(minilm, data, text="review", label="y", cv=3, progress=False)
    assert isinstance(p, Probe) and list(p.to_frame().layer) == list(range(7)) and p.majority == 0.5
    assert p.to_frame().accuracy.iloc[-1] > 0.9  # repeated, clear-cut texts: the last layer separates them
    assert p.labels == ("neg", "pos") and 0 <= p.best() <= 6 and "majority class 0.50" in p.to_text()
    assert set(p.to_frame().C) <= set(bert_nb.internals._PROBE_CS) and "C chosen by inner CV 0: " in p.to_text()
    data.to_csv(tmp_path / "reviews.csv", index=False)  # a CSV file, as finetune takes one (refused before)
    from_file = probe(minilm, tmp_path / "reviews.csv", text="review", label="y", cv=3, progress=False)
    np.testing.assert_allclose(from_file.to_frame().accuracy, p.to_frame().accuracy)
    fixed = probe(minilm, data, text="review", label="y", cv=3, progress=False, Cs=[1e-4])
    assert list(fixed.to_frame().C) == [1e-4] * 7
    with pytest.raises(BertNbError, match="Cs must be positive"):
        probe(minilm, data, text="review", label="y", cv=3, Cs=[0.0])
    few = data.iloc[[0, 1, 15, 16]]  # 2 of each label: 1 left in each outer training part
    with pytest.raises(BertNbError, match="Choosing C needs at least 2 examples"):
        probe(minilm, few, text="review", label="y", cv=2)
    assert probe(minilm, few, text="review", label="y", cv=2, Cs=[1.0],
                 progress=False).to_frame().C.eq(1.0).all()  # one C: no inner search, so small data will do
    with pytest.raises(BertNbError, match="no column 'text'"):
        probe(minilm, data)
    with pytest.raises(BertNbError, match="at least that many examples of each label"):
        probe(minilm, data.head(16), text="review", label="y", cv=5)
    with pytest.raises(BertNbError, match="needs a DataFrame"):
        probe(minilm, ["a", "b"])
    with pytest.raises(BertNbError, match="at least two labels"):
        probe(minilm, data.head(10), text="review", label="y")
    for cv in (1, 0, True, 2.5):  # "cv=1 folds need at least that many examples" before
        with pytest.raises(BertNbError, match=f"cv is the number of cross-validation folds, .* at least 2; got {cv!r}"):
            probe(minilm, data, text="review", label="y", cv=cv)
    scored = data.assign(y=np.linspace(0, 5, len(data)))  # STS-like scores: each number its own class before
    with pytest.raises(BertNbError, match=r"Column 'y' holds 30 different numbers; a probe predicts classes.*pd.cut"):
        probe(minilm, scored, text="review", label="y")


@pytest.mark.parametrize("call, message", [
    (lambda e: layers(e, "  "), "The text is empty"),
    (lambda e: embedding_parts(e, "a", pair=""), "The pair is empty"),
    (lambda e: layers(e, "word " * 700).note, None),
])
def test_bad_and_long_input(minilm, call, message):
    if message is None:
        assert "Truncated" in call(minilm)
        return
    with pytest.raises(BertNbError, match=message):
        call(minilm)


def test_views_draw_each_result(minilm, mini_mlm):
    from bert_nb.plots import (describe, embedding_parts_bar, layer_figure, layer_heatmap, logit_lens_grid,
                               positions_heatmaps, probe_curve)
    from bert_nb.plots.internals import internals_html

    assert len(embedding_parts_bar(embedding_parts(minilm, "<b>x</b>")).data) == 5
    assert "<b>x" not in "".join(embedding_parts_bar(embedding_parts(minilm, "<b>x</b>")).data[0].x)
    heat = positions_heatmaps(positions(minilm))
    assert [np.shape(t.z) for t in heat.data] == [(128, 128), (128, 128)]
    states = layers(minilm, SENTENCE)
    assert np.shape(layer_heatmap(states, "ffn_ratio").data[0].z) == (6, 16)
    assert len(layer_figure(states).data) == 5 and len(layer_figure(states.at(3)).data) == 4
    grid = logit_lens_grid(logit_lens(mini_mlm, "Paris is the [MASK] of France."))
    assert np.shape(grid.data[0].z) == (3, 9) and grid.data[0].text[2][4] == "city"
    assert "y: embeddings, layer 1, layer 2" in describe(grid)
    fake = Probe(scores=pd.DataFrame({"layer": [0, 1], "accuracy": [0.6, 0.8], "std": [0.1, 0.05]}), majority=0.5,
                 labels=("a", "b"), texts=10, pooling="mean", model="m")
    curve = probe_curve(fake)
    assert list(curve.data[0].y) == [0.6, 0.8] and curve.layout.shapes[0].y0 == 0.5
    page = internals_html(layers(minilm, "<script>x</script>"))
    assert "<script>" not in page and "anisotropy" in page


def test_magics(shell, minilm):
    shell.run_cell("%bert load default --device cpu")
    states = shell.run_cell(f"%%bert layers -o st\n{SENTENCE}")
    assert isinstance(states, LayerStates) and shell.user_ns["st"] is states
    assert shell.run_cell("%%bert layers --layer 2\na cat").layer == 2
    assert isinstance(shell.run_cell("%%bert layers --parts --pair\nThe cat. ||| It purred."), EmbeddingParts)
    assert isinstance(shell.run_cell("%%bert layers --positions\n(ignored)"), Positions)
    shell.user_ns["mlm"] = bert_nb.load("default-mlm", device="cpu")  # another model than the active one
    assert shell.run_cell("%%bert layers --model mlm\na cat").model == "default-mlm"
    assert shell.run_cell("%%bert layers --lens --model mlm\na [MASK] here").model == "default-mlm"
    assert "no masked-LM head" in shell.usage_error("%%bert layers --lens\na [MASK] here")
    assert "not allowed with argument" in shell.usage_error("%%bert layers --parts --lens\na")
    assert "--layer goes with the layer-by-layer view" in shell.usage_error("%%bert layers --parts --layer 2\na")
    shell.user_ns["df"] = pd.DataFrame({"text": ["good film", "bad film"] * 4, "label": ["p", "n"] * 4})
    result = shell.run_cell("%bert probe --data df --cv 2")
    assert isinstance(result, Probe) and len(result.to_frame()) == 7
    assert "No variable 'nope'" in shell.usage_error("%bert probe --data nope")
    bundle = shell.display_formatter.format(states)[0]
    assert "application/vnd.plotly.v1+json" in bundle and "bert-nb-internals" in bundle["text/html"]


def test_layer_panel(mini_mlm, minilm):
    from bert_nb.panels import LayerPanel

    p = LayerPanel(mini_mlm, text="Paris is the [MASK] of France.")
    assert p.result.layers == 2 and p.layer.max == 2 and p.lens is not None
    p.view.value = "lens"
    assert p.figure.data[0].text[2][4] == "city"
    p.view.value = "ffn_ratio"
    assert np.shape(p.figure.data[0].z) == (2, 9)
    p.layer.value = 1
    assert p.figure.layout.title.text.startswith("Layer 1 piece by piece")
    p.text.value = ""
    p.button.click()
    assert "empty" in p.status.value and p.result.layers == 2  # the last result stays
    assert "lens" not in [v for _, v in LayerPanel(minilm).view.options]  # no masked-LM head, no lens
