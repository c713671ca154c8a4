"""ipywidgets panels, one module per task: controls in, one API call, one figure builder, the figure updated in place.

Each panel keeps its last result in ``.result`` and shows mistakes in its
status line (escaped, one sentence) without losing what was shown before.
A task's module lists its panels in ``PANELS``; the dashboard finds them there,
so a new panel adds a module and grows nothing shared.
"""

from .attentions import AttentionPanel
from .compress import ComparePanel
from .dashboard import Dashboard, dashboard, panel, panel_classes
from .embeddings import SimilarityPanel
from .explanations import ExplainPanel
from .indexes import SearchPanel
from .internals import LayerPanel
from .mask import MaskPanel
from .pretraining import LivePretraining
from .tasks import TaskPanel
from .tokens import TokenizePanel
from .training import FinetunePanel, LiveTraining

__all__ = ["TokenizePanel", "MaskPanel", "SimilarityPanel", "AttentionPanel", "ExplainPanel", "LayerPanel", "FinetunePanel", "TaskPanel",
           "ComparePanel", "SearchPanel",
           "LiveTraining", "LivePretraining",
           "Dashboard", "dashboard", "PANELS", "panel", "panel_classes"]


def __getattr__(name):
    if name == "PANELS":  # every panel class by name, in tab order
        return panel_classes()
    raise AttributeError(f"module 'bert_nb.panels' has no attribute {name!r}")
