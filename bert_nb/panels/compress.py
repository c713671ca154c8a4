"""The compare panel: pick classifiers (or taggers, or readers) and data, run; the table, the accuracy-speed plot
and the disagreements."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel, _refresh


def _classifiers(models: dict | None, engine, kind: str = "classifier") -> dict:
    """The models on offer: those given, the active one, and every loaded or remembered model of ``kind``
    (classifier, tagger, reader or pairs)."""
    from ..engine import _NAMED, loaded

    test = dict(_kinds())[kind]
    found = dict(models or {})
    for candidate in [engine, *_NAMED.values(), *loaded()]:
        if candidate is not None and test(candidate) and candidate not in found.values():
            found.setdefault(candidate.name, candidate)
    return found


def _labels(model, kind: str):
    """What a model must share with another to be compared with it: its labels, or its tags (readers: nothing)."""
    from ..tasks.classify import classifier_labels
    from ..tasks.tagging import _tags_of

    if model is None or kind == "reader":
        return None
    if kind == "pairs" and getattr(model, "regression", True):
        return frozenset({"(a score)"})  # scores compare with scores
    try:
        return frozenset(map(str, _tags_of(model, bio=False) if kind == "tagger" else classifier_labels(model)))
    except BertNbError:
        return None


def _kinds() -> tuple:
    """The kinds of model the panel compares, each with its test, in the order they are told apart."""
    from ..compress import _is_pair_model, _is_reader, _is_tagger, text_classifier

    return ("pairs", _is_pair_model), ("reader", _is_reader), ("tagger", _is_tagger), ("classifier", text_classifier)


def _kind(engine) -> str | None:
    """What the panel compares over ``engine``: classifier, tagger, reader or pairs (a cross-encoder); None."""
    if engine is None:
        return None
    return next((kind for kind, test in _kinds() if test(engine)), None)


def _sts_like(engine) -> bool:
    """Whether a cross-encoder was trained on STS-B's columns (the packaged pairs the panel measures on)."""
    config = getattr(engine, "training_config", None) or {}
    return list(config.get("text", ())) == ["sentence1", "sentence2"] and config.get("label") == "score"


class ComparePanel(_Panel):
    """Several classifiers measured side by side: size, accuracy, macro-F1, agreement, latency, throughput; over a
    tagger, taggers (entity F1 on CoNLL-2003's test sentences by default); over a reader, readers (SQuAD's exact
    match and F1 on the packaged CoNLL questions' test split); over a cross-encoder, cross-encoders (Spearman on
    STS-B's test pairs by default)."""

    name = "compare"  # its tab in the dashboard and `%bert panel compare`
    tab_order = 60
    needs = "load a fine-tuned classifier first (`%bert use clf`), or pass models={name: classifier}"

    @classmethod
    def for_engine(cls, engine):
        """The panel over a classifier of single texts, a tagger, a reader, or a cross-encoder trained on STS-B's
        columns (the packaged pairs to measure it on); None for other engines."""
        kind = _kind(engine)
        return cls(engine) if kind is not None and (kind != "pairs" or _sts_like(engine)) else None

    def __init__(self, engine=None, models: dict | None = None, data=None, text: str = "text",
                 label: str = "label"):
        if engine is None and models:
            engine = next(iter(models.values()))
        super().__init__(engine)
        import plotly.graph_objects as go

        self.kind = _kind(self.engine) or "classifier"
        if data is None:
            from ..datasets import load as load_dataset

            data = load_dataset({"tagger": "conll2003", "reader": "conll_qa", "pairs": "sts_b"}.get(
                self.kind, "rotten_tomatoes"), split="test")
        if self.kind == "tagger" and (text, label) == ("text", "label"):
            text, label = "tokens", "tags"  # a tagger's data: words and their tags
        self.data, self.text_column, self.label_column = data, text, label
        self.candidates = _classifiers(models, self.engine, self.kind)
        names = list(self.candidates)
        # the models given, else every one with the active model's labels (tags): others cannot be compared with it
        chosen = tuple(models) if models else tuple(n for n in names if _labels(self.candidates[n], self.kind) ==
                                                    _labels(self.engine, self.kind))
        self.models = widgets.SelectMultiple(options=names, value=chosen, description="models",
                                             rows=min(6, max(2, len(names))), layout=widgets.Layout(width="420px"))
        self.int8 = widgets.Checkbox(value=len(chosen) < 2, description="add an int8 copy of the first",
                                     indent=False, layout=widgets.Layout(width="260px"))
        self.texts = widgets.IntSlider(value=min(200, len(data)), min=min(20, len(data)), max=len(data), step=10,
                                       description="texts", style={"description_width": "initial"})
        self.button = widgets.Button(description="Compare", button_style="primary")
        self.button.on_click(lambda _: self.run())
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="models")
        self.table = widgets.HTML()
        self.figure = go.FigureWidget()
        self.disagreements = widgets.HTML()
        self.children = [widgets.HBox([self.models, widgets.VBox([self.int8, self.texts, self.button])]),
                         self.progress, self.table, self.figure, self.disagreements, self.save_row, self.status]

    def _chosen(self) -> dict:
        from ..compress import quantize

        chosen = {n: self.candidates[n] for n in self.models.value}
        if self.int8.value and chosen:
            first_name, first = next(iter(chosen.items()))
            chosen[f"{first_name}+int8"] = quantize(first, "int8")
        return chosen

    def _report(self, done: int, total: int, message: str) -> None:
        self.progress.max, self.progress.value = max(total, 1), done
        self._say(message)

    def run(self):
        """Measure the chosen models on the first ``texts`` rows of the data (a fixed sample)."""
        from ..compress import compare
        from ..plots.compress import compress_html, pareto_scatter

        try:
            chosen = self._chosen()
            if len(chosen) < 2:
                raise BertNbError("Choose at least two models, or tick 'add an int8 copy of the first'.")
            sample = self.data.sample(min(self.texts.value, len(self.data)), random_state=0)
            result = compare(chosen, sample, text=self.text_column, label=self.label_column, progress=self._report)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self.result = result
        self.table.value = compress_html(result)
        _refresh(self.figure, pareto_scatter(result))
        differ = result.disagreements()
        what = {"tagger": "tags", "reader": "answers"}.get(self.kind, "labels")
        said = (f"the {min(10, len(differ))} pairs the models score most differently:" if result.metric == "spearman"
                else f"{len(differ)} of {len(result.predictions)} texts get different {what}; the first 10:")
        self.disagreements.value = (f"<div style='font-size:12px'>{said}</div>"
                                    + differ.head(10).round(3).to_html(index=False, escape=True))
        self._say(f"{len(chosen)} models measured on {len(sample)} texts")
        return result


PANELS = (ComparePanel,)
