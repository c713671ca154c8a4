"""The token view: escaped HTML, plain text and the Plotly table."""

import re

import pytest

import bert_nb
from bert_nb.plots import token_table
from bert_nb.render import SEGMENT_COLORS, SPECIAL_COLOR, token_html

HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> & "quoted" \'single\''


def test_user_html_is_shown_as_text_never_markup(minilm):
    page = token_html(bert_nb.tokenize(minilm, HOSTILE, "<b>bold</b>"))
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    # every title attribute is closed by its own quote: no user quote breaks out of it
    for title in re.findall(r'title="([^"]*)"', page):
        assert "<" not in title and ">" not in title


def test_title_argument_is_escaped(minilm):
    page = token_html(bert_nb.tokenize(minilm, "hi"), title="<i>mine</i>")
    assert "&lt;i&gt;mine&lt;/i&gt;" in page and "<i>mine" not in page


def test_view_groups_words_marks_specials_and_shades_segments(tiny):
    toks = bert_nb.tokenize(tiny, "playing cat [MASK]", "it ran")
    page = token_html(toks)
    # one box per word group: [CLS], play##ing, cat, [MASK], [SEP], it, ran, [SEP]
    assert page.count("display:inline-flex") == len(toks.words) == 8
    assert page.count(f"background:{SEGMENT_COLORS[1]}") == 2 + 1  # two B words + legend
    assert page.count(f"background:{SPECIAL_COLOR}") == 3 + 1  # [CLS], 2x[SEP] + legend
    assert '<span style="color:#888">##</span>ing' in page
    assert "#6a1b9a" in page  # the typed [MASK] is coloured as a special
    hover = re.findall(r'title="([^"]*)"', page)
    assert len(hover) == len(toks)
    assert "id " in hover[2] and "chars 4-7" in hover[2] and "segment A" in hover[2]
    assert "special token" in hover[0] and "chars" not in hover[0]


def test_view_shows_truncation_note(minilm):
    page = token_html(bert_nb.tokenize(minilm, "word " * 600))
    assert "Truncated: 90 pieces cut" in page


def test_batch_view_has_one_block_per_text(minilm):
    page = token_html(bert_nb.tokenize(minilm, ["one", "two", "three"]))
    assert page.count("pieces · A:") == 3


def test_token_table_figure(tiny):
    toks = bert_nb.tokenize(tiny, "<b>cat</b> playing", "it")
    fig = token_table(toks, title="<mine>", height=300, template="plotly_white")
    table = fig.data[0]
    assert table.type == "table"
    assert list(table.cells.values[0]) == list(range(len(toks)))
    assert list(table.cells.values[2]) == list(toks.ids)
    assert all("<b>" not in str(v) for v in table.cells.values[1])
    assert "&lt;" in table.cells.values[1][1]
    assert table.cells.values[1][toks.tokens.index("##ing")].startswith("\u2003")
    colors = table.cells.fill.color[0]
    assert colors[0] == SPECIAL_COLOR and colors[1] == SEGMENT_COLORS[0] and colors[-2] == SEGMENT_COLORS[1]
    assert fig.layout.title.text == "&lt;mine&gt;" and fig.layout.height == 300


def test_token_table_default_title_mentions_truncation(minilm):
    fig = token_table(bert_nb.tokenize(minilm, "one two three", max_length=4))
    assert fig.layout.title.text.startswith("4 pieces (Truncated: 1 piece cut")


@pytest.mark.parametrize("text", ["plain", "a\u0000b", "tab\there"])
def test_plain_text_view_is_one_line_per_text(minilm, text):
    assert len(bert_nb.tokenize(minilm, text).to_text().splitlines()) == 1


def test_light_fills_carry_their_own_dark_ink(minilm):
    """Text on a light box sets its colour, so a dark theme's light text never lands on it."""
    from bert_nb.render import INK, corruption_html

    mlm = bert_nb.load("default-mlm", device="cpu")
    pages = [token_html(bert_nb.tokenize(minilm, "Tokenization isn't magic.", "It is WordPiece.")),
             corruption_html(bert_nb.corrupt(mlm, "The quick brown fox jumps over the lazy dog.", seed=0))]
    for page in pages:
        filled = re.findall(r'style="([^"]*background:(?!transparent)[^"]*)"', page)
        assert filled and all(f"color:{INK}" in style for style in filled), page[:300]
        assert "color:#444" not in page and "color:#555" not in page  # fixed greys vanish on dark backgrounds


def test_describe_names_what_is_drawn_and_ignores_float_noise():
    import numpy as np
    import plotly.graph_objects as go

    from bert_nb.plots import describe

    def heatmap(z, labels):
        fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, text=[[f"{v:.2f}" for v in row] for row in z]))
        return fig.update_layout(title="Cosine <b>similarity</b>", xaxis_title="piece")

    z = np.array([[1.0, 0.31234567], [0.31234567, 1.0]])
    text = describe(heatmap(z, ["a &amp; b", "c"]))
    assert text.splitlines() == ["figure: Cosine similarity", "heatmap: 2 x 2; x: a & b, c; y: a & b, c; text: 1.00, 0.31, 0.31, 1.00",
                                 "axes: xaxis 'piece'"]
    assert describe(heatmap(z + 1e-7, ["a &amp; b", "c"])) == text  # another CPU's last bits: same account
    assert describe(heatmap(z, ["a", "c"])) != text  # other labels: another account
    bars = go.Figure([go.Bar(x=[0.1, 0.2], y=["x", "y"], orientation="h", name="m")] * 3)
    assert "3 x bar (h) 'm': 2 bars; y: x, y" in describe(bars)
