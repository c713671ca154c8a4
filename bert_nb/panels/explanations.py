"""The explain panel: a text, a method and a target; the coloured text and the top-word bars update in place."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel, _refresh

_METHODS = [("integrated gradients", "integrated_gradients"), ("gradient × input", "gradient_x_input"),
            ("occlusion", "occlusion"), ("attention", "attention"), ("attention rollout", "attention_rollout")]
_PREDICTED = "(the model's prediction)"


class ExplainPanel(_Panel):
    """Explain a classifier's label, a tagger's tag of a word, a reader's answer or a masked-LM's [MASK] word:
    which words raised or lowered it."""

    name = "explain"  # its tab in the dashboard and `%bert panel explain`
    tab_order = 45
    default_model = "default-mlm"
    needs = "load a fine-tuned classifier, tagger or reader (`%bert use VAR`) or a masked-LM such as 'default-mlm'"

    @classmethod
    def for_engine(cls, engine):
        """Only classifiers, taggers, readers and masked-LMs have a decision to explain."""
        return cls(engine) if {"classification", "mlm", "tokens", "qa"} & set(engine.heads) else None

    def __init__(self, engine=None, text: str | None = None, method: str | None = None, pair: str | None = None):
        super().__init__(engine)
        import plotly.graph_objects as go

        if method is None:  # an int8 model has no gradients: its tab opened on that error before
            method = "occlusion" if getattr(self.engine, "quantize", None) else "integrated_gradients"

        from ..tasks.classify import classifier_labels, hub_classifier

        classifier = "classification" in self.engine.heads
        labels = classifier_labels(self.engine) if classifier else []
        # a cross-encoder reads two texts as one input: its score or label of the pair is explained; a hub
        # classifier reads a pair too where one is typed (an NLI model), and one of one output is a cross-encoder
        self.pairs = getattr(self.engine, "task", None) == "pairs" or hub_classifier(self.engine)
        self.cross = getattr(self.engine, "task", None) == "pairs" or (self.pairs and len(labels) == 1)
        self.reader, self.tagger = "qa" in self.engine.heads, "tokens" in self.engine.heads
        text = text or ("A man is playing a guitar." if self.cross else "Which place is mentioned?" if self.reader
                        else "Angela Merkel visited Paris." if self.tagger else
                        "A moving, beautifully acted film." if classifier else "Paris is the [MASK] of France.")
        self.text = widgets.Text(value=text, description="Question" if self.reader else "Text",
                                 layout=widgets.Layout(width="95%"))
        default_pair = ("Someone is playing an instrument." if self.cross else
                        "Angela Merkel visited Paris with officials from the European Union." if self.reader else "")
        self.pair = widgets.Text(value=default_pair if pair is None else pair,
                                 description="Context" if self.reader else "Pair",
                                 placeholder="" if self.cross or self.reader else
                                 "a second text, read with the first as one input",
                                 layout=widgets.Layout(width="95%",
                                                       display=None if self.pairs or self.reader else "none"))
        self.method = widgets.Dropdown(options=_METHODS, value=method, description="Method")
        if len(labels) == 1 or (self.cross and self.engine.regression):  # a score has no labels to choose
            labels = []
        # the default target: a tagger's first entity, a reader's best answer, else the model's own prediction
        self.predicted = "(first entity)" if self.tagger else "(best answer)" if self.reader else _PREDICTED
        self.target = widgets.Dropdown(options=[self.predicted, *labels], value=self.predicted,
                                       description="Word" if self.tagger else "Target")
        self.button = widgets.Button(description="Explain", button_style="primary")
        # a classifier's text longer than its length: which window to explain (hidden while the text fits)
        self.window = widgets.IntSlider(min=0, max=0, description="Window", layout=widgets.Layout(display="none"))
        self.view = widgets.HTML()
        self.figure = go.FigureWidget()
        self._updating = False  # True while the panel itself changes the target's options
        self.button.on_click(lambda _: self._new_text())
        for control in (self.method, self.target, self.window):
            control.observe(lambda _: None if self._updating else self.run(), names="value")
        self.children = [widgets.HBox([self.text, self.button]), self.pair,
                         widgets.HBox([self.method, self.target, self.window]),
                         self.view, self.figure, self.save_row, self.status]
        self.run()

    def run(self, window: int | None = None):
        """Explain the text box for the chosen method, target and window (of a long text); redraw in place."""
        from ..explanations import explain
        from ..plots.explanations import explanation_bar, explanation_html
        from ..windows import one_window

        target = None if self.target.value == self.predicted else self.target.value
        window = self.window.value if window is None else window
        paired = self.cross or self.reader or (self.pairs and self.pair.value.strip())
        classifier = "classification" in self.engine.heads and not paired
        try:
            extra = {"pair": self.pair.value} if paired else {"window": window} if classifier else {}
            result = explain(self.engine, self.text.value, target, self.method.value, **extra)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self.result = result
        if classifier:  # how many windows the text takes: the slider shows when there are several
            limit = self.engine.read_length
            windows = one_window(self.engine.tokenizer, self.text.value, limit, 0, None)[2]
            self._updating = True
            try:
                self.window.max, self.window.value = windows - 1, window
            finally:
                self._updating = False
            self.window.layout.display = None if windows > 1 else "none"
        if self.tagger:  # each word of the text, as typed
            self._offer(list(result.words().word))
        elif self.reader:
            from ..tasks.qa import answer

            self._offer([a for a, *_ in answer(self.engine, self.text.value, self.pair.value, top_k=3).spans])
        elif "mlm" in self.engine.heads and "classification" not in self.engine.heads:
            from ..mask import fill_mask

            self._offer([c.token_str for c in fill_mask(self.engine, self.text.value, top_k=5).masks[0]])
        self.view.value = explanation_html(result)
        _refresh(self.figure, explanation_bar(result))
        self._say(f"{len(result.tokens)} pieces; {result.method} in {result.model}"
                  + (f"; {result.note}" if result.note else ""))
        return result

    def _new_text(self):
        """Explain the text (and context) as typed now, from its first window; a tagger's word or a reader's
        answer belonged to the text before, so the target goes back to the model's own choice."""
        if (self.tagger or self.reader) and self.target.value != self.predicted:
            self._updating = True
            try:
                self.target.value = self.predicted
            finally:
                self._updating = False
        return self.run(window=0)

    def _offer(self, top: list[str]) -> None:
        """``top`` (the mask's best fillers, the reader's best answers, the tagger's words) as targets, keeping
        the chosen one when it is still there."""
        chosen = self.target.value
        options = [self.predicted, *dict.fromkeys(top + ([chosen] if chosen != self.predicted else []))]
        if list(self.target.options) != options:
            self._updating = True
            try:
                self.target.options = options
                self.target.value = chosen if chosen in options else self.predicted
            finally:
                self._updating = False


PANELS = (ExplainPanel,)
