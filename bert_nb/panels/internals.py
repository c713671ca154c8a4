"""The layers panel: a text, a measure and a layer; the logit-lens grid and the per-layer figures update in place."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel, _refresh

_VIEWS = [("cosine to layer 0", "cos_first"), ("cosine to the previous layer", "cos_previous"),
          ("|attention block| / |residual|", "attention_ratio"), ("|feed-forward| / |residual|", "ffn_ratio"),
          ("means per layer, anisotropy", "summary"), ("logit lens (masked-LM)", "lens")]


class LayerPanel(_Panel):
    """One text looked at layer by layer: pick a measure and a layer; the states are computed once per text."""

    name = "layers"  # its tab in the dashboard and `%bert panel layers`
    tab_order = 42

    def __init__(self, engine=None, text: str = "The animal didn't cross the street because it was too tired."):
        super().__init__(engine)
        import plotly.graph_objects as go

        self.lens = None
        self.text = widgets.Text(value=text, description="Text", layout=widgets.Layout(width="95%"))
        self.button = widgets.Button(description="Run", button_style="primary")
        views = [v for v in _VIEWS if v[1] != "lens" or "mlm" in self.engine.heads]
        self.view = widgets.Dropdown(options=views, value="cos_first", description="Measure",
                                     layout=widgets.Layout(width="380px"))
        self.layer = widgets.IntSlider(min=0, max=0, description="Layer", tooltip="0: every layer")
        self.figure = go.FigureWidget()
        self.button.on_click(lambda _: self.run())
        for control in (self.view, self.layer):
            control.observe(lambda _: self.redraw(), names="value")
        self.children = [widgets.HBox([self.text, self.button]), widgets.HBox([self.view, self.layer]),
                         self.figure, self.save_row, self.status]
        self.run()

    def run(self):
        """Compute the states (and the lens, for a masked-LM) of the text box once, then draw."""
        from ..internals import layers, logit_lens

        try:
            result = layers(self.engine, self.text.value)
            lens = logit_lens(self.engine, self.text.value) if "mlm" in self.engine.heads else None
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self.result, self.lens = result, lens
        self.layer.max = result.layers
        self.redraw()
        return result

    def redraw(self) -> None:
        """Draw the chosen measure (layer 0: every layer as a heatmap; 1..L: that layer's pieces)."""
        from ..plots.internals import layer_figure, layer_heatmap, logit_lens_grid

        if self.result is None:
            return
        view, layer = self.view.value, self.layer.value or None
        if view == "lens":
            fig = logit_lens_grid(self.lens)
        elif view == "summary" or layer is not None:
            fig = layer_figure(self.result.at(layer if view != "summary" else None))
        else:
            fig = layer_heatmap(self.result, view)
        _refresh(self.figure, fig)
        self._say(f"{self.result.layers} layers over {len(self.result.tokens)} pieces; layer slider 0 shows every layer")


PANELS = (LayerPanel,)
