"""Masked-language modelling: what BERT predicts for [MASK], what pre-training shows it, and NSP.

- :func:`fill_mask`: the top-k fillers for every [MASK] (the transformers fill-mask
  pipeline's ``score``/``token``/``token_str``/``sequence``), scoring of given targets
  (several-piece targets included) and a joint filling of several masks.
- :func:`corrupt`: BERT's pre-training corruption (15% of pieces picked; of those 80%
  become [MASK], 10% a random piece, 10% stay) and the model's recovery of them.
- :func:`next_sentence`: the probability that B follows A, for models with an NSP head.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Sequence

from .errors import BertNbError, listed
from .tokens import _check_text, wide

__all__ = [
    "MaskCandidate", "MaskPredictions", "JointFilling", "fill_mask",
    "Corruption", "corrupt", "FATES", "NextSentence", "next_sentence", "MASK",
]

MASK = "[MASK]"  # what users type, whatever the model's own mask token is
FATES = ("masked", "random", "kept", "untouched")

def model_note(engine) -> str | None:
    """A caveat about the engine's masked-LM predictions, or None."""
    return getattr(engine, "note", None)


# -- fill-mask -----------------------------------------------------------------
@dataclass(frozen=True)
class MaskCandidate:
    """One filler for one mask: the fill-mask pipeline's fields."""

    score: float
    token: int
    token_str: str
    sequence: str


@dataclass(frozen=True)
class JointFilling:
    """One filling of all masks, decoded most confident mask first."""

    tokens: tuple[str, ...]  # the filler of each mask, in text order
    order: tuple[int, ...]  # mask indices in the order they were decided
    score: float  # product of the probabilities of the chosen fillers
    sequence: str


@dataclass(frozen=True)
class MaskPredictions:
    """Top-k fillers per mask (``masks[i]`` for the i-th [MASK] of the text)."""

    text: str
    masks: tuple[tuple[MaskCandidate, ...], ...]
    joint: JointFilling | None = None
    targets: tuple[str, ...] | None = None
    model: str = ""
    note: str | None = None

    def to_frame(self):
        """One row per candidate: mask, rank, token, token_str, score, sequence."""
        import pandas as pd

        rows = [
            {"mask": m, "rank": r, "token": c.token, "token_str": c.token_str,
             "score": c.score, "sequence": c.sequence}
            for m, cands in enumerate(self.masks) for r, c in enumerate(cands, 1)
        ]
        return pd.DataFrame(rows, columns=["mask", "rank", "token", "token_str", "score", "sequence"])

    def to_text(self) -> str:
        """Per mask, its fillers with scores; then the joint filling and any note."""
        lines = []
        for m, cands in enumerate(self.masks):
            best = ", ".join(f"{c.token_str} {c.score:.3g}" for c in cands)
            lines.append(f"[MASK] {m}: {best}")
        if self.joint:
            lines.append(f"joint ({self.joint.score:.4f}): {self.joint.sequence}")
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        tops = ", ".join(c[0].token_str for c in self.masks if c)
        return f"MaskPredictions({len(self.masks)} mask{'s' * (len(self.masks) != 1)}: {tops})"


def fill_mask(engine, text: str, top_k: int = 5, targets: Sequence[str] | str | None = None,
              joint: bool = False) -> MaskPredictions:
    """Predict the fillers of every ``[MASK]`` in ``text``.

    Parameters
    ----------
    engine : Engine
        A model with a masked-LM head (``bert_nb.load("default-mlm")``,
        ``bert-base-uncased``, ...).
    text : str
        Text with one or more ``[MASK]``; type ``[MASK]`` whatever the model's
        own mask token is (``<mask>`` for RoBERTa-style models).
    top_k : int
        Fillers to keep per mask.
    targets : list of str or comma-separated str, optional
        Score only these words. A word of several pieces is scored as a whole:
        its mask is widened to one [MASK] per piece and the pieces are
        predicted left to right; its score is the product of their probabilities.
    joint : bool
        Also decode one filling of all masks, most confident mask first
        (over the whole vocabulary, whatever ``targets`` says).

    Returns
    -------
    MaskPredictions

    Examples
    --------
    >>> preds = bert_nb.fill_mask(engine, "Paris is the [MASK] of France.")  # doctest: +SKIP
    >>> preds.masks[0][0].token_str                                         # doctest: +SKIP
    'capital'
    """
    model = engine.head("mlm")
    _check_text(text, "text")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise BertNbError("top_k must be a whole number of at least 1.")
    tok = engine.tokenizer
    text = _normalise_masks(engine, text)
    enc, lost = _encode_masks(engine, text)
    positions = (enc["input_ids"][0] == tok.mask_token_id).nonzero().flatten().tolist()
    target_list = _parse_targets(targets)
    probs = _mask_probs(engine, model, enc, positions)  # (M, V)
    if target_list:
        masks = _score_targets(engine, model, text, enc, positions, probs, target_list, top_k)
    else:
        masks = _top_candidates(tok, enc["input_ids"][0], positions, probs, top_k)
    filling = _joint(engine, model, enc, positions) if joint and positions else None
    notes = [n for n in (_lost_note(lost, len(positions)), model_note(engine)) if n]
    return MaskPredictions(text=text, masks=masks, joint=filling,
                           targets=tuple(target_list) if target_list else None,
                           model=engine.name, note=" ".join(notes) or None)


def typed_masks(tokenizer, text: str) -> str:
    """The text with each typed mask (``[MASK]``, ``[mask]``, ``<mask>``, in any case) written as the model's own
    mask token (``<mask>`` for RoBERTa)."""
    mask = tokenizer.mask_token
    return _TYPED_MASK.sub(lambda _: mask, text) if mask else text


_TYPED_MASK = re.compile(r"\[mask\]|<mask>", re.IGNORECASE)  # "[mask]" was three pieces: "[", "mask", "]"


def _normalise_masks(engine, text: str) -> str:
    mask = engine.tokenizer.mask_token
    if mask is None:
        raise BertNbError(f"The tokenizer of '{engine.name}' has no mask token; load a masked-LM such as 'default-mlm'.")
    text = typed_masks(engine.tokenizer, text)
    if mask not in text:
        raise BertNbError(f"No {MASK} in the text; write {MASK} where a word is missing, "
                          f"for example 'Paris is the {MASK} of France.'")
    return text


def _encode_masks(engine, text: str):
    """Tokenize with truncation; also how many masks fell beyond the limit."""
    tok = engine.tokenizer
    enc = tok(text, truncation=True, max_length=engine.max_length, return_tensors="pt")
    kept = int((enc["input_ids"][0] == tok.mask_token_id).sum())
    lost = 0
    if enc["input_ids"].shape[1] >= engine.max_length:  # maybe cut: count what was lost
        lost = tok(text, verbose=False)["input_ids"].count(tok.mask_token_id) - kept
    if kept == 0:
        raise BertNbError(f"Every {MASK} is beyond the model's limit of {engine.max_length} pieces; "
                          "shorten the text before the mask.")
    return enc, lost


def _lost_note(lost: int, kept: int) -> str | None:
    if not lost:
        return None
    return f"{lost} of {lost + kept} masks fell beyond the model's length limit and were not predicted."


def _mask_probs(engine, model, enc, positions):
    """Softmax over the vocabulary at each mask position: (M, V) float32 on the CPU."""
    return _position_logits(engine, model, enc, positions).float().softmax(-1).cpu()


def _position_logits(engine, model, batch, positions):
    """Vocabulary logits at ``positions`` of the first sequence: (M, V).

    Runs the encoder once and the masked-LM head only where it is needed: the
    vocabulary projection is most of a small model's cost when run at every position.
    """
    import torch

    head = _mlm_head(model)
    if head is None:  # a head bert_nb cannot call on its own: the full forward pass
        return _logits(engine, model, batch)[0, positions]
    hidden = engine.forward(dict(batch), model=model.base_model).last_hidden_state  # (1, T, H)
    with torch.inference_mode(), engine.autocast():
        return head(hidden[0, positions])  # (M, V)


def _mlm_head(model):
    """The module mapping hidden states to vocabulary logits, where the model has one."""
    import torch

    cls = getattr(model, "cls", None)  # BERT: BertOnlyMLMHead / BertPreTrainingHeads
    if cls is not None and hasattr(cls, "predictions"):
        return cls.predictions
    for name in ("lm_head", "predictions"):  # RoBERTa family, ALBERT
        if isinstance(getattr(model, name, None), torch.nn.Module):
            return getattr(model, name)
    return None


def _logits(engine, model, enc):
    return vocabulary_logits(engine.forward(dict(enc), model=model))


def vocabulary_logits(out):
    """A masked-LM's logits over the vocabulary from its output (a pre-training model's ``prediction_logits``)."""
    return out.logits if hasattr(out, "logits") else out.prediction_logits


def _top_candidates(tok, ids, positions, probs, top_k: int):
    """The ``top_k`` fillers of every mask from its (M, V) probabilities."""
    top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    return tuple(
        tuple(_candidate(tok, ids, positions, m, int(i), float(s))
              for s, i in zip(top.values[m].tolist(), top.indices[m].tolist()))
        for m in range(len(positions))
    )


def _candidate(tok, ids, positions, m, token_id, score) -> MaskCandidate:
    filled = ids.clone()
    filled[positions[m]] = token_id
    if tok.pad_token_id is not None:
        filled = filled[filled != tok.pad_token_id]
    sequence = decoded(tok, filled.tolist(), skip_special_tokens=len(positions) == 1)
    return MaskCandidate(score=score, token=token_id, token_str=tok.decode([token_id]), sequence=sequence)


def _parse_targets(targets) -> list[str] | None:
    if targets is None:
        return None
    items = targets.split(",") if isinstance(targets, str) else \
        listed(targets, "targets are words to score: a list such as ['cat', 'dog'] or 'cat,dog'")
    items = [t.strip() for t in items if isinstance(t, str) and t.strip()]
    if not items:
        raise BertNbError("targets is empty; give words to score, for example targets=['cat', 'dog'].")
    return list(dict.fromkeys(items))


def _target_pieces(tok, target: str) -> list[int]:
    ids = tok(target, add_special_tokens=False)["input_ids"]
    if not ids:
        raise BertNbError(f"Target '{target}' gives no pieces in this vocabulary; choose another word.")
    if tok.unk_token_id is not None and tok.unk_token_id in ids:
        raise BertNbError(f"Target '{target}' is not in this model's vocabulary (it becomes [UNK]); choose another word.")
    return ids


def _score_targets(engine, model, text, enc, positions, probs, targets, top_k):
    tok = engine.tokenizer
    ids = enc["input_ids"][0]
    out = []
    for m in range(len(positions)):
        cands = []
        for target in targets:
            pieces = _target_pieces(tok, target)
            if len(pieces) == 1:
                cands.append(_candidate(tok, ids, positions, m, pieces[0], float(probs[m, pieces[0]])))
            else:
                cands.append(_score_pieces(engine, model, ids, positions[m], pieces, target))
        cands.sort(key=lambda c: -c.score)
        out.append(tuple(cands[:top_k]))
    return tuple(out)


def _score_pieces(engine, model, ids, position, pieces, target) -> MaskCandidate:
    """A several-piece target at one mask: widen it and predict the pieces left to right."""
    import torch

    tok = engine.tokenizer
    mask_id = tok.mask_token_id
    if len(ids) - 1 + len(pieces) > engine.max_length:
        raise BertNbError(f"Target '{target[:40]}' is {len(pieces)} pieces: with them in place of the [MASK] the text "
                          f"is longer than the {engine.max_length} pieces '{engine.name}' reads; give a shorter target.")
    widened = torch.cat([ids[:position], torch.full((len(pieces),), mask_id), ids[position + 1:]])
    score = 1.0
    for k, piece in enumerate(pieces):
        batch = {"input_ids": widened[None], "attention_mask": torch.ones_like(widened)[None]}
        probs = _position_logits(engine, model, batch, [position + k])[0].float().softmax(-1)
        score *= float(probs[piece])
        widened[position + k] = piece
    seq = decoded(tok, widened.tolist(), skip_special_tokens=True)
    return MaskCandidate(score=score, token=pieces[0], token_str=target, sequence=seq)


def decoded(tok, ids, skip_special_tokens: bool) -> str:
    """The tokenizer's text of ``ids``, without the spaces it puts between two Chinese characters (or their
    punctuation): '我在银行工作。' where the pipeline writes '我 在 银 行 工 作 。'."""
    text = tok.decode(ids, skip_special_tokens=skip_special_tokens)
    return "".join(c for i, c in enumerate(text) if not (c == " " and 0 < i < len(text) - 1
                                                         and wide(text[i - 1]) and wide(text[i + 1])))


def _joint(engine, model, enc, positions) -> JointFilling:
    """Fill every mask, one at a time: each step decides the mask the model is surest of."""
    tok = engine.tokenizer
    ids = enc["input_ids"][0].clone()
    remaining = list(range(len(positions)))
    chosen: dict[int, int] = {}
    order, score = [], 1.0
    while remaining:
        batch = {"input_ids": ids[None], "attention_mask": enc["attention_mask"]}
        probs = _position_logits(engine, model, batch, [positions[m] for m in remaining]).float().softmax(-1)
        best_p, best_id = probs.max(-1)
        k = int(best_p.argmax())
        m = remaining.pop(k)
        chosen[m] = int(best_id[k])
        ids[positions[m]] = chosen[m]
        order.append(m)
        score *= float(best_p[k])
    tokens = tuple(tok.decode([chosen[m]]) for m in range(len(positions)))
    return JointFilling(tokens=tokens, order=tuple(order), score=score,
                        sequence=decoded(tok, ids.tolist(), skip_special_tokens=True))


# -- corruption (MLM pre-training) ---------------------------------------------
@dataclass(frozen=True)
class Corruption:
    """What MLM pre-training shows the model for one text, and what it recovers."""

    text: str
    original: tuple[str, ...]
    shown: tuple[str, ...]
    fate: tuple[str, ...]  # one of FATES per piece
    prediction: tuple[str | None, ...]  # the model's top piece at picked positions
    rate: float
    seed: int | None
    candidates: int = 0  # non-special pieces that could be picked
    model: str = ""
    note: str | None = None

    @property
    def picked(self) -> tuple[int, ...]:
        """Positions chosen for prediction (masked, random or kept)."""
        return tuple(i for i, f in enumerate(self.fate) if f != "untouched")

    @property
    def accuracy(self) -> float | None:
        """Share of picked pieces the model predicted back; None when none were picked."""
        picked = self.picked
        if not picked:
            return None
        return sum(self.prediction[i] == self.original[i] for i in picked) / len(picked)

    def counts(self) -> dict[str, int]:
        """How many pieces met each fate."""
        return {f: self.fate.count(f) for f in FATES}

    def to_frame(self):
        """One row per piece: position, original, shown, fate, prediction."""
        import pandas as pd

        return pd.DataFrame({"position": range(len(self.original)), "original": self.original,
                             "shown": self.shown, "fate": self.fate,
                             "prediction": pd.Series(self.prediction, dtype=object)})

    def to_text(self) -> str:
        """The shown pieces with picked ones marked, the counts and the recovery accuracy."""
        marks = {"masked": "", "random": "~", "kept": "="}
        shown = " ".join(f"{marks[f]}{s}" if f != "untouched" else s for s, f in zip(self.shown, self.fate))
        c = self.counts()
        acc = "n/a" if self.accuracy is None else f"{self.accuracy:.0%}"
        lines = [shown, f"picked {len(self.picked)} of {self.candidates}: "
                 f"{c['masked']} masked, {c['random']} random (~), {c['kept']} kept (=); recovered {acc}"]
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        acc = "n/a" if self.accuracy is None else f"{self.accuracy:.0%}"
        return f"Corruption({len(self.picked)} of {len(self.original)} pieces picked, recovered {acc})"


def corrupt(engine, text: str, rate: float = 0.15, seed: int | None = None) -> Corruption:
    """Apply BERT's pre-training corruption to ``text`` and let the model recover it.

    ``round(rate * n)`` of the ``n`` non-special pieces (at least one) are picked
    at random; each picked piece becomes [MASK] with probability 0.8, a random
    vocabulary piece with 0.1, and stays as it was with 0.1. The model then
    predicts every picked position.

    Parameters
    ----------
    engine : Engine
        A model with a masked-LM head.
    text : str
    rate : float
        Share of pieces to pick (BERT: 0.15).
    seed : int, optional
        Makes the picking reproducible.

    Returns
    -------
    Corruption
        ``.to_frame()`` has columns position, original, shown, fate, prediction.

    Examples
    --------
    >>> c = bert_nb.corrupt(engine, "The cat sat on the mat.", seed=0)  # doctest: +SKIP
    >>> c.counts()                                                     # doctest: +SKIP
    {'masked': 1, 'random': 0, 'kept': 0, 'untouched': 8}
    """
    model = engine.head("mlm")
    _check_text(text, "text")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise BertNbError("rate must be a fraction between 0 and 1, for example 0.15.")
    tok = engine.tokenizer
    enc = tok(text, truncation=True, max_length=engine.max_length, return_tensors="pt",
              return_special_tokens_mask=True)
    ids = enc["input_ids"][0]
    special = enc.pop("special_tokens_mask")[0].bool() | _is_special(tok, ids)
    fate, shown = _pick(tok, ids, special, rate, random.Random(seed))
    batch = {"input_ids": shown[None], "attention_mask": enc["attention_mask"]}
    picked = [i for i, f in enumerate(fate) if f != "untouched"]
    predicted = dict(zip(picked, tok.convert_ids_to_tokens(
        _position_logits(engine, model, batch, picked).argmax(-1).cpu().tolist()))) if picked else {}
    original = tuple(tok.convert_ids_to_tokens(ids.tolist()))
    prediction = tuple(predicted.get(i) for i in range(len(ids)))
    return Corruption(text=text, original=original, shown=tuple(tok.convert_ids_to_tokens(shown.tolist())),
                      fate=tuple(fate), prediction=prediction, rate=float(rate), seed=seed,
                      candidates=int((~special).sum()), model=engine.name, note=model_note(engine))


def _is_special(tok, ids):
    import torch

    special_ids = torch.tensor(sorted(set(tok.all_special_ids)))
    return torch.isin(ids, special_ids)


def _pick(tok, ids, special, rate, rng: random.Random):
    """BERT's 15% / 80-10-10 rule over non-special positions."""
    candidates = [i for i in range(len(ids)) if not special[i]]
    fate = ["untouched"] * len(ids)
    shown = ids.clone()
    if not candidates:
        return fate, shown
    n_pick = max(1, round(rate * len(candidates)))
    specials = set(tok.all_special_ids)
    for pos in sorted(rng.sample(candidates, n_pick)):
        u = rng.random()
        if u < 0.8:
            fate[pos], shown[pos] = "masked", tok.mask_token_id
        elif u < 0.9:
            fate[pos], shown[pos] = "random", _random_piece(rng, tok.vocab_size, specials)
        else:
            fate[pos] = "kept"
    return fate, shown


def _random_piece(rng: random.Random, vocab_size: int, specials: set[int]) -> int:
    """A uniformly random vocabulary id that is not a special token."""
    while True:
        piece = rng.randrange(vocab_size)
        if piece not in specials:
            return piece


# -- next-sentence prediction ----------------------------------------------------
@dataclass(frozen=True)
class NextSentence:
    """P(B follows A) from the model's next-sentence-prediction head."""

    a: str
    b: str
    probability: float
    model: str = ""

    @property
    def is_next(self) -> bool:
        """Whether the model thinks B follows A (probability at least one half)."""
        return self.probability >= 0.5

    def to_text(self) -> str:
        """One line: the verdict, its probability and the pair."""
        verdict = "IS next" if self.is_next else "is NOT next"
        return f"B {verdict} (p={self.probability:.3f}): {self.a!r} -> {self.b!r}"

    def __repr__(self) -> str:
        return f"NextSentence(p={self.probability:.3f})"


def next_sentence(engine, a: str, b: str) -> NextSentence:
    """The probability that ``b`` is the sentence that follows ``a``.

    Needs a model with BERT's next-sentence-prediction head (BertForPreTraining
    or BertForNextSentencePrediction, e.g. ``bert-base-uncased``).

    Examples
    --------
    >>> bert_nb.next_sentence(engine, "I was hungry.", "So I made a sandwich.")  # doctest: +SKIP
    NextSentence(p=0.999)
    """
    model = engine.head("nsp")
    _check_text(a, "first sentence")
    _check_text(b, "second sentence")
    enc = engine.tokenizer(a, b, truncation=True, max_length=engine.max_length, return_tensors="pt")
    out = engine.forward(dict(enc), model=model)
    logits = out.seq_relationship_logits if hasattr(out, "seq_relationship_logits") else out.logits
    prob = float(logits[0].float().softmax(-1)[0])  # index 0: "B is the continuation"
    return NextSentence(a=a, b=b, probability=prob, model=engine.name)
