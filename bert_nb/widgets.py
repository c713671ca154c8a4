"""ipywidgets panels: controls in, one API call, one figure builder, the figure updated in place.

Each panel keeps its last result in ``.result`` and shows mistakes in its
status line (escaped, one sentence) without losing what was shown before.
"""

from __future__ import annotations

import ipywidgets as widgets

from .errors import BertNbError
from .render import MUTED, esc

__all__ = ["TokenizePanel", "MaskPanel", "SimilarityPanel", "AttentionPanel", "FinetunePanel", "LiveTraining",
           "Dashboard", "dashboard", "PANELS", "panel"]


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

    def __init__(self, engine=None, **kwargs):
        super().__init__(**kwargs)
        if engine is None:
            from .engine import load

            engine = load(self.default_model)
        self.engine = engine
        self.result = None
        self.status = widgets.HTML()

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
        return bundle


class TokenizePanel(_Panel):
    """Type text (and an optional pair), see its pieces."""

    def __init__(self, engine=None, text: str = "Tokenization isn't magic: it's WordPiece.", pair: str = ""):
        super().__init__(engine)
        self.text = widgets.Textarea(value=text, description="Text A", layout=widgets.Layout(width="95%"))
        self.pair = widgets.Text(value=pair, description="Text B", placeholder="optional second segment",
                                 layout=widgets.Layout(width="95%"))
        self.button = widgets.Button(description="Tokenize", button_style="primary")
        self.view = widgets.HTML()
        self.button.on_click(lambda _: self.run())
        self.children = [self.text, self.pair, self.button, self.view, self.status]
        self.run()

    def run(self):
        """Tokenize the boxes' text and show the pieces."""
        from .tokens import tokenize
        from .render import token_html

        try:
            self.result = tokenize(self.engine, self.text.value, self.pair.value or None)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self.view.value = token_html(self.result)
        self._say(f"{len(self.result)} pieces" + (f"; {self.result.note}" if self.result.note else ""))
        return self.result


class MaskPanel(_Panel):
    """Type a sentence with [MASK], pick top-k and optional targets, press Predict."""

    default_model = "default-mlm"

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
        self.children = [self.text, controls, self.figure, self.status]
        self.predict()

    def predict(self):
        """Run fill_mask on the controls' values and redraw the bars in place."""
        from .mask import fill_mask
        from .plots import mask_bar

        try:
            self.result = fill_mask(self.engine, self.text.value, top_k=self.top_k.value,
                                    targets=self.targets.value or None)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        _refresh(self.figure, mask_bar(self.result))
        self._say(self.result.note or f"{len(self.result.masks)} mask(s) on {self.engine.name}")
        return self.result


class SimilarityPanel(_Panel):
    """Sentences (one per line), a pooling choice and a word-mode toggle; the heatmap updates in place."""

    def __init__(self, engine=None, texts: str | None = None, pooling: str = "mean"):
        super().__init__(engine)
        import plotly.graph_objects as go

        texts = texts or ("A man is playing a guitar.\nSomeone is playing an instrument.\n"
                          "A woman is slicing an onion.\nThe stock market fell sharply today.")
        self.texts = widgets.Textarea(value=texts, description="Texts", rows=6, layout=widgets.Layout(width="95%"))
        self.pooling = widgets.Dropdown(options=["mean", "cls", "max"], value=pooling if pooling != "word" else "mean",
                                        description="Pooling")
        self.word_mode = widgets.Checkbox(value=pooling == "word", description="word mode: compare the [bracketed] word",
                                          indent=False, layout=widgets.Layout(width="auto"))
        self.button = widgets.Button(description="Compare", button_style="primary")
        self.figure = go.FigureWidget()
        self.button.on_click(lambda _: self.compare())
        controls = widgets.HBox([self.pooling, self.word_mode, self.button])
        self.children = [self.texts, controls, self.figure, self.status]
        self.compare()

    def compare(self):
        """Embed the lines with the chosen pooling and redraw the heatmap in place."""
        from .embeddings import similarity
        from .plots import similarity_heatmap

        lines = [ln.strip() for ln in self.texts.value.splitlines() if ln.strip()]
        pooling = "word" if self.word_mode.value else self.pooling.value
        try:
            if not lines:
                raise BertNbError("Write one text per line in the box.")
            self.result = similarity(self.engine, lines, pooling=pooling)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        _refresh(self.figure, similarity_heatmap(self.result))
        best = self.result.most_similar(1)
        self._say(f"most similar: {best[0][0]} ~ {best[0][1]} ({best[0][2]:.3f})" if best else "")
        return self.result


class AttentionPanel(_Panel):
    """Layer and head sliders, head average, hide specials, a token to follow; the heatmap re-slices in place.

    Attention is computed once per text (Run); moving a control only re-slices
    the stored weights and updates the FigureWidget's one trace.
    """

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
        self.figure = go.FigureWidget(go.Heatmap(z=[[0]], colorscale="Blues", zmin=0))
        self.figure.update_yaxes(autorange="reversed", automargin=True)
        self.figure.update_xaxes(tickangle=-60, automargin=True)  # the builders' small margins grow to fit labels
        self.button.on_click(lambda _: self.run())
        for control in (self.layer, self.head, self.average, self.hide_special, self.token):
            control.observe(lambda _: self.redraw(), names="value")
        self.children = [widgets.HBox([self.text, self.button]),
                         widgets.HBox([self.layer, self.head, self.average]),
                         widgets.HBox([self.hide_special, self.token]), self.figure, self.status]
        self.run()

    def run(self):
        """Compute the attention of the text box once, then draw it."""
        from .attentions import attention

        try:
            result = attention(self.engine, self.text.value)
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
        self.redraw()
        return result

    def redraw(self) -> None:
        """Re-slice the stored weights for the controls and update the figure in place.

        The figure comes from the same builders as ``%bert attention`` (so inputs over 256
        pieces are block-averaged); only its heatmap trace and title go to the FigureWidget.
        """
        if self.result is None:
            return
        from .attentions import focus
        from .plots import attention_heatmap, token_focus

        self.head.disabled = self.average.value
        if self.token.value >= 0:
            built = token_focus(focus(self.result, int(self.token.value)))
        else:
            built = attention_heatmap(self.result, self.layer.value,
                                      None if self.average.value else self.head.value,
                                      hide_special=self.hide_special.value)
        heat = built.data[0]
        with self.figure.batch_update():
            trace = self.figure.data[0]
            trace.z, trace.x, trace.y, trace.hovertemplate = heat.z, heat.x, heat.y, heat.hovertemplate
            self.figure.layout.title.text = built.layout.title.text
            self.figure.layout.height, self.figure.layout.margin = built.layout.height, built.layout.margin
        preds = self.result.predictions
        self._say(preds.to_text().splitlines()[0] if preds is not None else f"{len(self.result.tokens)} pieces")


class LiveTraining(widgets.VBox):
    """A live loss curve, a progress bar with time left and a Stop button for one training run.

    Pass ``live.callback()`` in ``finetune(..., callbacks=[...], state=live.state)``; the
    figure is a FigureWidget whose traces are updated in place at every log.
    """

    def __init__(self, state=None, stop_button: bool = True):
        super().__init__()
        import time

        import plotly.graph_objects as go

        from .plots import loss_curve
        from .training import TrainingState

        self._time = time.perf_counter
        self.state = state or TrainingState()
        self.figure = go.FigureWidget(loss_curve([], []))
        # until the first log: a note where the curve will be, and no empty axes
        self.figure.add_annotation(text="the loss appears here at the first log", showarrow=False, xref="paper",
                                   yref="paper", x=0.5, y=0.5, font=dict(color="#888", size=14))
        self._show_axes(False)
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="steps")
        self.label = widgets.HTML()
        self.stop = widgets.Button(description="Stop", button_style="warning",
                                   tooltip="stop after the current step; the model and its history are kept")
        self.stop.on_click(lambda _: self._stop())
        row = [self.progress, self.label] + ([self.stop] if stop_button else [])
        self.children = [widgets.HBox(row), self.figure]
        self._start = None

    def _stop(self):
        self.state.request_stop()
        self.label.value = "stopping after this step..."

    def callback(self):
        """The Trainer callback that drives this view."""
        from transformers import TrainerCallback

        live = self

        class _Live(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                live._start = live._time()
                live.progress.max = max(state.max_steps, 1)

            def on_step_end(self, args, state, control, **kw):
                live.progress.value = state.global_step
                spent = live._time() - live._start
                left = spent / state.global_step * (state.max_steps - state.global_step) if state.global_step else 0
                live.label.value = f"{state.global_step}/{state.max_steps} steps, about {left:.0f} s left"

            def on_log(self, args, state, control, logs=None, **kw):
                live.redraw()

            def on_train_end(self, args, state, control, **kw):
                stopped = live.state.stopped_at
                live.label.value = (f"stopped at step {stopped['step']}" if stopped else "done") + \
                    f" in {live._time() - live._start:.0f} s"
                live.redraw()

        return _Live()

    def redraw(self) -> None:
        """Put the state's history into the figure's traces, in place."""
        h = [r for r in self.state.history if "loss" in r]
        e = self.state.epochs
        with self.figure.batch_update():
            self.figure.data[0].x, self.figure.data[0].y = [r["step"] for r in h], [r["loss"] for r in h]
            self.figure.data[1].x, self.figure.data[1].y = [r["step"] for r in e], [r.get("loss") for r in e]
            for trace, key in ((self.figure.data[2], "accuracy"), (self.figure.data[3], "f1")):
                trace.x, trace.y = [r["step"] for r in e], [r.get(key) for r in e]
            if (h or e) and self.figure.layout.annotations:
                self.figure.layout.annotations = ()
                self._show_axes(True)

    def _show_axes(self, visible: bool) -> None:
        for axis in (self.figure.layout.xaxis, self.figure.layout.yaxis, self.figure.layout.yaxis2):
            axis.visible = visible

    def __repr__(self) -> str:
        return f"LiveTraining(step {self.state.step} of {self.state.total_steps})"


class FinetunePanel(_Panel):
    """Data preview and label counts, hyperparameters, Start/Stop, the live curve, metrics at the end.

    Training runs in a background thread, so the Stop button answers while it runs;
    ``join()`` waits for it (tests and scripts).
    """

    def __init__(self, engine=None, data=None, text: str = "text", label: str = "label"):
        super().__init__(engine)
        import plotly.graph_objects as go

        if data is None:
            from .datasets import load as load_dataset

            data = load_dataset("rotten_tomatoes", split="train").sample(400, random_state=0)
        self.data, self.text_column, self.label_column = data, text, label
        self.preview = widgets.HTML(self._preview())
        self.epochs = widgets.BoundedFloatText(value=2, min=0.1, max=50, step=1, description="epochs")
        self.learning_rate = widgets.FloatLogSlider(value=1e-4, base=10, min=-6, max=-3, description="learning rate",
                                                    style={"description_width": "initial"})
        self.batch_size = widgets.Dropdown(options=[8, 16, 32, 64], value=16, description="batch size")
        self.max_length = widgets.Dropdown(options=[32, 64, 128, 256], value=64, description="max length")
        self.start_button = widgets.Button(description="Start", button_style="primary")
        self.start_button.on_click(lambda _: self.start())
        self.live = LiveTraining()
        self.metrics = widgets.HTML()
        self.confusion = go.FigureWidget()
        # hidden until a run has a confusion matrix: an empty figure is a large blank box
        self._confusion_box = widgets.Box([self.confusion], layout=widgets.Layout(display="none"))
        self._thread = None
        self.children = [self.preview, widgets.HBox([self.epochs, self.learning_rate]),
                         widgets.HBox([self.batch_size, self.max_length, self.start_button]),
                         self.live, self.metrics, self._confusion_box, self.status]

    def _preview(self) -> str:
        counts = self.data[self.label_column].value_counts() if self.label_column in self.data else {}
        return (f"<div style='font-size:12px'>{len(self.data)} examples; labels: "
                f"{esc(', '.join(f'{k}: {v}' for k, v in dict(counts).items()))}</div>"
                + self.data.head(5).to_html(index=False, escape=True))

    def start(self):
        """Start training in the background; the Stop button stops it after the current step."""
        from .training import TrainingState

        if self._thread is not None and self._thread.is_alive():
            self._say("Training is running; press Stop first.", error=True)
            return None
        import threading

        self.live.state = TrainingState()
        self._say("training...")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None):
        """Wait for the training started by ``start`` and return its result."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _run(self):
        from .plots import confusion_matrix
        from .render import finetune_html
        from .training import finetune

        try:
            self.result = finetune(self.engine, self.data, text=self.text_column, label=self.label_column,
                                   epochs=self.epochs.value, learning_rate=self.learning_rate.value,
                                   batch_size=self.batch_size.value, max_length=self.max_length.value,
                                   callbacks=[self.live.callback()], state=self.live.state)
        except BertNbError as err:
            self._say(str(err), error=True)
            return
        self.metrics.value = finetune_html(self.result)
        if self.result.confusion is not None:
            _refresh(self.confusion, confusion_matrix(self.result.confusion, self.result.label_names))
            self._confusion_box.layout.display = None
        stopped = self.result.stopped_early
        self._say(f"stopped at step {stopped['step']}; the model so far is in .result" if stopped
                  else "done; the model is in .result")


PANELS = {"tokenize": TokenizePanel, "mask": MaskPanel, "similarity": SimilarityPanel, "attention": AttentionPanel,
          "finetune": FinetunePanel}


class Dashboard(widgets.VBox):
    """Every panel in tabs, sharing one engine, under a status line (model, device, dtype, heads)."""

    def __init__(self, engine=None):
        super().__init__()
        if engine is None:
            from .engine import load

            engine = load()
        self.engine = engine
        info = engine.info()
        heads = ", ".join(info.heads) or "encoder only"
        self.status = widgets.HTML(f"<b>{esc(info.name)}</b> · {esc(info.architecture)} · {esc(info.device)} · "
                                   f"{esc(info.dtype)} · heads: {esc(heads)}")
        mlm = engine if "mlm" in engine.heads else None  # the mask panel falls back to the packaged masked-LM
        self.panels = {"tokenize": TokenizePanel(engine), "mask": MaskPanel(mlm),
                       "similarity": SimilarityPanel(engine), "attention": AttentionPanel(engine),
                       "finetune": FinetunePanel(engine)}
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
        return bundle


def dashboard(engine=None) -> Dashboard:
    """All panels in tabs sharing ``engine`` (default: the packaged model)."""
    return Dashboard(engine)


def panel(name: str, engine=None):
    """Build the panel called ``name`` (one of ``PANELS``, or ``all`` for the dashboard)."""
    if name == "all":
        return Dashboard(engine)
    if name not in PANELS:
        raise BertNbError(f"Unknown panel '{name}'; choose one of {', '.join(PANELS)}.")
    return PANELS[name](engine)
