"""Figures of masked-LM work: filler probabilities and next-sentence prediction."""

from __future__ import annotations

from ..render import corruption_html, esc, mask_html, nsp_html
from ._common import short, tidy

__all__ = ["mask_bar", "nsp_bar"]


_MAX_MASK_PANELS = 5


def mask_bar(predictions, *, title: str | None = None, height: int | None = None,
             width: int | None = None, template: str | None = None):
    """Top-k filler probabilities, one horizontal bar chart per [MASK] (the first five)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    masks = predictions.masks[:_MAX_MASK_PANELS]
    titles = [f"[MASK] {m}" for m in range(len(masks))]
    fig = make_subplots(rows=len(masks), cols=1, subplot_titles=titles, vertical_spacing=0.12 / max(1, len(masks) - 1) if len(masks) > 1 else 0.1)
    for m, cands in enumerate(masks, 1):
        cands = list(reversed(cands))  # best at the top
        fig.add_trace(go.Bar(
            x=[c.score for c in cands], y=[esc(c.token_str) for c in cands], orientation="h",
            customdata=[esc(c.sequence) for c in cands], marker_color="#5c6bc0",
            hovertemplate="%{y}: %{x:.4f}<br>%{customdata}<extra></extra>", name=f"[MASK] {m - 1}",
            text=[f"{c.score:.2g}" for c in cands], textposition="auto",  # labels at 2 significant digits
        ), row=m, col=1)
        fig.update_yaxes(type="category", row=m, col=1)
    shown = "" if len(predictions.masks) <= _MAX_MASK_PANELS else f" (first {_MAX_MASK_PANELS} of {len(predictions.masks)} masks)"
    fig.update_xaxes(title_text="probability", row=len(masks), col=1)
    fig.update_layout(
        title=dict(text=esc(title) if title else f"Fillers for {esc(short(predictions.text))}{shown}"),
        showlegend=False, height=height or 140 + 190 * len(masks), width=width, template=template,
        margin=dict(l=10, r=10, t=70, b=40),
    )
    return tidy(fig)


def nsp_bar(results, *, title: str | None = None, height: int | None = None,
            width: int | None = None, template: str | None = None):
    """P(B follows A) for each pair, with the 0.5 decision line."""
    import plotly.graph_objects as go

    items = list(getattr(results, "items", None) or [results])
    labels = [f"{i}: {esc(short(r.b, 40))}" for i, r in enumerate(items)]
    fig = go.Figure(go.Bar(
        x=[r.probability for r in items], y=labels, orientation="h",
        marker_color=["#2e7d32" if r.is_next else "#c62828" for r in items],
        customdata=[esc(r.a) for r in items],
        hovertemplate="A: %{customdata}<br>B: %{y}<br>P(B follows A) = %{x:.3f}<extra></extra>",
        text=[f"{r.probability:.3f}" for r in items], textposition="auto",
    ))
    fig.add_vline(x=0.5, line_dash="dash", line_color="#555")
    fig.update_xaxes(range=[0, 1], title_text="P(B is the next sentence)")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(title=dict(text=esc(title) if title else "Next-sentence prediction"),
                      height=height or 120 + 40 * len(items), width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=40))
    return tidy(fig)


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "MaskPredictions": ("bert_nb.mask", mask_html, mask_bar),
    "Corruption": ("bert_nb.mask", corruption_html, None),
    "NextSentence": ("bert_nb.mask", nsp_html, nsp_bar),
}
