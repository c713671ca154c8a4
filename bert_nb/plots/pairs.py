"""Views of a cross-encoder: its status and metrics (correlations for a score, accuracy for labels), its loss curve."""

from __future__ import annotations

from .training import finetune_figure, metrics_html

__all__: list[str] = []

VIEWS = {  # result type -> (its module, HTML view, figure builder)
    "PairModel": ("bert_nb.tasks.pairs", metrics_html, finetune_figure),
}
