"""Views of a cross-encoder: its metrics (correlations for a score, accuracy for labels) and its loss curve."""

from __future__ import annotations

from .training import finetune_figure, metrics_html

__all__ = ["pairs_html"]


def pairs_html(model) -> str:
    """Status and per-epoch metrics: Pearson, Spearman and MSE for a score; accuracy and F1 for labels."""
    return metrics_html(model, ("epoch", "loss", "pearson", "spearman", "mse", "accuracy", "precision", "recall", "f1"))


VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "PairModel": ("bert_nb.tasks.pairs", pairs_html, finetune_figure),
}
