"""What every panel shares: an engine, a status line, ``result``, a stable repr and a static stand-in."""

from __future__ import annotations

import os

import ipywidgets as widgets

from ..errors import BertNbError
from ..render import MUTED, esc


def _refresh(figure_widget, fig) -> None:
    """Replace a FigureWidget's traces and layout with ``fig``'s, in one update."""
    with figure_widget.batch_update():
        figure_widget.data = ()
        figure_widget.add_traces(list(fig.data))
        figure_widget.layout = fig.layout


def _summary_html(summary: str) -> str:
    """The static stand-in for a live widget in saved notebooks and viewers without widget state."""
    return f"<div style='font-size:12px;opacity:.75'>{esc(summary)} (live in a running kernel)</div>"


class _Panel(widgets.VBox):
    """Shared parts: an engine, a status line, ``result`` and a stable repr."""

    default_model = "default"
    name = ""  # the dashboard tab and `%bert panel NAME`; set by each panel
    tab_order = 100
    needs = "load a model for it: a tokenizer alone (such as 'chinese') runs none"  # when for_engine refuses
    runs_model = True  # False where a tokenizer alone will do

    @classmethod
    def for_engine(cls, engine):
        """This panel over the dashboard's engine, or None where the engine cannot serve it (a tokenizer alone
        has no model to run: its tab showed only that error)."""
        from ..engine import TokenizerEngine

        return None if cls.runs_model and isinstance(engine, TokenizerEngine) else cls(engine)

    def __init__(self, engine=None, **kwargs):
        super().__init__(**kwargs)
        if engine is None or isinstance(engine, (str, os.PathLike)):  # a model's name or folder, as bert_nb.load
            from ..engine import load

            engine = load(self.default_model if engine is None else engine)
        elif not hasattr(engine, "tokenizer"):
            raise BertNbError(f"{type(self).__name__} shows a model: give an engine from bert_nb.load(...), or a "
                              f"model name or folder such as 'default'; got {type(engine).__name__}.")
        self.engine = engine
        self.result = None
        self.status = widgets.HTML()
        self.save_path = widgets.Text(value=f"{self.name or 'figure'}.{self.save_format}", description="save as",
                                      layout=widgets.Layout(width="320px"))
        self.save_button = widgets.Button(description="Save", tooltip="save what the panel shows to this file "
                                          "(.html, .png, .svg or .pdf)")
        self.save_button.on_click(lambda _: self.save())
        self.save_row = widgets.HBox([self.save_path, self.save_button])

    save_format = "png"  # the save box's default suffix; a panel without a figure saves its view as html

    def shown_figure(self):
        """The figure the panel shows now (a FigureWidget), or None."""
        return getattr(self, "figure", None)

    def save(self, path=None):
        """Save what the panel shows (its figure, else its result's view) to ``path`` or the save box's file."""
        from ..figures import save_figure

        path = path or self.save_path.value.strip()
        try:
            written = save_figure(self, path)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self._say(f"saved {written}")
        return written

    def _say(self, text: str, error: bool = False) -> None:
        color = "color:#d32f2f" if error else MUTED  # readable in light and dark themes
        self.status.value = f'<span style="{color};font-size:12px">{esc(text)}</span>'

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.engine.name})"

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a static summary for saved notebooks and viewers without widget state."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        summary = f"{type(self).__name__} on {self.engine.name}"
        if self.result is not None:
            summary += f": {getattr(self.result, 'to_text', lambda: repr(self.result))().splitlines()[0]}"
        bundle["text/html"] = _summary_html(summary)
        bundle["text/plain"] = repr(self)
        figure = self.shown_figure()
        if figure is None or not len(figure.data):
            return bundle
        import json

        from ..figures import FIGURE_KEY

        return bundle, {FIGURE_KEY: json.loads(figure.to_json())}  # drawn by bert_nb's HTML export
