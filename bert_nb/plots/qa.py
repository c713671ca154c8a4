"""Views of a reader's answers: the context with the answers marked; where it thinks the answer starts and ends."""

from __future__ import annotations

from ..render import INK, MUTED, esc
from ._common import tidy, unique
from .training import finetune_figure, metrics_html

__all__ = ["answers_html", "start_end_bars"]

_BEST, _OTHER = "#fde68a", "#e0f2fe"


def answers_html(answers) -> str:
    """The question, the context with the best answer marked (others underlined), and the answers' scores.

    Every piece of user text is escaped.
    """
    marks = sorted(((s, e, rank) for rank, (_, s, e, _) in enumerate(answers.spans)), key=lambda m: (m[0], -m[1]))
    parts, at = [], 0
    for start, end, rank in marks:
        if start < at:  # overlaps an answer already marked (e.g. 'Paris' inside 'Siemens in Paris')
            continue
        parts.append(esc(answers.context[at:start]))
        style = (f"background:{_BEST};font-weight:600" if rank == 0 else
                 f"background:{_OTHER};text-decoration:underline dotted")
        parts.append(f'<mark style="{style};color:{INK};padding:1px 3px;border-radius:3px" '
                     f'title="answer {rank + 1}, score {answers.spans[rank][3]:.2f}">'
                     f'{esc(answers.context[start:end])}</mark>')
        at = end
    parts.append(esc(answers.context[at:]))
    listed = " · ".join(f"{rank + 1}. <b>{esc(text)}</b> {score:.2f}"
                        for rank, (text, _, _, score) in enumerate(answers.spans)) or "no answer found"
    windows = f" · the context took {answers.windows} windows" if answers.windows > 1 else ""
    return (f'<div class="bert-nb-qa"><div style="font-size:12px;{MUTED}">{esc(answers.model)}{windows}</div>'
            f'<div style="font-weight:600;margin:2px 0">Q: {esc(answers.question)}</div>'
            f'<div style="line-height:1.9">{"".join(parts)}</div>'
            f'<div style="font-size:12px;margin-top:4px">{listed}</div></div>')


def start_end_bars(answers, *, title: str | None = None, height: int | None = None, width: int | None = None,
                   template: str | None = None):
    """The probability that the answer starts (up) and ends (down) at each piece of the context.

    From the window that gave the best answer; pieces of other windows show 0.
    """
    import plotly.graph_objects as go

    labels = unique([esc(p[0]) for p in answers.pieces])
    start = [p[3] for p in answers.pieces]
    end = [-p[4] for p in answers.pieces]
    fig = go.Figure([
        go.Bar(x=labels, y=start, name="start", marker_color="#2563eb",
               hovertemplate="%{x}: starts here %{y:.2f}<extra></extra>"),
        go.Bar(x=labels, y=end, name="end", marker_color="#ea580c",
               customdata=[-v for v in end], hovertemplate="%{x}: ends here %{customdata:.2f}<extra></extra>"),
    ])
    head = esc(title) if title else f"Where the answer starts and ends: {esc(answers.question)}"
    fig.update_layout(title=dict(text=head), barmode="relative", height=height or 340, width=width,
                      template=template, margin=dict(l=10, r=10, t=50, b=10), bargap=0.1,
                      yaxis=dict(title="P(start) up, P(end) down", range=[-1.05, 1.05]),
                      xaxis=dict(title="context pieces", tickangle=-60), legend=dict(orientation="h", y=1.08))
    return tidy(fig)


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "Answers": ("bert_nb.tasks.qa", answers_html, start_end_bars),
    "QAModel": ("bert_nb.tasks.qa", metrics_html, finetune_figure),
}
