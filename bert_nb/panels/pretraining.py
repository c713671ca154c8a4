"""Pre-training's live view: the loss and held-out accuracy curve, and the probe sentences refilled at each evaluation."""

from __future__ import annotations

import ipywidgets as widgets

from .training import LiveTraining


class LivePretraining(LiveTraining):
    """:class:`LiveTraining` plus the probe sentences as the model fills them, redrawn at each evaluation.

    Pass ``live.callback()`` and ``state=live.state`` to ``bert_nb.pretrain``.
    """

    def __init__(self, state=None, stop_button: bool = True):
        super().__init__(state, stop_button)
        self.probes = widgets.HTML()
        self.children = [*self.children, self.probes]

    def callback(self):
        """LiveTraining's callback, also redrawing when an evaluation has just been added."""
        base = super().callback()
        live, seen, step_end = self, [0], base.on_step_end

        def on_step_end(args, state, control, **kw):
            step_end(args, state, control, **kw)
            if len(live.state.epochs) != seen[0]:
                seen[0] = len(live.state.epochs)
                live.redraw()

        base.on_step_end = on_step_end
        return base

    def redraw(self) -> None:
        """The curve, then the probes' first and latest fillings."""
        from ..plots.pretraining import probes_html

        super().redraw()
        self.probes.value = probes_html(self.state.epochs)

    def __repr__(self) -> str:
        return f"LivePretraining(step {self.state.step} of {self.state.total_steps})"


PANELS = ()  # a live view of one run, not a dashboard tab
