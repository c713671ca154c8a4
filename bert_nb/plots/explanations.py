"""Views of explanations: the text coloured by score, top-word bars, a word x method heatmap,
and faithfulness deletion curves."""

from __future__ import annotations

from ..render import INK, MUTED, esc
from ._common import short, tidy

__all__ = ["explanation_bar", "methods_heatmap", "deletion_curves", "explanation_html", "explanations_html",
           "faithfulness_html"]

RAISES, LOWERS = (230, 97, 1), (33, 102, 172)  # diverging: orange raises the quantity, blue lowers it
_LABEL = {"integrated_gradients": "integrated gradients", "gradient_x_input": "gradient × input",
          "occlusion": "occlusion", "attention": "attention", "attention_rollout": "attention rollout",
          "random": "random"}


def _fill(score: float, scale: float) -> str:
    rgb = RAISES if score >= 0 else LOWERS
    alpha = min(1.0, abs(score) / scale) * 0.75 if scale > 0 else 0.0
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.2f})"


def _coloured(text: str, words, scale: float, span=None) -> str:
    """``text`` with each word's span on a fill for its score; the gaps between words as they are. Words
    within ``span`` (start, end: the tagged word, the answer) are underlined."""
    out, at = [], 0
    for w in words.sort_values("start").itertuples():
        out.append(esc(text[at:w.start]))
        mark = ";text-decoration:underline 2px;font-weight:600" if span and span[0] <= w.start < span[1] else ""
        out.append(f'<span title="{esc(w.word)}: {w.score:+.4f}" style="background:{_fill(w.score, scale)};'
                   f'color:{INK};border-radius:3px;padding:1px 2px{mark}">{esc(text[w.start:w.end])}</span>')
        at = w.end
    out.append(esc(text[at:]))
    return "".join(out)


def _legend() -> str:
    swatch = "display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:middle;margin:0 4px"
    return (f'<div style="font-size:11px;{MUTED}"><span style="{swatch};background:{_fill(1, 1)}"></span>raises'
            f'<span style="{swatch};background:{_fill(-1, 1)}"></span>lowers · colour depth: |score| '
            "relative to the largest · hover a word for its score</div>")


def explanation_html(explanation) -> str:
    """The text (and pair) coloured by word score, with what was explained and a legend; all user text escaped."""
    words = explanation.words()
    scale = float(words.score.abs().max()) if len(words) else 0.0
    head = (f"{esc(method_label(explanation))} · {esc(explanation.quantity)} = {explanation.value:.3f} · "
            f"{esc(explanation.model)}")
    if explanation.delta is not None:
        head += f" · scores sum to value − baseline within |delta| {esc(_bound(explanation.delta))}"
    spans = [None, None]  # per segment: the explained word or answer, underlined
    if explanation.span is not None:
        spans[explanation.span[0]] = explanation.span[1:]
    if explanation.pair is None:
        parts = [_coloured(explanation.text, words, scale, spans[0])]
    else:
        parts = [_coloured(explanation.text, words[words.segment == "A"], scale, spans[0]),
                 _coloured(explanation.pair, words[words.segment == "B"], scale, spans[1])]
    body = "".join(f'<div style="line-height:1.9;margin:2px 0">{p}</div>' for p in parts)
    note = f'<div style="font-size:11px;{MUTED}">note: {esc(explanation.note)}</div>' if explanation.note else ""
    return (f'<div class="bert-nb-explain"><div style="font-size:12px;{MUTED}">{head}</div>{body}'
            f"{_legend()}{note}</div>")


def _bound(delta: float) -> str:
    from ..explanations import _bound as bound

    return bound(delta)


def method_label(explanation) -> str:
    from ..explanations import method_label as label

    return label(explanation)


def explanations_html(explanations) -> str:
    """Each method's coloured text, one below the other."""
    return "".join(explanation_html(e) for e in explanations.items)


def explanation_bar(explanation, *, top_k: int = 10, title: str | None = None, height: int | None = None,
                    width: int | None = None, template: str | None = None):
    """The words with the largest |score| as horizontal bars, coloured by sign, largest at the top."""
    import plotly.graph_objects as go

    words = explanation.words()
    words = words.reindex(words.score.abs().sort_values(ascending=False, kind="stable").index).head(top_k).iloc[::-1]
    labels = [f"{esc(w)} ({s})" for w, s in zip(words.word, words.start)]
    fig = go.Figure(go.Bar(
        x=list(words.score), y=labels, orientation="h",
        marker_color=[f"rgb{RAISES}" if s >= 0 else f"rgb{LOWERS}" for s in words.score],
        text=[f"{s:+.3f}" for s in words.score], textposition="auto",
        hovertemplate="%{y}: %{x:+.4f}<extra></extra>",
    ))
    fig.update_xaxes(title_text=f"score ({'sums to value − baseline' if explanation.delta is not None else 'signed'})")
    fig.update_yaxes(type="category")
    default = f"{_LABEL[explanation.method]}: {esc(explanation.quantity)} = {explanation.value:.3f}"
    fig.update_layout(title=dict(text=esc(title) if title else default), height=height or 120 + 28 * len(words),
                      width=width, template=template, margin=dict(l=10, r=10, t=50, b=40), showlegend=False)
    return tidy(fig)


def methods_heatmap(explanations, *, title: str | None = None, height: int | None = None,
                    width: int | None = None, template: str | None = None):
    """Word x method, each method's scores divided by its largest |score| so methods compare."""
    import numpy as np
    import plotly.graph_objects as go

    frame = explanations.to_frame()
    methods = list(explanations.methods)
    z = frame[methods].to_numpy(dtype=float)
    scale = np.abs(z).max(axis=0)
    z = np.divide(z, scale, out=np.zeros_like(z), where=scale > 0)
    labels = [f"{esc(short(w, 20))} ({s})" for w, s in zip(frame.word, frame.start)]
    fig = go.Figure(go.Heatmap(
        z=z.T, x=labels, y=[_LABEL[m] for m in methods], zmin=-1, zmax=1, zmid=0,
        colorscale=[[0, f"rgb{LOWERS}"], [0.5, "rgb(247,247,247)"], [1, f"rgb{RAISES}"]],
        colorbar=dict(title=dict(text="score / max")), hovertemplate="%{y} · %{x}: %{z:+.2f}<extra></extra>",
    ))
    fig.update_xaxes(tickangle=-45, type="category")
    fig.update_layout(title=dict(text=esc(title) if title else f"Methods compared: {esc(explanations.items[0].quantity)}"),
                      height=height or 160 + 40 * len(methods), width=width, template=template,
                      margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def deletion_curves(faith, *, title: str | None = None, height: int | None = None,
                    width: int | None = None, template: str | None = None):
    """Comprehensiveness (left) and sufficiency (right) against the share of words, one line per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    curves = faith.curves
    fig = make_subplots(rows=1, cols=2, subplot_titles=("comprehensiveness: drop when the top words are deleted (higher is better)",
                                                        "sufficiency: drop when only they are kept (lower is better)"))
    for i, method in enumerate(dict.fromkeys(curves.method)):
        rows = curves[curves.method == method]
        style = dict(color="#777", dash="dash") if method == "random" else {}
        for col, measure in ((1, "comprehensiveness"), (2, "sufficiency")):
            fig.add_trace(go.Scatter(x=list(rows.fraction), y=list(rows[measure]), name=_LABEL.get(method, method),
                                     legendgroup=method, showlegend=col == 1, mode="lines+markers", line=style,
                                     hovertemplate=f"{_LABEL.get(method, method)}: %{{y:.3f}} at %{{x:.0%}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(title_text="share of words", tickformat=".0%")
    fig.update_yaxes(title_text="drop in probability", row=1, col=1)
    fig.update_layout(title=dict(text=esc(title) if title else f"Faithfulness on {faith.texts} texts ({esc(faith.model)})"),
                      height=height or 420, width=width, template=template, legend=dict(orientation="h", y=-0.25),
                      margin=dict(l=10, r=10, t=70, b=10))
    return tidy(fig)


def faithfulness_html(faith) -> str:
    """The AOPC summary table and what it means."""
    table = faith.to_frame().round(3).to_html(index=False, escape=True)
    return (f'<div class="bert-nb-faithfulness"><div style="font-size:12px;{MUTED}">{esc(faith.to_text().splitlines()[0])}'
            f"</div>{table}</div>")


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "Explanation": ("bert_nb.explanations", explanation_html, explanation_bar),
    "Explanations": ("bert_nb.explanations", explanations_html, methods_heatmap),
    "Faithfulness": ("bert_nb.explanations", faithfulness_html, deletion_curves),
}
