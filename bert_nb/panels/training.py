"""The fine-tuning panel and the live training view (loss curve, progress, Stop)."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

from ..errors import BertNbError
from ..render import esc
from ._base import _Panel, _refresh


class LiveTraining(widgets.VBox):
    """A live loss curve, a progress bar with time left and a Stop button for one training run.

    Pass ``live.callback()`` in ``finetune(..., callbacks=[...], state=live.state)``; the
    figure is a FigureWidget whose traces are updated in place at every log.
    """

    def __init__(self, state=None, stop_button: bool = True):
        super().__init__()
        import time

        import plotly.graph_objects as go

        from ..plots import loss_curve
        from ..training import TrainingState

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

            def on_loaded(self, state, path):  # finetune(cache=...) found this run already trained
                live.progress.max = live.progress.value = max(state.total_steps, 1)
                live.label.value = "loaded from the cache: trained before with the same data and settings"
                live.redraw()

            def on_train_end(self, args, state, control, **kw):
                stopped = live.state.stopped_at
                live.label.value = (f"stopped at step {stopped['step']}" if stopped else "done") + \
                    f" in {live._time() - live._start:.0f} s"
                live.redraw()

        return _Live()

    def redraw(self) -> None:
        """Put the state's history into the figure's traces, in place."""
        from ..plots.training import _SCORE_NAMES, score_keys

        h = [r for r in self.state.history if "loss" in r]
        e = self.state.epochs
        with self.figure.batch_update():
            self.figure.data[0].x, self.figure.data[0].y = [r["step"] for r in h], [r["loss"] for r in h]
            self.figure.data[1].x, self.figure.data[1].y = [r["step"] for r in e], [r.get("loss") for r in e]
            keys = score_keys(e)  # accuracy and F1; exact match and F1 for a reader; Pearson, Spearman for a score
            for trace, key in zip(self.figure.data[2:4], keys):
                trace.x, trace.y, trace.name = [r["step"] for r in e], [r.get(key) for r in e], f"eval {key}"
            self.figure.layout.yaxis2.title.text = " / ".join(_SCORE_NAMES[k] for k in keys)
            if (h or e) and self.figure.layout.annotations:
                self.figure.layout.annotations = ()
                self._show_axes(True)

    def _show_axes(self, visible: bool) -> None:
        for axis in (self.figure.layout.xaxis, self.figure.layout.yaxis, self.figure.layout.yaxis2):
            axis.visible = visible

    def __repr__(self) -> str:
        return f"LiveTraining(step {self.state.step} of {self.state.total_steps})"


# task -> (what it learns, a packaged example to start from, its text and label columns)
_EXAMPLES = {
    "classify": ("a label per text", ("rotten_tomatoes", 400), "text", "label"),
    "pairs": ("a score or label per pair of texts (cross-encoder)", ("sts_b", 400), ("sentence1", "sentence2"),
              "score"),
    "tokens": ("a BIO tag per word (named entities)", ("conll2003", 400), "tokens", "tags"),
    "qa": ("the answer's span in a context (question answering)", ("conll_qa", 300), None, None),
    "pretrain": ("pre-train a BERT from random weights: masked-LM and next sentence", ("peoples_daily_text", 300),
                 "text", None),
}
_PROBES = {"pretrain": ["中国人[MASK]代表大会。", "经济发[MASK]很快。", "我爱北[MASK]天安门。"]}  # refilled at each evaluation


def _example(task: str):
    from ..datasets import load as load_dataset

    _, (name, rows), _, _ = _EXAMPLES[task]
    return load_dataset(name, split="train").sample(rows, random_state=0).reset_index(drop=True)


class FinetunePanel(_Panel):
    """The task, a data preview, hyperparameters, Start/Stop, the live curve, metrics at the end.

    ``task`` is the one the data's shape says unless given; with no data, each task trains on
    a packaged example (Rotten Tomatoes, STS-B, CoNLL-2003, questions built from CoNLL), and
    choosing another task swaps the example. The ``pretrain`` task trains a new BERT from random
    weights (steps instead of epochs; People's Daily with bert-base-chinese's pieces by default, or
    the given texts with the engine's), with probe sentences refilled as it learns. Training runs in a background thread, so the Stop
    button answers while it runs; ``join()`` waits for it (tests and scripts).
    """

    name = "finetune"  # its tab in the dashboard and `%bert panel finetune`
    tab_order = 50
    runs_model = False  # pre-training from random weights needs only a tokenizer

    def __init__(self, engine=None, data=None, text=None, label=None, task: str | None = None):
        super().__init__(engine)
        import plotly.graph_objects as go

        from ..training import _task_of

        self._own_data = data is not None
        if isinstance(data, (str, Path)):  # a file: its table (an AttributeError before)
            from ..tasks._stored import table

            data = table(data, "data", csv_otherwise=True)
        task = task if task == "pretrain" else _task_of(data, text, task) if data is not None else (task or "classify")
        if task not in _EXAMPLES:
            raise BertNbError(f"Unknown task {task!r}; choose one of {', '.join(_EXAMPLES)}.")
        self.data = data if data is not None else _example(task)
        default_text, default_label = _EXAMPLES[task][2:]
        self.text_column = text if text is not None else default_text
        self.label_column = label if label is not None else default_label
        self.task = widgets.Dropdown(options=[(f"{t}: {_EXAMPLES[t][0]}", t) for t in _EXAMPLES], value=task,
                                     description="task", layout=widgets.Layout(width="95%"))
        self.task.observe(lambda change: self._task_changed(change["new"]), names="value")
        self.preview = widgets.HTML(self._preview())
        self.epochs = widgets.BoundedFloatText(value=2, min=0.1, max=50, step=1, description="epochs")
        self.learning_rate = widgets.FloatLogSlider(value=1e-4, base=10, min=-6, max=-3, description="learning rate",
                                                    style={"description_width": "initial"})
        self.batch_size = widgets.Dropdown(options=[8, 16, 32, 64], value=16, description="batch size")
        lengths = [n for n in (16, 24, 32, 64, 128, 256) if n <= self.engine.max_length] or [self.engine.max_length]
        self.max_length = widgets.Dropdown(options=lengths, description="max length",  # the model's positions at most
                                           value=min(64 if task != "qa" else 128, lengths[-1]))
        self.start_button = widgets.Button(description="Start", button_style="primary")
        self.start_button.on_click(lambda _: self.start())
        from .pretraining import LivePretraining

        self.live = LivePretraining()  # the training curve, and the probe sentences when pre-training
        self.metrics = widgets.HTML()
        self.confusion = go.FigureWidget()
        # hidden until a run has a confusion matrix: an empty figure is a large blank box
        self._confusion_box = widgets.Box([self.confusion], layout=widgets.Layout(display="none"))
        self._thread = None
        self._steps_or_epochs(task)
        self.children = [self.task, self.preview, widgets.HBox([self.epochs, self.learning_rate]),
                         widgets.HBox([self.batch_size, self.max_length, self.start_button]),
                         self.live, self.metrics, self._confusion_box, self.save_row, self.status]

    def shown_figure(self):
        """The training curve, once a run has started."""
        return self.live.figure if self._thread is not None else None

    def _task_changed(self, task: str) -> None:
        """Another task: its packaged example (the user's own data stays, with the columns it was given)."""
        if not self._own_data:
            self.data = _example(task)
            self.text_column, self.label_column = _EXAMPLES[task][2:]
        if task == "qa" and self.max_length.value < 128 <= self.max_length.options[-1]:
            self.max_length.value = 128  # a question and a passage: short windows would cut most contexts apart
        self._steps_or_epochs(task)
        self.preview.value = self._preview()
        self._say(f"task: {task}; {len(self.data)} examples")

    def _steps_or_epochs(self, task: str) -> None:
        """Pre-training counts steps (and starts at 5e-4); fine-tuning counts epochs."""
        pretraining = task == "pretrain"
        if pretraining == (self.epochs.description == "steps"):
            return
        self.epochs.description = "steps" if pretraining else "epochs"
        self.epochs.max, self.epochs.step = (100_000, 100) if pretraining else (50, 1)
        self.epochs.value = 300 if pretraining else 2
        self.learning_rate.value = 5e-4 if pretraining else 1e-4

    def _preview(self) -> str:
        task = self.task.value if hasattr(self, "task") else "classify"
        counts, what = {}, "labels"
        try:
            if task == "tokens" and self.label_column in self.data:
                counts = self.data[self.label_column].explode().map(
                    lambda t: t if t == "O" else str(t)[2:]).value_counts()
                what = "words by entity type"
            elif task == "qa" and "question" in self.data:
                counts, what = self.data["question"].value_counts().head(6), "questions"
            elif self.label_column in self.data and not (task == "pairs" and self.data[self.label_column].dtype.kind
                                                          == "f"):
                counts = self.data[self.label_column].value_counts()
            listed = f"; {what}: {esc(', '.join(f'{k}: {v}' for k, v in dict(counts).items()))}" if len(counts) else ""
        except TypeError:  # a column of lists where this task expects labels: the preview shows the rows only
            listed = ""
        return (f"<div style='font-size:12px'>{len(self.data)} examples{listed}</div>"
                + self.data.head(5).to_html(index=False, escape=True))

    def start(self):
        """Start training in the background; the Stop button stops it after the current step."""
        from ..training import TrainingState

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
        from ..plots import confusion_matrix, metrics_html
        from ..training import finetune

        columns = {} if self.task.value == "qa" else dict(text=self.text_column, label=self.label_column)
        settings = dict(learning_rate=self.learning_rate.value, batch_size=self.batch_size.value,
                        max_length=self.max_length.value, callbacks=[self.live.callback()], state=self.live.state)
        try:
            if self.task.value == "pretrain":  # a new model: the packaged Chinese text, or the user's with the engine's pieces
                from ..pretraining import _tokenizer_of, pretrain

                tokenizer = _tokenizer_of(self.engine if self._own_data else "chinese")
                self.result = pretrain(self.data[self.text_column], tokenizer=tokenizer, steps=int(self.epochs.value),
                                       probes=_probes_for(tokenizer), **settings)
                self._say(f"done: {self.result.to_text().splitlines()[-1]}; the model is in .result")
                return
            self.result = finetune(self.engine, self.data, task=self.task.value, epochs=self.epochs.value,
                                   **settings, **columns)
        except BertNbError as err:
            self._say(str(err), error=True)
            return
        self.metrics.value = metrics_html(self.result)
        matrix, names = (self.result.type_confusion() if hasattr(self.result, "type_confusion")
                         else (self.result.confusion, self.result.label_names))
        if matrix is not None:
            _refresh(self.confusion, confusion_matrix(matrix, names))
            self._confusion_box.layout.display = None
        stopped = self.result.stopped_early
        self._say(f"stopped at step {stopped['step']}; the model so far is in .result" if stopped
                  else "done; the model is in .result")


def _probes_for(tokenizer) -> list[str]:
    """The Chinese probe sentences when the vocabulary has Chinese characters, else none."""
    vocab = tokenizer.get_vocab()
    return _PROBES["pretrain"] if "经" in vocab and "济" in vocab else []


PANELS = (FinetunePanel,)  # the dashboard finds its tabs here
