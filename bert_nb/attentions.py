"""Attention: every layer's and head's weights for one text, views of them, and Q/K/V by hand.

:func:`attention` runs the model once with eager attention (SDPA, used
everywhere else, does not return weights) and keeps the weights as a numpy
array of shape (layers, heads, T, T). :func:`select` slices it the way every
view understands: one head or an average, special tokens hidden (rows
renormalised), sentence-pair quadrants. :func:`recompute` rebuilds one
layer's attention from its query/key weights, softmax(QK^T / sqrt(d_k)), to
show that the model does exactly that.

A pruned model (:func:`bert_nb.prune`) keeps the original head numbers: the
weights of a removed head are NaN, every average skips them, and asking for
one by number says it was pruned.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace

from .errors import BertNbError
from .mask import typed_masks
from .tokens import _check_text, _segments, checked_limit, cjk_note
from .windows import one_window

__all__ = ["Attention", "AttentionSlice", "attention", "select", "focus", "Focus", "recompute",
           "Recomputed", "DIRECTIONS"]

DIRECTIONS = ("all", "A->A", "B->B", "A->B", "B->A")
_ADDED = ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>")


@dataclass(frozen=True)
class View:
    """What a displayed :class:`Attention` shows: one head, an average, the grid or a token's focus."""

    layer: int = -1
    head: int | None = None  # None: the average over heads
    grid: bool = False
    hide_special: bool = False
    direction: str = "all"
    focus: str | None = None


@dataclass(frozen=True, eq=False)
class Attention:
    """Attention weights of every layer and head for one text (or pair).

    ``weights`` is float32 with shape (layers, heads, T, T); row i holds how
    much piece i attends to every piece, and sums to 1. Heads a pruned model no
    longer has are NaN, at their original numbers.
    """

    weights: "object"  # numpy.ndarray (L, H, T, T)
    tokens: tuple[str, ...]
    segments: tuple[int, ...]
    special: tuple[bool, ...]  # the pieces the tokenizer added: [CLS], [SEP], [PAD]
    text: str
    pair: str | None = None
    model: str = ""
    predictions: "object" = None  # MaskPredictions from the same pass, when the text has [MASK]
    view: View = field(default_factory=View)
    window: int = 0  # which window of a text longer than the model's limit
    windows: int = 1  # how many windows the text takes
    note: str = ""  # which window is shown, when there are several

    @property
    def layers(self) -> int:
        """Number of layers."""
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        """Heads per layer (before any pruning)."""
        return int(self.weights.shape[1])

    @property
    def pruned(self) -> dict[int, list[int]]:
        """Heads a pruned model no longer has, by layer (empty for a model that was not pruned)."""
        import numpy as np

        gone = np.isnan(self.weights[:, :, 0, 0])
        return {int(l): [int(h) for h in np.flatnonzero(gone[l])] for l in range(self.layers) if gone[l].any()}

    def summary(self) -> str:
        """"6 layers x 12 heads (3 pruned) over 16 pieces"."""
        count = sum(len(h) for h in self.pruned.values())
        return (f"{self.layers} layers x {self.heads} heads" + (f" ({count} pruned)" if count else "")
                + f" over {len(self.tokens)} pieces"
                + (f" (window {self.window} of 0-{self.windows - 1})" if self.windows > 1 else ""))

    def with_view(self, **options) -> "Attention":
        """The same weights, displayed differently (layer, head, grid, hide_special, direction, focus)."""
        view = replace(self.view, **options)
        _check_view(self, view)
        return replace(self, view=view)

    def to_frame(self, layer: int = -1, head: int | None = None):
        """One layer's attention (one head or the head average) as a token x token DataFrame."""
        import pandas as pd

        s = select(self, layer=layer, head=head)
        return pd.DataFrame(s.matrix, index=s.rows, columns=s.columns)

    def to_text(self) -> str:
        """A summary, the current view's strongest links, and any fill-mask predictions."""
        v = self.view
        lines = [f"attention: {self.summary()} ({self.model})"]
        if v.focus is not None:
            f = focus(self, v.focus)
            lines.append(f"following '{f.token}' (position {f.position}); its strongest links in any layer and head:")
            lines += [f"  layer {l} head {h} -> {j}  {w:.3f}" for l, h, j, w in f.strongest(5)]
        else:
            s = select(self, layer=v.layer, head=v.head, hide_special=v.hide_special, direction=v.direction)
            lines.append(f"{s.title}; strongest links:")
            lines += [f"  {i} -> {j}  {w:.3f}" for i, j, w in s.strongest(5)]
        if self.predictions is not None:
            lines.append(self.predictions.to_text())
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Attention({self.summary()})"


def attention(engine, text: str, pair: str | None = None, max_length: int | None = None,
              window: int | None = None, stride: int | None = None) -> Attention:
    """Attention weights of every layer and head for ``text`` (and an optional ``pair``).

    When the text contains ``[MASK]`` and the model has a masked-LM head, the
    same forward pass also gives the fill-mask predictions (``.predictions``).
    A text longer than ``max_length`` pieces (default the model's limit) is cut into
    overlapping windows (``stride`` pieces shared, default a quarter); ``window``
    picks the one to show (default 0), and ``.windows`` and ``.note`` say how many
    there are. A pair is cut at the limit.

    Examples
    --------
    >>> att = bert_nb.attention(engine, "The animal didn't cross the street because it was too tired.")  # doctest: +SKIP
    >>> att.weights.shape                                                                              # doctest: +SKIP
    (6, 12, 16, 16)
    """
    _check_text(text, "text")
    if pair is not None:
        _check_text(pair, "second text")
    tok = engine.tokenizer
    limit = checked_limit(engine, max_length, pair is not None)
    text = typed_masks(tok, text)
    if pair is None:
        enc, window, windows, note = one_window(tok, text, limit, window, stride, return_special_tokens_mask=True)
        enc.pop("offset_mapping")
    else:
        enc, window, windows, note = tok(text, pair, truncation=True, max_length=limit, return_tensors="pt",
                                         return_special_tokens_mask=True), 0, 1, ""
    added = [bool(x) for x in enc.pop("special_tokens_mask")[0].tolist()]
    ids = enc["input_ids"][0]
    has_mask = tok.mask_token_id is not None and bool((ids == tok.mask_token_id).any())
    filling = has_mask and "mlm" in engine.heads  # the masked-LM's fillers come from the same forward pass
    model = engine.model if filling else engine.encoder
    with _eager(model):
        out = engine.forward(dict(enc), model=model, output_attentions=True)
    weights = _stack([a[0] for a in out.attentions], engine.config)  # where pruning records its heads
    predictions = _predictions(engine, out, text, ids) if filling else None  # an encoder's model is its encoder
    segments = _segments(enc, len(ids)) if pair is not None else [0] * len(ids)  # one text: all segment A
    return Attention(weights=weights, tokens=tuple(tok.convert_ids_to_tokens(ids.tolist())),
                     segments=tuple(segments), special=tuple(added), text=text, pair=pair,
                     model=engine.name, predictions=predictions, window=window, windows=windows,
                     note=" ".join(n for n in (note, cjk_note(text + (pair or ""))) if n))


def _stack(per_layer, config):
    """(L, H, T, T) float32 numpy from each layer's (heads, T, T); a pruned model's missing heads are NaN."""
    import numpy as np

    from .surgery import heads_per_layer, pruned_heads, remaining_heads

    arrays = [a.float().cpu().numpy() for a in per_layer]
    if not pruned_heads(config):
        return np.stack(arrays)
    left = remaining_heads(config)
    full = np.full((len(arrays), heads_per_layer(config), *arrays[0].shape[1:]), np.nan, dtype=np.float32)
    for l, (a, heads) in enumerate(zip(arrays, left)):
        full[l, heads] = a
    return full


def _nanmean(w, axis):
    """Mean that skips pruned (NaN) heads; all-NaN slices stay NaN without a warning."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(w, axis=axis)


@contextlib.contextmanager
def _eager(model):
    """Switch the model to eager attention (the only kind that returns weights), then back."""
    before = getattr(model.config, "_attn_implementation", None)
    if before in (None, "eager"):
        yield
        return
    try:
        model.set_attn_implementation("eager")
    except (AttributeError, ValueError):
        model.config._attn_implementation = "eager"
    try:
        yield
    finally:
        try:
            model.set_attn_implementation(before)
        except (AttributeError, ValueError):
            model.config._attn_implementation = before


def _predictions(engine, out, text, ids):
    """Fill-mask predictions from the logits of the same forward pass."""
    from .mask import MaskPredictions, _top_candidates, model_note, vocabulary_logits

    tok = engine.tokenizer
    positions = (ids == tok.mask_token_id).nonzero().flatten().tolist()
    probs = vocabulary_logits(out)[0, positions].float().softmax(-1).cpu()
    masks = _top_candidates(tok, ids.cpu(), positions, probs, 5)
    return MaskPredictions(text=text, masks=masks, model=engine.name, note=model_note(engine))


# -- slicing -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AttentionSlice:
    """A 2-D attention matrix ready to draw: ``matrix[i, j]`` = how much row i attends to column j."""

    matrix: "object"  # numpy.ndarray (rows, columns)
    rows: list[str]
    columns: list[str]
    row_index: list[int]  # positions in the full token list
    column_index: list[int]
    title: str

    def strongest(self, k: int = 5) -> list[tuple[str, str, float]]:
        """The ``k`` largest weights as (from, to, weight)."""
        import numpy as np

        from ._ranking import top_indices

        flat = top_indices(self.matrix, k)
        return [(self.rows[i], self.columns[j], float(self.matrix[i, j]))
                for i, j in zip(*np.unravel_index(flat, self.matrix.shape))]


def select(att: Attention, layer: int | None = -1, head: int | None = None, hide_special: bool = False,
           direction: str = "all") -> AttentionSlice:
    """One layer (or the layer average, ``layer=None``) and one head (or the head average).

    ``hide_special`` drops [CLS]/[SEP]/[PAD] rows and columns and renormalises
    each row to sum to 1; ``direction`` keeps one quadrant of a sentence pair.
    """
    import numpy as np

    _check_view(att, View(layer=-1 if layer is None else layer, head=head, direction=direction), every_layer=layer is None)
    w = _nanmean(att.weights, 0) if layer is None else att.weights[layer]  # (H, T, T)
    w = _nanmean(w, 0) if head is None else w[head]  # (T, T)
    keep = [i for i in range(len(att.tokens)) if not (hide_special and att.special[i])]
    rows, cols = keep, keep
    if direction != "all":
        src, dst = ({"A": 0, "B": 1}[c] for c in direction.split("->"))
        rows = [i for i in keep if att.segments[i] == src]
        cols = [i for i in keep if att.segments[i] == dst]
    m = w[np.ix_(rows, cols)]
    if hide_special:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1e-12)
    labels = _labels(att.tokens)
    where = "all layers" if layer is None else f"layer {layer % att.layers}"
    which = "mean of heads" if head is None else f"head {head}"
    extra = (", specials hidden" if hide_special else "") + ("" if direction == "all" else f", {direction}")
    return AttentionSlice(matrix=m.astype("float32"), rows=[labels[i] for i in rows], columns=[labels[i] for i in cols],
                          row_index=rows, column_index=cols, title=f"{where}, {which}{extra}")


def _check_kept(att: Attention, layer: int | None, head: int | None) -> None:
    """A pruned head asked for by number: one sentence naming the heads that layer kept."""
    if head is None or not att.pruned:
        return
    if layer is None:
        if all(head in att.pruned.get(l, ()) for l in range(att.layers)):
            raise BertNbError(f"Head {head} was pruned from every layer; choose another head or the mean of heads.")
        return
    layer %= att.layers
    if head in att.pruned.get(layer, ()):
        kept = [h for h in range(att.heads) if h not in att.pruned[layer]]
        raise BertNbError(f"Head {head} was pruned from layer {layer}; choose one of the heads it kept "
                          f"({', '.join(map(str, kept))}) or the mean of heads.")


def _labels(tokens) -> list[str]:
    """Token labels made unique by position, so figures keep every row and column."""
    return [f"{t} {i}" for i, t in enumerate(tokens)]


def _check_view(att: Attention, view: View, every_layer: bool = False) -> None:
    if not -att.layers <= view.layer < att.layers:
        raise BertNbError(f"Layer {view.layer} is out of range; this model has layers 0 to {att.layers - 1}.")
    if view.head is not None and not 0 <= view.head < att.heads:
        raise BertNbError(f"Head {view.head} is out of range; this model has heads 0 to {att.heads - 1}.")
    _check_kept(att, None if every_layer else view.layer, view.head)
    if view.direction not in DIRECTIONS:
        raise BertNbError(f"Unknown direction '{view.direction}'; use one of {', '.join(DIRECTIONS)}.")
    if view.direction != "all" and att.pair is None:
        raise BertNbError(f"Direction '{view.direction}' needs a sentence pair; give a second text (A ||| B).")


# -- token focus ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Focus:
    """One token's attention to every token, in every layer and head: ``weights`` (L, H, T)."""

    weights: "object"
    token: str
    position: int
    tokens: tuple[str, ...]

    def strongest(self, k: int = 5) -> list[tuple[int, int, str, float]]:
        """The ``k`` largest weights to other pieces as (layer, head, piece, weight)."""
        import numpy as np

        from ._ranking import top_indices

        w = np.nan_to_num(self.weights, nan=-1.0)  # pruned heads are no links
        w[:, :, self.position] = -1  # looking at itself is not a link
        flat = top_indices(w, k)
        labels = _labels(self.tokens)
        return [(int(l), int(h), labels[t], float(w[l, h, t])) for l, h, t in zip(*np.unravel_index(flat, w.shape))]

    def to_frame(self):
        """One row per (layer, head), one column per token."""
        import pandas as pd

        L, H, T = self.weights.shape
        index = pd.MultiIndex.from_product([range(L), range(H)], names=["layer", "head"])
        frame = pd.DataFrame(self.weights.reshape(L * H, T), index=index, columns=_labels(self.tokens))
        return frame.dropna(how="all")  # a pruned model's removed heads have no row


def focus(att: Attention, token: str | int) -> Focus:
    """Attention from one token (a word as typed, or a position) across all layers and heads."""
    if not isinstance(token, (str, int)) or isinstance(token, bool):
        raise BertNbError(f"focus takes a word of the text or a piece's position; got {type(token).__name__}.")
    if isinstance(token, int):
        if not 0 <= token < len(att.tokens):
            raise BertNbError(f"Position {token} is out of range; the text has {len(att.tokens)} pieces.")
        pos = token
    else:
        wanted = token.strip().lower()
        matches = [i for i, t in enumerate(att.tokens) if t.lower().removeprefix("##") == wanted]
        if not matches:
            raise BertNbError(f"'{token}' is not one of the pieces; choose one of: "
                              f"{', '.join(dict.fromkeys(att.tokens))[:200]}.")
        pos = matches[0]
    return Focus(weights=att.weights[:, :, pos, :], token=att.tokens[pos], position=pos, tokens=att.tokens)


# -- Q/K/V by hand -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Recomputed:
    """One layer's attention recomputed by hand next to the model's own: both (H, T, T)."""

    by_hand: "object"
    model: "object"
    layer: int
    tokens: tuple[str, ...]
    tolerance: float = 1e-5  # float32 rounding; bf16/fp16 engines differ more

    @property
    def max_difference(self) -> float:
        """Largest absolute difference between the two."""
        import numpy as np

        return float(np.abs(self.by_hand - self.model).max())

    @property
    def matches(self) -> bool:
        """Whether the two agree within :attr:`tolerance`."""
        return self.max_difference < self.tolerance

    def to_text(self) -> str:
        """One line: the layer and whether the two agree (the claim, not float noise)."""
        tolerance = f"{self.tolerance:.0e}".replace("e-0", "e-")  # 1e-5, as a reader writes it
        agreement = (f"max |difference| < {tolerance}: they match" if self.matches
                     else f"max |difference| = {self.max_difference:.2e}, above {tolerance}")
        return (f"layer {self.layer}: softmax(QK^T/sqrt(d_k)) by hand vs the model's attention, "
                f"{self.by_hand.shape[0]} heads, {agreement}")


def recompute(engine, text: str, layer: int = 0) -> Recomputed:
    """Recompute layer ``layer``'s attention from its query and key weights.

    X is the layer's input (the hidden states after the previous layer);
    per head h: Q = X W_Q + b_Q, K = X W_K + b_K, A = softmax(Q K^T / sqrt(d_k)).
    Returned next to the attention the model itself reports.
    """
    import math

    import torch

    _check_text(text, "text")
    layers = int(engine.config.num_hidden_layers)
    if not 0 <= layer < layers:
        raise BertNbError(f"Layer {layer} is out of range; this model has layers 0 to {layers - 1}.")
    query, key = _query_key(engine.encoder, layer)
    enc = engine.tokenizer(text, truncation=True, max_length=engine.max_length, return_tensors="pt")
    with _eager(engine.encoder):
        out = engine.forward(dict(enc), model=engine.encoder, output_attentions=True, output_hidden_states=True)
    d = int(engine.config.hidden_size) // int(engine.config.num_attention_heads)  # pruning keeps the head size
    with torch.inference_mode():
        x = out.hidden_states[layer][0].float()  # (T, hidden): the input of this layer
        q = torch.nn.functional.linear(x, query.weight.float(), query.bias.float())  # (T, heads kept x d)
        k = torch.nn.functional.linear(x, key.weight.float(), key.bias.float())
        heads = q.shape[-1] // d
        q = q.view(-1, heads, d).transpose(0, 1)  # (H, T, d)
        k = k.view(-1, heads, d).transpose(0, 1)
        by_hand = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)  # (H, T, T)
    return Recomputed(by_hand=by_hand.cpu().numpy(), model=out.attentions[layer][0].float().cpu().numpy(),
                      layer=layer, tokens=tuple(engine.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])),
                      tolerance=1e-5 if engine.dtype == torch.float32 else 1e-2)


def _query_key(encoder, layer: int):
    """The query and key Linear layers of one layer, for the BERT-family layouts in transformers."""
    candidates = [
        ("encoder.layer.{i}.attention.self", "query", "key"),  # BERT, RoBERTa, ELECTRA, MiniLM
        ("layer.{i}.attention.self", "query", "key"),
        ("transformer.layer.{i}.attention", "q_lin", "k_lin"),  # DistilBERT
        ("encoder.albert_layer_groups.0.albert_layers.0.attention", "query", "key"),  # ALBERT (shared)
    ]
    modules = dict(encoder.named_modules())
    for path, q, k in candidates:
        block = modules.get(path.format(i=layer))
        if block is not None and hasattr(block, q) and hasattr(block, k):
            return getattr(block, q), getattr(block, k)
    raise BertNbError(f"bert_nb cannot find the query/key layers of a {type(encoder).__name__}; "
                      "Q/K/V by hand supports BERT, RoBERTa, ELECTRA, MiniLM, DistilBERT and ALBERT.")
