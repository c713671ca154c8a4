"""Attention: parity with output_attentions, views, token focus, Q/K/V by hand, magic and panel."""

import re

import numpy as np
import pytest
import torch
import transformers
from IPython.core.error import UsageError

import bert_nb
from bert_nb.attentions import Attention, attention, focus, recompute, select
from bert_nb.errors import BertNbError
from bert_nb.plots import attention_grid, attention_heatmap, token_focus
from bert_nb.render import attention_html
from bert_nb.widgets import AttentionPanel

SENTENCE = "The animal didn't cross the street because it was too tired."


def test_weights_equal_output_attentions(minilm):
    att = attention(minilm, SENTENCE)
    ref_model = transformers.AutoModel.from_pretrained(minilm.source, attn_implementation="eager").float().eval()
    enc = minilm.tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        ref = torch.stack([a[0] for a in ref_model(**enc, output_attentions=True).attentions]).numpy()
    assert att.weights.dtype == np.float32 and att.weights.shape == (6, 12, len(att.tokens), len(att.tokens))
    np.testing.assert_allclose(att.weights, ref, atol=1e-5)
    np.testing.assert_allclose(att.weights.sum(-1), 1, atol=1e-5)


def test_inference_elsewhere_stays_on_sdpa(minilm):
    attention(minilm, SENTENCE)
    assert minilm.encoder.config._attn_implementation == "sdpa"


def test_pair_segments_and_special(minilm):
    att = attention(minilm, "The cat sat.", "It purred.")
    assert att.segments == (0,) * 6 + (1,) * 5
    assert [t for t, s in zip(att.tokens, att.special) if s] == ["[CLS]", "[SEP]", "[SEP]"]


def test_hide_special_renormalises_rows(minilm):
    att = attention(minilm, SENTENCE)
    s = select(att, layer=0, head=0, hide_special=True)
    assert "[CLS] 0" not in s.rows and len(s.rows) == len(att.tokens) - 2
    np.testing.assert_allclose(s.matrix.sum(1), 1, atol=1e-5)


def test_averages_and_directions(minilm):
    att = attention(minilm, "The cat sat.", "It purred.")
    np.testing.assert_allclose(select(att, layer=2).matrix, att.weights[2].mean(0), atol=1e-6)
    np.testing.assert_allclose(select(att, layer=None, head=4).matrix, att.weights[:, 4].mean(0), atol=1e-6)
    ab = select(att, layer=1, head=1, direction="A->B")
    assert all(att.segments[i] == 0 for i in ab.row_index) and all(att.segments[j] == 1 for j in ab.column_index)
    np.testing.assert_allclose(ab.matrix, att.weights[1, 1][np.ix_(ab.row_index, ab.column_index)])


@pytest.mark.parametrize("options, phrase", [
    ({"layer": 6}, "Layer 6 is out of range; this model has layers 0 to 5"),
    ({"head": 12}, "Head 12 is out of range"),
    ({"direction": "A->B"}, "needs a sentence pair"),
    ({"direction": "up"}, "Unknown direction 'up'"),
])
def test_bad_view_options(minilm, options, phrase):
    with pytest.raises(BertNbError, match=phrase):
        attention(minilm, "hello there").with_view(**options)


def test_empty_text(minilm):
    with pytest.raises(BertNbError, match="The text is empty"):
        attention(minilm, "  ")


def test_token_focus(minilm):
    att = attention(minilm, SENTENCE)
    f = focus(att, "it")
    pos = att.tokens.index("it")
    assert f.position == pos and f.weights.shape == (6, 12, len(att.tokens))
    np.testing.assert_array_equal(f.weights, att.weights[:, :, pos, :])
    assert focus(att, 0).token == "[CLS]"
    assert f.to_frame().shape == (72, len(att.tokens))
    with pytest.raises(BertNbError, match="'zebra' is not one of the pieces"):
        focus(att, "zebra")
    with pytest.raises(BertNbError, match="a word of the text or a piece's position; got NoneType"):
        focus(att, None)


@pytest.mark.parametrize("layer", [0, 3, 5])
def test_qkv_by_hand_matches_the_model(minilm, layer):
    r = recompute(minilm, SENTENCE, layer=layer)
    assert r.by_hand.shape == r.model.shape == (12, len(r.tokens), len(r.tokens))
    assert r.max_difference < 1e-5 and r.matches
    assert r.to_text().endswith("max |difference| < 1e-5: they match")


def test_a_recomputation_that_disagrees_states_the_difference():
    from bert_nb.attentions import Recomputed

    ones = np.ones((2, 3, 3), dtype=np.float32)
    r = Recomputed(by_hand=ones, model=ones * 0.99, layer=1, tokens=("a", "b", "c"))
    assert not r.matches and "max |difference| = 1.00e-02, above 1e-5" in r.to_text()


def test_qkv_by_hand_on_another_layout(tmp_path):
    """DistilBERT names its projections q_lin/k_lin under transformer.layer."""
    cfg = transformers.DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=2, hidden_dim=37,
                                        max_position_embeddings=64)
    model = transformers.DistilBertModel(cfg)
    from tests.conftest import build_tiny_bert

    tok_dir = build_tiny_bert(tmp_path / "tok", head="base")
    model.save_pretrained(tmp_path / "distil")
    transformers.AutoTokenizer.from_pretrained(tok_dir).save_pretrained(tmp_path / "distil")
    engine = bert_nb.load(str(tmp_path / "distil"), device="cpu")
    r = recompute(engine, "the cat sat on the mat", layer=1)
    assert r.max_difference < 1e-5


def test_mask_predictions_from_the_same_pass(mini_mlm):
    att = attention(mini_mlm, "Paris is the [MASK] of France.")
    preds = bert_nb.fill_mask(mini_mlm, "Paris is the [MASK] of France.")
    assert [c.token for c in att.predictions.masks[0]] == [c.token for c in preds.masks[0]]
    fig = attention_heatmap(att)
    assert [t.type for t in fig.data] == ["heatmap", "bar"]
    assert attention(mini_mlm, "no masks here").predictions is None


def test_a_mask_in_an_encoders_text_is_a_piece_like_any_other(minilm):
    att = attention(minilm, "Paris is the [MASK] of France.")  # an AttributeError before: no masked-LM logits
    assert att.predictions is None and "[MASK]" in att.tokens
    zh = bert_nb.load("chinese-tiny", device="cpu")  # both pre-training heads: its fillers come along
    assert attention(zh, "经济发[MASK]很快。").predictions.masks[0][0].token_str == \
        bert_nb.fill_mask(zh, "经济发[MASK]很快。").masks[0][0].token_str


def test_figures(minilm):
    att = attention(minilm, "<b>bold</b> move")
    fig = attention_heatmap(att, 1, 2)
    assert fig.data[0].type == "heatmap" and len(fig.data[0].y) == len(att.tokens)
    assert all("<b>" not in x for x in fig.data[0].x)
    grid = attention_grid(att)
    assert len(grid.data) == 72
    tf = token_focus(focus(att, "move"))
    assert len(tf.data[0].y) == 72
    page = attention_html(att)
    assert ("&lt; " in page or "&gt; " in page) and not re.search(r"<td>[<>]", page)


def test_long_inputs_stay_small(minilm):
    att = attention(minilm, "word " * 300)
    grid = attention_grid(att)
    assert "averaged into 24 blocks" in grid.layout.title.text
    assert len(grid.data[0].z) == 24
    np.testing.assert_allclose(np.sum(grid.data[0].z, axis=1), 1, atol=0.015)  # rows stay distributions (z rounded to 3 places)
    assert len(grid.to_json()) < 1_000_000
    heat = attention_heatmap(att)
    assert len(heat.data[0].z) == 256 and "302 pieces averaged into 256 blocks" in heat.layout.title.text


def test_attention_magic(shell):
    shell.run_cell("%bert load default --device cpu")
    att = shell.run_cell(f"%%bert attention --layer 2 --head 3 -o a\n{SENTENCE}")
    assert isinstance(att, Attention) and att.view.layer == 2 and att.view.head == 3
    assert shell.ip.user_ns["a"] is att
    bundle = shell.ip.display_formatter.format(att)[0]
    assert "application/vnd.plotly.v1+json" in bundle and "strongest links" in bundle["text/plain"]
    grid = shell.run_cell("%%bert attention --grid --hide-special\nhello world")
    assert grid.view.grid and grid.view.hide_special
    pair = shell.run_cell("%%bert attention --pair --direction B->A\nThe cat sat. ||| It purred.")
    assert pair.pair == "It purred." and pair.view.direction == "B->A"
    shell.user_ns["mlm"] = bert_nb.load("default-mlm", device="cpu")  # another model than the active one
    other = shell.run_cell("%%bert attention --model mlm\nhello world")
    assert other.model == "default-mlm" and other.weights.shape[:2] == (2, 2)
    shell.user_ns["mlm_text"] = "x"
    assert "'mlm_text' holds a str, not a model" in shell.usage_error("%%bert attention --model mlm_text\nhi")
    for source, phrase in [("%%bert attention --layer 9\nhi", "Layer 9 is out of range"),
                           ("%%bert attention --focus zebra\nhi there", "'zebra' is not one of the pieces"),
                           ("%%bert attention\nA ||| B", "add --pair"),
                           ("%%bert attention --head -1\nhi", "Head -1 is out of range")]:
        with pytest.raises(UsageError, match=phrase):
            shell.run_cell(source)


def test_attention_panel_reslices_in_place(minilm):
    panel = AttentionPanel(minilm, text=SENTENCE)
    figure, weights = panel.figure, panel.result.weights
    assert panel.layer.max == 5 and panel.head.max == 11
    panel.layer.value = 2
    np.testing.assert_allclose(figure.data[0].z, weights[2].mean(0), atol=1e-4)  # the builder rounds to 4 places
    panel.average.value = False
    panel.head.value = 7
    np.testing.assert_allclose(figure.data[0].z, weights[2, 7], atol=1e-4)
    assert panel.result.weights is weights  # no recompute on a slider move
    panel.hide_special.value = True
    assert len(figure.data[0].y) == len(panel.result.tokens) - 2
    panel.token.value = panel.result.tokens.index("it")
    assert len(figure.data[0].y) == 72 and "'it'" in figure.layout.title.text
    panel.text.value = "  "
    panel.button.click()
    assert "empty" in panel.status.value and panel.result.weights is weights
    assert panel.figure is figure


def test_attention_panel_block_averages_long_inputs(minilm):
    panel = AttentionPanel(minilm, text="word " * 300)
    trace = panel.figure.data[0]
    assert len(trace.z) == 256 and len(trace.x) == 256
    assert "302 pieces averaged into 256 blocks" in panel.figure.layout.title.text
    np.testing.assert_allclose(np.sum(trace.z, axis=1), 1, atol=0.03)  # block rows stay distributions
    panel.layer.value = 3
    assert len(panel.figure.data[0].z) == 256 and "layer 3" in panel.figure.layout.title.text


def test_rankings_compare_displayed_values_and_break_ties_by_position():
    from bert_nb._ranking import top_indices

    # 0.4120001 and 0.412 print alike; another CPU may round them the other way round
    values = np.array([[0.1, 0.4120001], [0.412, 0.9]])
    assert list(top_indices(values, 3)) == [3, 1, 2]
    assert list(top_indices(values.T, 3)) == [3, 1, 2]  # same order after a transpose: ties by position
    assert list(top_indices([np.nan, 0.2, -np.inf, 0.3], 4)) == [3, 1, 0, 2]


LONG_TEXT = " ".join(["The committee met on Tuesday to discuss the budget of the new library."] * 45)


def test_a_long_text_is_shown_one_window_at_a_time(minilm, shell):
    from bert_nb.panels import AttentionPanel

    first = bert_nb.attention(minilm, LONG_TEXT, max_length=128)
    second = bert_nb.attention(minilm, LONG_TEXT, max_length=128, window=1)
    assert first.windows == second.windows >= 5 and (first.window, second.window) == (0, 1)
    assert first.weights.shape[-1] == 128 and "window 0 of 0-" in first.summary()
    assert "window 1 is shown (characters" in second.note and second.tokens[0] == "[CLS]"
    np.testing.assert_allclose(first.weights.sum(-1), 1, atol=1e-4)  # every window's rows are distributions
    assert bert_nb.attention(minilm, "A short text.").note == ""
    with pytest.raises(BertNbError, match="window is a number from 0 to"):
        bert_nb.attention(minilm, LONG_TEXT, max_length=128, window=first.windows)
    att = shell.run_cell(f"%%bert attention --window 1 --stride 8\n{LONG_TEXT}")  # 512-piece windows: 2
    assert att.window == 1 and "(8 shared)" in att.note
    panel = AttentionPanel(minilm, text=LONG_TEXT)
    assert panel.window.layout.display is None and panel.window.max == panel.result.windows - 1
    panel.window.value = 1
    assert panel.result.window == 1 and "window 1 is shown" in panel.status.value
    panel.text.value = "A short text."
    panel.button.click()
    assert panel.window.layout.display == "none" and panel.result.windows == 1
