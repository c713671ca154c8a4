"""Figures of tokenization: the pieces as a table."""

from __future__ import annotations

from ..render import SEGMENT_COLORS, SPECIAL_COLOR, esc, token_html
from ._common import tidy

__all__ = ["token_table"]


def token_table(tokens, *, title: str | None = None, height: int | None = None,
                width: int | None = None, template: str | None = None):
    """A table of pieces: position, piece, id, segment, word and the source text.

    Rows are shaded by segment (A blue, B orange) and grey for special tokens;
    continuation pieces are indented under the piece that starts their word.
    """
    import plotly.graph_objects as go

    n = len(tokens)
    pieces, colors, sources = [], [], []
    for pos in range(n):
        token = tokens.tokens[pos]
        pieces.append(("\u2003" if tokens.is_continuation(pos) else "") + esc(token))
        colors.append(SPECIAL_COLOR if tokens.special[pos] else SEGMENT_COLORS[tokens.segment[pos] % 2])
        src = tokens.source_text(pos)
        sources.append("" if src is None else esc(src))
    seg = ["AB"[s % 2] for s in tokens.segment]
    word = ["" if w is None else w for w in tokens.word]
    chars = ["" if s is None else f"{s}-{e}" for s, e in zip(tokens.start, tokens.end)]
    header = ["position", "piece", "id", "segment", "word", "chars", "text"]
    cells = [list(range(n)), pieces, list(tokens.ids), seg, word, chars, sources]
    fig = go.Figure(go.Table(
        columnwidth=[60, 120, 70, 60, 50, 70, 120],
        header=dict(values=[f"<b>{h}</b>" for h in header], fill_color="#d5dde6", align="left"),
        cells=dict(values=cells, fill_color=[colors] * len(header), align="left"),
    ))
    default_title = f"{n} pieces" + (f" ({tokens.note})" if tokens.note else "")
    fig.update_layout(
        title=dict(text=esc(title) if title else default_title),
        height=height or min(120 + 26 * n, 700), width=width, template=template,
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return tidy(fig)


VIEWS = {  # result type -> (its module, HTML view, figure builder): what a displayed result shows
    "Tokens": ("bert_nb.tokens", token_html, None),
    "TokensBatch": ("bert_nb.tokens", token_html, None),
}
