"""Tokenization: how a BERT-family tokenizer cuts text into pieces.

:func:`tokenize` returns a :class:`Tokens` result: every piece with its id,
whether it is special, its segment (A or B), the word it belongs to and its
character offsets in the original text. The ids are exactly what the model's
own Hugging Face tokenizer produces, truncation included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .batch import Batch
from .errors import BertNbError

__all__ = ["Tokens", "TokensBatch", "tokenize", "COLUMNS"]

COLUMNS = ("position", "token", "id", "special", "segment", "word", "start", "end")


@dataclass(frozen=True)
class Tokens:
    """The pieces of one text (or text pair) as the model sees them.

    ``special`` marks the tokenizer's special tokens ([CLS], [SEP], [PAD],
    [MASK] and their kin), whether added or typed in the text. [UNK] is not
    special: it stands for the user's text that the vocabulary does not cover,
    and ``unknown`` counts those pieces (``note`` says when they are most of the
    text, and which model covers it). ``word``
    is the index of the word a piece belongs to, counted within its segment;
    ``start``/``end`` are character offsets into ``text`` (segment A) or
    ``pair`` (segment B), ``None`` for the specials the tokenizer added.
    """

    text: str
    pair: str | None
    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    special: tuple[bool, ...]
    segment: tuple[int, ...]
    word: tuple[int | None, ...]
    start: tuple[int | None, ...]
    end: tuple[int | None, ...]
    max_length: int
    truncated: int = 0
    model: str = ""
    continuation_prefix: str | None = field(default="##", repr=False)
    unknown: int = 0  # pieces that are [UNK]: text the vocabulary does not cover

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def note(self) -> str | None:
        """Sentences about truncation and about text the vocabulary does not cover, or None."""
        notes = []
        if self.truncated:
            notes.append(f"Truncated: {self.truncated} piece{'s' * (self.truncated != 1)} cut to fit "
                         f"the limit of {self.max_length} pieces.")
        if cjk_note(self.text + (self.pair or "")):
            notes.append(cjk_note(self.text + (self.pair or "")))
        text_pieces = sum(1 for w in self.word if w is not None)
        if self.unknown and 2 * self.unknown > text_pieces and self.model != "chinese":
            notes.append(f"{self.unknown} of {text_pieces} pieces are [UNK]: {self.model}'s vocabulary does not "
                         f"cover this text; {_covering(self.text + (self.pair or ''))}.")
        return " ".join(notes) or None

    @property
    def words(self) -> list[tuple[int, ...]]:
        """Positions grouped by word, in order; each special token is a group of its own."""
        groups: list[list[int]] = []
        last = None
        for pos, (seg, word) in enumerate(zip(self.segment, self.word)):
            key = None if word is None else (seg, word)
            if key is not None and key == last:
                groups[-1].append(pos)
            else:
                groups.append([pos])
            last = key
        return [tuple(g) for g in groups]

    def is_continuation(self, position: int) -> bool:
        """Whether the piece at ``position`` continues the word before it."""
        word = self.word[position]
        if word is None or position == 0:
            return False
        return self.word[position - 1] == word and self.segment[position - 1] == self.segment[position]

    def source_text(self, position: int) -> str | None:
        """The slice of the original text a piece came from (None for specials)."""
        if self.start[position] is None:
            return None
        src = self.pair if self.segment[position] == 1 and self.pair is not None else self.text
        return src[self.start[position]:self.end[position]]

    def to_frame(self):
        """One row per piece: position, token, id, special, segment, word, start, end."""
        import pandas as pd

        rows = {
            "position": range(len(self)), "token": self.tokens, "id": self.ids,
            "special": self.special, "segment": ["AB"[s] for s in self.segment],
            "word": self.word, "start": self.start, "end": self.end,
        }
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        for col in ("word", "start", "end"):
            frame[col] = frame[col].astype("Int64")  # keeps None as <NA>, ints as ints
        return frame

    def to_text(self) -> str:
        """The pieces on one line, words separated by ' | ', then any truncation note."""
        line = " | ".join(" ".join(self.tokens[p] for p in group) for group in self.words)
        return line if not self.note else f"{line}\n{self.note}"

    def __repr__(self) -> str:
        body = " ".join(self.tokens)
        if len(body) > 120:
            body = body[:117] + "..."
        extra = f", truncated={self.truncated}" if self.truncated else ""
        return f"Tokens({len(self)} pieces{extra}: {body})"


@dataclass(frozen=True, repr=False)
class TokensBatch(Batch):
    """Several :class:`Tokens` results, one per input line."""

    items: tuple[Tokens, ...]

    def to_text(self) -> str:
        """Each item's text view, one per line."""
        return "\n".join(t.to_text() for t in self.items)

    def __repr__(self) -> str:
        return f"TokensBatch({len(self)} texts, {sum(len(t) for t in self.items)} pieces)"


def tokenize(engine, text: str | Sequence[str], pair: str | Sequence[str] | None = None,
             max_length: int | None = None) -> Tokens | TokensBatch:
    """Split text (or a text pair) into the model's pieces.

    Parameters
    ----------
    engine : Engine
        From :func:`bert_nb.load`; only its tokenizer is used.
    text : str or list of str
        The text (segment A). A list gives a :class:`TokensBatch`.
    pair : str or list of str, optional
        A second text (segment B), as for next-sentence prediction.
    max_length : int, optional
        Most pieces, specials included; defaults to the model's maximum.
        Longer input is truncated the way the tokenizer does it
        (``longest_first`` for pairs) and ``Tokens.truncated`` says how many
        pieces were cut.

    Returns
    -------
    Tokens or TokensBatch

    Examples
    --------
    >>> toks = bert_nb.tokenize(engine, "unbelievable!")   # doctest: +SKIP
    >>> toks.tokens                                        # doctest: +SKIP
    ('[CLS]', 'un', '##bel', '##ie', '##va', '##ble', '!', '[SEP]')
    """
    if isinstance(text, (list, tuple)):
        texts = list(text)
        pairs = [None] * len(texts) if pair is None else list(pair)
        if isinstance(pair, str) or len(pairs) != len(texts):
            raise BertNbError("Give as many pair texts as texts, or none.")
        if not texts:
            raise BertNbError("Give at least one text to tokenize.")
        return TokensBatch(tuple(tokenize(engine, t, p, max_length) for t, p in zip(texts, pairs)))
    _check_text(text, "text")
    if pair is not None and not isinstance(pair, str):
        raise BertNbError("With a single text, give the pair as a string too.")
    limit = checked_limit(engine, max_length, pair is not None)
    tok = engine.tokenizer
    full = tok(text, pair, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    enc = tok(text, pair, add_special_tokens=True, truncation=True, max_length=limit,
              return_offsets_mapping=bool(getattr(tok, "is_fast", False)),
              return_special_tokens_mask=True, return_token_type_ids=True, verbose=False)
    return _from_encoding(engine, enc, text, pair, limit, len(full) - len(enc["input_ids"]))


def _check_text(text, what: str) -> None:
    if not isinstance(text, str):
        raise BertNbError(f"The {what} must be a string, not {type(text).__name__}.")
    if not text.strip():
        raise BertNbError(f"The {what} is empty; give some text to tokenize.")


def checked_limit(engine, max_length, is_pair: bool = False, default: int | None = None) -> int:
    """``max_length`` if it is a whole number from room for the special tokens and one piece up to the
    model's maximum (else one sentence); ``default`` (the model's maximum) when it is None."""
    limit = (default or engine.max_length) if max_length is None else max_length
    least = engine.tokenizer.num_special_tokens_to_add(pair=is_pair) + 1
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < least:
        raise BertNbError(f"max_length must be a whole number of at least {least} (room for the special tokens); "
                          f"got {limit!r}.")
    if limit > engine.max_length:
        raise BertNbError(f"max_length {limit} is more than this model's maximum of {engine.max_length}.")
    return limit


def _from_encoding(engine, enc, text, pair, limit, truncated) -> Tokens:
    ids = list(enc["input_ids"])
    tok = engine.tokenizer
    added = [bool(s) for s in enc["special_tokens_mask"]]  # [CLS]/[SEP] the tokenizer added
    special_ids = set(getattr(tok, "all_special_ids", ()))
    unk = getattr(tok, "unk_token_id", None)
    specials = [a or (i in special_ids and i != unk) for a, i in zip(added, ids)]  # typed [MASK] too; [UNK] is text
    segments = _segments(enc, len(ids))
    words = enc.word_ids() if getattr(tok, "is_fast", False) else [None] * len(ids)
    offsets = enc.get("offset_mapping") or [None] * len(ids)
    starts, ends = [], []
    for is_added, off in zip(added, offsets):
        starts.append(None if is_added or off is None else int(off[0]))
        ends.append(None if is_added or off is None else int(off[1]))
    words = [None if a else w for a, w in zip(added, words)]
    prefix = getattr(getattr(tok, "_tokenizer", None), "decoder", None)
    return Tokens(
        text=text, pair=pair, tokens=tuple(tok.convert_ids_to_tokens(ids)), ids=tuple(ids),
        special=tuple(specials), segment=tuple(segments), word=tuple(words),
        start=tuple(starts), end=tuple(ends), max_length=limit, truncated=max(0, truncated),
        model=engine.name, continuation_prefix=getattr(prefix, "prefix", None) or "##",
        unknown=sum(1 for a, i in zip(added, ids) if not a and i == unk),
    )


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF or \
        0xF900 <= code <= 0xFAFF or 0x3040 <= code <= 0x30FF or 0xAC00 <= code <= 0xD7AF


def split_alone(char: str) -> bool:
    """Whether BERT's tokenizer makes ``char`` a word of its own (a Chinese character: no spaces mark the words;
    the ranges its basic tokenizer splits around)."""
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2CEAF or \
        0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F


def wide(char: str) -> bool:
    """A Chinese character or a full-width mark (。，、！？ and the like): Chinese text runs them together, no spaces."""
    code = ord(char)
    return split_alone(char) or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF


def cjk_note(text: str) -> str:
    """A sentence for word views of text with Chinese, Japanese or Korean characters, else ''."""
    if not any(_is_cjk(c) for c in text):
        return ""
    return ("Chinese, Japanese and Korean characters are one word each here: BERT's tokenizer splits them "
            "apart, since no spaces mark the words.")


def _covering(text: str) -> str:
    """Which model's vocabulary covers ``text``: Chinese has its own; others a multilingual one."""
    if any(_is_cjk(c) for c in text):
        return ("bert_nb.load('chinese') tokenizes it as bert-base-chinese does (one piece per character), and "
                "'bert-base-chinese' is a model for it where a network is available")
    return "a multilingual model such as 'bert-base-multilingual-cased' covers most languages"


def _segments(enc, n: int) -> list[int]:
    """0 for segment A, 1 for B: from sequence ids when the tokenizer has them."""
    try:
        seq = enc.sequence_ids()
    except (ValueError, AttributeError):
        seq = None
    if seq is None:
        types = enc.get("token_type_ids")
        return list(types) if types else [0] * n
    out, current = [], 0
    for s in seq:  # a special token joins the segment it closes
        if s is not None:
            current = s
        out.append(int(current))
    return out
