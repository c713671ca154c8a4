"""Views inside the layers: embedding parts, positions, per-layer measures, the logit lens, probes."""

from __future__ import annotations

from ..render import MUTED, esc
from ._common import tidy, unique

__all__ = ["embedding_parts_bar", "positions_heatmaps", "layer_heatmap", "layer_figure", "logit_lens_grid",
           "probe_curve", "internals_html"]

_PARTS = {"token": "#1f77b4", "position": "#ff7f0e", "segment": "#2ca02c", "sum": "#7f7f7f", "layernorm": "#9467bd"}
_POSITIONS_MAX = 128  # positions per axis before blocks are averaged


def _labels(tokens) -> list[str]:
    return unique([f"{esc(t)} {i}" for i, t in enumerate(tokens)])


def embedding_parts_bar(parts, *, title: str | None = None, height: int | None = None,
                        width: int | None = None, template: str | None = None):
    """Per piece, the norm of each part: token, position, segment, their sum, after LayerNorm."""
    import plotly.graph_objects as go

    frame = parts.norms
    labels = _labels(parts.tokens)
    fig = go.Figure([go.Bar(x=labels, y=list(frame[name]), name=name, marker_color=color,
                            hovertemplate=f"%{{x}}: |{name}| = %{{y:.3f}}<extra></extra>")
                     for name, color in _PARTS.items() if frame[name].notna().all()])
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_yaxes(title_text="L2 norm")
    fig.update_layout(barmode="group", title=dict(text=esc(title) if title else f"Input embedding parts ({esc(parts.model)})"),
                      height=height or 380, width=width, template=template, legend=dict(orientation="h", y=1.12),
                      margin=dict(l=10, r=10, t=70, b=10))
    return tidy(fig)


def positions_heatmaps(pos, *, title: str | None = None, height: int | None = None,
                       width: int | None = None, template: str | None = None):
    """The learned and the sinusoidal position cosines side by side (block means past 128 positions)."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(pos.learned)
    step = max(1, int(np.ceil(n / _POSITIONS_MAX)))

    def shrink(m):
        k = (n // step) * step
        return m[:k, :k].reshape(k // step, step, k // step, step).mean(axis=(1, 3))

    ticks = list(range(0, (n // step) * step, step))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("learned (the model's table)", "sinusoidal (the formula)"),
                        horizontal_spacing=0.08)
    for col, m in ((1, pos.learned), (2, pos.sinusoidal)):
        fig.add_trace(go.Heatmap(z=shrink(m), x=ticks, y=ticks, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
                                 showscale=col == 2, colorbar=dict(title=dict(text="cosine")),
                                 hovertemplate="positions %{y} and %{x}: %{z:.2f}<extra></extra>"), row=1, col=col)
        fig.update_yaxes(autorange="reversed", title_text="position" if col == 1 else None, row=1, col=col)
        fig.update_xaxes(title_text="position", row=1, col=col)
    shown = f", means of {step} x {step} blocks" if step > 1 else ""
    fig.update_layout(title=dict(text=esc(title) if title else f"Cosine between {n} positions ({esc(pos.model)}{shown})"),
                      height=height or 460, width=width, template=template, margin=dict(l=10, r=10, t=80, b=10))
    return tidy(fig)


def layer_heatmap(states, measure: str = "cos_first", *, title: str | None = None, height: int | None = None,
                  width: int | None = None, template: str | None = None):
    """One measure as layer (rows, 1 at the top) x piece."""
    import plotly.graph_objects as go

    from ..internals import MEASURES

    z = states.measure(measure)
    fig = go.Figure(go.Heatmap(z=z, x=_labels(states.tokens), y=[f"layer {l + 1}" for l in range(len(z))],
                               colorscale="Viridis", colorbar=dict(title=dict(text=measure)),
                               hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_layout(title=dict(text=esc(title) if title else f"{MEASURES[measure]} ({esc(states.model)})"),
                      height=height or 160 + 36 * len(z), width=width, template=template, margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def layer_figure(states, *, title: str | None = None, height: int | None = None,
                 width: int | None = None, template: str | None = None):
    """Per layer, the mean of each measure over the pieces and the anisotropy, one line each;
    with ``states.layer`` set, that layer's measures per piece as grouped bars."""
    import plotly.graph_objects as go

    from ..internals import MEASURES

    if states.layer is not None:
        l = states.layer - 1
        fig = go.Figure([go.Bar(x=_labels(states.tokens), y=list(states.measure(m)[l]), name=label,
                                hovertemplate=f"%{{x}}: %{{y:.3f}}<extra>{label}</extra>") for m, label in MEASURES.items()])
        fig.update_xaxes(type="category", tickangle=-45)
        fig.update_layout(barmode="group", title=dict(text=esc(title) if title else f"Layer {states.layer} piece by piece ({esc(states.model)})"),
                          height=height or 400, width=width, template=template, legend=dict(orientation="h", y=-0.35),
                          margin=dict(l=10, r=10, t=50, b=10))
        return tidy(fig)
    summary = states.summary()
    fig = go.Figure()
    for name, label in {**MEASURES, "anisotropy": "anisotropy: mean cosine between pieces"}.items():
        fig.add_trace(go.Scatter(x=list(summary.layer), y=list(summary[name]), name=label, mode="lines+markers",
                                 hovertemplate=f"layer %{{x}}: %{{y:.3f}}<extra>{label}</extra>"))
    fig.update_xaxes(title_text="layer", dtick=1)
    fig.update_yaxes(title_text="mean over pieces")
    fig.update_layout(title=dict(text=esc(title) if title else f"Layer by layer ({esc(states.model)}, {len(states.tokens)} pieces)"),
                      height=height or 400, width=width, template=template, legend=dict(orientation="h", y=-0.25),
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def logit_lens_grid(lens, *, title: str | None = None, height: int | None = None,
                    width: int | None = None, template: str | None = None):
    """Layer (rows, the embeddings at the top) x position: the top-1 token, coloured by its probability."""
    import numpy as np
    import plotly.graph_objects as go

    frame = lens.predictions
    T, L = len(lens.tokens), lens.layers + 1
    top = frame[frame["rank"] == 1].sort_values(["layer", "position"])
    z = top.probability.to_numpy().reshape(L, T)
    text = top.token.to_numpy().reshape(L, T)
    hover = np.empty((L, T), dtype=object)
    for (layer, pos), rows in frame.groupby(["layer", "position"]):
        hover[layer, pos] = "<br>".join(f"{esc(t)} {p:.3f}" for t, p in zip(rows.token, rows.probability))
    fig = go.Figure(go.Heatmap(z=z, x=_labels(lens.tokens), y=["embeddings"] + [f"layer {l}" for l in range(1, L)],
                               text=[[esc(t) for t in row] for row in text], texttemplate="%{text}", customdata=hover,
                               colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title=dict(text="P(top-1)")),
                               hovertemplate="%{y}, %{x}<br>%{customdata}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_layout(title=dict(text=esc(title) if title else f"Logit lens: each layer through the masked-LM head ({esc(lens.model)})"),
                      height=height or 160 + 40 * L, width=width, template=template, margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def probe_curve(probe, *, title: str | None = None, height: int | None = None,
                width: int | None = None, template: str | None = None):
    """Probe accuracy per layer (± one std over folds) with the majority-class line."""
    import plotly.graph_objects as go

    s = probe.scores
    fig = go.Figure(go.Scatter(x=list(s.layer), y=list(s.accuracy), error_y=dict(type="data", array=list(s["std"])),
                               mode="lines+markers", name="probe accuracy",
                               hovertemplate="layer %{x}: %{y:.3f}<extra></extra>"))
    fig.add_hline(y=probe.majority, line_dash="dash", line_color="#777", annotation_text="majority class")
    fig.update_xaxes(title_text="layer (0: embeddings)", dtick=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1])
    fig.update_layout(title=dict(text=esc(title) if title else f"Probe by layer: {probe.texts} texts, {probe.pooling} pooling ({esc(probe.model)})"),
                      height=height or 380, width=width, template=template, margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def internals_html(result) -> str:
    """A summary line and the result's table (the layer summary for LayerStates, top-1 grid for the lens)."""
    name = type(result).__name__
    if name == "LayerStates":
        table = result.summary()
    elif name == "LogitLens":
        top = result.predictions[result.predictions["rank"] == 1]
        table = top.pivot(index="layer", columns="position", values="token")
        table.columns = [f"{t} {i}" for i, t in enumerate(result.tokens)]
        return (f'<div class="bert-nb-internals"><div style="font-size:12px;{MUTED}">{esc(result.to_text().splitlines()[0])}'
                f"</div>{table.to_html(escape=True)}</div>")
    else:
        table = result.to_frame()
    return (f'<div class="bert-nb-internals"><div style="font-size:12px;{MUTED}">{esc(result.to_text().splitlines()[0])}'
            f"</div>{table.round(3).to_html(index=False, escape=True)}</div>")


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "EmbeddingParts": ("bert_nb.internals", internals_html, embedding_parts_bar),
    "Positions": ("bert_nb.internals", internals_html, positions_heatmaps),
    "LayerStates": ("bert_nb.internals", internals_html, layer_figure),
    "LogitLens": ("bert_nb.internals", internals_html, logit_lens_grid),
    "Probe": ("bert_nb.internals", internals_html, probe_curve),
}
