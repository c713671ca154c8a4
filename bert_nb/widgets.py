"""The panels under their earlier name: ``bert_nb.widgets`` is ``bert_nb.panels``."""

from .panels import *  # noqa: F401,F403
from .panels import __all__, __getattr__  # noqa: F401
