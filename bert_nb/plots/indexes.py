"""Search hits of a corpus index: each query's nearest texts as score bars, and as a table."""

from __future__ import annotations

from ..errors import BertNbError
from ..render import MUTED, esc
from ._common import short, tidy, unique

__all__ = ["hits_bars", "hits_html"]

_COLUMNS = ("query", "rank", "id", "text", "score")


def _check(hits) -> None:
    missing = [c for c in _COLUMNS if c not in getattr(hits, "columns", ())]
    if missing:
        raise BertNbError(f"Give the frame Index.search returns (columns {', '.join(_COLUMNS)}); this one lacks "
                          f"{', '.join(missing)}.")


def hits_bars(hits, *, title: str | None = None, height: int | None = None, width: int | None = None,
              template: str | None = None):
    """Each query's hits (the frame ``Index.search`` returns) as horizontal cosine bars, best on top.

    One colour per query; bars are labelled with rank and the text's start, the full text and its
    id are on hover. Hits reranked by :func:`bert_nb.rerank` show the cross-encoder's score, and
    the search's own rank on hover.
    """
    import plotly.graph_objects as go

    _check(hits)
    if not len(hits):
        raise BertNbError("There are no hits to draw; search the index first.")
    queries = list(dict.fromkeys(hits["query"]))
    several = len(queries) > 1
    labels = unique([(f"{esc(short(q, 16))} · " if several else "") + f"{r}. {esc(short(t, 48))}"
                     for q, r, t in zip(hits["query"], hits["rank"], hits["text"])])
    reranked = "retrieval_rank" in hits.columns
    was = hits["retrieval_rank"] if reranked else hits["rank"]
    fig = go.Figure()
    for query in queries:
        rows = [i for i, q in enumerate(hits["query"]) if q == query]
        part = hits.iloc[rows]
        fig.add_trace(go.Bar(
            x=part["score"].tolist(), y=[labels[i] for i in rows], orientation="h", name=esc(short(query, 40)),
            customdata=[[int(i), esc(t)] + ([int(w)] if reranked else [])
                        for i, t, w in zip(part["id"], part["text"], was.iloc[rows])],
            text=[f"{s:.3f}" for s in part["score"]], textposition="auto",
            hovertemplate="id %{customdata[0]}: %{customdata[1]}<br>" + (
                "score %{x:.3f} (search rank %{customdata[2]})" if reranked else "cosine %{x:.3f}") + "<extra></extra>"))
    low, high = min(0.0, float(hits["score"].min())), max(1, float(hits["score"].max()))
    fig.update_xaxes(title="cross-encoder score" if reranked else "cosine to the query", range=[low, high])
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    heading = esc(title) if title else (f"Nearest texts to “{esc(short(queries[0], 60))}”" if not several
                                       else f"Nearest texts of {len(queries)} queries")
    fig.update_layout(title=dict(text=heading), showlegend=several, height=height or min(160 + 26 * len(hits), 900),
                      width=width, template=template, margin=dict(l=10, r=10, t=50, b=10))
    return tidy(fig)


def hits_html(hits) -> str:
    """The hits as a table: query, rank, id, cosine and the whole text (escaped); reranked hits (:func:`bert_nb.rerank`)
    the cross-encoder's score and the search's rank."""
    _check(hits)
    if not len(hits):
        return f'<div style="{MUTED}">no hits</div>'
    reranked = "retrieval_rank" in hits.columns
    names = ("query", "rank", "id", "score", "search rank", "text") if reranked else ("query", "rank", "id", "cosine",
                                                                                       "text")
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{c}</th>' for c in names)
    was = hits["retrieval_rank"] if reranked else [None] * len(hits)
    cell = '<td style="padding:2px 8px">{}</td>'
    rows = "".join(
        "<tr>" + cell.format(esc(short(q, 40))) + cell.format(int(r)) + cell.format(int(i)) + cell.format(f"{s:.3f}")
        + (cell.format(int(w)) if reranked else "") + cell.format(esc(t)) + "</tr>"
        for q, r, i, s, t, w in zip(hits["query"], hits["rank"], hits["id"], hits["score"], hits["text"], was))
    return f'<table style="border-collapse:collapse;font-size:13px"><tr>{head}</tr>{rows}</table>'
