"""The fill-mask panel: a sentence with [MASK], the top fillers as bars."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel, _refresh


class MaskPanel(_Panel):
    """Type a sentence with [MASK], pick top-k and optional targets, press Predict."""

    name = "mask"  # its tab in the dashboard and `%bert panel mask`
    tab_order = 20
    default_model = "default-mlm"

    @classmethod
    def for_engine(cls, engine):
        """The dashboard's engine when it has a masked-LM head, else the packaged masked-LM."""
        return cls(engine if "mlm" in engine.heads else None)

    def __init__(self, engine=None, text: str = "Paris is the [MASK] of France.", top_k: int = 5,
                 targets: str = ""):
        super().__init__(engine)
        import plotly.graph_objects as go

        self.text = widgets.Text(value=text, description="Text", layout=widgets.Layout(width="95%"))
        self.top_k = widgets.IntSlider(value=top_k, min=1, max=20, description="top-k")
        self.targets = widgets.Text(value=targets, description="Targets", placeholder="optional: cat, dog")
        self.button = widgets.Button(description="Predict", button_style="primary")
        self.figure = go.FigureWidget()
        self.button.on_click(lambda _: self.predict())
        controls = widgets.HBox([self.top_k, self.targets, self.button])
        self.children = [self.text, controls, self.figure, self.save_row, self.status]
        self.predict()

    def predict(self):
        """Run fill_mask on the controls' values and redraw the bars in place."""
        from ..mask import fill_mask
        from ..plots import mask_bar

        try:
            self.result = fill_mask(self.engine, self.text.value, top_k=self.top_k.value,
                                    targets=self.targets.value or None)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        _refresh(self.figure, mask_bar(self.result))
        self._say(self.result.note or f"{len(self.result.masks)} mask(s) on {self.engine.name}")
        return self.result


PANELS = (MaskPanel,)  # the dashboard finds its tabs here
