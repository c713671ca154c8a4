"""Pre-training's views: the loss and held-out accuracy curve, and the probe sentences as the model filled them."""

from __future__ import annotations

from ..render import MUTED, esc
from .training import loss_curve


def probes_html(evaluations) -> str:
    """Each probe sentence as the model filled it at the first evaluation and at the latest (escaped HTML)."""
    rows = [r for r in evaluations if r.get("probes")]
    if not rows:
        return ""
    first, last = rows[0], rows[-1]
    body = "".join(f"<tr><td style='padding:1px 8px;opacity:.7'>{esc(a)}</td><td style='padding:1px 8px'>{esc(b)}</td></tr>"
                   for a, b in zip(first["probes"], last["probes"]))
    return (f"<div class='bert-nb-probes'><div style='font-size:12px;{MUTED}'>probe sentences, [guess] at each "
            f"[MASK]: step {first['step']} → step {last['step']} (held-out top-5 {last['top5']:.3f}, always the "
            f"most frequent pieces {last.get('unigram_top5', float('nan')):.3f})</div>"
            f"<table>{body}</table></div>")


def pretrained_html(pretrained) -> str:
    """What was trained, how well it fills held-out blanks, and the probes."""
    summary = "<br>".join(esc(line) for line in pretrained.to_text().splitlines())
    return f"<div class='bert-nb-pretrained'><div style='font-size:12px'>{summary}</div>" \
           f"{probes_html(pretrained.state.epochs)}</div>"


def pretraining_curve(pretrained, **kwargs):
    """Loss per log and held-out masked top-1/top-5 accuracy per evaluation (right axis)."""
    return loss_curve(pretrained.state.history, pretrained.state.epochs,
                      **{"title": "Pre-training", **kwargs})


__all__ = ["probes_html", "pretrained_html", "pretraining_curve"]

VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "Pretrained": ("bert_nb.pretraining", pretrained_html, pretraining_curve),
}
