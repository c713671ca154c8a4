"""The dashboard: every panel in tabs over one engine; panels are found in their task modules."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ..render import esc
from ._base import _summary_html


def panel_classes() -> dict:
    """Every panel class by name, in tab order: each ``panels/<task>.py`` lists its own in ``PANELS``."""
    from importlib import import_module
    from pkgutil import iter_modules

    from .. import panels

    found = []
    for module in iter_modules(panels.__path__):
        if not module.name.startswith("_") and module.name != "dashboard":
            found += getattr(import_module(f"{panels.__name__}.{module.name}"), "PANELS", ())
    return {cls.name: cls for cls in sorted(found, key=lambda cls: cls.tab_order)}


class Dashboard(widgets.VBox):
    """Every panel in tabs, sharing one engine, under a status line (model, device, dtype, heads)."""

    def __init__(self, engine=None):
        super().__init__()
        if engine is None:
            from ..engine import load

            engine = load()
        self.engine = engine
        info = engine.info()
        heads = ", ".join(info.heads) or "encoder only"
        self.status = widgets.HTML(f"<b>{esc(info.name)}</b> · {esc(info.architecture)} · {esc(info.device)} · "
                                   f"{esc(info.dtype)} · heads: {esc(heads)}")
        built = {name: cls.for_engine(engine) for name, cls in panel_classes().items()}
        self.panels = {name: p for name, p in built.items() if p is not None}  # a panel may not fit this engine
        self.tabs = widgets.Tab(children=list(self.panels.values()))
        for i, name in enumerate(self.panels):
            self.tabs.set_title(i, name)
        self.children = [self.status, self.tabs]

    def __repr__(self) -> str:
        return f"Dashboard(model={self.engine.name}, panels={', '.join(self.panels)})"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = _summary_html(f"bert_nb dashboard on {self.engine.name}: {', '.join(self.panels)}")
        bundle["text/plain"] = repr(self)
        figures = [(name, p.shown_figure()) for name, p in self.panels.items()]
        figures = [(name, f) for name, f in figures if f is not None and len(f.data)]
        if not figures:
            return bundle
        import json

        from ..figures import FIGURE_KEY

        # every tab's figure, for bert_nb's HTML export (Lab and nbval ignore output metadata)
        return bundle, {FIGURE_KEY: [{"title": name, "figure": json.loads(f.to_json())} for name, f in figures]}


def dashboard(engine=None) -> Dashboard:
    """All panels in tabs sharing ``engine`` (default: the packaged model)."""
    return Dashboard(engine)


def panel(name: str, engine=None):
    """Build the panel called ``name`` (one of :func:`panel_classes`, or ``all`` for the dashboard)."""
    if name == "all":
        return Dashboard(engine)
    classes = panel_classes()
    if name not in classes:
        raise BertNbError(f"Unknown panel '{name}'; choose one of {', '.join(classes)}, or all.")
    if engine is None:
        return classes[name]()
    built = classes[name].for_engine(engine)
    if built is None:
        raise BertNbError(f"The {name} panel does not work with '{engine.name}'; {classes[name].needs}.")
    return built
