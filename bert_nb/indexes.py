"""A vector index of a whole corpus: embedded in a stream, kept on disk, resumed after an interrupt, searched with faiss.

``index(engine, source, store)`` reads ``source`` (a list, a DataFrame column, a text, CSV or
Parquet file, any iterable) a chunk at a time, embeds each chunk with ``embed`` and appends
its vectors and texts to the store folder; only then does ``meta.json`` count them. An
interrupt loses at most the chunk in progress, and the same call resumes where the count
stops (bytes past it are cut off, so nothing half-written is ever read back). faiss searches
the vectors: exact inner product (``IndexFlatIP``) for small corpora, HNSW for large ones.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path

from .errors import BertNbError
from .files import is_file, made_folder
from .tokens import checked_limit

__all__ = ["index", "Index", "KINDS"]

KINDS = ("auto", "flat", "hnsw")
_HNSW_FROM = 100_000  # kind="auto": exact search below this many vectors, HNSW from it on
_HNSW_M, _HNSW_EF_BUILD, _HNSW_EF_SEARCH = 32, 80, 256  # efSearch 256: recall@10 0.967 on 1M texts (bench/index.py)
_VERSION = 1
_TEXT_SUFFIXES = (".txt", ".text", "")  # read as one text per line
# texts whose vectors tell models apart: an engine under another name (a saved and reloaded model,
# say) may search or grow an index when its vectors of these are the index model's
_PROBES = ("The quick brown fox jumps over the lazy dog.", "Stock markets fell sharply after the announcement.",
           "我喜欢在公园里散步。", "42")
_SAME_SPACE = 0.999  # least cosine of the probes' vectors: bf16 of the same model 0.9999, int8 0.97,
# noise of 0.002 added to every weight 0.987


@dataclass
class _Meta:
    model: str
    dim: int
    dtype: str  # float16 or float32: how vectors are kept on disk
    pooling: str
    max_length: int | None
    count: int = 0
    texts_bytes: int = 0  # length of texts.jsonl holding exactly ``count`` lines
    kind: str = "auto"
    version: int = _VERSION
    probe: str | None = None  # the model's unit vectors of _PROBES, float16, base64
    loadable: bool = True  # bert_nb.load(model) gives the model back (False: one made in a session)


class Index:
    """Vectors of a corpus on disk and a faiss index over them; ``search`` ranks the corpus for queries."""

    def __init__(self, folder: Path, meta: _Meta, engine=None):
        self.folder, self.meta, self._engine, self._faiss = Path(folder), meta, engine, None
        self._starts = None  # where each line of texts.jsonl starts, once read
        self._admitted = set()  # identities of other engines whose probe vectors matched: checked once each

    def __len__(self) -> int:
        return self.meta.count

    @property
    def kind(self) -> str:
        """The faiss index searched: 'flat' (exact) or 'hnsw' (approximate)."""
        return _kind_for(self.meta.kind, self.meta.count)

    @property
    def vectors(self):
        """The stored vectors as a read-only memory map (count x dim), never all in memory."""
        import numpy as np

        if not self.meta.count:
            return np.zeros((0, self.meta.dim), dtype=self.meta.dtype)
        return np.memmap(self.folder / "vectors.bin", dtype=self.meta.dtype, mode="r",
                         shape=(self.meta.count, self.meta.dim))

    def texts(self, ids) -> list[str]:
        """The texts with these ids (positions in the corpus), each read where its line starts."""
        return [json.loads(line) for line in self._lines(ids)]

    def _lines(self, ids) -> list[bytes]:
        """The stored lines (JSON, newline included) of the texts with these ids."""
        ids = [int(i) for i in ids]
        bad = next((i for i in ids if not 0 <= i < self.meta.count), None)
        if bad is not None:
            raise BertNbError(f"No text {bad}: ids run from 0 to {self.meta.count - 1}.")
        starts = self._line_starts()
        found = []
        with open(self.folder / "texts.jsonl", "rb") as f:
            for i in ids:
                f.seek(int(starts[i]))
                found.append(f.read(int(starts[i + 1] - starts[i])))
        return found

    def _line_starts(self):
        """Byte offset of every counted line of texts.jsonl, and its end: (count + 1,) int64, read once."""
        import numpy as np

        if self._starts is not None and len(self._starts) == self.meta.count + 1:
            return self._starts
        ends, done = [], 0
        with open(self.folder / "texts.jsonl", "rb") as f:
            while done < self.meta.texts_bytes:
                block = np.frombuffer(f.read(min(1 << 24, self.meta.texts_bytes - done)), dtype=np.uint8)
                ends.append(np.flatnonzero(block == 10) + done + 1)  # JSON escapes newlines inside a text
                done += len(block)
        self._starts = np.concatenate([np.zeros(1, dtype=np.int64), *ends])[: self.meta.count + 1]
        return self._starts

    def to_text(self) -> str:
        """One line: size, model, kind of search."""
        what = "exact inner product (faiss IndexFlatIP)" if self.kind == "flat" else \
            f"approximate (faiss HNSW, M={_HNSW_M}, efSearch={_HNSW_EF_SEARCH})"
        return (f"{self.meta.count:,} vectors of {self.meta.dim} dims ({self.meta.dtype} on disk) from "
                f"{self.meta.model} in {self.folder}; search: {what}")

    def __repr__(self) -> str:
        return f"Index({self.meta.count} x {self.meta.dim}, {self.kind}, {self.meta.model})"

    # -- searching ----------------------------------------------------------------------
    def _index(self):
        """The faiss index, read from disk when it matches the vectors, else built and written."""
        import faiss

        if self._faiss is not None and self._faiss.ntotal == self.meta.count:
            return self._faiss
        path = self.folder / f"index.{self.kind}.faiss"
        if path.is_file():
            found = faiss.read_index(str(path))
            if found.ntotal == self.meta.count:
                self._faiss = found
                return found
        self._faiss = _build(self._blocks(), self.meta.dim, self.kind)
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self._faiss, str(tmp))
        os.replace(tmp, path)
        return self._faiss

    def _blocks(self, size: int = 65536):
        """The stored vectors as float32 blocks, read from the file (not mapped: they do not stay in memory)."""
        import numpy as np

        width = self.meta.dim * np.dtype(self.meta.dtype).itemsize
        for start in range(0, self.meta.count, size):
            rows = min(size, self.meta.count - start)
            block = np.fromfile(self.folder / "vectors.bin", dtype=self.meta.dtype, count=rows * self.meta.dim,
                                offset=start * width)
            yield block.reshape(rows, self.meta.dim).astype(np.float32)

    def search(self, queries, k: int = 10, engine=None, ef_search: int | None = None):
        """The ``k`` corpus texts closest to each query (cosine): DataFrame query, rank, id, text, score.

        ``queries``: texts, or Embeddings from the index's model. ``engine``: the model to embed
        the queries with (default: the one that built the index, loaded by name). ``ef_search``:
        with HNSW, how many candidates a search keeps (default 256; higher finds more of the
        exact neighbours, more slowly: ``bench/index.py`` has the trade-off).
        """
        import numpy as np
        import pandas as pd

        from .embeddings import Embeddings, _unit, embed, made_by

        if not isinstance(k, int) or k < 1:
            raise BertNbError("k must be a whole number of at least 1.")
        if not self.meta.count:
            raise BertNbError("The index is empty; add texts with Index.add(source) first.")
        if isinstance(queries, Embeddings):
            q = queries
            if self._engine is not None and q.made_by != made_by(self._engine):
                raise BertNbError(f"The queries were embedded by another model named {q.model} (models made in a "
                                  "session can share a name); embed them with the model that built the index.")
        else:  # by the index's model, or an engine _query_engine lets in
            q = embed(self._query_engine(engine), queries, pooling=self.meta.pooling, max_length=self.meta.max_length)
        if (isinstance(queries, Embeddings) and q.model != self.meta.model) or q.vectors.shape[1] != self.meta.dim:
            raise BertNbError(f"The queries are in {q.model}'s space ({q.vectors.shape[1]} dims) but the index holds "
                              f"{self.meta.model}'s ({self.meta.dim}); embed the queries with {self.meta.model}.")
        vectors = np.ascontiguousarray(_unit(q.vectors), dtype=np.float32)
        found = self._index()
        if ef_search is not None:
            if not isinstance(ef_search, int) or isinstance(ef_search, bool) or ef_search < k:
                raise BertNbError(f"ef_search is a whole number of at least k ({k}); got {ef_search!r}.")
            if self.kind != "hnsw":
                raise BertNbError("ef_search tunes HNSW; this index searches exactly (load it with kind='hnsw').")
        if self.kind == "hnsw":
            found.hnsw.efSearch = ef_search or _HNSW_EF_SEARCH
        scores, ids = found.search(vectors, min(k, self.meta.count))
        hit = sorted({int(i) for i in ids.ravel() if i >= 0})
        texts = dict(zip(hit, self.texts(hit)))
        rows = [{"query": query, "rank": r + 1, "id": int(i), "text": texts[int(i)], "score": float(s)}
                for query, row_ids, row_scores in zip(q.texts, ids, scores)
                for r, (i, s) in enumerate(zip(row_ids, row_scores)) if i >= 0]
        return pd.DataFrame(rows, columns=["query", "rank", "id", "text", "score"])

    def _query_engine(self, engine):
        if engine is None:
            if self._engine is None:
                self._engine = self._own_model()
            return self._engine
        if engine is not self._engine and engine.identity not in self._admitted:
            if not _named_or_same(engine, self.meta):
                raise BertNbError(f"This index holds {self.meta.model}'s vectors; search it and add to it with that "
                                  f"model (engine={engine.name!r} embeds into another space).")
            self._admitted.add(engine.identity)
        return engine

    def _own_model(self):
        """The model that built the index, loaded by its name."""
        from .engine import load
        from .errors import ModelLoadError

        model = self.meta.model
        if not self.meta.loadable:
            raise BertNbError(f"This index holds the vectors of '{model}', a model made in a Python session that "
                              "bert_nb cannot load by name; pass engine= with that model (or bert_nb.load of the "
                              "folder you saved it to).")
        try:
            return load(model)
        except ModelLoadError as err:
            raise BertNbError(f"Cannot load '{model}', whose vectors this index holds; pass engine= with the "
                              f"same model ({err})") from None

    # -- growing and keeping ------------------------------------------------------------------
    def add(self, source, text: str | None = None, engine=None, batch_size: int | str = "auto",
            chunk: int | str = "auto", progress: bool | None = None) -> "Index":
        """Embed and append the texts of ``source`` (streamed, ``chunk`` at a time); returns the index."""
        _check_chunk(chunk)
        size = _source_size(source)
        _append(self, self._query_engine(engine), _stream(source, text), batch_size, chunk, progress,
                total=None if size is None else self.meta.count + size)
        return self

    def save(self, path) -> "Index":
        """A copy of the store in ``path`` (the vectors, texts, meta and faiss index); returns the copy."""
        if _within(Path(path), self.folder):  # a copy inside the store itself: it would copy itself
            raise BertNbError(f"{path} is inside the index's own folder {self.folder}; save it somewhere else.")
        target = made_folder(Path(path))
        if any(target.iterdir()):
            raise BertNbError(f"{target} is not empty; give a new folder to save the index in.")
        self._index()
        shutil.copytree(self.folder, target, dirs_exist_ok=True)
        return Index.load(target)

    @classmethod
    def load(cls, path, kind: str | None = None) -> "Index":
        """The index kept in the folder ``path``; ``kind`` ('flat' or 'hnsw') searches it another way."""
        if not isinstance(path, (str, os.PathLike)):
            raise BertNbError(f"Give the folder an index was built in (a path), not {type(path).__name__}.")
        folder = Path(path).expanduser()
        meta = _read_meta(folder)
        if meta is None:
            raise BertNbError(f"No index in {folder}; build one with bert_nb.index(engine, texts, store='{folder}').")
        if kind is not None:
            if kind not in KINDS:
                raise BertNbError(f"Unknown kind '{kind}'; choose one of {', '.join(KINDS)}.")
            meta.kind = kind  # this object only: the store keeps its own
        _truncate(folder, meta)
        return cls(folder, meta)

    @classmethod
    def merge(cls, shards, path, orders=None) -> "Index":
        """One store in ``path`` from several (built by the same model), without embedding again.

        ``orders``: for each shard, the corpus position of each of its texts; the merged store
        holds them in corpus order (default: the shards one after the other). Written a block at a
        time: the shards' vectors and texts are never all in memory.
        """
        import numpy as np

        parts = [cls.load(s) for s in shards]
        if not parts:
            raise BertNbError("Give at least one shard folder to merge.")
        seen = [p.folder.resolve() for p in parts]
        twice = next((f for i, f in enumerate(seen) if f in seen[:i]), None)
        if twice is not None:  # its texts would be in the merged index twice
            raise BertNbError(f"The shard {twice} is given twice; give each shard once.")
        first = parts[0].meta

        def built(m):
            return f"{m.model}'s vectors ({m.pooling} pooling, {m.dim} dims, {m.dtype} on disk)"

        for p in parts:
            if (p.meta.model, p.meta.dim, p.meta.pooling, p.meta.dtype) != (first.model, first.dim, first.pooling,
                                                                            first.dtype):
                raise BertNbError(f"{p.folder} holds {built(p.meta)}, {parts[0].folder} {built(first)}; merge "
                                  "shards built by one model the same way only.")
        counts = np.array([len(p) for p in parts], dtype=np.int64)
        total = int(counts.sum())
        positions = _merge_positions(orders, counts)
        folder = made_folder(Path(path))
        if any(folder.iterdir()):
            raise BertNbError(f"{folder} is not empty; give a new folder for the merged index.")
        where = np.argsort(positions, kind="stable")  # merged row -> row of the shards one after the other
        starts = np.concatenate([[0], np.cumsum(counts)])
        shard_of = np.searchsorted(starts, where, side="right") - 1
        local = where - starts[shard_of]
        texts_bytes = 0
        with open(folder / "vectors.bin", "wb") as vf, open(folder / "texts.jsonl", "wb") as tf:
            for block in range(0, total, 65536):
                rows = slice(block, min(block + 65536, total))
                out = np.empty((rows.stop - rows.start, first.dim), dtype=first.dtype)
                lines = [b""] * len(out)
                for s, p in enumerate(parts):
                    mine = np.flatnonzero(shard_of[rows] == s)
                    if len(mine):
                        theirs = local[rows][mine]
                        out[mine] = p.vectors[theirs]
                        for i, line in zip(mine, p._lines(theirs)):  # copied as stored: no decoding again
                            lines[i] = line
                vf.write(out.tobytes())
                written = b"".join(lines)
                tf.write(written)
                texts_bytes += len(written)
        meta = _Meta(**{**first.__dict__, "count": total, "texts_bytes": texts_bytes})
        _write_meta(folder, meta)
        merged = cls(folder, meta)
        merged._index()
        return merged

    def export_script(self, path, source: str = "corpus.txt", model: str | None = None) -> str:
        """Write a script that embeds a corpus on several GPUs or machines (``accelerate launch``), then merges.

        Each process embeds every n-th chunk of the corpus file (one text per line) into its
        own shard folder; the first process then merges the shards, in corpus order, into one
        store that ``bert_nb.Index.load`` opens. ``model``: the name or saved folder the
        processes load (default: the index's model by name). A model made in the session (fine-tuned,
        pre-trained, pruned) has no name to load: save it and give its folder, which is loaded here
        once to check it embeds into the index's space.
        """
        from .export import script_path, write_script_file

        path = script_path(path, "embed_index.py")
        write_script_file(path, _SCRIPT.format(model=repr(self._script_model(model)), pooling=repr(self.meta.pooling),
                                               source=repr(source), dtype=repr(self.meta.dtype)))
        return str(path)

    def _script_model(self, model: str | None) -> str:
        if model is None:
            if not self.meta.loadable:
                raise BertNbError(f"'{self.meta.model}' was made in a Python session, so the script's processes cannot "
                                  "load it by name; save it (its .save(folder)) and pass model=folder.")
            return self.meta.model
        from .engine import load

        engine = load(str(model))
        if not _named_or_same(engine, self.meta):
            raise BertNbError(f"'{model}' embeds into another space than {self.meta.model}, whose vectors this index "
                              "holds; give the name or folder of that model.")
        return str(model)


def _within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (``~`` and links resolved)."""
    path, folder = path.expanduser().resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _merge_positions(orders, counts):
    """The corpus position of every shard text, shard after shard; ``orders`` checked to name each once."""
    import numpy as np

    total = int(counts.sum())
    if orders is None:
        return np.arange(total)
    orders = list(orders)
    if len(orders) != len(counts):
        raise BertNbError(f"Give one order per shard: {len(orders)} orders for {len(counts)} shards.")
    for i, (order, count) in enumerate(zip(orders, counts)):
        if len(order) != count:
            raise BertNbError(f"Order {i} gives {len(order)} positions for the {count} texts of shard {i}; give "
                              "each text's corpus position.")
    positions = np.concatenate([np.asarray(o, dtype=np.int64) for o in orders]) if total else np.zeros(0, np.int64)
    if not np.array_equal(np.sort(positions), np.arange(total)):
        raise BertNbError(f"The orders must name every corpus position from 0 to {total - 1} once; some are "
                          "repeated or missing.")
    return positions


def _probe_vectors(engine, meta: _Meta):
    """The engine's unit vectors of :data:`_PROBES` as the index embeds texts, float16 as ``meta.probe`` keeps them."""
    import numpy as np

    from .embeddings import _unit, embed

    return _unit(embed(engine, list(_PROBES), pooling=meta.pooling, max_length=meta.max_length).vectors).astype(
        np.float16)


def _probe(engine, meta: _Meta) -> str:
    """:func:`_probe_vectors` for ``meta.probe``: base64."""
    import base64

    return base64.b64encode(_probe_vectors(engine, meta).tobytes()).decode("ascii")


def _named_or_same(engine, meta: _Meta) -> bool:
    """Whether ``engine`` embeds into the index's space: the model bert_nb loads by the index's name, or
    (another name, or a model made in a session, whose names say nothing of their weights: two
    ``pretrain`` runs are both "pretrained") one whose probe vectors match."""
    return (engine.name == meta.model and meta.loadable) or _same_space(engine, meta)


def _same_space(engine, meta: _Meta) -> bool:
    """Whether ``engine`` embeds the probes as the index's model did (an index from before probes: no)."""
    import base64

    import numpy as np

    if meta.probe is None or int(engine.encoder.config.hidden_size) != meta.dim:
        return False
    theirs = np.frombuffer(base64.b64decode(meta.probe), dtype=np.float16).reshape(len(_PROBES), meta.dim)
    cosines = (theirs.astype(np.float32) * _probe_vectors(engine, meta).astype(np.float32)).sum(axis=1)
    return bool(cosines.min() >= _SAME_SPACE)


def _kind_for(kind: str, count: int) -> str:
    return ("hnsw" if count >= _HNSW_FROM else "flat") if kind == "auto" else kind


def _build(blocks, dim: int, kind: str):
    """A faiss index over unit vectors (inner product = cosine), filled a block at a time."""
    import faiss
    import numpy as np

    if kind == "hnsw":
        found = faiss.IndexHNSWFlat(dim, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
        found.hnsw.efConstruction, found.hnsw.efSearch = _HNSW_EF_BUILD, _HNSW_EF_SEARCH
    else:
        found = faiss.IndexFlatIP(dim)
    for block in blocks:
        found.add(np.ascontiguousarray(block, dtype=np.float32))
    return found


def _read_meta(folder: Path) -> _Meta | None:
    path = folder / "meta.json"
    if not path.is_file():
        return None
    try:
        return _Meta(**json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise BertNbError(f"{path} is not an index's description ({err}); use another store folder.") from None


def _write_meta(folder: Path, meta: _Meta) -> None:
    tmp = folder / "meta.json.tmp"
    tmp.write_text(json.dumps(meta.__dict__, indent=1))
    os.replace(tmp, folder / "meta.json")  # the count moves only once the chunk is on disk


def _truncate(folder: Path, meta: _Meta) -> None:
    """Cut what an interrupted chunk left past the counted vectors and texts."""
    import numpy as np

    vectors = folder / "vectors.bin"
    size = meta.count * meta.dim * np.dtype(meta.dtype).itemsize
    for path, keep in ((vectors, size), (folder / "texts.jsonl", meta.texts_bytes)):
        if path.exists() and path.stat().st_size > keep:
            with open(path, "r+b") as f:
                f.truncate(keep)


def _stream(source, text: str | None):
    """The texts of ``source``, one at a time: a list, Series, DataFrame column, .txt/.csv/.parquet file, iterable."""
    if isinstance(source, (str, os.PathLike)):
        source = Path(source).expanduser()  # ~ as a shell reads it
    if isinstance(source, Path) and not source.exists():
        raise BertNbError(f"No file '{source}'; give a list of texts, a DataFrame column or a .txt/.csv/.parquet path.")
    if isinstance(source, Path):
        return _file_texts(source, text)
    if hasattr(source, "columns"):
        _has_column("The frame", text, source.columns)
        return iter(source[text or "text"].tolist())
    if hasattr(source, "tolist"):
        return iter(source.tolist())
    try:
        return iter(source)
    except TypeError:
        raise BertNbError(f"Cannot read texts from a {type(source).__name__}; give a list, a DataFrame column, a "
                          "file path or any iterable of strings.") from None


def _file_texts(path: Path, text: str | None):
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in _TEXT_SUFFIXES:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        yield line.rstrip("\n")
            return
        if suffix == ".csv":
            _has_column(path.name, text, pd.read_csv(path, nrows=0).columns)
            for part in pd.read_csv(path, chunksize=10_000, usecols=[text or "text"]):
                yield from part[text or "text"].tolist()
            return
        if suffix == ".parquet":
            parquet = _parquet(path)
            _has_column(path.name, text, parquet.schema_arrow.names)
            for batch in parquet.iter_batches(batch_size=10_000, columns=[text or "text"]):
                yield from batch.column(0).to_pylist()
            return
    except BertNbError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BertNbError(f"Cannot read {path} ({err}); give a UTF-8 text file (one text per line), a CSV or a "
                          "Parquet file with a text column.") from None
    raise BertNbError(f"Cannot read '{path.suffix}' files; give a .txt (one text per line), .csv or .parquet file.")


def _after_kept(texts, folder: Path, meta: _Meta):
    """``texts`` past the ``meta.count`` the store holds, once each of those is found equal to the one it keeps.

    Resuming is for the same corpus: another source's first texts would be skipped unread and the
    rest appended after the other corpus's vectors.
    """
    if not meta.count:
        return texts
    end = object()
    with open(folder / "texts.jsonl", "rb") as f:
        for i, line in enumerate(itertools.islice(f, meta.count)):  # JSON escapes a text's own newlines
            given = next(texts, end)
            if given is end:
                raise BertNbError(f"{folder} holds {meta.count:,} texts and this source only {i:,}; resume with the "
                                  "corpus it was built from, or give another store folder.")
            if given != json.loads(line):
                raise BertNbError(f"Text {i} of this source is not text {i} of {folder}, which holds {meta.count:,} "
                                  "texts of another corpus; resume with the corpus it was built from, give another "
                                  "store folder, or append with Index.add.")
    return texts


def _append(found: Index, engine, texts, batch_size, chunk: int, progress, total: int | None = None,
            skipped: int = 0) -> None:
    """Embed the stream a chunk at a time; each chunk's vectors and texts are on disk before the count moves.

    ``skipped``: texts of the source before ``texts`` (a resumed run's), for the position an error names.

    Reading and tokenizing run a chunk ahead of the model (``pooled_blocks``).
    """
    from .embeddings import _sentence_max_length, _unit, block_size, pooled_blocks
    from .windows import stride_for

    folder, meta = found.folder, found.meta

    def check(t, i):
        if not isinstance(t, str) or not t.strip():
            raise _BadText(skipped + i)

    limit = meta.max_length or _sentence_max_length(engine)
    batch_size = _batch_size(batch_size, engine)
    chunk = block_size(batch_size) if chunk == "auto" else chunk
    blocks = pooled_blocks(engine, texts, meta.pooling, [-1], limit,
                           stride_for(None, limit, engine.tokenizer), False, batch_size, block=chunk, check=check)
    bar = _bar(progress, meta.count, total)
    try:
        with contextlib.closing(blocks):
            for done in blocks:
                vectors = _unit(done.vectors[0])
                with open(folder / "vectors.bin", "ab") as f:
                    f.write(vectors.astype(meta.dtype).tobytes())
                lines = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in done.texts).encode("utf-8")
                with open(folder / "texts.jsonl", "ab") as f:
                    f.write(lines)
                meta.count += len(done.texts)
                meta.texts_bytes += len(lines)
                _write_meta(folder, meta)
                if bar is not None:
                    bar.update(len(done.texts))
    except _BadText as bad:
        kept = f" (the {meta.count:,} texts before its chunk are indexed and kept)" if meta.count else ""
        raise BertNbError(f"Text {bad.args[0]} of the source is empty or not a string; clean the source{kept}.") \
            from None
    finally:
        if bar is not None:
            bar.close()
        found._faiss = None  # rebuilt over the new vectors at the next search


def _check_chunk(chunk) -> None:
    if chunk != "auto" and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
        raise BertNbError(f"chunk is 'auto' or a whole number of at least 1 (texts embedded and written at a time); "
                          f"got {chunk!r}.")


class _BadText(Exception):
    """A text of the source that cannot be embedded (its position in the source)."""


def _batch_size(batch_size, engine) -> int:
    """``"auto"``: 512 on a GPU, 128 on a CPU in bf16, 64 in fp32 (the fastest measured on each)."""
    if batch_size == "auto":
        import torch

        if engine.device.startswith(("cuda", "mps")):
            return 512
        return 128 if engine.dtype in (torch.bfloat16, torch.float16) else 64
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise BertNbError(f"batch_size is a whole number of at least 1, or 'auto'; got {batch_size!r}.")
    return batch_size


def _bar(progress, done: int, total: int | None):
    """Texts/s, and the time left when the source's size is known."""
    if progress is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(initial=done, total=total, desc="indexing", unit="text", unit_scale=True)


def _parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BertNbError("Reading Parquet needs pyarrow: run `pip install pyarrow`, or give a .txt or .csv file.") from None
    return pq.ParquetFile(path)


def _has_column(where: str, text: str | None, columns) -> None:
    """``where`` (a frame, a file's name) holds the text column, or a sentence naming the columns it has."""
    if (text or "text") not in columns:
        raise BertNbError(f"{where} has no column '{text or 'text'}'; name the text column with text= "
                          f"({', '.join(map(str, columns))}).")


def _source_size(source) -> int | None:
    """How many texts the source holds, where that is cheap to know (a list, a column, a text or Parquet file)."""
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if is_file(path) and path.suffix.lower() in _TEXT_SUFFIXES:
            with open(path, "rb") as f:
                return sum(1 for line in f if line.strip())
        if is_file(path) and path.suffix.lower() == ".parquet":
            with contextlib.suppress(BertNbError, OSError, ValueError):
                return _parquet(path).metadata.num_rows  # from the footer, nothing else read
        return None
    return len(source) if hasattr(source, "__len__") else None  # a list, a Series, a DataFrame


def index(engine, source, store=None, kind: str = "auto", batch_size: int | str = "auto", text: str | None = None,
          dtype: str = "float16", chunk: int | str = "auto", pooling: str = "mean", max_length: int | None = None,
          progress: bool | None = None) -> Index:
    """Embed a corpus into an on-disk store and index it with faiss; the same call resumes an interrupted run.

    Parameters
    ----------
    engine : Engine
    source : list, Series, DataFrame (``text=`` names the column), a .txt/.csv/.parquet path, or any iterable
        Read in a stream, ``chunk`` texts at a time: never all in memory.
    store : str or Path, optional
        The folder that keeps the vectors (``dtype`` on disk), texts and faiss index; default a new
        temporary folder, removed with the returned Index (once nothing refers to it, or when Python
        exits): ``Index.save(path)`` keeps a copy. Calling again with a store that holds part of the
        same corpus resumes it (the texts it holds are checked against the source's first ones:
        another corpus is refused).
    kind : {"auto", "flat", "hnsw"}
        Exact inner-product search, or HNSW (approximate, for large corpora); ``auto`` picks exact
        below 100,000 vectors. ``Index.to_text()`` states the choice.
    batch_size : int or "auto"
        Texts per forward pass; ``auto`` is 512 on a GPU, 128 on a CPU in bf16 and 64 in fp32.
    chunk : int or "auto"
        Texts embedded and written at a time (an interrupt loses at most the chunk in progress);
        the next chunk is read and tokenized while the model runs on this one. Texts are sorted by
        length within a chunk, so where batches are padded (not packed: see ``embeddings.packs``)
        fewer texts mean more padding; ``auto`` is 64 batches, at least 4,096 texts (2-4% padding).

    Returns
    -------
    Index

    Examples
    --------
    >>> idx = bert_nb.index(engine, bert_nb.datasets.load("rotten_tomatoes").text, store="rt-index")  # doctest: +SKIP
    >>> idx.search("a moving film about family", k=5)                                                  # doctest: +SKIP
    """
    import tempfile

    if kind not in KINDS:
        raise BertNbError(f"Unknown kind '{kind}'; choose one of {', '.join(KINDS)}.")
    if pooling == "word":
        raise BertNbError("An index pools whole texts (pooling mean, cls or max); to compare one [bracketed] word "
                          "in context, use bert_nb.embed(engine, texts, pooling='word').")
    if dtype not in ("float16", "float32"):
        raise BertNbError(f"dtype is 'float16' or 'float32' (how vectors are kept on disk); got {dtype!r}.")
    _check_chunk(chunk)
    _batch_size(batch_size, engine)
    if max_length is not None:
        checked_limit(engine, max_length)
    folder = made_folder(Path(store) if store is not None else Path(tempfile.mkdtemp(prefix="bert_nb-index-")))
    meta = _read_meta(folder)
    wanted = _Meta(model=engine.name, dim=int(engine.encoder.config.hidden_size), dtype=dtype, pooling=pooling,
                   max_length=max_length, kind=kind)
    if meta is None:
        if any(folder.iterdir()):
            raise BertNbError(f"{folder} holds other files; give an empty or new folder for the index.")
        meta = wanted
        meta.probe, meta.loadable = _probe(engine, meta), bool(getattr(engine, "loadable", False))
        _write_meta(folder, meta)
    elif (meta.dim, meta.pooling, meta.max_length) != (wanted.dim, pooling, max_length) or \
            not _named_or_same(engine, meta):
        raise BertNbError(f"{folder} holds {meta.model}'s vectors ({meta.pooling} pooling, {meta.dim} dims); "
                          f"index with that model and pooling, or give another store folder.")
    else:
        _truncate(folder, meta)
    found = Index(folder, meta, engine)
    if store is None:
        weakref.finalize(found, shutil.rmtree, folder, ignore_errors=True)
    texts = _after_kept(_stream(source, text), folder, meta)
    first = next(texts, None)
    if first is None and meta.count == 0:
        raise BertNbError("The source holds no texts; give a list, a column or a file with at least one text.")
    _append(found, engine, itertools.chain([first] if first is not None else [], texts), batch_size, chunk,
            progress, total=_source_size(source), skipped=meta.count)
    found._index()
    return found


_SCRIPT = '''"""Embed a corpus into a bert_nb index on several GPUs or machines, then merge the shards into one store.

Written by bert_nb's Index.export_script. One text per line in the corpus file.

    python embed_index.py --corpus corpus.txt --out index            # one device
    accelerate launch --num_processes 8 embed_index.py --corpus corpus.txt --out index
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 4 embed_index.py ...   # CPU processes

Run again after an interrupt, each process resumes its shard.
"""

import argparse
import itertools
import os
import shutil
from pathlib import Path

import torch

import bert_nb
from accelerate import PartialState

MODEL, POOLING, DTYPE = {model}, {pooling}, {dtype}

parser = argparse.ArgumentParser()
parser.add_argument("--corpus", default={source})
parser.add_argument("--out", default="index")
parser.add_argument("--chunk", type=int, default=16384,
                    help="lines per chunk: texts are sorted by length within one, so larger pads less "
                         "(where batches are padded) and runs fewer attention calls; "
                         "smaller spreads the corpus more evenly over the processes")
args = parser.parse_args()


def on_cpu():
    """ACCELERATE_USE_CPU is set, or there is no accelerator: the processes talk over gloo on the CPU."""
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes"):
        return True
    found = getattr(torch, "accelerator", None)
    return not (found.is_available() if found is not None else torch.cuda.is_available())


state = PartialState(cpu=on_cpu())
engine = bert_nb.load(MODEL, device=str(state.device))


def my_lines(order):
    """The lines of every n-th chunk of the corpus for process n (the shards together hold every line once);
    each line's number goes to ``order``."""
    with open(args.corpus, encoding="utf-8") as f:
        lines = (line.rstrip("\\n") for line in f if line.strip())
        for i, line in enumerate(lines):
            if (i // args.chunk) % state.num_processes == state.process_index:
                order.append(i)
                yield line


shard = Path(args.out + ".shards") / f"{{state.process_index:05d}}"
order = []
lines = my_lines(order)
first = next(lines, None)
if first is not None:  # one call: run again after an interrupt, it resumes where the shard stops
    bert_nb.index(engine, itertools.chain([first], lines), store=shard, pooling=POOLING, dtype=DTYPE, progress=False)
print(f"process {{state.process_index + 1}} of {{state.num_processes}} ({{engine.device}}): {{len(order):,}} texts", flush=True)
shard.parent.mkdir(parents=True, exist_ok=True)
(Path(args.out + ".shards") / f"order.{{state.process_index:05d}}.txt").write_text(" ".join(map(str, order)))
state.wait_for_everyone()
if state.is_main_process:
    root = Path(args.out + ".shards")
    shards = sorted(p for p in root.iterdir() if p.is_dir())
    orders = [[int(x) for x in (root / f"order.{{s.name}}.txt").read_text().split()] for s in shards]
    merged = bert_nb.Index.merge(shards, args.out, orders=orders)
    print(merged.to_text())
    shutil.rmtree(root)
'''
