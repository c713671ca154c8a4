"""Views of compression: head importance, the pruning curve, and the accuracy-speed trade-off of several models."""

from __future__ import annotations

from ..render import MUTED, esc
from ._common import tidy

__all__ = ["head_importance_heatmap", "prune_curve_line", "pareto_scatter", "compress_html"]


def head_importance_heatmap(importance, *, title: str | None = None, height: int | None = None,
                            width: int | None = None, template: str | None = None):
    """Layer x head importance (normalised per layer); pruned heads are blank."""
    import plotly.graph_objects as go

    m = importance.matrix()
    fig = go.Figure(go.Heatmap(z=m, x=[f"head {h}" for h in range(importance.heads)],
                               y=[f"layer {l}" for l in range(importance.layers)], colorscale="Viridis",
                               colorbar=dict(title=dict(text="importance")),
                               hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=dict(text=esc(title) if title else
                                 f"Head importance over {importance.texts} texts ({esc(importance.model)})"),
                      height=height or 60 + 40 * importance.layers + 80, width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def prune_curve_line(curve, *, title: str | None = None, height: int | None = None,
                     width: int | None = None, template: str | None = None):
    """Accuracy (a scoring cross-encoder: Spearman) against the share of heads removed (least important first),
    parameters on hover."""
    import plotly.graph_objects as go

    p, name = curve.points, curve.metric_name
    y = p[curve.metric]
    fig = go.Figure(go.Scatter(x=list(p.fraction), y=list(y), mode="lines+markers", name=name,
                               customdata=list(zip(p.heads_pruned, p.parameters / 1e6)),
                               hovertemplate=f"%{{x:.0%}} of heads removed (%{{customdata[0]}}): {name} %{{y:.3f}}, "
                                             "%{customdata[1]:.1f}M parameters<extra></extra>"))
    fig.add_hline(y=float(y.iloc[0]), line_dash="dash", line_color="#777", annotation_text="unpruned")
    fig.update_xaxes(title_text="share of heads removed", tickformat=".0%")
    fig.update_yaxes(title_text=name, range=[min(0.0, float(y.min()) - 0.05), 1])
    fig.update_layout(title=dict(text=esc(title) if title else f"Pruning heads: {curve.texts} {curve.unit} ({esc(curve.model)})"),
                      height=height or 380, width=width, template=template, margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def pareto_scatter(comparison, *, title: str | None = None, height: int | None = None,
                   width: int | None = None, template: str | None = None):
    """Accuracy (a tagger's entity F1, a reader's SQuAD F1) against throughput, one bubble per model sized by its
    weights in MB; the best trade-offs joined."""
    import plotly.graph_objects as go

    t = comparison.table
    metric = comparison.metric
    quality, other, other_name = {"entity_f1": ("entity F1", "accuracy", "word accuracy"),
                                  "f1": ("SQuAD F1", "exact", "exact match"),
                                  "spearman": ("Spearman", "pearson", "Pearson")}.get(metric,
                                                                                 ("accuracy", "macro_f1", "macro-F1"))
    size = t.size_mb.to_numpy()
    fig = go.Figure(go.Scatter(
        x=list(t.throughput), y=list(t[metric]), mode="markers+text", text=[esc(m) for m in t.model],
        textposition="top center", name="models",
        marker=dict(size=list(12 + 40 * size / max(size.max(), 1e-9)), sizemode="diameter", opacity=0.7),
        customdata=list(zip(t.size_mb, t.latency_ms, t[other])),
        hovertemplate=f"%{{text}}: {quality} %{{y:.3f}}, %{{x:.0f}} texts/s, %{{customdata[0]:.1f}} MB, "
                      f"%{{customdata[1]:.1f}} ms/text, {other_name} %{{customdata[2]:.3f}}<extra></extra>"))
    front = _front(t, metric)
    fig.add_trace(go.Scatter(x=[t.throughput[i] for i in front], y=[t[metric][i] for i in front], mode="lines",
                             line=dict(dash="dot", color="#777"), name="best trade-offs", hoverinfo="skip"))
    fig.update_xaxes(title_text="throughput (texts/s, batch 32)")
    fig.update_yaxes(title_text=quality)
    fig.update_layout(title=dict(text=esc(title) if title else
                                 f"{quality[0].upper() + quality[1:]} vs speed on {len(comparison.predictions)} texts "
                                 f"({esc(comparison.device)}); bubble: size in MB"),
                      height=height or 420, width=width, template=template, showlegend=False,
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def _front(table, metric: str = "accuracy") -> list[int]:
    """Rows no other row beats on both ``metric`` and throughput, fastest first."""
    rows = [(i, float(table[metric][i]), float(table.throughput[i])) for i in table.index]
    keep = [i for i, q, speed in rows if not any(oq >= q and os > speed or oq > q and os >= speed
                                                 for _, oq, os in rows)]
    return sorted(keep, key=lambda i: -table.throughput[i])


def compress_html(result) -> str:
    """A summary line and the result's table (numbers at reader precision)."""
    frame = result.to_frame()
    return (f'<div class="bert-nb-compress"><div style="font-size:12px;{MUTED}">{esc(result.to_text().splitlines()[0])}'
            f"</div>{frame.round(3).to_html(index=False, escape=True)}</div>")


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "HeadImportance": ("bert_nb.compress", compress_html, head_importance_heatmap),
    "PruneCurve": ("bert_nb.compress", compress_html, prune_curve_line),
    "Comparison": ("bert_nb.compress", compress_html, pareto_scatter),
}
