"""Why did the model decide? Token attributions for a classifier, a [MASK] and a similarity.

- :func:`explain`: one quantity, one or more methods. The quantity depends on the model
  and the input: a fine-tuned classifier's label probability, a masked-LM's probability
  of a word at the [MASK], the cosine similarity of two texts' pooled embeddings, or a
  cross-encoder's score (or label probability) of a pair read as one input.
- Methods: ``integrated_gradients`` and ``gradient_x_input`` (Captum, on the word
  embeddings, so positions and segments stay fixed), ``occlusion`` (Captum's feature
  ablation: each word's pieces replaced by [MASK], all words in one batch),
  ``attention`` (last layer, [CLS] row, mean of heads) and ``attention_rollout``
  (Abnar & Zuidema 2020).
- :func:`faithfulness`: deletion tests (comprehensiveness, sufficiency, AOPC) that say which
  method this model agrees with, next to a random word order that every method must beat.

Integrated gradients' scores sum to ``value - baseline_value`` up to ``delta``; the
baseline is the same sequence with every piece but [CLS]/[SEP] replaced by [PAD].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import BertNbError, listed
from .mask import vocabulary_logits
from .tokens import checked_limit, cjk_note

__all__ = ["explain", "Explanation", "Explanations", "METHODS", "faithfulness", "Faithfulness"]

METHODS = ("integrated_gradients", "gradient_x_input", "occlusion", "attention", "attention_rollout")
_SHORT = {"ig": "integrated_gradients", "gxi": "gradient_x_input", "rollout": "attention_rollout"}
_GRADIENT = ("integrated_gradients", "gradient_x_input")
_LABELS = {"integrated_gradients": "integrated gradients", "gradient_x_input": "gradient × input",
           "occlusion": "occlusion", "attention": "attention ([CLS], last layer)",
           "attention_rollout": "attention rollout"}


@dataclass(frozen=True)
class Explanation:
    """Signed scores per piece for one quantity and one method.

    ``tokens``, ``scores``, ``start``/``end`` (character offsets in the piece's own text;
    None for [CLS]/[SEP]) and ``segment`` (0: ``text``, 1: ``pair``) are aligned.
    """

    text: str
    pair: str | None
    tokens: tuple[str, ...]
    scores: "object"  # (T,) float array, signed: positive pieces raise the quantity
    start: tuple
    end: tuple
    segment: tuple[int, ...]
    word: tuple  # word index within its segment, None for specials
    target: str
    kind: str  # "label", "score", "mask", "similarity", "pair score", "pair label", "tag" or "answer"
    method: str
    value: float
    baseline_value: float | None = None
    delta: float | None = None
    model: str = ""
    note: str | None = None
    span: tuple | None = None  # (segment, start, end): the word whose tag, or the answer, is explained

    @property
    def quantity(self) -> str:
        """What the scores explain, in words."""
        if self.kind == "tag":
            return f"P('{self.spanned}' is {self.target})"
        return {"label": f"P(label = {self.target})", "score": f"predicted {self.target}",
                "mask": f"P([MASK] = {self.target})",
                "similarity": "cosine similarity", "pair score": f"predicted {self.target}",
                "pair label": f"P(label = {self.target})", "answer": f"P(answer = '{self.target}')"}[self.kind]

    @property
    def spanned(self) -> str | None:
        """The text of :attr:`span` (the tagged word, the answer), or None."""
        if self.span is None:
            return None
        segment, start, end = self.span
        return (self.text, self.pair or "")[segment][start:end]

    def to_frame(self):
        """One row per piece: piece, segment, start, end, score."""
        import pandas as pd

        return pd.DataFrame({"piece": self.tokens, "segment": ["AB"[s] for s in self.segment],
                             "start": pd.array(self.start, dtype="Int64"), "end": pd.array(self.end, dtype="Int64"),
                             "score": self.scores})

    def words(self):
        """Pieces merged into words by the tokenizer's word boundaries (CJK characters one word each).

        Columns ``word, start, end, score`` (and ``segment`` for a pair); a word's score is the
        sum of its pieces' scores.
        """
        import pandas as pd

        rows: dict[tuple[int, int], list] = {}
        for i, (seg, w) in enumerate(zip(self.segment, self.word)):
            if w is None:
                continue
            row = rows.setdefault((seg, w), [seg, self.start[i], self.end[i], 0.0])
            row[2] = self.end[i]
            row[3] += float(self.scores[i])
        texts = (self.text, self.pair or "")
        frame = pd.DataFrame([{"word": texts[seg][s:e], "start": s, "end": e, "score": score, "segment": "AB"[seg]}
                              for seg, s, e, score in rows.values()])
        if frame.empty:
            frame = pd.DataFrame(columns=["word", "start", "end", "score", "segment"])
        return frame if self.pair is not None else frame.drop(columns="segment")

    def top_words(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` words with the largest scores, ties in reading order."""
        from ._ranking import top_indices

        words = self.words()
        return [(words.word.iloc[i], float(words.score.iloc[i])) for i in top_indices(words.score.to_numpy(), k, 4)]

    def to_text(self) -> str:
        """What was explained, its value, and the words that raised it most."""
        head = f"{method_label(self)} for {self.quantity} = {self.value:.3f} ({self.model})"
        if self.delta is not None:
            head += f"; scores sum to value - baseline ({self.value - self.baseline_value:.3f}) within |delta| {_bound(self.delta)}"
        top = ", ".join(f"{w} {s:+.3f}" for w, s in self.top_words(5))
        lines = [head, f"top words: {top}"]
        return "\n".join(lines + ([f"note: {self.note}"] if self.note else []))

    def __repr__(self) -> str:
        return f"Explanation({self.method}, {self.quantity}, {len(self.tokens)} pieces)"


@dataclass(frozen=True)
class Explanations:
    """Several methods' explanations of the same quantity on the same input."""

    items: tuple[Explanation, ...]

    def __getitem__(self, method: str) -> Explanation:
        method = _SHORT.get(method, method)
        for item in self.items:
            if item.method == method:
                return item
        raise KeyError(f"no {method!r} here; methods: {', '.join(e.method for e in self.items)}")

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods, in the order they were asked for."""
        return tuple(e.method for e in self.items)

    def to_frame(self):
        """One row per word, one column per method (each method's word scores)."""
        frames = [e.words().set_index(["word", "start", "end"] + (["segment"] if e.pair is not None else []))["score"]
                  .rename(e.method) for e in self.items]
        import pandas as pd

        return pd.concat(frames, axis=1).reset_index()

    def to_text(self) -> str:
        """Each method's summary, one after another."""
        return "\n".join(e.to_text() for e in self.items)

    def __repr__(self) -> str:
        return f"Explanations({', '.join(self.methods)})"


def method_label(explanation) -> str:
    """The method's name in words; for attention, whose attention row it reads."""
    label = _LABELS[explanation.method]
    if explanation.method == "attention" and explanation.kind in ("tag", "answer"):
        return label.replace("[CLS]", "the word" if explanation.kind == "tag" else "the answer's start")
    return label


def _bound(delta: float) -> str:
    """|delta| against a fixed threshold: the claim a reader needs, the same on every CPU."""
    return "< 0.001" if abs(delta) < 1e-3 else f"= {abs(delta):.1e}, more steps would shrink it"


# -- the quantity to explain ---------------------------------------------------
@dataclass
class _Setup:
    """The encoded input(s) and the function from word embeddings to the explained quantity."""

    kind: str
    target: str
    encodings: list  # one or two BatchEncodings (text, pair), batch of 1
    quantity: Callable  # quantity(*word_embeddings) -> (B,) tensor
    note: str | None
    row: int = 0  # the piece whose attention the attention methods read: [CLS], or the tagged word's, the answer's
    span: tuple | None = None  # (segment, start, end) of the tagged word or the answer


def _setup(engine, text: str, pair: str | None, target, window: int | None = None) -> _Setup:
    _check_text(text, "text")
    if window is not None and (pair is not None or "classification" not in engine.heads):
        raise BertNbError("window= picks the part of a long text a classifier reads; a [MASK] or a pair is read "
                          "in one piece, cut at the model's limit (a reader's context: the window of its answer).")
    if "qa" in engine.heads:
        return _answer_setup(engine, text, pair, target)
    if "tokens" in engine.heads:
        if pair is not None:
            raise BertNbError(f"'{engine.name}' is a tagger of one text; leave pair out, and name the word whose "
                              "tag to explain as target.")
        return _tag_setup(engine, text, target)
    if pair is not None:
        _check_text(pair, "pair")
        from .tasks.classify import hub_classifier

        if getattr(engine, "task", None) == "pairs" or hub_classifier(engine):  # both texts in one input
            return _cross_setup(engine, text, pair, target)
        return _similarity_setup(engine, text, pair, target)
    if getattr(engine, "task", None) == "pairs":
        raise BertNbError(f"'{engine.name}' is a cross-encoder: give the second text as pair='...' (in a cell: "
                          "`first text ||| second text`) to explain its score of the two.")
    if "classification" in engine.heads:
        return _label_setup(engine, text, target, window)
    from .mask import MASK, typed_masks

    if "mlm" in engine.heads and (engine.tokenizer.mask_token or MASK) in typed_masks(engine.tokenizer, text):
        return _mask_setup(engine, typed_masks(engine.tokenizer, text), target)
    if "mlm" in engine.heads:
        raise BertNbError(f"The text has no {MASK}; write one {MASK} where a word is missing to explain "
                          f"the prediction, or pass pair='another sentence' to explain a similarity.")
    raise BertNbError(f"'{engine.name}' is neither a classifier, a tagger, a reader nor a masked-LM; fine-tune one "
                      "(bert_nb.finetune), load a masked-LM and give a text with one [MASK], "
                      "or pass pair='another sentence' to explain a similarity.")


def _check_text(text, name: str) -> None:
    if isinstance(text, (list, tuple)) or hasattr(text, "tolist"):  # "The text is empty" before
        raise BertNbError(f"explain takes one {name} (a string); got {len(text)} in a {type(text).__name__}: explain "
                          "them one at a time, or measure many with bert_nb.faithfulness.")
    if not isinstance(text, str) or not text.strip():
        raise BertNbError(f"The {name} is empty; give a sentence to explain.")


def _encode(engine, text: str, max_length: int | None = None):
    """Tokenize with truncation and offsets; a note when pieces were cut."""
    tok = engine.tokenizer
    limit = checked_limit(engine, max_length)
    enc = tok(text, truncation=True, max_length=limit, return_offsets_mapping=True, return_tensors="pt")
    full = len(tok(text, verbose=False)["input_ids"])
    cut = full - enc["input_ids"].shape[1]
    return enc, (f"Truncated: {cut} pieces cut to fit the limit of {limit} pieces; "
                 "only the rest is explained." if cut > 0 else None)


def _model_inputs(engine, enc) -> dict:
    """An encoding's tensors the model takes (all but the offsets), on the engine's device."""
    return engine.to_device({k: v for k, v in enc.items() if k != "offset_mapping"})


def _inputs(engine, enc) -> dict:
    keep = ("attention_mask", "token_type_ids")
    return engine.to_device({k: v for k, v in enc.items() if k in keep})


def _forward(engine, model, embeds, enc, **kwargs):
    """``model`` on word embeddings (B, T, H): BERT adds positions and segments itself."""
    extra = {k: v.expand(embeds.shape[0], -1) for k, v in _inputs(engine, enc).items()}
    with engine.autocast():
        return model(inputs_embeds=embeds, **extra, **kwargs)


def _label_setup(engine, text, target, window=None) -> _Setup:
    import torch

    from .tasks.classify import classifier_labels
    from .windows import one_window

    names = classifier_labels(engine)
    limit = engine.read_length
    enc, _, _, note = one_window(engine.tokenizer, text, limit, window, None)
    note = note or None
    model = engine.model
    if len(names) == 1:  # a score (a softmax over one output is always 1): its sigmoid, as classify gives it
        return _score_setup(engine, model, enc, target, note, "score")
    if target is None:
        with torch.inference_mode():
            logits = model(**_model_inputs(engine, enc)).logits
        index = int(logits[0].argmax())
    elif isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < len(names):
            raise BertNbError(f"Label index {target} is out of range; this classifier has labels 0 to {len(names) - 1} "
                              f"({', '.join(names)}).")
        index = target
    elif str(target) in names:
        index = names.index(str(target))
    else:
        raise BertNbError(f"'{target}' is not one of this classifier's labels; choose one of {', '.join(names)}.")

    def quantity(embeds):
        return _forward(engine, model, embeds, enc).logits.float().softmax(-1)[:, index]

    return _Setup("label", names[index], [enc], quantity, note)


def _mask_setup(engine, text, target) -> _Setup:
    import torch

    from .mask import MASK, _target_pieces

    tok = engine.tokenizer
    if text.count(tok.mask_token) > 1:
        raise BertNbError(f"The text has {text.count(tok.mask_token)} {MASK}s; explain one at a time: "
                          f"keep one {MASK} and write the other words out.")
    enc, note = _encode(engine, text)
    ids = enc["input_ids"][0]
    if int((ids == tok.mask_token_id).sum()) == 0:
        raise BertNbError(f"The {MASK} is beyond the model's limit of {engine.max_length} pieces; "
                          "shorten the text before it.")
    position = int((ids == tok.mask_token_id).nonzero()[0, 0])
    model = engine.head("mlm")
    if target is None:
        with torch.inference_mode():
            logits = vocabulary_logits(model(**_model_inputs(engine, enc)))
        token_id = int(logits[0, position].argmax())
    else:
        pieces = _target_pieces(tok, str(target))
        if len(pieces) != 1:
            raise BertNbError(f"Target '{target}' is {len(pieces)} pieces in this vocabulary "
                              f"({' '.join(tok.convert_ids_to_tokens(pieces))}); choose a one-piece word.")
        token_id = pieces[0]

    def quantity(embeds):
        return vocabulary_logits(_forward(engine, model, embeds, enc))[:, position].float().softmax(-1)[:, token_id]

    return _Setup("mask", tok.convert_ids_to_tokens(token_id), [enc], quantity, note)


def _score_setup(engine, model, enc, target, note, kind: str) -> _Setup:
    """A head of one output: the sigmoid of it, the ``score`` :func:`bert_nb.classify` gives."""
    import torch

    if target is not None:
        raise BertNbError("A score has no target; leave target out to explain the predicted score.")

    def score(embeds):
        return torch.sigmoid(_forward(engine, model, embeds, enc).logits.float()[:, 0])

    return _Setup(kind, "score", [enc], score, note)


def _cross_setup(engine, text, pair, target) -> _Setup:
    """A cross-encoder's output on (text, pair) as one input: its score on the label's scale, or a label's probability."""
    import torch

    from .tasks.classify import classifier_labels, hub_classifier

    limit = engine.read_length
    enc = engine.tokenizer(text, pair, truncation=True, max_length=limit, return_offsets_mapping=True,
                           return_tensors="pt")
    full = len(engine.tokenizer(text, pair, verbose=False)["input_ids"])
    note = (f"Truncated: {full - enc['input_ids'].shape[1]} pieces cut to fit the limit of {limit} pieces; only the "
            "rest is explained.") if full > enc["input_ids"].shape[1] else None
    model = engine.model
    if hub_classifier(engine) and len(classifier_labels(engine)) == 1:  # a hub cross-encoder's score
        return _score_setup(engine, model, enc, target, note, "pair score")
    if getattr(engine, "regression", False):
        if target is not None:
            raise BertNbError("A score has no target; leave target out to explain the predicted score.")
        def score(embeds):
            return engine.on_scale(torch.sigmoid(_forward(engine, model, embeds, enc).logits.float()[:, 0]))

        return _Setup("pair score", str(engine.training_config.get("label", "score")), [enc], score, note)
    names = classifier_labels(engine)
    if target is None:
        with torch.inference_mode():
            index = int(model(**_model_inputs(engine, enc)).logits[0].argmax())
    elif str(target) in names:
        index = names.index(str(target))
    else:
        raise BertNbError(f"'{target}' is not one of this cross-encoder's labels; choose one of {', '.join(names)}.")

    def probability(embeds):
        return _forward(engine, model, embeds, enc).logits.float().softmax(-1)[:, index]

    return _Setup("pair label", names[index], [enc], probability, note)


def _tag_setup(engine, text, target) -> _Setup:
    """A tagger's tag of one word: the probability of the tag predicted at the word's first piece, as
    :func:`bert_nb.tag` reads it (a text longer than the tagger: in the window where the word has the most
    context). ``target``: the word (its text, the first place it occurs; a phrase: its first word) or its
    number; default the first word of the first entity."""
    from .tasks.tagging import _tags_of, tag_windows, tagged_words
    from .windows import one_window, stride_for

    names = _tags_of(engine, bio=False)  # any tags: a part-of-speech tagger's too
    limit = engine.read_length
    stride = stride_for(None, limit, engine.tokenizer)
    found, owner, probs = tag_windows(engine, [text], 32, limit, stride)
    tagged = tagged_words(found, list(range(len(owner))), probs)  # word -> (start, end, tag, p, window, piece)
    if not tagged:
        raise BertNbError("The tagger reads no word in this text (nothing but characters its tokenizer drops); "
                          "give a text with words.")
    words = {w: [piece, start, end] for w, (start, end, _, _, _, piece) in tagged.items()}
    word = _tagged_word(text, words, [names[tagged[w][2]] for w in words], target)
    start, end, index, _, window, first = tagged[word]
    enc, _, windows, _ = one_window(engine.tokenizer, text, limit, window, stride)
    note = (f"The text is read in {windows} overlapping windows of {limit} pieces; window {window}, where the word "
            "has the most context (as tag reads it), is explained." if windows > 1 else None)
    if target is None and names[index] == "O":
        note = _joined(note, "No word is tagged as part of an entity; the first word's tag is explained (name "
                             "another word as target).")
    model = engine.head("tokens")

    def probability(embeds):
        return _forward(engine, model, embeds, enc).logits.float()[:, first].softmax(-1)[:, index]

    return _Setup("tag", names[index], [enc], probability, note, row=first, span=(0, start, end))


def _tagged_word(text: str, words: dict, tags: list[str], target) -> int:
    """The word number ``target`` names (see :func:`_tag_setup`)."""
    order = list(words)
    if target is None:
        return next((w for w, t in zip(order, tags) if t != "O"), order[0])
    if isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < len(order):
            raise BertNbError(f"Word {target} is out of range; the text has words 0 to {len(order) - 1}.")
        return order[target]
    wanted = str(target).strip()
    if not wanted:
        raise BertNbError("target is empty; name a word of the text, or leave target out to explain the first entity.")
    starts = {start: w for w, (_, start, _) in words.items()}
    ends = {end for _, _, end in words.values()}
    for at, stop in _places(text, wanted):  # as written first, then in any case
        if at in starts and stop in ends:  # whole words: "Par" is not "Paris"
            return starts[at]
    shown = ", ".join(dict.fromkeys(text[s:e] for _, s, e in words.values()))
    raise BertNbError(f"'{wanted[:40]}' is not a word of the text; choose one of: {shown[:200]}.")


def _places(text: str, wanted: str) -> list[tuple[int, int]]:
    """Where ``wanted`` occurs in ``text``, (start, end) each: as written, then in any case (offsets into ``text``
    itself: lowering a string can change its length)."""
    import re

    pattern = f"(?=({re.escape(wanted)}))"  # a lookahead: overlapping places too
    exact = [m.span(1) for m in re.finditer(pattern, text)]
    return exact + [m.span(1) for m in re.finditer(pattern, text, re.IGNORECASE) if m.span(1) not in exact]


def _word_bounds(tokenizer, text: str) -> tuple[set, set]:
    """The characters where the tokenizer's words of ``text`` start, and where they end."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans = {}
    for w, (start, end) in zip(enc.word_ids(), enc["offset_mapping"]):
        if w is not None:
            spans.setdefault(w, [start, end])[1] = end
    return {s for s, _ in spans.values()}, {e for _, e in spans.values()}


def _answer_setup(engine, question, context, target) -> _Setup:
    """A reader's answer: the probability of its first piece as the start times that of its last as the end,
    each a softmax over the context's pieces of the window that reads it, as :func:`bert_nb.answer` scores
    it. ``target``: words of the context (where they first occur); default the reader's best answer."""
    from .tasks.qa import _reader, answer, reading_window

    if context is None:
        raise BertNbError(f"'{engine.name}' is a reader: give the context to answer from as pair='...' (in a cell: "
                          "`question ||| context`).")
    _check_text(context, "context")
    reader = _reader(engine)
    if target is None:
        found = answer(reader, question, context, top_k=1).spans
        if not found:
            raise BertNbError("The reader finds no answer in this context; name words of it as target to explain "
                              "its score of them.")
        _, start, end, _ = found[0]
    else:
        wanted = str(target).strip()
        if not wanted:
            raise BertNbError("target is empty; name words of the context, or leave target out to explain the best answer.")
        places = _places(context, wanted)
        if not places:
            raise BertNbError(f"'{wanted[:40]}' is not in the context; give words of it as target, or leave target "
                              "out to explain the reader's best answer.")
        starts, ends = _word_bounds(reader.tokenizer, context)
        whole = [(s, e) for s, e in places if s in starts and e in ends]  # whole words: "Par" is not "Paris"
        if not whole:
            raise BertNbError(f"'{wanted[:40]}' is only part of a word of the context; give whole words as target.")
        start, end = whole[0]
    best, windows = _answer_window(reader, question, context, start, end)
    if best is None:
        raise BertNbError(f"'{context[start:end][:40]}' spans more than one window of {reading_window(reader)[0]} "
                          "pieces; give a shorter target.")
    _, w, one, probability, first = best
    note = (f"The context is read in {windows} overlapping windows; window {w}, which holds the answer, is explained."
            if windows > 1 else None)
    return _Setup("answer", context[start:end], [one], probability, note, row=first, span=(1, start, end))


def _answer_window(reader, question: str, context: str, start: int, end: int):
    """The window of ``context`` (read with ``question``) where the reader gives the characters [start, end) the
    highest P(start) x P(end): (value, window, its encoding, that probability as a function of the word embeddings,
    the answer's first piece), or None where no window holds them whole; and how many windows there are."""
    import torch
    from transformers import BatchEncoding

    from .tasks.qa import _positions, _window_room, reading_window

    max_length, stride = reading_window(reader)
    _window_room(reader.tokenizer, [question], max_length, stride)
    enc = reader.tokenizer(question, context, truncation="only_second", max_length=max_length, stride=stride,
                           return_overflowing_tokens=True, return_offsets_mapping=True)
    model = reader.model
    keep = [k for k in ("input_ids", "token_type_ids", "attention_mask", "offset_mapping") if k in enc]
    best = None
    for w in range(len(enc["input_ids"])):
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], enc.sequence_ids(w))]
        first, last = _positions(offsets, start, end)
        if (first, last) == (0, 0):
            continue  # the answer is not (wholly) in this window
        one = BatchEncoding({k: [enc[k][w]] for k in keep}, encoding=[enc.encodings[w]], tensor_type="pt")
        inside = torch.tensor([o is not None for o in offsets], device=reader.device)

        def probability(embeds, one=one, inside=inside, first=first, last=last):
            out = _forward(reader, model, embeds, one)
            p_start = out.start_logits.float().masked_fill(~inside, float("-inf")).softmax(-1)[:, first]
            p_end = out.end_logits.float().masked_fill(~inside, float("-inf")).softmax(-1)[:, last]
            return p_start * p_end

        with torch.inference_mode():
            value = float(probability(_embeds(reader, one))[0])
        if best is None or value > best[0]:
            best = (value, w, one, probability, first)
    return best, len(enc["input_ids"])


def _segments(setup, n: int, enc) -> list[int]:
    """Each piece's segment: the encoding's number, or for a pair read as one input its token type (A 0, B 1)."""
    if setup.kind.startswith("pair") or setup.kind == "answer":  # two texts read as one input
        if "token_type_ids" in enc:
            return [int(t) for t in enc["token_type_ids"][0].tolist()]
        out, last = [], 0  # a model without token types (DistilBERT): the tokenizer's sequence of each piece
        for seq in enc.sequence_ids(0):
            last = last if seq is None else seq
            out.append(last)
        return out
    return [n] * enc["input_ids"].shape[1]


def _similarity_setup(engine, text, pair, target) -> _Setup:
    import torch

    from .embeddings import _sentence_max_length

    if target is not None:
        raise BertNbError("A similarity has no target; leave target out when you pass pair=.")
    limit = _sentence_max_length(engine)
    (enc_a, note_a), (enc_b, note_b) = _encode(engine, text, limit), _encode(engine, pair, limit)
    encoder = engine.encoder

    def pooled(embeds, enc):
        hidden = _forward(engine, encoder, embeds, enc).last_hidden_state.float()  # (B, T, H)
        mask = _inputs(engine, enc)["attention_mask"].expand(embeds.shape[0], -1).unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1)  # mean pooling, as bert_nb.similarity

    def quantity(embeds_a, embeds_b):
        return torch.nn.functional.cosine_similarity(pooled(embeds_a, enc_a), pooled(embeds_b, enc_b), dim=-1)

    note = " ".join(n for n in (note_a, note_b) if n) or None
    return _Setup("similarity", "similarity", [enc_a, enc_b], quantity, note)


# -- the methods ----------------------------------------------------------------
def _word_embeddings(engine):
    return engine.encoder.get_input_embeddings()


def _embeds(engine, enc):
    return _word_embeddings(engine)(engine.to_device({"input_ids": enc["input_ids"]})["input_ids"]).detach()


def _baseline_ids(engine, enc):
    """Every piece but the special ones replaced by [PAD]."""
    import torch

    tok = engine.tokenizer
    ids = enc["input_ids"].clone()
    specials = torch.tensor(tok.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)).bool()
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids[0, ~specials] = pad
    return ids


def _integrated_gradients(engine, setup, steps):
    import torch
    from captum.attr import IntegratedGradients

    inputs = tuple(_embeds(engine, enc) for enc in setup.encodings)
    baselines = tuple(_word_embeddings(engine)(engine.to_device({"i": _baseline_ids(engine, enc)})["i"]).detach()
                      for enc in setup.encodings)
    ig = IntegratedGradients(setup.quantity)
    with torch.enable_grad():
        attributions, delta = ig.attribute(inputs, baselines=baselines, n_steps=steps,
                                           internal_batch_size=_ig_batch(steps), return_convergence_delta=True)
    with torch.inference_mode():
        base = float(setup.quantity(*baselines)[0])
    scores = [a[0].float().sum(-1).detach().cpu().numpy() for a in attributions]  # per piece: sum over hidden
    return scores, {"baseline_value": base, "delta": float(delta[0])}


def _ig_batch(steps: int) -> int:
    return max(1, min(steps, 64))


def _gradient_x_input(engine, setup, steps):
    import torch
    from captum.attr import InputXGradient

    inputs = tuple(_embeds(engine, enc) for enc in setup.encodings)
    with torch.enable_grad():
        attributions = InputXGradient(setup.quantity).attribute(tuple(x.clone().requires_grad_() for x in inputs))
    return [a[0].float().sum(-1).detach().cpu().numpy() for a in attributions], {}


def _occlusion(engine, setup, steps):
    """Each word's pieces replaced by [MASK] (by the mask embedding), every word in one batch."""
    import torch
    from captum.attr import FeatureAblation

    tok = engine.tokenizer
    inputs = tuple(_embeds(engine, enc) for enc in setup.encodings)
    filler = tok.mask_token_id if tok.mask_token_id is not None else tok.unk_token_id
    baseline = _word_embeddings(engine).weight[filler].detach()  # (H,)
    masks, groups, numbers = [], [], {}  # group 0: specials, never ablated on their own
    for k, enc in enumerate(setup.encodings):
        keys = zip(_segments(setup, k, enc), enc.word_ids(0))
        group = torch.tensor([0 if w is None else numbers.setdefault((seg, w), len(numbers) + 1) for seg, w in keys])
        groups.append(group)
        masks.append(group.view(1, -1, 1).expand(1, -1, inputs[0].shape[-1]).to(inputs[0].device))
    with torch.inference_mode():
        attributions = FeatureAblation(setup.quantity).attribute(
            inputs, baselines=tuple(baseline.expand_as(x) for x in inputs), feature_mask=tuple(masks),
            perturbations_per_eval=32)
    scores = []
    for a, group in zip(attributions, groups):
        per_piece = a[0, :, 0].float().cpu().numpy().copy()  # the word's drop, on each of its pieces
        sizes = torch.bincount(group).numpy()
        per_piece = per_piece / sizes[group.numpy()]  # shared among the word's pieces: words() sums back
        per_piece[group.numpy() == 0] = 0.0
        scores.append(per_piece)
    return scores, {}


def _attention_weights(engine, setup):
    """(L, T, T) head-mean attention of each input, from the explained model's own encoder.

    Averaged per layer before stacking: a pruned model's layers have different head counts.
    """
    import torch

    from .attentions import _eager

    out = []
    model = engine.encoder
    for enc in setup.encodings:
        batch = _model_inputs(engine, enc)
        with _eager(model), torch.inference_mode():
            att = model(**batch, output_attentions=True).attentions
        out.append(torch.stack([a[0].float().mean(0) for a in att]).cpu())
    return out


def _attention(engine, setup, steps):
    """The last layer's head-mean attention from [CLS] (a tag: from the word's first piece; an answer: its first)."""
    return [w[-1][setup.row].numpy() for w in _attention_weights(engine, setup)], {}


def _attention_rollout(engine, setup, steps):
    """Abnar & Zuidema (2020): head-mean attention plus the residual, multiplied through the layers."""
    import torch

    scores = []
    for w in _attention_weights(engine, setup):
        T = w.shape[-1]
        rollout = torch.eye(T)
        for layer in w:  # (T, T) head mean, first layer first
            a = 0.5 * layer + 0.5 * torch.eye(T)
            rollout = (a / a.sum(-1, keepdim=True)) @ rollout
        scores.append(rollout[setup.row].numpy())
    return scores, {}


_RUN = {"integrated_gradients": _integrated_gradients, "gradient_x_input": _gradient_x_input,
        "occlusion": _occlusion, "attention": _attention, "attention_rollout": _attention_rollout}


def _methods(method) -> list[str]:
    if method is None:
        return ["integrated_gradients"]  # the default, as when method is not given
    asked = listed(method, "method is a name such as 'ig' or 'occlusion', a list of them, or 'all'")
    if asked == ["all"]:
        return list(METHODS)
    out = []
    for m in asked:
        name = _SHORT.get(m, m)
        if name not in METHODS:
            raise BertNbError(f"Unknown method '{m}'; choose from {', '.join(METHODS)} "
                              "(short: ig, gxi, rollout), a list of them, or 'all'.")
        out.append(name)
    if not out:
        raise BertNbError("No method given; choose from " + ", ".join(METHODS) + ".")
    return out


def explain(model, text: str, target=None, method: str | Sequence[str] = "integrated_gradients", *,
            pair: str | None = None, steps: int = 50, window: int | None = None):
    """Explain one decision: signed scores per piece for a label, a [MASK] word, a tag, an answer or a similarity.

    Parameters
    ----------
    model : Engine
        A fine-tuned classifier (``FineTuned``), tagger or reader (``finetune(task="tokens"/"qa")``,
        or such a model from the hub), a masked-LM engine, or any encoder with ``pair``.
    text : str
        The input. For a masked-LM, exactly one ``[MASK]``; for a reader, the question.
    target : str or int, optional
        The label (name or index) or the candidate word at the mask; default the model's own
        top prediction. For a tagger, the word whose tag is explained (its text, or its number;
        default the first word of the first entity); for a reader, the answer (words of the
        context; default its best answer). Not used with a similarity's ``pair``.
    method : str or list of str
        One of :data:`METHODS` (short names ``ig``, ``gxi``, ``rollout``), a list, or ``"all"``.
    pair : str, optional
        A second text: explain the cosine similarity of the two mean-pooled embeddings, or, for
        a cross-encoder (``finetune(text=(a, b))``), its score of the pair (or the probability of
        a label), the two texts read as one input. For a reader, the context to answer from
        (a long one: the window that holds the answer is explained).
    steps : int
        Integrated-gradients steps (Gauss-Legendre); more steps, smaller ``delta``.
    window : int, optional
        A classifier's text longer than its training length is cut into overlapping windows;
        this one is explained (default 0, the first), and the note says which characters it covers.

    Returns
    -------
    Explanation, or Explanations when ``method`` is a list or ``"all"``.

    Examples
    --------
    >>> e = bert_nb.explain(clf, "A moving, beautifully acted film.")         # doctest: +SKIP
    >>> e.words()                                                               # doctest: +SKIP
    >>> bert_nb.explain(mlm, "Paris is the [MASK] of France.", method="all")    # doctest: +SKIP
    >>> bert_nb.explain(ner, "Angela Merkel visited Paris.", target="Paris")    # doctest: +SKIP
    >>> bert_nb.explain(reader, "Who visited Paris?", pair="Angela Merkel visited Paris.")  # doctest: +SKIP
    """
    methods = _methods(method)
    if not isinstance(steps, int) or steps < 1:
        raise BertNbError(f"steps must be a positive whole number, not {steps!r}.")
    if getattr(model, "quantize", None) and any(m in _GRADIENT for m in methods):
        raise BertNbError(f"'{model.name}' is quantized to int8 and has no gradients; explain the fp32 model it was "
                          "quantized from with gradient methods, or choose occlusion or attention.")
    setup = _setup(model, text, pair, target, window)
    model.model.eval()
    import torch

    with torch.inference_mode():
        value = float(setup.quantity(*(_embeds(model, enc) for enc in setup.encodings))[0])
    items = tuple(_explanation(model, setup, name, value, text, pair, steps) for name in methods)
    return items[0] if isinstance(method, str) and method != "all" else Explanations(items)


def _explanation(engine, setup, method, value, text, pair, steps) -> Explanation:
    import numpy as np

    scores, extra = _RUN[method](engine, setup, steps)
    tokens, start, end, segment, word = [], [], [], [], []
    tok = engine.tokenizer
    for k, enc in enumerate(setup.encodings):
        ids = enc["input_ids"][0].tolist()
        words = enc.word_ids(0)
        tokens += tok.convert_ids_to_tokens(ids)
        for (s, e), w in zip(enc["offset_mapping"][0].tolist(), words):
            start.append(None if w is None else int(s))
            end.append(None if w is None else int(e))
        segment += _segments(setup, k, enc)
        word += list(words)
    return Explanation(text=text, pair=pair, tokens=tuple(tokens), scores=np.concatenate(scores).astype(float),
                       start=tuple(start), end=tuple(end), segment=tuple(segment), word=tuple(word),
                       target=setup.target, kind=setup.kind, method=method, value=value,
                       model=engine.name, note=_joined(setup.note, cjk_note(text + (pair or ""))), span=setup.span,
                       **extra)


# -- faithfulness -------------------------------------------------------------------
# For each text and method the words are ranked by score. Deleting the top share of words
# should lower the predicted probability a lot (comprehensiveness, higher is better); keeping
# only them should lower it little (sufficiency, lower is better). AOPC averages each over the
# shares. A method that does not beat `random` (a seeded random word order) explains nothing
# about this model. Deletion cuts words out by character offsets and re-tokenizes.
@dataclass(frozen=True)
class Faithfulness:
    """Deletion curves per method (``curves``) and their AOPC summary (``to_frame()``)."""

    curves: "object"  # DataFrame: method, fraction, comprehensiveness, sufficiency (means over texts)
    texts: int
    model: str
    target: str  # what was measured, in words

    def to_frame(self):
        """Per method: AOPC comprehensiveness (higher is better), AOPC sufficiency (lower is better),
        and whether it beats the random order on both."""
        aopc = self.curves.groupby("method", sort=False)[["comprehensiveness", "sufficiency"]].mean()
        aopc.columns = ["aopc_comprehensiveness", "aopc_sufficiency"]
        rand = aopc.loc["random"]
        aopc["beats_random"] = ((aopc.aopc_comprehensiveness > rand.aopc_comprehensiveness) &
                                (aopc.aopc_sufficiency < rand.aopc_sufficiency))
        aopc.loc["random", "beats_random"] = False
        return aopc.reset_index()

    def best(self) -> str:
        """The method with the highest AOPC comprehensiveness minus AOPC sufficiency."""
        frame = self.to_frame()
        gap = frame.aopc_comprehensiveness - frame.aopc_sufficiency
        return str(frame.method.iloc[int(gap.to_numpy().argmax())])

    def to_text(self) -> str:
        """A line on what was measured, then the AOPC table."""
        frame = self.to_frame()
        lines = [f"faithfulness of {len(frame) - 1} methods on {self.texts} texts ({self.model}, {self.target}); "
                 "AOPC over the shares of words deleted"]
        for r in frame.itertuples():
            mark = "" if r.method == "random" else ("  beats random" if r.beats_random else "  does not beat random")
            lines.append(f"  {r.method:<22} comprehensiveness {r.aopc_comprehensiveness:+.3f}  "
                         f"sufficiency {r.aopc_sufficiency:+.3f}{mark}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Faithfulness({self.texts} texts, methods={', '.join(dict.fromkeys(self.curves.method))})"


def faithfulness(model, texts: str | Sequence[str],
                 methods: Sequence[str] = ("integrated_gradients", "gradient_x_input", "occlusion", "attention",
                                           "attention_rollout"),
                 fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.5), seed: int = 0, steps: int = 50) -> Faithfulness:
    """Comprehensiveness and sufficiency of each method's word ranking, next to a random ranking.

    Parameters
    ----------
    model : Engine
        A fine-tuned classifier (the predicted label's probability is measured), a tagger (the
        probability of the tag of each text's first entity's first word, as :func:`explain` explains
        it by default; that word is never deleted) or a masked-LM with texts that each hold one
        ``[MASK]`` (the top filler's probability; the [MASK] itself is never deleted).
    texts : str or list of str
        The texts to test on; more texts, steadier numbers. For a cross-encoder (or a hub classifier
        given pairs), ``(text, text_pair)`` pairs or ``"A ||| B"`` strings: each pair's score or label is
        measured, words deleted from both texts. For a reader, ``(question, context)`` pairs: its best
        answer's P(start) x P(end), the answer's words never deleted.
    methods : list of str
        Methods of :func:`bert_nb.explain`; ``random`` is always added as the baseline.
    fractions : list of float
        Shares of each text's words to delete (at least one word each).
    seed : int
        Seed of the random ranking.

    Returns
    -------
    Faithfulness: ``.curves`` (per method and fraction), ``.to_frame()`` (AOPC per method).

    Examples
    --------
    >>> bert_nb.faithfulness(clf, reviews.text[:20]).to_frame()   # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    from .tasks.classify import hub_classifier
    from .training import _given_pairs

    if not isinstance(texts, str) and hasattr(texts, "__iter__") and not hasattr(texts, "columns"):
        texts = list(texts)  # a generator: read once
    if getattr(model, "task", None) == "pairs" or "qa" in getattr(model, "heads", ()) or \
            (hub_classifier(model) and _given_pairs(texts)):  # two texts read as one input
        from .tasks.pairs import pair_inputs

        items = list(zip(*pair_inputs(texts)))
        probability = _pair_probability(model)
    else:
        texts = listed(texts, "Give one or more non-empty texts to test on")
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise BertNbError("Give one or more non-empty texts to test on.")
        items = [(text, None) for text in texts]
        probability = _probability(model)
    fractions = _fractions(fractions)
    names = list(METHODS) if methods is None else _methods(methods)  # one name too: methods="occlusion"
    rng = np.random.default_rng(seed)
    rows = []
    for text, pair in items:
        explained = explain(model, text, method=names, steps=steps, **({} if pair is None else {"pair": pair}))
        first = explained.items[0]
        words = first.words()
        keep_out = _protected(model, words, first.span)
        rankings = {e.method: _ranking(e.words().score.to_numpy(), keep_out) for e in explained.items}
        rankings["random"] = _ranking(rng.permutation(len(words)).astype(float), keep_out)
        variants = []
        for method, order in rankings.items():
            for f in fractions:
                top = order[:max(1, int(round(f * len(order))))] if len(order) else []
                variants.append((method, f, _variant(text, pair, words, top, keep_out, first.span, only=False),
                                 _variant(text, pair, words, top, keep_out, first.span, only=True)))
        probs = probability([v for _, _, a, b in variants for v in (a, b)], first.target)
        for i, (method, f, _, _) in enumerate(variants):
            rows.append({"method": method, "fraction": f, "comprehensiveness": first.value - probs[2 * i],
                         "sufficiency": first.value - probs[2 * i + 1]})
    curves = pd.DataFrame(rows).groupby(["method", "fraction"], sort=False).mean().reset_index()
    target = {"score": "predicted score", "label": "predicted label", "mask": "top [MASK] filler",
              "tag": "tag of each text's first entity", "pair score": "predicted score of each pair",
              "pair label": "predicted label of each pair", "answer": "best answer to each question"}[first.kind]
    return Faithfulness(curves=curves, texts=len(items), model=model.name, target=target)


def _fractions(fractions) -> list[float]:
    fractions = sorted(float(f) for f in fractions)
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise BertNbError(f"fractions must be shares of words between 0 and 1, for example (0.1, 0.2, 0.3, 0.5); got {fractions}.")
    return fractions


def _protected(model, words, span=None) -> set[int]:
    """Words never deleted: the [MASK] a masked-LM predicts, the word whose tag is explained (``span``)."""
    from .mask import MASK

    if span is not None:  # in the span's own text (a reader's answer: the context, segment B)
        own = words.segment == "AB"[span[0]] if "segment" in words.columns else [True] * len(words)
        return {i for i, (start, mine) in enumerate(zip(words.start, own)) if mine and span[1] <= start < span[2]}
    mask = model.tokenizer.mask_token or MASK
    return {i for i, w in enumerate(words.word) if w in (mask, MASK)}


def _variant(text: str, pair: str | None, words, chosen, protected: set[int], span, only: bool):
    """``text`` without the words ``chosen`` (``only``: with only them and the ``protected`` ones); for a pair, each
    text with its own words' share of them: ``(text, pair)``. Where ``span`` is (a tagged word, a reader's
    answer), its text comes with where the span starts in it (see :func:`_marked`)."""
    if pair is None:
        make = (lambda t: _only(t, words, chosen, protected)) if only else (lambda t: _without(t, words, chosen))
        return _marked(make, text, span)
    out = []
    for segment, own in (("A", text), ("B", pair)):
        rows = [i for i in range(len(words)) if words.segment.iloc[i] == segment]
        local = {row: k for k, row in enumerate(rows)}
        part = words.iloc[rows].reset_index(drop=True)
        picked = [local[i] for i in chosen if i in local]
        kept = {local[i] for i in protected if i in local}
        make = (lambda t, part=part, picked=picked, kept=kept: _only(t, part, picked, kept)) if only else \
            (lambda t, part=part, picked=picked: _without(t, part, picked))
        out.append(_marked(make, own, span if span is not None and "AB"[span[0]] == segment else None))
    return tuple(out)


def _marked(make, text: str, span):
    """``make(text)``; with a ``span`` (segment, start, end: a tagged word, never deleted), ``(made, where the
    word starts in it)``, found by running ``make`` on the text with the word's characters replaced by NULs."""
    if span is None:
        return make(text)
    _, start, end = span
    made = make(text[:start] + "\0" * (end - start) + text[end:])
    return made.replace("\0" * (end - start), text[start:end]), made.find("\0" * (end - start))


def _ranking(scores, keep_out: set[int]) -> list[int]:
    """Word indices by score, largest first (ties in reading order), protected words left out."""
    from ._ranking import top_indices

    return [int(i) for i in top_indices(scores, len(scores), 6) if int(i) not in keep_out]


def _without(text: str, words, drop) -> str:
    """``text`` with the words ``drop`` cut out by character offsets; spaces tidied."""
    spans = sorted((int(words.start.iloc[i]), int(words.end.iloc[i])) for i in drop)
    out, at = [], 0
    for s, e in spans:
        out.append(text[at:s])
        at = e
    out.append(text[at:])
    return " ".join("".join(out).split())


def _only(text: str, words, keep, protected: set[int]) -> str:
    """Only the words ``keep`` (and any protected word), in their order, joined by spaces."""
    chosen = sorted(set(int(i) for i in keep) | protected)
    return " ".join(text[int(words.start.iloc[i]):int(words.end.iloc[i])] for i in chosen)


def _probability(model):
    """A function: texts, target -> the target's probability (or score) for each text (batched); for a tagger,
    (text, where the word starts) pairs and the tag."""
    if "tokens" in model.heads:
        return _tag_probability(model)
    if not ({"classification", "mlm"} & set(model.heads)):
        raise BertNbError(f"'{model.name}' has no prediction to test; faithfulness needs a fine-tuned classifier, "
                          "a tagger or a masked-LM with one [MASK] per text.")
    from .tasks.classify import classifier_labels

    tok = model.tokenizer
    names = classifier_labels(model) if "classification" in model.heads else []

    def run(texts: list[str], target: str):
        out = []
        for start in range(0, len(texts), 32):
            chunk = [t if t.strip() else (tok.unk_token or "") for t in texts[start:start + 32]]
            enc = tok(chunk, padding=True, truncation=True, max_length=model.read_length, return_tensors="pt")
            out_ = model.forward(dict(enc), prepacked=True)
            logits = (out_.logits if names else vocabulary_logits(out_)).float()
            if len(names) == 1:  # a score: its sigmoid, as explain explains it
                out += logits[:, 0].sigmoid().tolist()
            elif names:
                out += logits.softmax(-1)[:, names.index(target)].tolist()
            else:
                ids = enc["input_ids"]
                token = tok.convert_tokens_to_ids(target)
                for row in range(len(chunk)):
                    where = (ids[row] == tok.mask_token_id).nonzero()
                    out.append(float(logits[row, int(where[0, 0])].softmax(-1)[token]) if len(where) else 0.0)
        return out

    return run


def _pair_probability(model):
    """A function: (text, pair) variants, target -> the target's probability or score for each. A cross-encoder's
    or pair classifier's as ``predict`` or ``classify`` gives it; a reader's pair is (question, (context, where
    the answer starts)) and its answer's P(start) x P(end) in the best window that holds it (0 where none does)."""
    unk = model.tokenizer.unk_token or "?"
    if "qa" in model.heads:
        return lambda variants, target: _answered(model, variants, len(target))

    def scored(variants, target: str):
        pairs = [(a if a.strip() else unk, b if b.strip() else unk) for a, b in variants]
        if getattr(model, "task", None) == "pairs":
            frame = model.predict(pairs)
        else:
            from .training import classify

            frame = classify(model, pairs)
        column = next(c for c in frame.columns if str(c) == str(target))
        return frame[column].astype(float).tolist()

    return scored


def _answered(reader, variants, length: int, batch_size: int = 32) -> list[float]:
    """For each variant (question, (context, where the answer starts)): the answer's highest P(start) x P(end)
    over the windows that hold its ``length`` characters whole, as :func:`_answer_window` gives it, with the
    windows of every variant read in batches; 0 where no window holds it or it was deleted (``at`` < 0)."""
    import torch

    from .tasks.qa import _positions, _window_room, reading_window
    from .training import sorted_batches

    out = [0.0] * len(variants)
    live = [i for i, (_, (_, at)) in enumerate(variants) if at >= 0]
    if not live:
        return out
    tok, (max_length, stride) = reader.tokenizer, reading_window(reader)
    questions = [variants[i][0] or tok.unk_token or "?" for i in live]
    _window_room(tok, questions, max_length, stride)
    enc = tok(questions, [variants[i][1][0] for i in live], truncation="only_second", max_length=max_length,
              stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    held = {}  # window -> (variant, the answer's first and last piece, which pieces are context)
    for w, owner in enumerate(enc["overflow_to_sample_mapping"]):
        i, at = live[owner], variants[live[owner]][1][1]
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], enc.sequence_ids(w))]
        first, last = _positions(offsets, at, at + length)
        if (first, last) != (0, 0):  # the answer is wholly in this window
            held[w] = (i, first, last, [o is not None for o in offsets])
    left = tok.padding_side == "left"
    for windows, logits in sorted_batches(reader, enc, list(held), batch_size, progress=False):
        width = logits.start_logits.shape[1]
        inside = torch.tensor([[False] * (width - len(held[w][3])) * left + held[w][3] +
                               [False] * (width - len(held[w][3])) * (not left) for w in windows])
        p_start, p_end = (x.float().cpu().masked_fill(~inside, float("-inf")).softmax(-1)
                          for x in (logits.start_logits, logits.end_logits))
        for b, w in enumerate(windows):
            i, first, last, context = held[w]
            shift = width - len(context) if left else 0
            out[i] = max(out[i], float(p_start[b, first + shift] * p_end[b, last + shift]))
    return out


def _tag_probability(model):
    """texts as (text, where a word starts), tag -> the tag's probability at that word's first piece, read as
    :func:`bert_nb.tag` reads it (a long text in windows); 0 where no word starts there."""
    from .tasks.tagging import _tags_of, tag_windows, tagged_words
    from .windows import stride_for

    names = _tags_of(model, bio=False)
    limit = model.read_length
    stride = stride_for(None, limit, model.tokenizer)

    def run(marked: list[tuple[str, int]], target: str):
        enc, owner, probs = tag_windows(model, [t if t.strip() else (model.tokenizer.unk_token or "?")
                                                for t, _ in marked], 32, limit, stride)
        windows: list[list[int]] = [[] for _ in marked]
        for w, i in enumerate(owner):
            windows[i].append(w)
        column, out = names.index(target), []
        for i, (_, at) in enumerate(marked):
            hit = next((v for v in tagged_words(enc, windows[i], probs).values() if v[0] == at), None)
            out.append(float(probs[hit[4]][hit[5], column]) if hit else 0.0)
        return out

    return run


def _joined(*notes) -> str | None:
    return " ".join(n for n in notes if n) or None
