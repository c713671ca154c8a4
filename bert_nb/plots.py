"""Pure Plotly figure builders: a result object in, a ``go.Figure`` out.

Builders are named after what they draw, take the data first and keyword-only
presentation arguments (``title``, ``height``, ``width``, ``template``), and
never show anything. User text is HTML-escaped before it reaches Plotly,
whose labels understand a few tags.
"""

from __future__ import annotations

from .render import SEGMENT_COLORS, SPECIAL_COLOR, esc

__all__ = ["token_table", "mask_bar", "nsp_bar", "similarity_heatmap", "projection_scatter", "search_table",
           "attention_heatmap", "attention_grid", "token_focus", "attention_figure", "loss_curve",
           "confusion_matrix", "finetune_figure", "describe"]


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
    return _tidy(fig)


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
            text=[f"{c.score:.3g}" for c in cands], textposition="auto",
        ), row=m, col=1)
        fig.update_yaxes(type="category", row=m, col=1)
    shown = "" if len(predictions.masks) <= _MAX_MASK_PANELS else f" (first {_MAX_MASK_PANELS} of {len(predictions.masks)} masks)"
    fig.update_xaxes(title_text="probability", row=len(masks), col=1)
    fig.update_layout(
        title=dict(text=esc(title) if title else f"Fillers for {esc(_short(predictions.text))}{shown}"),
        showlegend=False, height=height or 140 + 190 * len(masks), width=width, template=template,
        margin=dict(l=10, r=10, t=70, b=40),
    )
    return _tidy(fig)


def nsp_bar(results, *, title: str | None = None, height: int | None = None,
            width: int | None = None, template: str | None = None):
    """P(B follows A) for each pair, with the 0.5 decision line."""
    import plotly.graph_objects as go

    items = list(getattr(results, "items", None) or [results])
    labels = [f"{i}: {esc(_short(r.b, 40))}" for i, r in enumerate(items)]
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
    return _tidy(fig)


def _tidy(fig):
    """Let every axis grow its margin to fit its labels (the layouts use small fixed margins)."""
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def similarity_heatmap(sim, *, title: str | None = None, height: int | None = None,
                       width: int | None = None, template: str | None = None):
    """Cosine similarity as a heatmap: short labels on the axes, full texts and values on hover."""
    import plotly.graph_objects as go

    rows = [esc(_short(r, 32)) for r in sim.rows]
    cols = [esc(_short(c, 32)) for c in sim.columns]
    rows, cols = _unique(rows), _unique(cols)
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
    return _tidy(fig)


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
    return _tidy(fig)


def search_table(hits, *, title: str | None = None, height: int | None = None,
                 width: int | None = None, template: str | None = None):
    """Search hits (the DataFrame from ``search``) as a table: query, rank, score, text."""
    import plotly.graph_objects as go

    cells = [[esc(_short(q, 60)) for q in hits["query"]], list(hits["rank"]),
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
    return _tidy(fig)


def _unique(labels: list[str]) -> list[str]:
    """Make axis labels distinct (Plotly merges equal category labels)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label if n == 0 else f"{label} ({n + 1})")
    return out


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

    from .attentions import select

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
    return _tidy(fig)


def attention_grid(att, *, hide_special: bool = False, max_tokens: int = _GRID_MAX, title: str | None = None,
                   height: int | None = None, width: int | None = None, template: str | None = None):
    """Every layer x head as a thumbnail heatmap (the "model view"); long inputs are block-averaged."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .attentions import select

    L, H = att.layers, att.heads
    fig = make_subplots(rows=L, cols=H, horizontal_spacing=0.004, vertical_spacing=0.01,
                        row_titles=[f"L{l}" for l in range(L)], column_titles=[f"H{h}" for h in range(H)])
    note = ""
    for l in range(L):
        for h in range(H):
            s = select(att, layer=l, head=h, hide_special=hide_special)
            z, rows, cols, note = _blocks(s.matrix, s.rows, s.columns, max_tokens)
            fig.add_trace(go.Heatmap(z=np.round(z, 3), x=[esc(c) for c in cols], y=[esc(r) for r in rows],
                                     colorscale="Blues", zmin=0, zmax=1, showscale=False,
                                     hovertemplate=f"layer {l} head {h}<br>%{{y}} → %{{x}}<br>%{{z:.3f}}<extra></extra>"),
                          row=l + 1, col=h + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_layout(title=dict(text=esc(title) if title else f"All {L} layers x {H} heads{note}"),
                      height=height or 90 + 80 * L, width=width, template=template,
                      margin=dict(l=10, r=30, t=70, b=10))
    return _tidy(fig)


def token_focus(focused, *, title: str | None = None, height: int | None = None,
                width: int | None = None, template: str | None = None):
    """One token's attention to every token: a row per layer and head, a column per token."""
    import numpy as np
    import plotly.graph_objects as go

    L, H, T = focused.weights.shape
    labels = [esc(f"{t} {i}") for i, t in enumerate(focused.tokens)]
    fig = go.Figure(go.Heatmap(
        z=np.round(focused.weights.reshape(L * H, T), 4), x=labels,
        y=[f"L{l} H{h}" for l in range(L) for h in range(H)], colorscale="Blues", zmin=0,
        hovertemplate="%{y}: " + esc(focused.token) + " → %{x}<br>%{z:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-60)
    fig.update_layout(title=dict(text=esc(title) if title else f"Where '{esc(focused.token)}' (position {focused.position}) looks"),
                      height=height or min(200 + 12 * L * H, 1000), width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=10))
    return _tidy(fig)


def attention_figure(att, **kwargs):
    """The figure for an Attention's current view: focus, grid or one heatmap."""
    from .attentions import focus

    v = att.view
    if v.focus is not None:
        return token_focus(focus(att, v.focus), **kwargs)
    if v.grid:
        return attention_grid(att, hide_special=v.hide_special, **kwargs)
    return attention_heatmap(att, v.layer, v.head, hide_special=v.hide_special, direction=v.direction, **kwargs)


def loss_curve(history, epochs=None, *, title: str | None = None, height: int | None = None,
               width: int | None = None, template: str | None = None):
    """Training loss per logging step, and evaluation loss and accuracy/F1 per epoch (right axis)."""
    import plotly.graph_objects as go

    rows = list(history.to_dict("records") if hasattr(history, "to_dict") else history)
    epochs = list(epochs.to_dict("records") if hasattr(epochs, "to_dict") else (epochs or []))
    train = [r for r in rows if "loss" in r and r.get("loss") == r.get("loss")]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[r["step"] for r in train], y=[r["loss"] for r in train], name="train loss",
                             mode="lines", line=dict(color="#1f77b4")))
    fig.add_trace(go.Scatter(x=[e["step"] for e in epochs], y=[e.get("loss") for e in epochs], name="eval loss",
                             mode="lines+markers", line=dict(color="#d62728")))
    for key, color in (("accuracy", "#2ca02c"), ("f1", "#9467bd")):
        fig.add_trace(go.Scatter(x=[e["step"] for e in epochs], y=[e.get(key) for e in epochs], name=f"eval {key}",
                                 mode="lines+markers", yaxis="y2", line=dict(color=color, dash="dot")))
    fig.update_layout(
        title=dict(text=esc(title) if title else "Training"), xaxis_title="step", yaxis_title="loss",
        # fixed 0.2 steps: an overlaying axis otherwise copies the loss axis's tick positions (0.192, 0.405, ...)
        yaxis2=dict(title="accuracy / F1", overlaying="y", side="right", range=[0, 1], tickmode="linear",
                    tick0=0, dtick=0.2, showgrid=False),
        legend=dict(orientation="h", y=-0.2), height=height or 380, width=width, template=template,
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return _tidy(fig)


def confusion_matrix(matrix, labels, *, title: str | None = None, height: int | None = None,
                     width: int | None = None, template: str | None = None):
    """Counts of true (rows) against predicted (columns) labels, with the counts written in the cells."""
    import plotly.graph_objects as go

    names = [esc(str(n)) for n in labels]
    fig = go.Figure(go.Heatmap(z=matrix, x=names, y=names, colorscale="Blues", text=matrix, texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>", showscale=False))
    fig.update_yaxes(autorange="reversed", title_text="true")
    fig.update_xaxes(title_text="predicted")
    fig.update_layout(title=dict(text=esc(title) if title else "Confusion matrix"),
                      height=height or 160 + 50 * len(names), width=width or 200 + 60 * len(names),
                      template=template, margin=dict(l=10, r=10, t=50, b=10))
    return _tidy(fig)


def finetune_figure(finetuned, **kwargs):
    """The loss curve of a fine-tuned engine (its display figure)."""
    return loss_curve(finetuned.state.history, finetuned.state.epochs, **kwargs)


_DESCRIBE_LABELS = 8


def describe(fig) -> str:
    """A short text account of a figure: its title, axes, and per trace the kind, name, size and labels.

    It names what is drawn, never raw float values, so it reads the same on any CPU: the
    notebooks print it under a figure for nbval to compare (a figure's JSON holds float bits
    that differ from machine to machine). Numbers appear only as the figure's own formatted
    text labels, as a reader sees them.
    """
    layout = fig.layout
    lines = [f"figure: {_plain(layout.title.text) or '(untitled)'}"]
    traces = [_describe_trace(trace) for trace in fig.data]
    for line in dict.fromkeys(traces):  # a grid of alike panels reads as one line with a count
        n = traces.count(line)
        lines.append(line if n == 1 else f"{n} x {line}")
    axes = [(name, getattr(layout, name).title.text) for name in sorted(layout.to_plotly_json())
            if name.startswith(("xaxis", "yaxis"))]
    titled = [f"{name} '{_plain(text)}'" for name, text in axes if text]
    if titled:
        lines.append("axes: " + ", ".join(titled))
    notes = [_plain(a.text) for a in layout.annotations if a.text]
    if notes:
        lines.append(f"{len(notes)} annotations: " + _listing(notes))
    if layout.shapes:
        lines.append(f"{len(layout.shapes)} shapes")
    return "\n".join(lines)


def _describe_trace(trace) -> str:
    import numpy as np

    kind = trace.type + (f" ({trace.orientation})" if getattr(trace, "orientation", None) else "")
    name = f" '{_plain(trace.name)}'" if getattr(trace, "name", None) else ""
    if trace.type == "table":
        header = [_plain(str(h)) for h in trace.header.values]
        rows = len(trace.cells.values[0]) if trace.cells.values else 0
        return f"table{name}: {len(header)} columns x {rows} rows; header: {', '.join(header)}"
    parts = []
    if getattr(trace, "z", None) is not None:
        parts.append(" x ".join(str(n) for n in np.shape(trace.z)))
    elif getattr(trace, "x", None) is not None:
        parts.append(f"{len(trace.x)} {'bars' if trace.type == 'bar' else 'points'}")
    if getattr(trace, "mode", None):
        parts.append(f"mode {trace.mode}")
    for axis in ("x", "y"):
        values = getattr(trace, axis, None)
        if values is not None and len(values) and isinstance(values[0], str):
            parts.append(f"{axis}: {_listing([_plain(v) for v in values])}")
    text = getattr(trace, "text", None)
    if text is not None and not isinstance(text, str) and len(text) and isinstance(np.ravel(text)[0], str):
        parts.append(f"text: {_listing([_plain(t) for t in np.ravel(text)])}")
    return f"{kind}{name}: " + "; ".join(parts)


def _listing(values: list[str]) -> str:
    shown = ", ".join(values[:_DESCRIBE_LABELS])
    return shown if len(values) <= _DESCRIBE_LABELS else f"{shown}, ... ({len(values)} in all)"


def _plain(text) -> str:
    """Label text without Plotly's markup tags or HTML escapes."""
    import html
    import re

    text = html.unescape(re.sub(r"<[^>]+>", " ", str(text or ""))).replace("\u2003", "")
    return re.sub(r"\s+", " ", text).strip()
