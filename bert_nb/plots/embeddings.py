"""Figures of embeddings: similarity heatmaps, projections and search hits."""

from __future__ import annotations

from ..render import esc, projection_html, similarity_html
from ._common import short, tidy, unique

__all__ = ["similarity_heatmap", "projection_scatter", "search_table"]


def similarity_heatmap(sim, *, title: str | None = None, height: int | None = None,
                       width: int | None = None, template: str | None = None):
    """Cosine similarity as a heatmap: short labels on the axes, full texts and values on hover."""
    import plotly.graph_objects as go

    rows = [esc(short(r, 32)) for r in sim.rows]
    cols = [esc(short(c, 32)) for c in sim.columns]
    rows, cols = unique(rows), unique(cols)
    full = [[f"{esc(r)}<br>{esc(c)}" for c in sim.columns] for r in sim.rows]
    fig = go.Figure(go.Heatmap(
        z=sim.matrix, x=cols, y=rows, zmin=-1 if sim.matrix.min() < 0 else 0, zmax=1,
        colorscale="Blues", customdata=full, colorbar=dict(title="cosine"),
        hovertemplate="%{customdata}<br>cosine %{z:.3f}<extra></extra>",
        text=[[f"{v:.2f}" for v in row] for row in sim.matrix] if len(rows) * len(cols) <= 400 else None,
        texttemplate="%{text}" if len(rows) * len(cols) <= 400 else None,
    ))
    fig.update_yaxes(autorange="reversed")
    side = max(len(rows), len(cols))
    fig.update_layout(title=dict(text=esc(title) if title else f"Cosine similarity ({esc(sim.pooling)} pooling)"),
                      height=height or min(200 + 34 * side, 800), width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def projection_scatter(proj, *, title: str | None = None, height: int | None = None,
                       width: int | None = None, template: str | None = None):
    """Projected embeddings as a 2-D or 3-D scatter, coloured by group when groups are given."""
    import plotly.graph_objects as go

    dims = proj.coords.shape[1]
    groups = proj.groups if proj.groups is not None else [None] * len(proj.labels)
    fig = go.Figure()
    for group in dict.fromkeys(groups):
        idx = [i for i, g in enumerate(groups) if g == group]
        labels = [esc(proj.labels[i]) for i in idx]
        common = dict(name=esc(group) if group is not None else "texts", mode="markers+text" if len(proj.labels) <= 30 else "markers",
                      text=labels if len(proj.labels) <= 30 else None, hovertext=labels, hoverinfo="text",
                      textposition="top center")
        xyz = {k: proj.coords[idx, d] for d, k in enumerate("xyz"[:dims])}
        fig.add_trace(go.Scatter3d(**xyz, **common) if dims == 3 else go.Scatter(**xyz, **common))
    axis = ["PC1", "PC2", "PC3"] if proj.method == "pca" else ["1", "2", "3"]
    if proj.explained:
        axis = [f"{a} ({v:.0%})" for a, v in zip(axis, proj.explained)]
    if dims == 2:
        fig.update_xaxes(title_text=axis[0])
        fig.update_yaxes(title_text=axis[1])
    else:
        fig.update_layout(scene=dict(xaxis_title=axis[0], yaxis_title=axis[1], zaxis_title=axis[2]))
    fig.update_layout(title=dict(text=esc(title) if title else f"{proj.method.upper()} projection"),
                      showlegend=proj.groups is not None, height=height or 520, width=width,
                      template=template, margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def search_table(hits, *, title: str | None = None, height: int | None = None,
                 width: int | None = None, template: str | None = None):
    """Search hits (the DataFrame from ``search``) as a table: query, rank, score, text."""
    import plotly.graph_objects as go

    cells = [[esc(short(q, 60)) for q in hits["query"]], list(hits["rank"]),
             [f"{s:.3f}" for s in hits["score"]], [esc(t) for t in hits["text"]]]
    fig = go.Figure(go.Table(
        columnwidth=[160, 40, 60, 420],
        header=dict(values=["<b>query</b>", "<b>rank</b>", "<b>score</b>", "<b>text</b>"],
                    fill_color="#d5dde6", align="left"),
        cells=dict(values=cells, align="left"),
    ))
    fig.update_layout(title=dict(text=esc(title) if title else "Semantic search"),
                      height=height or min(120 + 30 * len(hits), 700), width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "Similarity": ("bert_nb.embeddings", similarity_html, similarity_heatmap),
    "Projection": ("bert_nb.embeddings", projection_html, projection_scatter),
    "Embeddings": ("bert_nb.embeddings", None, None),
    "StsScore": ("bert_nb.embeddings", None, None),
}
