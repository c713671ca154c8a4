"""The similarity panel: sentences in, their cosine-similarity heatmap out."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel, _refresh


class SimilarityPanel(_Panel):
    """Sentences (one per line), a pooling choice and a word-mode toggle; the heatmap updates in place."""

    name = "similarity"  # its tab in the dashboard and `%bert panel similarity`
    tab_order = 30

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
        self.children = [self.texts, controls, self.figure, self.save_row, self.status]
        self.compare()

    def compare(self):
        """Embed the lines with the chosen pooling and redraw the heatmap in place."""
        from ..embeddings import similarity
        from ..plots import similarity_heatmap

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
        said = f"most similar: {best[0][0]} ~ {best[0][1]} ({best[0][2]:.3f})" if best else ""
        self._say("; ".join(s for s in (said, self.result.note) if s))  # and how long lines were read
        return self.result


PANELS = (SimilarityPanel,)  # the dashboard finds its tabs here
