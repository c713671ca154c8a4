"""Views of a tagger and its entities: the text with coloured, labelled spans; per-type F1; the type confusion."""

from __future__ import annotations

from ..render import INK, MUTED, esc
from ._common import tidy
from .training import finetune_figure, metrics_html

__all__ = ["entities_html", "entity_f1_bar", "type_confusion_heatmap", "ENTITY_COLORS"]

# the CoNLL types first; other types take the remaining colours in order of first appearance
ENTITY_COLORS = {"PER": "#fde2e4", "ORG": "#dbeafe", "LOC": "#dcfce7", "MISC": "#fef3c7"}
_MORE = ("#ede9fe", "#e0f2fe", "#fae8ff", "#ffedd5", "#ecfccb", "#f1f5f9")


def _color(kind: str, seen: list[str]) -> str:
    if kind in ENTITY_COLORS:
        return ENTITY_COLORS[kind]
    others = [k for k in seen if k not in ENTITY_COLORS]
    return _MORE[others.index(kind) % len(_MORE)] if kind in others else _MORE[0]


def _one(entities) -> str:
    """One text with its entities marked; every piece of user text escaped."""
    kinds = list(dict.fromkeys(k for _, k, _, _, _ in entities.spans))
    parts, at = [], 0
    for entity, kind, start, end, score in entities.spans:
        parts.append(esc(entities.text[at:start]))
        parts.append(f'<mark style="background:{_color(kind, kinds)};color:{INK};padding:1px 4px;border-radius:4px" '
                     f'title="{esc(kind)} {score:.2f}">{esc(entity)}<sup style="font-size:9px;font-weight:700;'
                     f'margin-left:3px">{esc(kind)}</sup></mark>')
        at = end
    parts.append(esc(entities.text[at:]))
    return f'<div style="line-height:2;margin:2px 0">{"".join(parts)}</div>'


def entities_html(entities) -> str:
    """The text with each entity shaded by type and labelled; hover for the score (escaped HTML)."""
    count = len(entities.spans)
    head = (f'<div style="font-size:12px;{MUTED}">{esc(entities.model)} · {count} '
            f'{"entity" if count == 1 else "entities"}</div>')
    # a long text: how it was read (windows, or what truncation cut)
    note = f'<div style="font-size:11px;{MUTED}">note: {esc(entities.note)}</div>' if entities.note else ""
    return f'<div class="bert-nb-tagging">{head}{_one(entities)}{note}</div>'


def entity_f1_bar(tagger, *, title: str | None = None, height: int | None = None, width: int | None = None,
                  template: str | None = None):
    """The last evaluation's entity F1 per type (seqeval), one bar each, overall F1 as a line."""
    import plotly.graph_objects as go

    last = tagger.metrics.iloc[-1] if len(tagger.metrics) else {}
    kinds = [c[3:] for c in tagger.metrics.columns if c.startswith("f1_")]
    scores = [float(last[f"f1_{k}"]) for k in kinds]
    fig = go.Figure(go.Bar(x=[esc(k) for k in kinds], y=scores, text=[f"{s:.2f}" for s in scores],
                           marker_color=[ENTITY_COLORS.get(k, _MORE[0]) for k in kinds], marker_line_color=INK,
                           marker_line_width=1, name="F1"))
    if len(tagger.metrics):
        fig.add_hline(y=float(last["f1"]), line_dash="dot", annotation_text=f"all types {float(last['f1']):.2f}")
    fig.update_layout(title=dict(text=esc(title) if title else f"Entity F1 by type ({esc(tagger.name)})"),
                      height=height or 320, width=width, template=template, margin=dict(l=10, r=10, t=50, b=10),
                      yaxis=dict(title="F1", range=[0, 1.05]), xaxis=dict(title="entity type"))
    return tidy(fig)


def type_confusion_heatmap(tagger, *, title: str | None = None, height: int | None = None,
                           width: int | None = None, template: str | None = None):
    """Words by true and predicted entity type (B- and I- together), from the last evaluation."""
    from .training import confusion_matrix

    matrix, types = tagger.type_confusion()
    if matrix is None:
        from ..errors import BertNbError

        raise BertNbError("This tagger has no evaluation yet (no held-out data): nothing to show.")
    return confusion_matrix(matrix, types, title=title or "Words by entity type: true vs predicted", height=height,
                            width=width, template=template)


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "Entities": ("bert_nb.tasks.tagging", entities_html, None),
    "Tagger": ("bert_nb.tasks.tagging", metrics_html, finetune_figure),
}
