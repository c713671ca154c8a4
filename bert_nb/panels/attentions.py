"""The attention panel: layer and head sliders over one text's attention."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel


class AttentionPanel(_Panel):
    """Layer and head sliders, head average, hide specials, a token to follow; the heatmap re-slices in place.

    Attention is computed once per text (Run); moving a control only re-slices
    the stored weights and updates the FigureWidget's one trace.
    """

    name = "attention"  # its tab in the dashboard and `%bert panel attention`
    tab_order = 40

    def __init__(self, engine=None, text: str = "The animal didn't cross the street because it was too tired."):
        super().__init__(engine)
        import plotly.graph_objects as go

        self.text = widgets.Text(value=text, description="Text", layout=widgets.Layout(width="95%"))
        self.button = widgets.Button(description="Run", button_style="primary")
        self.layer = widgets.IntSlider(min=0, max=0, description="Layer")
        self.head = widgets.IntSlider(min=0, max=0, description="Head")
        self.average = widgets.Checkbox(value=True, description="mean of heads")
        self.hide_special = widgets.Checkbox(value=False, description="hide [CLS]/[SEP]")
        self.token = widgets.Dropdown(options=[("(none)", -1)], value=-1, description="Follow")
        # a text longer than the model: which window (hidden while the text fits)
        self.window = widgets.IntSlider(min=0, max=0, description="Window", layout=widgets.Layout(display="none"))
        self.figure = go.FigureWidget(go.Heatmap(z=[[0]], colorscale="Blues", zmin=0))
        self.figure.update_yaxes(autorange="reversed", automargin=True)
        self.figure.update_xaxes(tickangle=-60, automargin=True)  # the builders' small margins grow to fit labels
        self.button.on_click(lambda _: self.run(window=0))
        for control in (self.layer, self.head, self.average, self.hide_special, self.token):
            control.observe(lambda _: self.redraw(), names="value")
        self.window.observe(self._window_moved, names="value")
        self.children = [widgets.HBox([self.text, self.button]),
                         widgets.HBox([self.layer, self.head, self.average]),
                         widgets.HBox([self.hide_special, self.token, self.window]), self.figure, self.save_row,
                         self.status]
        self.run()

    def run(self, window: int = 0):
        """Compute the attention of the text box (one window of a long text) once, then draw it."""
        from ..attentions import attention

        try:
            result = attention(self.engine, self.text.value, window=window)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self.result = result
        with self.hold_trait_notifications():
            self.layer.max, self.head.max = result.layers - 1, result.heads - 1
            self.layer.value = min(self.layer.value, result.layers - 1)
            self.head.value = min(self.head.value, result.heads - 1)
            self.token.options = [("(none)", -1)] + [(f"{t} {i}", i) for i, t in enumerate(result.tokens)]
            self.token.value = -1
        self._showing = True  # the slider follows the result without computing it again
        try:
            self.window.max = result.windows - 1
            self.window.value = result.window
        finally:
            self._showing = False
        self.window.layout.display = None if result.windows > 1 else "none"
        self.redraw()
        if result.note:
            self._say(result.note)
        return result

    def _window_moved(self, change) -> None:
        if not getattr(self, "_showing", False):
            self.run(window=change["new"])

    def redraw(self) -> None:
        """Re-slice the stored weights for the controls and update the figure in place.

        The figure comes from the same builders as ``%bert attention`` (so inputs over 256
        pieces are block-averaged); only its heatmap trace and title go to the FigureWidget.
        """
        if self.result is None:
            return
        from ..attentions import focus
        from ..plots import attention_heatmap, token_focus

        self.head.disabled = self.average.value
        try:
            if self.token.value >= 0:
                built = token_focus(focus(self.result, int(self.token.value)))
            else:
                built = attention_heatmap(self.result, self.layer.value,
                                          None if self.average.value else self.head.value,
                                          hide_special=self.hide_special.value)
        except BertNbError as err:  # a head a pruned model no longer has: say so, keep the last figure
            self._say(str(err), error=True)
            return
        heat = built.data[0]
        with self.figure.batch_update():
            trace = self.figure.data[0]
            trace.z, trace.x, trace.y, trace.hovertemplate = heat.z, heat.x, heat.y, heat.hovertemplate
            self.figure.layout.title.text = built.layout.title.text
            self.figure.layout.height, self.figure.layout.margin = built.layout.height, built.layout.margin
        preds = self.result.predictions
        self._say(preds.to_text().splitlines()[0] if preds is not None else f"{len(self.result.tokens)} pieces")


PANELS = (AttentionPanel,)  # the dashboard finds its tabs here
