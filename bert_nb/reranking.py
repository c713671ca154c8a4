"""Retrieve, then rerank: a cross-encoder reads each query with each hit as one input and orders the hits again.

A bi-encoder (``search``, ``Index.search``) embeds queries and texts apart, which is what makes a
large corpus searchable; a cross-encoder reads the query and a text together, which judges their
relevance better but costs one forward pass per pair. The usual recipe takes a bi-encoder's top
few dozen hits and lets a cross-encoder put them in order::

    hits = bert_nb.search(engine, queries, corpus, top_k=50)
    bert_nb.rerank(cross_encoder, hits, top_k=10)
"""

from __future__ import annotations

from .errors import BertNbError, check_batch_size

__all__ = ["rerank", "check_reranker", "check_windows"]


def rerank(model, hits, top_k: int | None = None, label: str | None = None, batch_size: int = 32,
           windows: bool = False):
    """Order each query's hits by a cross-encoder's score of (query, text).

    Parameters
    ----------
    model : Engine
        A cross-encoder: one fine-tuned here (``finetune(engine, data, text=(a, b))``), or a
        sequence classifier from the hub or a folder (``cross-encoder/ms-marco-MiniLM-L-6-v2``).
    hits : pandas.DataFrame
        What :func:`bert_nb.search` or ``Index.search`` returned: a query and a text per row.
    top_k : int, optional
        Hits kept per query after reranking (default: all of them).
    label : str, optional
        For a cross-encoder that labels pairs: the label whose probability ranks them (a
        paraphrase model's "equivalent", say). A score needs none.
    batch_size : int
        Pairs per forward pass.
    windows : bool
        Read a text longer than the model in overlapping windows, the query whole in each, and
        rank it by its best window (a long document is as relevant as its most relevant part).
        By default it is cut at the model's length, and the note says how many were.

    Returns
    -------
    pandas.DataFrame
        query, rank, text, score (the cross-encoder's), retrieval_rank and retrieval_score (the
        search's), then the search's other columns (``id`` or ``corpus_index``, ...); queries in
        their order, each one's hits best first.
    """
    import numpy as np
    import pandas as pd

    check_reranker(model)
    if not isinstance(hits, pd.DataFrame) or not {"query", "text"} <= set(hits.columns):
        raise BertNbError("Give the hits bert_nb.search or Index.search returned (a DataFrame with query and text "
                          "columns) to rerank.")
    if hits.empty:
        raise BertNbError("There are no hits to rerank; search with a corpus that has texts first.")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise BertNbError(f"top_k is the hits kept per query, a whole number of at least 1; got {top_k!r}.")
    check_batch_size(batch_size)
    check_windows(windows)
    pairs = list(zip(hits["query"], hits["text"]))
    empty = [i for i, pair in enumerate(pairs) if not all(isinstance(t, str) and t.strip() for t in pair)]
    if empty:
        raise BertNbError(f"Hit {empty[0]} has no query or no text ({len(empty)} such row(s)); rerank the frame a "
                          "search returned, or drop those rows.")
    scores, what, cut = _scores(model, pairs, label, batch_size, windows)
    frame = hits.rename(columns={"rank": "retrieval_rank", "score": "retrieval_score"}).reset_index(drop=True)
    frame["score"] = np.asarray(scores, dtype=np.float32)
    frame["_search"] = _searches(frame)
    frame = frame.sort_values(["_search", "score"], ascending=[True, False], kind="stable")
    frame["rank"] = frame.groupby("_search", sort=False).cumcount() + 1
    frame = frame.drop(columns="_search")
    if top_k is not None:
        frame = frame[frame["rank"] <= top_k]
    first = ["query", "rank", "text", "score", "retrieval_rank", "retrieval_score"]
    frame = frame[[c for c in first if c in frame.columns] + [c for c in frame.columns if c not in first]]
    frame = frame.reset_index(drop=True)
    notes = (f"reranked by {model.name}'s {what} of each (query, text) pair", cut, hits.attrs.get("note", ""))
    frame.attrs["note"] = "; ".join(n for n in notes if n)  # a pair cut at the model's length says so
    return frame


def check_reranker(model) -> None:
    """One sentence where ``model`` is no cross-encoder: one fine-tuned here on pairs, or a hub sequence classifier."""
    from .tasks.classify import hub_classifier

    if not hasattr(model, "heads"):
        raise BertNbError(f"rerank takes a cross-encoder (a model that reads the query and a text as one input); got "
                          f"a {type(model).__name__}.")
    if getattr(model, "task", None) != "pairs" and not hub_classifier(model):
        raise BertNbError(f"'{model.name}' is not a cross-encoder (a model that reads the query and a text as one "
                          "input); fine-tune one with bert_nb.finetune(engine, data, text=('a', 'b')) or load one "
                          "from the hub, such as cross-encoder/ms-marco-MiniLM-L-6-v2.")


def check_windows(windows) -> None:
    """One sentence where ``windows`` is not True or False."""
    if not isinstance(windows, bool):
        raise BertNbError(f"windows is True (read long hits in windows) or False (cut them); got {windows!r}.")


def _searches(frame):
    """Each hit's search, numbered in order: a search's hits are consecutive rows of one query with rising
    ranks (a query asked twice is two searches); without ranks, one search per query."""
    query = frame["query"]
    if "retrieval_rank" not in frame.columns:
        order = {q: i for i, q in enumerate(dict.fromkeys(query))}  # queries stay in their order
        return query.map(order)
    rank = frame["retrieval_rank"]
    return ((query != query.shift()) | (rank <= rank.shift())).cumsum()


def _scores(model, pairs: list, label, batch_size: int, windows: bool):
    """The cross-encoder's number for each pair, what it is in words, and a note on long texts ('' if none)."""
    import numpy as np

    from .tasks.classify import classifier_labels
    from .training import _pair_logits, pair_window_logits

    number, what = _ranking(model, label, classifier_labels(model))
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    limit = model.read_length
    if windows:
        logits, owner, stride = pair_window_logits(model, first, second, limit, batch_size)
    else:
        logits, note = _pair_logits(model, first, second, limit, batch_size)
        owner = list(range(len(pairs)))
    best = np.full(len(pairs), -np.inf)
    np.maximum.at(best, owner, number(logits))  # a long text: its best window's
    if windows:
        taken = np.bincount(owner, minlength=len(pairs))
        long = int((taken > 1).sum())
        note = (f"{long} text{'' if long == 1 else 's'} longer than {limit} pieces with the query read in "
                f"{int(taken.max())} windows at most ({stride} pieces shared), the best window's {what} counted"
                if long else "")
    return best, what, note


def _ranking(model, label, names: list):
    """What ranks the pairs, checked before anything runs: a function of the logits, and its name in words."""
    from .training import sigmoid, softmax_rows

    if getattr(model, "task", None) == "pairs" and model.regression:  # a fine-tuned score, on its label's scale
        column = model.training_config.get("label", "score")
        if label is not None:
            raise BertNbError(f"'{model.name}' scores pairs ({column}); leave label out.")
        return (lambda logits: model.on_scale(sigmoid(logits[:, 0]))), f"predicted {column}"
    if len(names) == 1:  # a head of one output
        if label is not None:
            raise BertNbError(f"'{model.name}' gives one score per pair; leave label out.")
        return (lambda logits: sigmoid(logits[:, 0])), "score"
    if label is None or str(label) not in names:
        given = "" if label is None else f"'{label}' is not one of them; "
        raise BertNbError(f"'{model.name}' labels pairs ({', '.join(names)}); {given}name the label whose "
                          "probability ranks the hits, for example label='" + names[-1] + "'.")
    index = names.index(str(label))
    return (lambda logits: softmax_rows(logits)[:, index]), f"P(label = {label})"
