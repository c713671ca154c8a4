"""The task panel: use a fine-tuned model on new text, whatever its head (tags, answers, pair scores, labels)."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel, _refresh

_EXAMPLE_TEXT = "Angela Merkel met Emmanuel Macron in Paris on Tuesday."
_EXAMPLE_CONTEXT = "Angela Merkel met the board of Siemens in Paris on Tuesday, a day after the vote in Bonn."


def _kind(engine) -> str | None:
    """What the engine's head does: tokens, qa, pairs or classify; None for an encoder or masked-LM."""
    task = getattr(engine, "task", None) or (getattr(engine, "training_config", None) or {}).get("task")
    if task in ("tokens", "qa", "pairs"):
        return task
    from ..tasks.classify import classifier_labels, hub_classifier

    heads = getattr(engine, "heads", ())
    for head, kind in (("tokens", "tokens"), ("qa", "qa"), ("classification", "classify")):
        if head in heads:
            if kind == "classify" and hub_classifier(engine) and len(classifier_labels(engine)) == 1:
                return "pairs"  # one output from the hub or a folder: a cross-encoder's score
            return kind
    return None


class TaskPanel(_Panel):
    """Tag text, answer a question, score a pair or label texts with the model's own head.

    A tagger shows each line's entities; a reader the answers marked in the context and where
    it thinks they start and end; a cross-encoder the pair's score or label; a classifier each
    line's label and probabilities.
    """

    name = "task"  # its tab in the dashboard and `%bert panel task`
    tab_order = 55
    needs = ("fine-tune one with bert_nb.finetune (a classifier, cross-encoder, tagger or reader) or load a model "
             "with such a head")

    @classmethod
    def for_engine(cls, engine):
        """This panel when the engine has a task head, else None (the dashboard leaves the tab out)."""
        return cls(engine) if _kind(engine) else None

    def __init__(self, engine=None, text: str | None = None, question: str = "Which place is mentioned?",
                 context: str = _EXAMPLE_CONTEXT, top_k: int = 3):
        if engine is None:
            raise BertNbError(f"The task panel works on a model with a task head; {self.needs}.")
        super().__init__(engine)
        import plotly.graph_objects as go

        self.kind = _kind(engine)
        if self.kind is None:
            raise BertNbError(f"'{engine.name}' has no task head; {self.needs}.")
        wide = widgets.Layout(width="95%")
        first = {"tokens": _EXAMPLE_TEXT, "qa": question, "pairs": "A man is playing a guitar.",
                 "classify": "A gripping, beautifully acted film.\nA dull mess."}[self.kind]
        self.text = widgets.Textarea(value=text if text is not None else first, layout=wide,
                                     description={"qa": "Question", "pairs": "Text A"}.get(self.kind, "Text"),
                                     placeholder="one text per line" if self.kind in ("tokens", "classify") else "")
        second = context if self.kind == "qa" else "Someone plays an instrument."
        self.second = widgets.Textarea(value=second, layout=wide,
                                       description="Context" if self.kind == "qa" else "Text B")
        self.top_k = widgets.IntSlider(value=top_k, min=1, max=10, description="answers")
        self.button = widgets.Button(description={"tokens": "Tag", "qa": "Answer", "pairs": "Score"}.get(
            self.kind, "Predict"), button_style="primary")
        self.button.on_click(lambda _: self.run())
        self.view = widgets.HTML()
        self.figure = go.FigureWidget()
        if self.kind != "qa":  # entities and pair scores are HTML views; a reader also draws its start/end bars
            self.save_path.value = f"{self.name}.html"
        rows = [self.text]
        if self.kind in ("qa", "pairs"):
            rows.append(self.second)
        rows.append(widgets.HBox([self.top_k, self.button] if self.kind == "qa" else [self.button]))
        rows.append(self.view)
        if self.kind == "qa":
            rows.append(self.figure)
        self.children = [*rows, self.save_row, self.status]
        self.run()

    def run(self):
        """Run the model on the controls' text and show the result."""
        try:
            self.result = self._call()
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self._show()
        return self.result

    def _lines(self) -> list[str]:
        lines = [ln.strip() for ln in self.text.value.splitlines() if ln.strip()]
        if not lines:
            raise BertNbError("Type a text first (one per line).")
        return lines

    def _call(self):
        if self.kind == "tokens":
            from ..tasks.tagging import tag

            return tag(self.engine, self._lines())
        if self.kind == "qa":
            from ..tasks.qa import answer

            return answer(self.engine, self.text.value.strip(), self.second.value, top_k=self.top_k.value)
        from ..training import classify

        if self.kind == "pairs":
            if not hasattr(self.engine, "predict"):  # a hub cross-encoder: its score of the pair (or of one text)
                first, second = self.text.value.strip(), self.second.value.strip()
                return classify(self.engine, [(first, second)] if second else [first])
            return self.engine.predict([(self.text.value, self.second.value)])

        return classify(self.engine, self._lines())  # one fine-tuned here, or a hub classifier with its labels

    def _show(self) -> None:
        from ..render import batch_html

        if self.kind == "tokens":
            from ..plots import entities_html

            self.view.value = batch_html(self.result, entities_html)
            found = sum(len(e.spans) for e in self.result)
            self._say(f"{found} entities in {len(self.result)} text(s), {self.engine.name}")
        elif self.kind == "qa":
            from ..plots import answers_html, start_end_bars

            self.view.value = answers_html(self.result)
            _refresh(self.figure, start_end_bars(self.result))
            self._say(f"best answer: {self.result.best!r} ({self.engine.name})")
        else:
            self.view.value = self.result.round(3).to_html(index=False, escape=True)
            self._say(f"{len(self.result)} prediction(s), {self.engine.name}")


PANELS = (TaskPanel,)  # the dashboard finds its tabs here
