"""Figures of attention: one heatmap, the layer x head grid, and where one piece looks."""

from __future__ import annotations

from ..render import attention_html, esc
from ._common import tidy

__all__ = ["attention_heatmap", "attention_grid", "token_focus", "attention_figure"]


_HEATMAP_MAX = 256  # tokens per axis in one heatmap before blocks are averaged


_GRID_MAX = 24  # tokens per axis in each thumbnail of the grid


def _blocks(matrix, rows, cols, limit):
    """Average a matrix into at most ``limit`` x ``limit`` blocks of neighbouring tokens.

    Rows stay distributions: a block row is the mean of its rows, a block column
    the sum of its columns. Returns the matrix, labels, and a note when it shrank.
    """
    import numpy as np

    def edges(n):
        return np.linspace(0, n, min(n, limit) + 1).round().astype(int)

    re, ce = edges(len(rows)), edges(len(cols))
    if len(re) - 1 == len(rows) and len(ce) - 1 == len(cols):
        return matrix, rows, cols, ""
    matrix = np.asarray(matrix, dtype=np.float64)
    summed = np.add.reduceat(np.add.reduceat(matrix, re[:-1], axis=0), ce[:-1], axis=1)
    out = summed / np.diff(re)[:, None]

    def label(names, e):
        return [names[a] if b - a == 1 else f"{names[a]} … {names[b - 1]}" for a, b in zip(e[:-1], e[1:])]

    note = f" ({len(rows)} pieces averaged into {len(re) - 1} blocks per axis)"
    return out, label(rows, re), label(cols, ce), note


def attention_heatmap(att, layer: int = -1, head: int | None = None, *, hide_special: bool = False,
                      direction: str = "all", title: str | None = None, height: int | None = None,
                      width: int | None = None, template: str | None = None):
    """One layer's attention (one head, or the mean of heads): from rows to columns, weights on hover.

    When the attention came with fill-mask predictions, their bars stand beside it.
    """
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..attentions import select

    s = select(att, layer=layer, head=head, hide_special=hide_special, direction=direction)
    z, rows, cols, note = _blocks(s.matrix, s.rows, s.columns, _HEATMAP_MAX)
    rows, cols = [esc(r) for r in rows], [esc(c) for c in cols]
    heat = go.Heatmap(z=np.round(z, 4), x=cols, y=rows, colorscale="Blues", zmin=0,
                      hovertemplate="%{y} → %{x}<br>weight %{z:.3f}<extra></extra>", colorbar=dict(title="weight"))
    preds = att.predictions
    if preds is not None and preds.masks:
        fig = make_subplots(rows=1, cols=2, column_widths=[0.72, 0.28], horizontal_spacing=0.12,
                            subplot_titles=[esc(s.title), "fillers for the first [MASK]"])
        fig.add_trace(heat, row=1, col=1)
        fig.update_xaxes(tickangle=-60, row=1, col=1)
        cands = list(reversed(preds.masks[0]))
        fig.add_trace(go.Bar(x=[c.score for c in cands], y=[esc(c.token_str) for c in cands], orientation="h",
                             marker_color="#5c6bc0", hovertemplate="%{y}: %{x:.4f}<extra></extra>"), row=1, col=2)
        fig.update_yaxes(autorange="reversed", row=1, col=1)
        fig.update_layout(showlegend=False)
    else:
        fig = go.Figure(heat)
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickangle=-60)
    side = max(len(rows), len(cols))
    fig.update_layout(
        title=dict(text=esc(title) if title else f"Attention: {esc(s.title)}{note}"),
        height=height or min(max(320, 160 + 18 * side), 900), width=width, template=template,
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return tidy(fig)


def attention_grid(att, *, hide_special: bool = False, max_tokens: int = _GRID_MAX, title: str | None = None,
                   height: int | None = None, width: int | None = None, template: str | None = None):
    """Every layer x head as a thumbnail heatmap (the "model view"); long inputs are block-averaged."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..attentions import select

    L, H = att.layers, att.heads
    fig = make_subplots(rows=L, cols=H, horizontal_spacing=0.004, vertical_spacing=0.01,
                        row_titles=[f"L{l}" for l in range(L)], column_titles=[f"H{h}" for h in range(H)])
    note = ""
    pruned = att.pruned
    for l in range(L):
        for h in range(H):
            if h in pruned.get(l, ()):
                fig.add_annotation(text="pruned", showarrow=False, x=0.5, y=0.5, xref="x domain", yref="y domain",
                                   font=dict(size=9, color="#888"), row=l + 1, col=h + 1)
                continue
            s = select(att, layer=l, head=h, hide_special=hide_special)
            z, rows, cols, note = _blocks(s.matrix, s.rows, s.columns, max_tokens)
            fig.add_trace(go.Heatmap(z=np.round(z, 3), x=[esc(c) for c in cols], y=[esc(r) for r in rows],
                                     colorscale="Blues", zmin=0, zmax=1, showscale=False,
                                     hovertemplate=f"layer {l} head {h}<br>%{{y}} → %{{x}}<br>%{{z:.3f}}<extra></extra>"),
                          row=l + 1, col=h + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    gone = sum(len(v) for v in pruned.values())
    gone = f", {gone} pruned heads left blank" if gone else ""
    fig.update_layout(title=dict(text=esc(title) if title else f"All {L} layers x {H} heads{gone}{note}"),
                      height=height or 90 + 80 * L, width=width, template=template,
                      margin=dict(l=10, r=30, t=70, b=10))
    return tidy(fig)


def token_focus(focused, *, title: str | None = None, height: int | None = None,
                width: int | None = None, template: str | None = None):
    """One token's attention to every token: a row per layer and head, a column per token."""
    import numpy as np
    import plotly.graph_objects as go

    L, H, T = focused.weights.shape
    labels = [esc(f"{t} {i}") for i, t in enumerate(focused.tokens)]
    rows = focused.weights.reshape(L * H, T)
    kept = ~np.isnan(rows[:, 0])  # a pruned model's removed heads get no row
    fig = go.Figure(go.Heatmap(
        z=np.round(rows[kept], 4), x=labels,
        y=[f"L{l} H{h}" for l in range(L) for h in range(H) if kept[l * H + h]], colorscale="Blues", zmin=0,
        hovertemplate="%{y}: " + esc(focused.token) + " → %{x}<br>%{z:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-60)
    fig.update_layout(title=dict(text=esc(title) if title else f"Where '{esc(focused.token)}' (position {focused.position}) looks"),
                      height=height or min(200 + 12 * int(kept.sum()), 1000), width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def attention_figure(att, **kwargs):
    """The figure for an Attention's current view: focus, grid or one heatmap."""
    from ..attentions import focus

    v = att.view
    if v.focus is not None:
        return token_focus(focus(att, v.focus), **kwargs)
    if v.grid:
        return attention_grid(att, hide_special=v.hide_special, **kwargs)
    return attention_heatmap(att, v.layer, v.head, hide_special=v.hide_special, direction=v.direction, **kwargs)


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "Attention": ("bert_nb.attentions", attention_html, attention_figure),
    "Recomputed": ("bert_nb.attentions", None, None),
}
