"""``%%bert similarity`` and ``%%bert search``: sentences in embedding space."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, out_option


def _long_text_options(p):
    p.add_argument("--max-length", type=int, help="pieces per window (default: the model's sentence length)")
    p.add_argument("--stride", type=int, help="pieces consecutive windows of a long text share (default a quarter)")
    p.add_argument("--truncate", action="store_true", default=None,
                   help="cut long texts at --max-length instead of embedding them in windows")


_LONG = dict(max_length="max_length", stride="stride", truncate="truncate")


def _similarity_options(p):
    p.add_argument("--pooling", choices=["mean", "cls", "max", "word"], help="how to pool pieces (default mean)")
    p.add_argument("--layer", type=int, help="hidden layer: 0 embeddings ... L last (default -1)")
    _long_text_options(p)
    p.add_argument("--project", choices=["pca", "umap"], help="show a 2-D projection instead of the matrix")
    out_option(p)


def similarity(magics, args, cell):
    """Cosine similarity of the cell's lines, or their 2-D projection."""
    from ..embeddings import project, similarity as run

    lines = [ln.strip() for ln in magics._lines(cell, "similarity")]
    sim = run(magics._engine(), lines, **given(args, pooling="pooling", layer="layer", **_LONG))
    if args.project:
        return magics._store(args, project(sim.embeddings[0], method=args.project))
    return magics._store(args, sim)


def _search_options(p):
    p.add_argument("--corpus", metavar="VAR",
                   help="a list of texts, a pandas Series or DataFrame, or Embeddings from bert_nb.embed")
    p.add_argument("--index", metavar="VAR", help="an Index from bert_nb.index or %%%%bert index (searched with faiss)")
    p.add_argument("--text", metavar="COL", help="the text column when the corpus is a DataFrame (default text)")
    p.add_argument("--top-k", type=int, help="hits per query (default 5)")
    p.add_argument("--panel", action="store_true", help="with --index: a panel to search it again (the cell's "
                   "lines are its first queries)")
    p.add_argument("--rerank", metavar="VAR", help="a cross-encoder that orders the hits again, reading each query "
                   "with each hit")
    p.add_argument("--candidates", type=int, help="with --rerank: hits per query it reorders (default 4 x top-k, "
                   "at least 20)")
    p.add_argument("--label", help="with --rerank, for a cross-encoder of labels: the label whose probability ranks")
    p.add_argument("--windows", action="store_true", default=None,
                   help="with --rerank: read a long hit in windows, the query whole in each; its best window counts")
    _long_text_options(p)
    out_option(p)


def search(magics, args, cell):
    """The corpus texts closest to each line (reordered by a cross-encoder with --rerank)."""
    queries = [ln.strip() for ln in magics._lines(cell, "search")]
    if args.rerank is None and (args.candidates is not None or args.label is not None or args.windows):
        raise UsageError("--candidates, --label and --windows go with --rerank VAR (a cross-encoder).")
    if args.rerank is None:
        return magics._store(args, _found(magics, args, queries, args.top_k))
    from ..reranking import check_reranker, rerank

    model = magics._variable(args.rerank, f"fine-tune a cross-encoder first: `%%bert finetune --text a,b -o "
                                          f"{args.rerank}`, or load one with bert_nb.load")
    check_reranker(model)  # before the search
    if args.panel:  # the panel reranks each search itself
        return magics._store(args, _found(magics, args, queries, args.top_k, model))
    top_k = 5 if args.top_k is None else args.top_k
    deep = args.candidates if args.candidates is not None else max(4 * top_k, 20)
    if deep < top_k:
        raise UsageError(f"--candidates ({deep}) must be at least --top-k ({top_k}): the reranker keeps the best of them.")
    return magics._store(args, rerank(model, _found(magics, args, queries, deep), top_k=top_k, label=args.label,
                                      windows=bool(args.windows)))


def _found(magics, args, queries, top_k, reranker=None):
    from ..embeddings import search as run

    if (args.corpus is None) == (args.index is None):
        raise UsageError("Name what to search: --corpus VAR (texts or Embeddings) or --index VAR (an Index).")
    k = {} if top_k is None else {"k": top_k}
    if args.index is not None:
        found = magics._variable(args.index, f"build it first: `%%bert index -o {args.index}` or bert_nb.index(...)")
        if type(found).__name__ != "Index":
            raise UsageError(f"'{args.index}' is not an Index; build one with `%%bert index -o {args.index}`.")
        if args.panel:
            from ..panels.indexes import SearchPanel

            return SearchPanel(found, queries="\n".join(queries), rerank=reranker, label=args.label,
                               candidates=args.candidates, windows=bool(args.windows), **k)
        return found.search(queries, **k)
    if args.panel:
        raise UsageError("--panel searches an Index: build one with `%%bert index -o idx`, then --index idx --panel.")
    corpus = magics._variable(args.corpus, f"define it first, e.g. `{args.corpus} = ['text one', 'text two']`")
    if hasattr(corpus, "columns"):  # a DataFrame: take its text column
        column = args.text or "text"
        if column not in corpus.columns:
            raise UsageError(f"'{args.corpus}' has no column '{column}'; name one with --text "
                             f"({', '.join(map(str, corpus.columns))}).")
        corpus = corpus[column]
    return run(magics._engine(), queries, corpus, **({} if top_k is None else {"top_k": top_k}), **given(args, **_LONG))


COMMANDS = (
    Command("similarity", "%%bert similarity: cosine similarity of the lines; [word] in brackets with --pooling word (alias: embed)",
            _similarity_options, similarity, order=60, aliases=("embed",)),
    Command("search", "%%bert search --corpus VAR (or --index VAR) [--rerank VAR]: the corpus texts closest to each "
                      "line",
            _search_options, search, order=70),
)
