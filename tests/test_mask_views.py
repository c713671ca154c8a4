"""Mask figures and views, the masking magics, and the panels driven from Python."""

import pytest
from IPython.core.error import UsageError

from bert_nb.batch import Batch
from bert_nb.mask import Corruption, MaskPredictions, NextSentence, corrupt, fill_mask, next_sentence
from bert_nb.plots import mask_bar, nsp_bar
from bert_nb.render import FATE_COLORS, corruption_html, mask_html
from bert_nb.widgets import MaskPanel, TokenizePanel


def test_mask_bar_one_panel_per_mask_best_on_top(mini_mlm):
    preds = fill_mask(mini_mlm, "The [MASK] sat on the [MASK].", top_k=4)
    fig = mask_bar(preds)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert list(fig.data[0].y) == [c.token_str for c in reversed(preds.masks[0])]
    assert list(fig.data[1].x) == [c.score for c in reversed(preds.masks[1])]
    assert [a.text for a in fig.layout.annotations] == ["[MASK] 0", "[MASK] 1"]


def test_mask_bar_caps_panels_and_escapes(tiny):
    preds = fill_mask(tiny, "<b> " + "[MASK] " * 7)
    fig = mask_bar(preds)
    assert len(fig.data) == 5 and "first 5 of 7 masks" in fig.layout.title.text
    assert "<b>" not in fig.layout.title.text and "&lt;b&gt;" in fig.layout.title.text


def test_nsp_bar(tiny):
    results = Batch((next_sentence(tiny, "the cat", "it ran"), next_sentence(tiny, "a dog", "<i>x</i>")))
    fig = nsp_bar(results)
    assert fig.data[0].type == "bar" and len(fig.data[0].x) == 2
    assert tuple(fig.layout.xaxis.range) == (0, 1)
    assert all("<i>" not in y for y in fig.data[0].y)


def test_mask_html_escapes_and_notes(mini_mlm):
    page = mask_html(fill_mask(mini_mlm, "<script>x</script> [MASK]", joint=True))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "joint filling" in page and "retrieval" in page


def test_corruption_html_colours_fates(mini_mlm):
    c = corrupt(mini_mlm, "The quick brown fox jumps over the lazy dog near the river bank today.", seed=2)
    page = corruption_html(c)
    assert page.count(f"background:{FATE_COLORS['masked']}") == c.counts()["masked"] + 1  # + legend
    assert "original" in page and f"recovered {c.accuracy:.0%}" in page


# -- magics ---------------------------------------------------------------------------
@pytest.fixture()
def sh(shell):
    shell.run_cell("%bert load default-mlm --device cpu")
    yield shell
    shell.run_cell("%bert load default --device cpu")


def test_fill_magic_and_alias(sh):
    preds = sh.run_cell("%%bert fill --top-k 3 --targets city,river -o p\nParis is the [MASK] of France.")
    assert isinstance(preds, MaskPredictions) and sh.ip.user_ns["p"] is preds
    assert {c.token_str for c in preds.masks[0]} == {"city", "river"}
    batch = sh.run_cell("%%bert mask --joint\nThe [MASK] sat.\nA [MASK] ran.")
    assert isinstance(batch, Batch) and len(batch) == 2 and batch[0].joint is not None
    bundle = sh.ip.display_formatter.format(preds)[0]
    assert {"text/plain", "text/html", "application/vnd.plotly.v1+json"} <= set(bundle)
    assert "city" in bundle["text/plain"] and "note:" in bundle["text/plain"]


def test_corrupt_magic(sh):
    c = sh.run_cell("%%bert corrupt --seed 0 --rate 0.3\nThe quick brown fox jumps over the lazy dog.")
    assert isinstance(c, Corruption) and c.seed == 0 and c.rate == 0.3
    assert c == sh.run_cell("%%bert corrupt --seed 0 --rate 0.3\nThe quick brown fox jumps over the lazy dog.")


def test_nsp_magic_on_a_model_with_the_head(shell, tiny_path):
    shell.run_cell(f"%bert load {tiny_path} --device cpu")
    result = shell.run_cell("%%bert nsp\nthe cat sat ||| it ran")
    assert isinstance(result, NextSentence)
    batch = shell.run_cell("%%bert nsp\nthe cat ||| it ran\na dog ||| the mat")
    assert isinstance(batch, Batch) and len(batch) == 2
    assert "application/vnd.plotly.v1+json" in shell.ip.display_formatter.format(batch)[0]
    shell.run_cell("%bert load default --device cpu")


@pytest.mark.parametrize("source, phrase", [
    ("%%bert fill\nno mask", "No [MASK] in the text"),
    ("%%bert fill --top-k 0\na [MASK]", "top_k must be"),
    ("%%bert corrupt --rate 2\nhello", "rate must be a fraction"),
    ("%%bert nsp\nno separator", "Line 1 has no '|||'"),
    ("%%bert nsp\na ||| b", "no next-sentence-prediction head"),
    ("%bert panel nope", "Unknown panel 'nope'; choose one of tokenize, mask"),
])
def test_masking_mistakes_are_usage_errors(sh, source, phrase):
    message = sh.usage_error(source)
    assert phrase in message and "\n" not in message


def test_fill_on_an_encoder_only_model_says_which_to_load(shell):
    shell.run_cell("%bert load default --device cpu")
    with pytest.raises(UsageError, match="no masked-LM head; load one that has it"):
        shell.run_cell("%%bert fill\na [MASK]")


# -- panels ---------------------------------------------------------------------------
def test_mask_panel_predicts_and_updates_figure_in_place(mini_mlm):
    panel = MaskPanel(mini_mlm)
    figure = panel.figure
    assert isinstance(panel.result, MaskPredictions) and len(figure.data) == 1
    panel.text.value = "The [MASK] sat on the [MASK]."
    panel.top_k.value = 3
    panel.targets.value = ""
    panel.button.click()
    assert panel.figure is figure and len(figure.data) == 2 and len(figure.data[0].y) == 3
    assert panel.result.masks == fill_mask(mini_mlm, "The [MASK] sat on the [MASK].", top_k=3).masks
    panel.targets.value = "cat, dog"
    panel.button.click()
    assert set(figure.data[0].y) == {"cat", "dog"}
    assert "retrieval" in panel.status.value


def test_mask_panel_mistake_keeps_last_result(mini_mlm):
    panel = MaskPanel(mini_mlm)
    before = panel.result
    panel.text.value = "<b>no mask</b>"
    panel.button.click()
    assert panel.result is before and "No [MASK]" in panel.status.value
    assert "<b>" not in panel.status.value
    assert repr(panel) == "MaskPanel(model=default-mlm)"


def test_tokenize_panel(minilm):
    panel = TokenizePanel(minilm, text="hello world")
    assert panel.result.tokens == ("[CLS]", "hello", "world", "[SEP]")
    panel.pair.value = "<script>"
    panel.button.click()
    assert panel.result.pair == "<script>" and "&lt;script&gt;" in panel.view.value
    panel.text.value = " "
    panel.button.click()
    assert "empty" in panel.status.value and panel.result.pair == "<script>"


def test_panel_magic(shell):
    shell.run_cell("%bert load default --device cpu")
    panel = shell.run_cell("%bert panel mask")
    assert isinstance(panel, MaskPanel) and panel.engine.name == "default-mlm"
    assert isinstance(shell.run_cell("%bert panel tokenize -o tp"), TokenizePanel)
    assert isinstance(shell.ip.user_ns["tp"], TokenizePanel)
