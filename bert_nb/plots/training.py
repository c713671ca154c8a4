"""Figures of fine-tuning: the loss curve and the confusion matrix."""

from __future__ import annotations

from ..render import esc, finetune_html
from ._common import tidy

__all__ = ["loss_curve", "confusion_matrix", "finetune_figure", "metrics_html"]


_SCORE_NAMES = {"accuracy": "accuracy", "f1": "F1", "exact": "exact match", "pearson": "Pearson",
                "spearman": "Spearman", "top1": "masked top-1", "top5": "masked top-5"}


def score_keys(epochs) -> tuple[str, str]:
    """The two per-epoch scores a training curve shows on its right axis: accuracy and F1 (classifiers,
    taggers), exact match and F1 (readers), Pearson and Spearman (a cross-encoder's score), masked-piece
    top-1 and top-5 accuracy (pre-training)."""
    rows = list(epochs.to_dict("records") if hasattr(epochs, "to_dict") else (epochs or []))
    if any("top5" in r for r in rows):  # pre-training: held-out masked-piece accuracy
        return "top1", "top5"
    if any("pearson" in r for r in rows):
        return "pearson", "spearman"
    if any("exact" in r for r in rows):
        return "exact", "f1"
    return "accuracy", "f1"


def loss_curve(history, epochs=None, *, title: str | None = None, height: int | None = None,
               width: int | None = None, template: str | None = None):
    """Training loss per logging step, and evaluation loss and two scores per epoch (right axis, :func:`score_keys`)."""
    import plotly.graph_objects as go

    rows = list(history.to_dict("records") if hasattr(history, "to_dict") else history)
    epochs = list(epochs.to_dict("records") if hasattr(epochs, "to_dict") else (epochs or []))
    train = [r for r in rows if "loss" in r and r.get("loss") == r.get("loss")]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[r["step"] for r in train], y=[r["loss"] for r in train], name="train loss",
                             mode="lines", line=dict(color="#1f77b4")))
    fig.add_trace(go.Scatter(x=[e["step"] for e in epochs], y=[e.get("loss") for e in epochs], name="eval loss",
                             mode="lines+markers", line=dict(color="#d62728")))
    keys = score_keys(epochs)
    for key, color in zip(keys, ("#2ca02c", "#9467bd")):
        fig.add_trace(go.Scatter(x=[e["step"] for e in epochs], y=[e.get(key) for e in epochs], name=f"eval {key}",
                                 mode="lines+markers", yaxis="y2", line=dict(color=color, dash="dot")))
    fig.update_layout(
        title=dict(text=esc(title) if title else "Training"), xaxis_title="step", yaxis_title="loss",
        # fixed 0.2 steps: an overlaying axis otherwise copies the loss axis's tick positions (0.192, 0.405, ...)
        yaxis2=dict(title=" / ".join(_SCORE_NAMES[k] for k in keys), overlaying="y", side="right", range=[0, 1], tickmode="linear",
                    tick0=0, dtick=0.2, showgrid=False),
        legend=dict(orientation="h", y=-0.2), height=height or 380, width=width, template=template,
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return tidy(fig)


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
    return tidy(fig)


def metrics_html(model) -> str:
    """A fine-tuned model's status line and the per-epoch metrics its kind shows, as escaped HTML."""
    from ..render import MUTED, esc

    info, metrics = model.info(), model.metrics
    table = (metrics[model.metric_columns()].round(3).to_html(index=False, escape=True) if len(metrics)
             else "<p>no evaluation ran</p>")
    return (f'<div class="bert-nb-finetune"><div style="font-size:12px;{MUTED}">{esc(info.summary())} · '
            f"{esc(info.note or '')}</div>{table}</div>")


def finetune_figure(finetuned, **kwargs):
    """The loss curve of a fine-tuned engine (its display figure)."""
    return loss_curve(finetuned.state.history, finetuned.state.epochs, **kwargs)


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "FineTuned": ("bert_nb.training", finetune_html, finetune_figure),
}
