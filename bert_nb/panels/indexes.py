"""The search panel: queries in, an index's nearest texts out, as score bars and a table."""

from __future__ import annotations

import time

import ipywidgets as widgets

from ..errors import BertNbError
from ..render import esc
from ._base import _Panel, _refresh, _summary_html

_EF_SEARCH = (64, 128, 256, 512, 1024)  # HNSW candidates kept per search: recall against time (bench/index.py)


class SearchPanel(_Panel):
    """A query box over an :class:`~bert_nb.indexes.Index`; its hits redraw in place, with the time taken.

    ``bert_nb.panels.SearchPanel(idx)`` or ``%%bert search --index idx --panel``. With an HNSW
    index, ``efSearch`` trades recall for time. With ``rerank=cross_encoder`` (``--rerank VAR``) a
    checkbox has it order the best ``Candidates`` hits again (:func:`bert_nb.rerank`; ``label``
    for a cross-encoder of labels, ``windows`` to read long hits in windows).
    """

    name = "search"  # `%bert panel search` says how to open it: it needs an Index, not only a model
    tab_order = 35
    needs = ("it searches an index: build one with `%%bert index -o idx` and open it with "
             "`%%bert search --index idx --panel` or bert_nb.panels.SearchPanel(idx)")

    @classmethod
    def for_engine(cls, engine):
        """None: the dashboard has no index to search."""
        return None

    def __init__(self, index, engine=None, queries: str | None = None, k: int = 5, rerank=None,
                 label: str | None = None, candidates: int | None = None, windows: bool = False):
        import plotly.graph_objects as go

        if type(index).__name__ != "Index":
            raise BertNbError(f"The search panel searches an Index, not a {type(index).__name__}; build one with "
                              "bert_nb.index(engine, texts).")
        from ..reranking import check_reranker, check_windows

        if rerank is not None:
            check_reranker(rerank)
        check_windows(windows)
        super().__init__(index._query_engine(engine))
        self.index = index
        self.queries = widgets.Textarea(value=queries or "a moving film about a family", rows=2,
                                        description="Queries", placeholder="one query per line",
                                        layout=widgets.Layout(width="95%"))
        self.k = widgets.IntSlider(value=k, min=1, max=min(50, max(len(index), 1)), description="Hits")
        hnsw = index.kind == "hnsw"
        self.ef_search = widgets.Dropdown(options=_EF_SEARCH, value=256, description="efSearch",
                                          tooltip="HNSW: candidates kept per search (more: closer to exact, slower)",
                                          layout=widgets.Layout(display=None if hnsw else "none"))
        self.reranker, self.label = rerank, label
        shown = widgets.Layout(display=None if rerank is not None else "none")
        self.rerank = widgets.Checkbox(value=rerank is not None, indent=False, layout=shown,
                                       description=f"rerank with {getattr(rerank, 'name', '')}")
        # a hit longer than the cross-encoder reads: cut there (off) or read in windows, ranked by its best
        self.windows = widgets.Checkbox(value=windows, indent=False, layout=shown,
                                        description="long hits in windows")
        deep = candidates if candidates is not None else max(4 * k, 20)
        self.candidates = widgets.IntSlider(value=deep, min=1, max=max(200, deep), layout=shown,
                                            description="Candidates")
        self.button = widgets.Button(description="Search", button_style="primary")
        self.button.on_click(lambda _: self.search())
        self.figure = go.FigureWidget()
        self.table = widgets.HTML()
        self.about = widgets.HTML(f'<div style="font-size:12px;opacity:.75">{esc(index.to_text())}</div>')
        self.children = [self.about, self.queries, widgets.HBox([self.k, self.ef_search, self.button]),
                         widgets.HBox([self.rerank, self.candidates, self.windows]), self.figure, self.table,
                         self.save_row, self.status]
        self.search()

    def search(self):
        """Search the index for each line of the query box; redraw the bars and the table in place."""
        from ..plots.indexes import hits_bars, hits_html

        lines = [ln.strip() for ln in self.queries.value.splitlines() if ln.strip()]
        ef = max(self.ef_search.value, self.k.value) if self.index.kind == "hnsw" else None  # at least k
        reranking = self.reranker is not None and self.rerank.value
        deep = max(self.candidates.value, self.k.value) if reranking else self.k.value
        if ef is not None:
            ef = max(ef, deep)
        try:
            if not lines:
                raise BertNbError("Write one query per line in the box.")
            started = time.perf_counter()
            hits = self.index.search(lines, k=deep, engine=self.engine, ef_search=ef)
            if reranking:
                from ..reranking import rerank

                hits = rerank(self.reranker, hits, top_k=self.k.value, label=self.label, windows=self.windows.value)
            took = time.perf_counter() - started
        except BertNbError as err:
            self._say(str(err), error=True)  # what was shown stays
            return None
        self.result = hits
        _refresh(self.figure, hits_bars(hits))
        self.table.value = hits_html(hits)
        how = f"HNSW, efSearch {ef}" if ef else "exact"
        again = f"; the best {deep} reranked by {self.reranker.name}" if reranking else ""
        self._say(f"{len(hits)} hits for {len(lines)} quer{'y' if len(lines) == 1 else 'ies'} in "
                  f"{took * 1000:.0f} ms ({how}, embedding included{again})")
        return hits

    def __repr__(self) -> str:
        return f"SearchPanel(model={self.engine.name}, index={self.index!r})"

    def _repr_mimebundle_(self, **kwargs):
        shown = super()._repr_mimebundle_(**kwargs)
        bundle = shown[0] if isinstance(shown, tuple) else shown
        hits = "" if self.result is None else f", {len(self.result)} hits shown"
        bundle["text/html"] = _summary_html(f"SearchPanel on {self.engine.name}: {len(self.index):,} texts{hits}")
        return shown


PANELS = (SearchPanel,)  # `%bert panel search` finds it here (the dashboard leaves it out: no index)
