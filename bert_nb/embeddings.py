"""Embeddings: sentence and word vectors, similarity, projection, semantic search, STS-B.

Sentences are embedded in length-sorted batches with dynamic padding, one batch
tokenized at a time, so memory stays bounded for long lists. Word mode marks
the target word in square brackets (``I sat on the river [bank].``) and pools
only its WordPieces, in context.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import BertNbError
from .windows import cut_note, cut_pieces, first_windows, stride_for, windows_note

__all__ = ["Embeddings", "embed", "Similarity", "similarity", "Projection", "project", "search",
           "StsScore", "evaluate_sts", "POOLINGS"]

POOLINGS = ("mean", "cls", "max", "word")
_PROGRESS_FROM = 1024  # show a progress bar from this many texts on
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True, eq=False)
class Embeddings:
    """One vector per text: ``vectors`` is a float32 array of shape (n, dim)."""

    vectors: "object"  # numpy.ndarray (n, dim) float32
    texts: tuple[str, ...]
    pooling: str
    layer: int
    normalized: bool
    model: str = ""
    words: tuple[str, ...] | None = None  # the bracketed target of each text, in word mode
    windows: tuple[int, ...] = ()  # how many windows each text took (1: it fitted)
    cut: tuple[int, ...] = ()  # with truncate=True: how many pieces of each text were cut off
    window: int = 0  # pieces per window, [CLS] and [SEP] included
    stride: int = 0  # pieces shared by consecutive windows

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def note(self) -> str:
        """What happened to texts longer than the model's window, or an empty string."""
        if any(self.cut):
            return cut_note(self.cut, self.window)
        return windows_note(self.windows, self.window, self.stride, "the windows' vectors")

    @property
    def labels(self) -> list[str]:
        """Short labels for figures: the target word in context, or the text."""
        if self.words:
            return [f"{w} ({_short(t, 40)})" for w, t in zip(self.words, self.texts)]
        return [_short(t, 60) for t in self.texts]

    def to_frame(self):
        """One row per text: text (and word), then one column per dimension."""
        import pandas as pd

        frame = pd.DataFrame(self.vectors, columns=[f"d{i}" for i in range(self.vectors.shape[1])])
        if self.words:
            frame.insert(0, "word", self.words)
        frame.insert(0, "text", self.texts)
        return frame

    def to_text(self) -> str:
        """A summary line, and a note on long texts."""
        line = (f"{len(self)} vectors of {self.vectors.shape[1]} dims ({self.pooling} pooling, "
                f"layer {self.layer}{', normalized' if self.normalized else ''}) from {self.model}")
        return f"{line}\nnote: {self.note}" if self.note else line

    def __repr__(self) -> str:
        return f"Embeddings({self.vectors.shape[0]} x {self.vectors.shape[1]}, {self.pooling}, {self.model})"


def embed(engine, texts: str | Sequence[str], pooling: str = "mean", normalize_embeddings: bool = True,
          batch_size: int = 32, layer: int = -1, max_length: int | None = None,
          progress: bool | None = None, truncate: bool = False, stride: int | None = None) -> Embeddings:
    """Embed sentences (or bracketed words in context) with the engine's encoder.

    Parameters
    ----------
    engine : Engine
    texts : str or list of str (a pandas Series works too)
    pooling : {"mean", "cls", "max", "word"}
        ``mean`` averages the pieces (padding excluded), ``cls`` takes the [CLS]
        vector, ``max`` the element-wise maximum; ``word`` averages the pieces of
        the word in square brackets in each text.
    normalize_embeddings : bool
        Scale every vector to length 1 (cosine similarity is then a dot product).
    batch_size : int
    layer : int
        Which hidden states: 0 is the embedding layer, 1..L the transformer
        layers, -1 (default) the last.
    max_length : int, optional
        Pieces per text; default: the model's sentence-transformers setting if
        it has one (256 for the default model), else its maximum.
    progress : bool, optional
        Show a progress bar; by default only from 1,024 texts on.
    truncate : bool
        False (default): a text longer than ``max_length`` pieces is embedded in
        overlapping windows of ``max_length`` pieces and its vector is the mean of
        theirs (``windows`` says how many each took). True: it is cut at
        ``max_length`` (``cut`` says how many pieces were dropped).
    stride : int, optional
        Pieces consecutive windows share; default a quarter of the window.

    Returns
    -------
    Embeddings
        ``note`` says what happened to long texts.

    Examples
    --------
    >>> emb = bert_nb.embed(engine, ["A man plays guitar.", "Someone plays an instrument."])  # doctest: +SKIP
    >>> emb.vectors.shape                                                                    # doctest: +SKIP
    (2, 384)
    """
    import numpy as np

    texts = _as_texts(texts)
    if pooling not in POOLINGS:
        raise BertNbError(f"Unknown pooling '{pooling}'; use one of {', '.join(POOLINGS)}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise BertNbError("batch_size must be a whole number of at least 1.")
    n_layers = int(getattr(engine.config, "num_hidden_layers", 0))
    if not isinstance(layer, int) or not -(n_layers + 1) <= layer <= n_layers:
        raise BertNbError(f"layer must be between 0 and {n_layers} (or -1 for the last); got {layer}.")
    words, spans = None, None
    if pooling == "word":
        texts, words, spans = zip(*(_bracketed(t, i) for i, t in enumerate(texts)))
        texts, words = tuple(texts), tuple(words)
    limit = max_length or _sentence_max_length(engine)
    stride = stride_for(stride, limit, engine.tokenizer)
    # tokenize once without padding, long texts into overlapping windows; batches of similar length need little padding
    enc = engine.tokenizer(list(texts), truncation=True, max_length=limit, return_attention_mask=False,
                           return_token_type_ids=False, return_offsets_mapping=spans is not None,
                           return_overflowing_tokens=True, stride=stride)
    owner = enc["overflow_to_sample_mapping"]  # window -> text
    keep = first_windows(owner, truncate)
    ids, offsets = enc["input_ids"], enc.get("offset_mapping")
    targets = {w: _span_mask_row(offsets[w], spans[owner[w]]) for w in keep} if spans else None
    if targets is not None:  # word mode: only the windows that hold the word
        keep = [w for w in keep if any(targets[w])]
        _check_targets_found(keep, owner, len(texts))
    vectors = np.zeros((len(texts), engine.encoder.config.hidden_size), dtype=np.float32)
    taken = np.zeros(len(texts), dtype=np.int64)
    order = sorted(keep, key=lambda w: -len(ids[w]))  # longest first
    show = len(texts) >= _PROGRESS_FROM if progress is None else progress
    with _progress(len(order), show) as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            target = [targets[w] for w in idx] if targets else None
            out = _embed_batch(engine, [ids[w] for w in idx], pooling, layer, False, target)
            np.add.at(vectors, [owner[w] for w in idx], out)
            np.add.at(taken, [owner[w] for w in idx], 1)
            bar.update(len(idx))
    vectors /= np.maximum(taken, 1)[:, None]  # the mean of each text's window vectors
    if normalize_embeddings:
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    windows = tuple(int(c) for c in taken)  # word mode: the windows that hold the word
    cut = cut_pieces(ids, owner, len(texts), stride, engine.tokenizer) if truncate else ()
    return Embeddings(vectors=vectors, texts=tuple(texts), pooling=pooling, layer=layer,
                      normalized=bool(normalize_embeddings), model=engine.name, words=words,
                      windows=windows, cut=cut, window=limit, stride=stride)


def _check_targets_found(kept, owner, n: int) -> None:
    found = {owner[w] for w in kept}
    missing = [t for t in range(n) if t not in found]
    if missing:
        raise BertNbError(f"The bracketed word of text {missing[0]} was cut off by truncation; "
                          "shorten the text before it, or pass truncate=False.")


def _as_texts(texts) -> tuple[str, ...]:
    if isinstance(texts, str):
        texts = [texts]
    elif hasattr(texts, "tolist"):  # pandas Series, numpy array
        texts = texts.tolist()
    texts = list(texts)
    if not texts:
        raise BertNbError("Give at least one text to embed.")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise BertNbError(f"Text {i} is {'empty' if isinstance(t, str) else type(t).__name__}; "
                              "give non-empty strings only.")
    return tuple(texts)


def _bracketed(text: str, i: int) -> tuple[str, str, tuple[int, int]]:
    """Strip the one [target] of a text; return the text, the word and its character span."""
    found = [m for m in _BRACKETED.finditer(text) if m.group(0).upper() not in ("[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]")]
    if len(found) != 1:
        raise BertNbError(f"Text {i} needs exactly one word in square brackets for word mode, "
                          f"for example 'I sat on the river [bank].'; it has {len(found)}.")
    m = found[0]
    word = m.group(1)
    before, after = text[:m.start()], text[m.end():]
    if not word.strip() or word != word.strip() or (before and before[-1].isalnum()) or (after and after[0].isalnum()):
        raise BertNbError(f"In text {i}, the brackets must surround a whole word, as in 'the river [bank].'; "
                          f"got '{m.group(0)}'.")
    return before + word + after, word, (len(before), len(before) + len(word))


def _sentence_max_length(engine) -> int:
    """The max_seq_length a sentence-transformers model folder declares, else the model's limit."""
    path = Path(engine.source) / "sentence_bert_config.json"
    if path.is_file():
        try:
            return min(int(json.loads(path.read_text())["max_seq_length"]), engine.max_length)
        except (ValueError, KeyError, TypeError):
            pass
    return engine.max_length


def _embed_batch(engine, ids, pooling, layer, normalize, target):
    """Pad one batch of token id lists, run the encoder, pool: (B, H) float32 numpy."""
    import torch

    longest = max(len(x) for x in ids)
    pad = engine.tokenizer.pad_token_id or 0
    input_ids = torch.full((len(ids), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for b, row in enumerate(ids):
        input_ids[b, :len(row)] = torch.tensor(row)
        mask[b, :len(row)] = 1
    batch = {"input_ids": input_ids}
    if not bool(mask.all()):  # no mask at all when nothing is padded: the faster attention path
        batch["attention_mask"] = mask
    want_all = layer != -1
    out = engine.forward(batch, model=engine.encoder, output_hidden_states=want_all)
    hidden = out.hidden_states[layer] if want_all else out.last_hidden_state  # (B, T, H)
    if target is not None:
        mask = torch.zeros_like(mask)
        for b, row in enumerate(target):
            mask[b, :len(row)] = torch.tensor(row)
    with torch.inference_mode():
        vectors = _pool(hidden.float(), mask.to(hidden.device), pooling)
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
    return vectors.cpu().numpy()


def _pool(hidden, mask, pooling):
    """(B, T, H) hidden states and a (B, T) mask to (B, H) vectors."""
    if pooling == "cls":
        return hidden[:, 0]
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    if pooling == "max":
        return hidden.masked_fill(m == 0, float("-inf")).max(dim=1).values
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # mean (and word: mean over its pieces)


def _span_mask_row(offsets, span) -> list[int]:
    """1 for the pieces inside the target's character span, else 0."""
    start, end = span
    return [1 if e > s and s >= start and e <= end else 0 for s, e in offsets]


class _progress:
    """A tqdm bar (a widget in notebooks) when asked for, else nothing."""

    def __init__(self, total: int, show: bool):
        self.bar = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="embedding", unit="text")

    def __enter__(self):
        return self

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


# -- similarity ------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Similarity:
    """Cosine similarities between rows (``a``) and columns (``b``): ``matrix`` has shape (n, m)."""

    matrix: "object"  # numpy.ndarray (n, m)
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    pooling: str
    model: str = ""
    embeddings: tuple = field(default=(), repr=False)  # (a, b) Embeddings, for reuse

    def to_frame(self):
        """The matrix as a DataFrame labelled by text."""
        import pandas as pd

        return pd.DataFrame(self.matrix, index=list(self.rows), columns=list(self.columns))

    def most_similar(self, k: int = 3) -> list[tuple[str, str, float]]:
        """The ``k`` most similar distinct pairs (off the diagonal when comparing a list with itself).

        Pairs are ranked on the similarity rounded to 3 places, ties in reading order.
        """
        import numpy as np

        from ._ranking import top_indices

        mat = np.array(self.matrix, dtype=float)
        if self.rows == self.columns:
            mat[np.tril_indices_from(mat)] = -np.inf
        flat = top_indices(mat, k)
        return [(self.rows[i], self.columns[j], float(mat[i, j]))
                for i, j in zip(*np.unravel_index(flat, mat.shape)) if np.isfinite(mat[i, j])]

    @property
    def note(self) -> str:
        """What happened to texts longer than the model's window (rows, then columns), or an empty string."""
        notes = dict.fromkeys(e.note for e in self.embeddings if e.note)  # once when comparing a list with itself
        return "; ".join(notes)

    def to_text(self) -> str:
        """The matrix, rounded, with short labels (and a note on long texts)."""
        frame = self.to_frame().round(3)
        frame.index = [_short(r, 40) for r in frame.index]
        frame.columns = [f"[{j}]" for j in range(len(frame.columns))]
        note = f"\nnote: {self.note}" if self.note else ""
        return f"cosine similarity ({self.pooling} pooling, {self.model})\n{frame.to_string()}{note}"

    def __repr__(self) -> str:
        return f"Similarity({len(self.rows)} x {len(self.columns)}, {self.pooling})"


def similarity(engine, a, b=None, pooling: str = "mean", **kwargs) -> Similarity:
    """Cosine similarity of every text in ``a`` with every text in ``b`` (default: ``a`` itself).

    ``a`` and ``b`` are texts or :class:`Embeddings` (reused as they are). With
    ``pooling="word"`` each text marks one word in square brackets, and the same
    word in different contexts, or different words, are compared.

    Examples
    --------
    >>> sim = bert_nb.similarity(engine, ["I sat on the river [bank].",
    ...                                   "I deposited cash at the [bank]."], pooling="word")  # doctest: +SKIP
    >>> sim.to_frame()                                                                    # doctest: +SKIP
    """
    ea = a if isinstance(a, Embeddings) else embed(engine, a, pooling=pooling, **kwargs)
    eb = ea if b is None else (b if isinstance(b, Embeddings) else embed(engine, b, pooling=pooling, **kwargs))
    matrix = _unit(ea.vectors) @ _unit(eb.vectors).T  # (n, m)
    return Similarity(matrix=matrix, rows=tuple(ea.labels), columns=tuple(eb.labels),
                      pooling=ea.pooling, model=ea.model, embeddings=(ea, eb))


def _unit(vectors):
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# -- projection --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Projection:
    """Embeddings projected to 2 or 3 dimensions for a scatter plot."""

    coords: "object"  # numpy.ndarray (n, dims)
    labels: tuple[str, ...]
    method: str
    explained: tuple[float, ...] | None = None  # PCA: share of variance per axis
    groups: tuple | None = None

    def to_frame(self):
        """One row per text: label, x, y (, z), and group when given."""
        import pandas as pd

        frame = pd.DataFrame(self.coords, columns=["x", "y", "z"][: self.coords.shape[1]])
        frame.insert(0, "label", self.labels)
        if self.groups is not None:
            frame["group"] = list(self.groups)
        return frame

    def to_text(self) -> str:
        """A summary line (with the variance PCA kept)."""
        kept = f", {sum(self.explained):.0%} of the variance" if self.explained else ""
        return f"{len(self.labels)} points projected to {self.coords.shape[1]}-D with {self.method}{kept}"

    def __repr__(self) -> str:
        return f"Projection({len(self.labels)} points, {self.method}, {self.coords.shape[1]}-D)"


def project(embeddings: Embeddings, method: str = "pca", dims: int = 2, groups=None) -> Projection:
    """Project embeddings to ``dims`` (2 or 3) dimensions with PCA (numpy) or UMAP (if installed)."""
    import numpy as np

    if dims not in (2, 3):
        raise BertNbError("dims must be 2 or 3.")
    x = np.asarray(embeddings.vectors, dtype=np.float64)
    if len(x) <= dims:
        raise BertNbError(f"Projecting to {dims}-D needs more than {dims} texts; give more.")
    if groups is not None and len(groups) != len(x):
        raise BertNbError("Give one group per text.")
    if method == "pca":
        centered = x - x.mean(axis=0)
        _, s, vt = np.linalg.svd(centered, full_matrices=False)
        coords = centered @ vt[:dims].T
        explained = tuple(float(v) for v in (s[:dims] ** 2 / max((s ** 2).sum(), 1e-12)))
    elif method == "umap":
        try:
            import umap
        except ImportError:
            raise BertNbError("UMAP is not installed; run `pip install umap-learn`, or use method='pca'.") from None
        coords = umap.UMAP(n_components=dims, random_state=0).fit_transform(x)
        explained = None
    else:
        raise BertNbError(f"Unknown method '{method}'; use 'pca' or 'umap'.")
    return Projection(coords=np.asarray(coords, dtype=np.float32), labels=tuple(embeddings.labels),
                      method=method, explained=explained,
                      groups=None if groups is None else tuple(groups))


# -- semantic search --------------------------------------------------------------------
def search(engine, queries, corpus, top_k: int = 5, pooling: str = "mean", **kwargs):
    """Rank ``corpus`` texts by cosine similarity to each query.

    Parameters
    ----------
    queries : str or list of str
    corpus : list of str, a pandas Series (a DataFrame column), :class:`Embeddings` or an ``Index``
        Pass ``bert_nb.embed(engine, corpus_texts)`` to embed a corpus once and
        search it many times, or ``bert_nb.index(engine, texts, store=...)`` for a corpus
        kept on disk and searched with faiss.
    top_k : int

    Other keywords (``truncate``, ``stride``, ``max_length``, ``batch_size``) go to :func:`embed`.

    Returns
    -------
    pandas.DataFrame
        Columns query, rank, text, score, corpus_index; and ``windows`` (how many windows a
        corpus text took) when a text was longer than the model's window, or ``cut`` (pieces
        dropped) with ``truncate=True``. ``frame.attrs["note"]`` says the same in words.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(top_k, int) or top_k < 1:
        raise BertNbError("top_k must be a whole number of at least 1.")
    if type(corpus).__name__ == "Index":  # an on-disk corpus index: faiss searches it
        hits = corpus.search(queries, k=top_k, engine=engine)
        return hits.rename(columns={"id": "corpus_index"})[["query", "rank", "text", "score", "corpus_index"]]
    docs = corpus if isinstance(corpus, Embeddings) else embed(engine, corpus, pooling=pooling, **kwargs)
    q = embed(engine, queries, pooling=docs.pooling, **kwargs)
    scores = _unit(q.vectors) @ _unit(docs.vectors).T  # (Q, N)
    k = min(top_k, scores.shape[1])
    rows = []
    for qi, query in enumerate(q.texts):
        best = np.argsort(-scores[qi], kind="stable")[:k]
        rows += [{"query": query, "rank": r, "text": docs.texts[j], "score": float(scores[qi, j]),
                  "corpus_index": int(j)} for r, j in enumerate(best, 1)]
    frame = pd.DataFrame(rows, columns=["query", "rank", "text", "score", "corpus_index"])
    if any(docs.cut):
        frame["cut"] = [docs.cut[j] for j in frame.corpus_index]
    elif any(w > 1 for w in docs.windows):
        frame["windows"] = [docs.windows[j] for j in frame.corpus_index]
    frame.attrs["note"] = "; ".join(dict.fromkeys(n for n in (docs.note, q.note) if n))
    return frame


# -- STS-B -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StsScore:
    """Spearman and Pearson correlation (x100) of cosine similarity with STS-B gold scores."""

    spearman: float
    pearson: float
    pairs: int
    split: str
    pooling: str
    model: str = ""

    def to_text(self) -> str:
        """One line."""
        return (f"STS-B {self.split}: Spearman {self.spearman:.2f}, Pearson {self.pearson:.2f} "
                f"({self.pairs} pairs, {self.pooling} pooling, {self.model})")

    def __repr__(self) -> str:
        return f"StsScore(spearman={self.spearman:.2f}, split={self.split!r}, pooling={self.pooling!r})"


def evaluate_sts(engine, split: str = "test", pooling: str = "mean", batch_size: int = 64,
                 limit: int | None = None) -> StsScore:
    """Score the engine on STS-B: Spearman correlation of cosine similarity with the gold scores.

    ``limit`` keeps only the first pairs (for quick looks). The published figure for
    all-MiniLM-L6-v2 (the default model) on the test split is about 82.0.
    """
    import numpy as np
    import pandas as pd

    from .datasets import load as load_dataset

    data = load_dataset("sts_b", split=split)
    if limit:
        data = data.head(limit)
    emb = embed(engine, pd.concat([data.sentence1, data.sentence2]).tolist(), pooling=pooling,
                batch_size=batch_size)
    n = len(data)
    cos = np.sum(_unit(emb.vectors[:n]) * _unit(emb.vectors[n:]), axis=1)
    gold = data["score"].to_numpy()
    spearman = pd.Series(cos).corr(pd.Series(gold), method="spearman")
    pearson = float(np.corrcoef(cos, gold)[0, 1])
    return StsScore(spearman=100 * float(spearman), pearson=100 * pearson, pairs=n, split=split,
                    pooling=pooling, model=engine.name)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
