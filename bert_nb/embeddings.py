"""Embeddings: sentence and word vectors, similarity, projection, semantic search, STS-B.

Sentences are embedded in length-sorted batches, packed without padding where the model and
device allow (``packs``); a background thread tokenizes the next batches while the model runs
(``pooled_vectors``), so memory stays bounded for long lists and a GPU does not wait for the
tokenizer. Word mode marks
the target word in square brackets (``I sat on the river [bank].``) and pools
only its WordPieces, in context.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import BertNbError, check_batch_size
from .tokens import checked_limit, split_alone
from .windows import cut_note, cut_pieces, first_windows, stride_for, windows_note

__all__ = ["Embeddings", "embed", "Similarity", "similarity", "Projection", "project", "search",
           "StsScore", "evaluate_sts", "POOLINGS"]

POOLINGS = ("mean", "cls", "max", "word")
_PROGRESS_FROM = 1024  # show a progress bar from this many texts on
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
# tokenizer -> (its Rust side, vocabulary size, a private copy, lock): a cache, like the engines' (_own_backend)
_OWN_BACKENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
    made_by: str | None = None  # the identity of a model made in a session (its name may not be its own)

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
          progress: bool | None = None, truncate: bool = False, stride: int | None = None,
          compile: bool = False) -> Embeddings:
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
    compile : bool
        Run the encoder through ``torch.compile`` (compiled once per engine, which takes about
        40 s on a CPU). On a CPU the default path, with its weights laid out once for oneDNN, was
        as fast or faster (``bench/embed.py`` measures both).

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
    texts = _as_texts(texts)
    if pooling not in POOLINGS:
        raise BertNbError(f"Unknown pooling '{pooling}'; use one of {', '.join(POOLINGS)}.")
    check_batch_size(batch_size)
    for flag, value in (("compile", compile), ("truncate", truncate), ("normalize_embeddings", normalize_embeddings)):
        if not hasattr(value, "__bool__") or value not in (True, False):  # "yes" and "no" were both true
            raise BertNbError(f"{flag} is True or False; got {value!r}.")
    n_layers = int(getattr(engine.config, "num_hidden_layers", 0))
    if not isinstance(layer, int) or not -(n_layers + 1) <= layer <= n_layers:
        raise BertNbError(f"layer must be between 0 and {n_layers} (or -1 for the last); got {layer}.")
    words, spans = None, None
    if pooling == "word":
        texts, words, spans = zip(*(_bracketed(t, i) for i, t in enumerate(texts)))
        texts, words = tuple(texts), tuple(words)
    limit = checked_limit(engine, max_length, default=_sentence_max_length(engine))
    stride = stride_for(stride, limit, engine.tokenizer)
    show = len(texts) >= _PROGRESS_FROM if progress is None else progress
    pooled, taken, cut = pooled_vectors(engine, texts, pooling, [layer], limit, stride, truncate, batch_size,
                                        spans=spans, progress=show, compile=compile)
    vectors = _unit(pooled[0]) if normalize_embeddings else pooled[0]
    windows = tuple(int(c) for c in taken)  # word mode: the windows that hold the word
    return Embeddings(vectors=vectors, texts=tuple(texts), pooling=pooling, layer=layer,
                      normalized=bool(normalize_embeddings), model=engine.name, words=words,
                      windows=windows, cut=cut, window=limit, stride=stride, made_by=made_by(engine))


def made_by(engine) -> str | None:
    """What :attr:`Embeddings.made_by` records for vectors of ``engine``: None for a model ``load`` gives back."""
    return None if getattr(engine, "loadable", True) else getattr(engine, "identity", None)


def _as_texts(texts) -> tuple[str, ...]:
    if isinstance(texts, str):
        texts = [texts]
    elif hasattr(texts, "tolist"):  # pandas Series, numpy array
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError:
        raise BertNbError(f"Give a text or a list of texts to embed, not {type(texts).__name__}.") from None
    if not texts:
        raise BertNbError("Give at least one text to embed.")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            what = "empty" if isinstance(t, str) else "missing" if t is None or t != t else type(t).__name__
            raise BertNbError(f"Text {i} is {what}; give non-empty strings only (a column's missing "
                              "values: .dropna()).")
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
    joined_before = before and before[-1].isalnum() and not (split_alone(before[-1]) or split_alone(word[:1] or " "))
    joined_after = after and after[0].isalnum() and not (split_alone(after[0]) or split_alone(word[-1:] or " "))
    if not word.strip() or word != word.strip() or joined_before or joined_after:  # Chinese: no spaces needed
        raise BertNbError(f"In text {i}, the brackets must surround a whole word, as in 'the river [bank].'; "
                          f"got '{m.group(0)}'.")
    return before + word + after, word, (len(before), len(before) + len(word))


def _sentence_max_length(engine) -> int:
    """The max_seq_length a sentence-transformers model folder declares, else the model's limit."""
    path = Path(engine.source) / "sentence_bert_config.json"
    if engine.source and path.is_file():  # a model pre-trained here has no folder (not the working one)
        try:
            return min(int(json.loads(path.read_text())["max_seq_length"]), engine.max_length)
        except (ValueError, KeyError, TypeError):
            pass
    return engine.max_length


# -- the embedding path: every pooled vector of the package is made here ---------------
# texts tokenized, sorted by length and padded at a time; the next block is tokenized while the model runs.
# At least 64 batches: padding falls from 8-19% of the pieces at 8 batches a block to 2-4% at 64 (STS-B,
# Rotten Tomatoes; batches of 32-128).
_BLOCK, _BATCHES_PER_BLOCK = 4096, 64


@dataclass
class _Batch:
    """One padded batch of windows, ready for the encoder."""

    owner: list[int]  # the text each window belongs to, counted within its block
    tensors: dict  # input_ids (and attention_mask when something is padded), on the host
    mask: "object"  # (B, T) the pieces to pool: the real ones, or in word mode the target's
    finished: int  # texts whose last window is in this batch (for the progress bar)
    block: "_Block | None" = None  # on the block's last batch: the block, to be filled
    packing: "_Packing | None" = None  # when the windows run as one row without padding


@dataclass
class _Packing:
    """A batch run as one row of all its windows' pieces, without padding (see :func:`_pack`)."""

    runs: "object"  # (R, 3) int64 on the host: first piece, windows, pieces each, of each run of equal lengths
    cu: "object"  # (B + 1,) int32: where each window starts in the row, then the row's length
    gather: "object"  # (B, T) the row position of each padded slot (0 at padding, which the mask drops)

    def to(self, device: str) -> "_Packing":
        """``cu`` and ``gather`` on ``device``; ``runs`` stays on the host, where it is read."""
        cuda = device.startswith("cuda")
        return _Packing(self.runs, self.cu.to(device, non_blocking=cuda), self.gather.to(device, non_blocking=cuda))


@dataclass
class _Block:
    """Consecutive texts and their vectors: ``vectors`` (layers, n, H) is the mean of each text's windows."""

    first: int  # position of the first text in the whole stream
    texts: list[str]
    windows: "object" = None  # (n,) windows each text took
    cut: tuple[int, ...] = ()  # with truncate: pieces cut off each text
    vectors: "object" = None


def pooled_vectors(engine, texts, pooling: str, layers, limit: int, stride: int, truncate: bool, batch_size: int,
                   spans=None, progress: bool = False, compile: bool = False, packed: bool | None = None,
                   prepack: bool | None = None):
    """The pooled vectors of a list of texts at ``layers`` (None: all): (layers, n, H) float32, windows, cut pieces."""
    import numpy as np

    with progress_bar(len(texts), progress) as bar:
        blocks = list(pooled_blocks(engine, texts, pooling, layers, limit, stride, truncate, batch_size,
                                    spans=spans, bar=bar, compile=compile, packed=packed, prepack=prepack))
    vectors = np.concatenate([b.vectors for b in blocks], axis=1)
    windows = np.concatenate([b.windows for b in blocks])
    return vectors, windows, tuple(c for b in blocks for c in b.cut)


def pooled_blocks(engine, texts, pooling: str, layers, limit: int, stride: int, truncate: bool, batch_size: int,
                  block: int | None = None, spans=None, bar=None, compile: bool = False, check=None,
                  packed: bool | None = None, prepack: bool | None = None):
    """Embed ``texts`` (any iterable, read as a stream) a block at a time; yields each :class:`_Block` in order.

    A background thread reads the texts, tokenizes them into windows and pads (or packs) length-sorted
    batches a block ahead of the model, so the encoder (on a GPU above all) never waits for
    the tokenizer; on CUDA the batches are pinned and copied without blocking, and pooled vectors
    stay on the device until their block is done. ``block``: texts per block (default
    :func:`block_size`). ``check(text, position)`` may raise on a bad text; errors from the
    thread are raised here. ``bar.update(n)`` counts finished texts. ``packed``: run each batch as one
    row without padding (default :func:`packs`); ``prepack``: run a copy of the encoder with its
    weights laid out for oneDNN (default :func:`prepacks`).
    """
    import numpy as np

    prepack = not compile and (prepacks(engine) if prepack is None else prepack)
    model = _encoder(engine, compile, prepack)
    packed = packs(engine) if packed is None else packed
    block = block or block_size(batch_size)
    count = int(engine.encoder.config.num_hidden_layers) + 1 if layers is None else len(layers)
    batches = _batches(engine.tokenizer, texts, spans, limit, stride, truncate, batch_size,
                       engine.device.startswith("cuda"), block, check, packed, _row_multiple(engine, prepack))
    with _Ahead(batches, depth=-(-block // batch_size) + 4) as ahead:  # a whole block ahead: the next one
        # is tokenized while the model runs this one
        pending = []
        for batch in ahead:
            pending.append((batch.owner, _pool_batch(engine, model, batch, pooling, layers)))
            if bar is not None:
                bar.update(batch.finished)
            if batch.block is None:
                continue
            done = batch.block  # its last batch: one copy to the host per block
            done.vectors = np.zeros((count, len(done.texts), engine.encoder.config.hidden_size), dtype=np.float32)
            for owner, out in pending:
                out = out.cpu().numpy()  # (layers, B, H)
                for i in range(count):
                    np.add.at(done.vectors[i], owner, out[i])
            done.vectors /= np.maximum(done.windows, 1)[None, :, None]
            pending = []
            yield done


def block_size(batch_size: int) -> int:
    """Texts sorted and padded together: ``_BLOCK`` or ``_BATCHES_PER_BLOCK`` batches, whichever is more."""
    return max(_BLOCK, _BATCHES_PER_BLOCK * batch_size)


def _batches(tokenizer, texts, spans, limit: int, stride: int, truncate: bool, batch_size: int, pinned: bool,
             block: int, check=None, packed: bool = False, multiple: int = 1):
    """Padded (or ``packed``: rows of a ``multiple`` of pieces) batches of windows, ``block`` texts at a time,
    longest first within a block."""
    import itertools

    import numpy as np

    pad = tokenizer.pad_token_id or 0
    stream, first = iter(texts), 0
    while True:
        part = list(itertools.islice(stream, block))
        if not part:
            return
        if check is not None:
            for i, text in enumerate(part):
                check(text, first + i)
        ids, local, offsets = _encode(tokenizer, part, limit, stride, spans is not None)  # local: window -> text
        keep = first_windows(local, truncate)
        targets = None
        if spans is not None:  # word mode: only the windows that hold the word
            targets = {w: _span_mask_row(offsets[w], spans[first + local[w]]) for w in keep}
            keep = [w for w in keep if any(targets[w])]
            missing = sorted(set(range(len(part))) - {local[w] for w in keep})
            if missing:
                raise BertNbError(f"The bracketed word of text {first + missing[0]} was cut off by truncation; "
                                  "shorten the text before it, or pass truncate=False.")
        windows = np.bincount([local[w] for w in keep], minlength=len(part))
        done = _Block(first=first, texts=part, windows=windows,
                      cut=cut_pieces(ids, local, len(part), stride, tokenizer) if truncate else ())
        left = windows.copy()  # windows still to run, per text
        order = sorted(keep, key=lambda w: -len(ids[w]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            owners = [local[w] for w in idx]
            np.subtract.at(left, owners, 1)
            finished = int(np.sum(left[np.unique(owners)] == 0))
            rows, marks = [ids[w] for w in idx], [targets[w] for w in idx] if targets else None
            tensors, mask, *packing = _pack(rows, marks, pinned, multiple) if packed else _pad(rows, pad, marks, pinned)
            yield _Batch(owner=owners, tensors=tensors, mask=mask, finished=finished,
                         block=done if start + batch_size >= len(order) else None,
                         packing=packing[0] if packing else None)
        first += len(part)


def _encode(tokenizer, texts: list, limit: int, stride: int, offsets: bool):
    """The windows of ``texts``: token ids of each, the text each belongs to, and (``offsets``) where its pieces are.

    A fast tokenizer's Rust side is called directly where it has ``encode_batch_fast``: no offsets
    computed, no conversion of each text in Python; 1.7x the transformers call on 32,768 STS-B
    sentences, whose Python half would cap a GPU below 100,000 sentences/s. The same ids and windows
    as the transformers call, on a private copy of the Rust side (:func:`_own_backend`); word mode,
    which needs the offsets, and other tokenizers take the transformers call.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    own = None  # a Rust side that cannot be copied (a custom Python pre-tokenizer) takes the transformers call too
    if not offsets and hasattr(backend, "encode_batch_fast"):
        own, lock = _own_backend(tokenizer, backend)
    if own is None:
        enc = tokenizer(texts, truncation=True, max_length=limit, return_attention_mask=False,
                        return_token_type_ids=False, return_offsets_mapping=offsets,
                        return_overflowing_tokens=True, stride=stride)
        return enc["input_ids"], enc["overflow_to_sample_mapping"], enc.get("offset_mapping")
    with lock:  # the truncation set here holds for this call's encoding
        own.enable_truncation(limit, stride=stride, strategy="longest_first", direction=tokenizer.truncation_side)
        own.no_padding()
        encodings = own.encode_batch_fast(texts)
    ids, owners = [], []
    for i, encoding in enumerate(encodings):
        first = encoding.ids
        ids.append(first)
        owners.append(i)
        if len(first) >= limit:  # only a full window can have more (reading them copies them out of Rust)
            for more in encoding.overflowing:
                ids.append(more.ids)
                owners.append(i)
    return ids, owners, None


def _own_backend(tokenizer, backend):
    """A copy of the fast tokenizer's Rust side that only :func:`_encode` sets truncation on, and its lock.

    The shared one's truncation is whatever the last call set: another thread (a panel training
    in the background, the user's own call) could change it between setting and encoding, and
    embedding would leave it changed. Copied again when tokens were added to the tokenizer
    (or its Rust side replaced); kept while the tokenizer lives (not on it: it still copies and
    pickles). None where the Rust side cannot be copied.
    """
    import copy
    import threading

    size = backend.get_vocab_size(with_added_tokens=True)
    held = _OWN_BACKENDS.get(tokenizer)
    if held is None or held[0] is not backend or held[1] != size:
        try:
            own = copy.deepcopy(backend)
        except Exception:  # noqa: BLE001 - custom Python components do not copy; the caller falls back
            own = None
        held = (backend, size, own, threading.Lock())
        _OWN_BACKENDS[tokenizer] = held
    return held[2], held[3]


def _pad(rows, pad: int, targets, pinned: bool):
    """Token id lists to a (B, T) padded batch; no attention mask when nothing is padded (the faster path)."""
    import numpy as np
    import torch

    real, flat = _real(rows)
    input_ids = np.full(real.shape, pad, dtype=np.int64)
    input_ids[real] = flat
    tensors = {"input_ids": torch.from_numpy(input_ids)}
    if not real.all():
        tensors["attention_mask"] = torch.from_numpy(real.astype(np.int64))
    return _pinned(tensors, _pool_mask(real, targets), pinned)


def _pack(rows, targets, pinned: bool, multiple: int = 1):
    """Token id lists as one row of all their pieces, no padding: (1, N) input and position ids, the (B, T)
    pooling mask as :func:`_pad` makes it, and the :class:`_Packing` attention and pooling need.

    With ``multiple`` > 1 the row is filled up to a multiple of it by a window of its own that nothing
    reads (see :func:`_row_multiple`)."""
    import numpy as np
    import torch

    real, flat = _real(rows)
    lengths = real.sum(1)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    positions = np.arange(len(flat)) - np.repeat(starts[:-1], lengths)  # each window counts from 0
    gather = np.zeros(real.shape, dtype=np.int64)
    gather[real] = np.arange(len(flat))
    firsts = np.flatnonzero(np.diff(lengths, prepend=-1))  # windows of one length in a row share one
    counts = np.diff(np.append(firsts, len(lengths)))  # attention call (on a CPU)
    runs = np.stack([starts[firsts], counts, lengths[firsts]], axis=1).tolist()
    extra = -len(flat) % multiple
    if extra:
        runs.append((len(flat), 1, extra))
        flat = np.concatenate([flat, np.zeros(extra, dtype=np.int64)])
        positions = np.concatenate([positions, np.arange(extra)])
        starts = np.append(starts, len(flat))
    tensors = {"input_ids": torch.from_numpy(flat[None]), "position_ids": torch.from_numpy(positions[None])}
    tensors, mask = _pinned(tensors, _pool_mask(real, targets), pinned)
    cu, gather = torch.from_numpy(starts.astype(np.int32)), torch.from_numpy(gather)
    if pinned:
        cu, gather = cu.pin_memory(), gather.pin_memory()
    return tensors, mask, _Packing(runs=torch.tensor(runs, dtype=torch.int64).reshape(-1, 3), cu=cu, gather=gather)


def _real(rows):
    """(B, T) bool: which slots of a padded batch hold a piece; and all the pieces, in order."""
    import numpy as np

    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    return np.arange(lengths.max())[None, :] < lengths[:, None], np.concatenate(rows).astype(np.int64)


def _pool_mask(real, targets):
    """(B, T) the pieces to pool: the real ones, or in word mode the target's."""
    import numpy as np
    import torch

    if targets is None:
        return torch.from_numpy(real.astype(np.int64))
    pooled = np.zeros(real.shape, dtype=np.int64)
    pooled[real] = np.concatenate(targets)
    return torch.from_numpy(pooled)


def _pinned(tensors: dict, mask, pinned: bool):
    if pinned:
        return {k: v.pin_memory() for k, v in tensors.items()}, mask.pin_memory()
    return tensors, mask


def _pool_batch(engine, model, batch: _Batch, pooling: str, layers):
    """Run the encoder on one batch and pool: (layers, B, H) float32 on the engine's device."""
    import torch

    packing = None if batch.packing is None else batch.packing.to(engine.device)
    extra = {} if packing is None else {"packed_runs": packing.runs, "packed_cu": packing.cu}
    with _attention(engine, packing is not None):
        if layers == [-1]:
            chosen = [engine.forward(batch.tensors, model=model, **extra).last_hidden_state]
        else:
            hidden = engine.forward(batch.tensors, model=model, output_hidden_states=True, **extra).hidden_states
            chosen = hidden if layers is None else [hidden[i] for i in layers]
    mask = batch.mask.to(chosen[0].device, non_blocking=True)
    with torch.inference_mode():
        if packing is not None:  # the row back to (B, T, H); the mask drops the padded slots
            chosen = [h[0][packing.gather] for h in chosen]
        return torch.stack([_pool(h.float(), mask, pooling) for h in chosen])


# -- packed batches: attention within each window of one row, no padding anywhere ----------------
_PACKED = "bert_nb_packed"
_MATMUL_ATTENTION = 64  # fp32 windows up to this many pieces: attention as matrix multiplies (_within_windows)


def packs(engine) -> bool:
    """Whether the embedding path runs this engine's batches packed: each batch one row of all its pieces,
    no padding, attention within each window.

    On a CPU (one attention call per run of equal-length windows), faster than padded batches (1-11%
    at batches of 32-128 STS-B sentences, 4-6% compiled), vectors equal to 1e-6; on CUDA in fp16/bf16,
    flash attention's variable-length kernel. Only BERT proper (``model_type`` "bert": other families
    count positions their own way), and not int8 engines: dynamic quantization scales a whole batch's
    activations at once, and packed rows cost STS-B 0.2 more Spearman (81.29, padded 81.50, fp32 82.03).
    """
    import torch

    if getattr(engine.encoder.config, "model_type", "") != "bert" or getattr(engine, "quantize", None):
        return False
    if engine.device == "cpu":
        return True
    return engine.device.startswith("cuda") and engine.dtype in (torch.float16, torch.bfloat16) and \
        _varlen_kernel() is not None


def _row_multiple(engine, prepacked: bool = False) -> int:
    """Pieces a packed row is a multiple of: 64 for bf16/fp16 or a ``prepacked`` encoder on a CPU, else 1.

    There oneDNN builds and keeps a kernel for every matrix shape it meets: rows of every length
    cost a million-text index 20% more time and 5 GB more memory (bf16), and each new shape runs
    25% slower the first time (fp32); rows of a multiple of 64 (1-4% of the pieces) cost less than
    padded batches.
    """
    import torch

    if engine.device != "cpu":
        return 1
    return 64 if engine.dtype in (torch.float16, torch.bfloat16) or prepacked else 1


def _uses_varlen(q) -> bool:
    import torch

    return q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and _varlen_kernel() is not None


@functools.lru_cache(maxsize=None)
def _takes_scale(kernel) -> bool:
    """Whether the variable-length kernel takes ``scale=`` (torch 2.12 on; before, it scales by 1/sqrt(D))."""
    import inspect

    return "scale" in inspect.signature(kernel).parameters


def _varlen_kernel():
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:  # torch before 2.10
        return None
    return varlen_attn


@contextlib.contextmanager
def _attention(engine, packed: bool):
    """While packed batches run, the encoder's attention is :func:`_packed_attention`."""
    if not packed:
        yield
        return
    from transformers import AttentionInterface

    AttentionInterface.register(_PACKED, _packed_attention)
    _windows_op()
    config = engine.encoder.config
    before = config._attn_implementation
    config._attn_implementation = _PACKED
    try:
        yield
    finally:
        config._attn_implementation = before


def _packed_attention(module, query, key, value, attention_mask=None, scaling=None, dropout=0.0,
                      packed_runs=None, packed_cu=None, **kwargs):
    """Attention within each window of a packed row: query, key, value (1, heads, N, D) -> (1, N, heads, D)."""
    import torch

    q, k, v = (x[0].transpose(0, 1) for x in (query, key, value))  # (N, heads, D), contiguous
    scale = float(scaling) if scaling is not None else q.shape[-1] ** -0.5
    # compiled, the operator by name (``_attention`` made it; dynamo stops at a cached function)
    op = torch.ops.bert_nb.within_windows if torch.compiler.is_compiling() else _windows_op()
    return op(q, k, v, packed_runs, packed_cu, scale).unsqueeze(0), None


@functools.lru_cache(maxsize=None)
def _windows_op():
    """:func:`_within_windows` as a torch operator, so ``torch.compile`` runs it whole: no graph break
    and no recompiling for each batch's runs (it sees an operator and the shape it returns)."""
    import torch

    op = torch.library.custom_op("bert_nb::within_windows", _within_windows, mutates_args=(),
                                 schema="(Tensor q, Tensor k, Tensor v, Tensor runs, Tensor cu, float scale) -> Tensor")
    op.register_fake(lambda q, k, v, runs, cu, scale: torch.empty_like(q))
    return op


def _within_windows(q, k, v, runs, cu, scale: float):
    """Attention within each window: q, k, v (N, heads, D) -> (N, heads, D).

    On CUDA in fp16/bf16, flash attention's variable-length kernel; elsewhere one attention call
    per run of equal-length windows, none of them padded: in fp32 for windows of up to
    ``_MATMUL_ATTENTION`` pieces two matrix multiplies and a softmax (1.5-2x the CPU's flash kernel at
    these lengths, 5% of ``embed`` on STS-B; same values to 1e-6), else ``scaled_dot_product_attention``
    (bf16 keeps it: it holds the scores in fp32; with bf16 matrix multiplies instead, the least cosine
    of STS-B vectors to fp32 fell from 0.99990 to 0.99988).
    """
    import math

    import torch

    if _uses_varlen(q):
        kernel, longest = _varlen_kernel(), int(runs[:, 2].max())
        if _takes_scale(kernel):
            return kernel(q, k, v, cu, cu, longest, longest, scale=scale)
        if math.isclose(scale, q.shape[-1] ** -0.5, rel_tol=1e-6):  # torch 2.10-2.11: no scale, always 1/sqrt(D)
            return kernel(q, k, v, cu, cu, longest, longest)
    out = torch.empty_like(q)
    for first, n, length in runs.tolist():
        end = first + n * length
        part = [x[first:end].unflatten(0, (n, length)).transpose(1, 2) for x in (q, k, v)]  # (n, heads, L, D)
        if length <= _MATMUL_ATTENTION and q.dtype == torch.float32 and not q.is_cuda:
            done = torch.matmul(torch.matmul(part[0], part[1].transpose(-1, -2)).mul_(scale).softmax(-1), part[2])
        else:
            done = torch.nn.functional.scaled_dot_product_attention(*part, scale=scale)
        out[first:end] = done.transpose(1, 2).flatten(0, 1)
    return out


def _encoder(engine, compile: bool, prepack: bool = False):
    """The engine's encoder: a ``torch.compile`` copy of it (made once per engine), or with ``prepack`` a
    copy with its linear layers' weights laid out once for oneDNN (``_prepacked``); else the encoder itself."""
    if compile:
        held = getattr(engine, "_compiled_encoder", None)  # (encoder, its compiled copy)
        if held is None or held[0] is not engine.encoder:  # a copy of the engine (with_model) has its own
            import torch

            held = (engine.encoder, torch.compile(engine.encoder, dynamic=True))
            engine._compiled_encoder = held
        return held[1]
    if prepack:
        from . import _prepacked

        return _prepacked.cached(engine, engine.encoder)
    return engine.encoder


def prepacks(engine) -> bool:
    """Whether the embedding path runs a prepacked copy of this engine's encoder: on a CPU in fp32 or bf16,
    not int8 (see ``_prepacked``). MiniLM on STS-B, 2 threads: 1.2x the throughput in fp32, vectors
    equal to 1e-6."""
    from . import _prepacked

    return _prepacked.applies(engine, engine.encoder)


class _Ahead:
    """Runs a generator in a background thread, at most ``depth`` items ahead of the loop that takes them.

    An error in the generator is raised in the loop; leaving the loop early (an error, an
    interrupt) stops the thread.
    """

    _DONE = object()

    def __init__(self, items, depth: int):
        import queue
        import threading

        self._queue, self._stop = queue.Queue(depth), threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), daemon=True, name="bert_nb-tokenize")

    def _run(self, items) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(self._DONE)
        except BaseException as err:  # handed to the loop, raised there
            self._put(err)

    def _put(self, item) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __enter__(self):
        self._thread.start()
        return self

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)  # a source that blocks (a slow reader) is left to finish on its own


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


class progress_bar:
    """A tqdm bar (a widget in notebooks) when asked for (``show`` None: from 1,024 items on), else nothing.
    Every long pass over texts (embedding, predicting, tagging) shows one this way."""

    def __init__(self, total: int, show: bool | None, desc: str = "embedding", unit: str = "text"):
        self.bar = None
        if show is None:
            show = total >= _PROGRESS_FROM
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit)

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

        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise BertNbError(f"k is the number of pairs to list, a whole number of at least 1; got {k!r}.")
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
    if (ea.model, ea.made_by) != (eb.model, eb.made_by):  # a numpy shape error, or a meaningless number, before
        raise BertNbError(f"The two sides were embedded by {ea.model} and {eb.model}" +
                          (" (two models made in a session can share a name)" if ea.model == eb.model else "") +
                          ", two spaces; embed both with one model.")
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

    if not isinstance(embeddings, Embeddings):
        raise BertNbError(f"project takes the Embeddings that bert_nb.embed returns; got {type(embeddings).__name__}.")
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
    if isinstance(corpus, Embeddings) and corpus.model != engine.name:
        raise BertNbError(f"The corpus was embedded by {corpus.model} and the queries would be by {engine.name}, "
                          "another space; embed the corpus with the model you search with.")
    if isinstance(corpus, Embeddings) and corpus.made_by != made_by(engine):
        raise BertNbError(f"The corpus was embedded by another model named {corpus.model} (models made in a session "
                          "can share a name); embed the corpus with the model you search with.")
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

    ``limit`` keeps only the first pairs (for quick looks; at least 3). The published figure for
    all-MiniLM-L6-v2 (the default model) on the test split is about 82.0.
    """
    import numpy as np
    import pandas as pd

    from .datasets import load as load_dataset

    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 3):
        raise BertNbError(f"limit is the number of pairs to score, at least 3 for a rank correlation; got {limit!r}.")
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
