"""Pure Plotly figure builders: a result object in, a ``go.Figure`` out, one module per task.

Builders are named after what they draw, take the data first and keyword-only
presentation arguments (``title``, ``height``, ``width``, ``template``), and
never show anything. User text is HTML-escaped before it reaches Plotly,
whose labels understand a few tags. Each task module lists its builders in
``__all__`` and declares ``VIEWS``: the HTML view and figure that a displayed
result of that task shows. A new task adds a module here; nothing else grows.

``bert_nb.plots.mask_bar`` and the like resolve to the task modules' builders.
Importing this package does not import plotly; the builders do, when called.
"""

from importlib import import_module as _import_module
from pkgutil import iter_modules as _iter_modules


def _modules():
    return [_import_module(f".{m.name}", __name__) for m in _iter_modules(__path__) if not m.name.startswith("_")]


def views() -> dict:
    """Every task's display table in one: result type name -> (module, HTML view, figure builder)."""
    table = {}
    for module in _modules():
        table.update(getattr(module, "VIEWS", {}))
    return table


def __getattr__(name):
    for module in _modules():
        if name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'bert_nb.plots' has no builder {name!r}")


def __dir__():
    return sorted({*globals(), *(n for m in _modules() for n in getattr(m, "__all__", ()))})
