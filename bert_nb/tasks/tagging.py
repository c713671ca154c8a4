"""Token classification: fine-tune a tagger on words with BIO tags (named entities), then tag new text.

Training data is one row per sentence: a list of words and a list of BIO tags of the same
length (``bert_nb.datasets.load("conll2003")`` has that shape). Each word's tag goes on its
first piece; the other pieces are left out of the loss (-100), as in BERT's paper. Metrics are
seqeval's entity-level precision, recall and F1, overall and per entity type, next to the
accuracy over words. :func:`tag` runs a tagger on raw text and returns the entities with
character offsets into that text.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass

from ..errors import BertNbError, check_batch_size, listed
from ..training import FineTuned, TrainingState

__all__ = ["finetune_tagger", "tag", "Tagger", "Entities", "check_tagged", "entity_spans", "tag_words",
           "entity_scores"]

_TAG = re.compile(r"^(O|[BI]-[^\s-][^\s]*)$")
IGNORE = -100  # label of pieces that are not a word's first: left out of the loss and the metrics


# -- data ------------------------------------------------------------------------------------
def check_tagged(data, text: str = "tokens", label: str = "tags", what: str = "data"):
    """A DataFrame of (words, BIO tags) rows, checked: lists of the same length, tags ``O``/``B-X``/``I-X``.

    Tags in the IOB1 style (an entity that starts with ``I-X``) are rewritten as BIO.
    """
    import pandas as pd

    from ..datasets import _bio
    from ._stored import read_back, table

    if isinstance(data, (str, os.PathLike)):
        data = table(data, what)
    if isinstance(data, (list, tuple)):
        if not data or not all(isinstance(r, (list, tuple)) and len(r) == 2 for r in data):
            raise BertNbError(f"Give the {what} as (words, tags) pairs or a DataFrame with '{text}' and '{label}' "
                              "columns of lists.")
        data = pd.DataFrame(list(data), columns=[text, label])
    if not hasattr(data, "columns"):
        raise BertNbError(f"Give the {what} as a DataFrame with '{text}' and '{label}' columns of lists "
                          "(e.g. bert_nb.datasets.load('conll2003', split='train')).")
    missing = [c for c in (text, label) if c not in data.columns]
    if missing:
        raise BertNbError(f"The {what} has no column '{missing[0]}'; its columns are "
                          f"{', '.join(map(str, data.columns))} (set text= and label=).")
    rows = []
    for n, (words, tags) in enumerate(zip(data[text], data[label])):
        words, tags = read_back(words), read_back(tags)  # as a CSV or Parquet file gave them back
        if isinstance(words, str) or not isinstance(words, (list, tuple)) or not words:
            raise BertNbError(f"Row {n} of the {what}: '{text}' must be a non-empty list of words, not {words!r:.60}.")
        if not isinstance(tags, (list, tuple)) or len(tags) != len(words):
            count = len(tags) if isinstance(tags, (list, tuple)) else "no list of"
            raise BertNbError(f"Row {n} of the {what} has {len(words)} words but {count} tags; give one tag per word.")
        bad = [t for t in tags if not isinstance(t, str) or not _TAG.match(t)]
        if bad and isinstance(bad[0], int):
            raise BertNbError(f"Row {n} of the {what} has tag {bad[0]!r}, a number: give the tags' names (O, B-PER, "
                              "...), e.g. a Hugging Face dataset's ner_tags mapped through its feature's names.")
        if bad:
            raise BertNbError(f"Row {n} of the {what} has tag {bad[0]!r}, which is not BIO: use O, B-TYPE (an entity's "
                              "first word) and I-TYPE (the words after it), e.g. B-PER I-PER.")
        if not all(isinstance(w, str) and w.strip() for w in words):
            raise BertNbError(f"Row {n} of the {what} has an empty word; every word needs text.")
        rows.append((list(words), _bio(list(tags))))
    return pd.DataFrame(rows, columns=[text, label])


def _tag_names(train, held, label: str) -> list[str]:
    """``O`` first, then each type's B- and I- tags, by type name; evaluation tags must occur in training."""
    seen = {t for row in train[label] for t in row}
    unseen = sorted({t for row in held[label] for t in row} - seen) if held is not None else []
    if unseen:
        raise BertNbError(f"The evaluation data has tag(s) {', '.join(unseen)} that training never sees; "
                          "remove them or add training examples.")
    types = sorted({t[2:] for t in seen if t != "O"})
    if not types:
        raise BertNbError("The training data has no entity at all (every tag is O); a tagger needs B-/I- tags.")
    return ["O"] + [f"{p}-{t}" for t in types for p in "BI"]


class _TaggedSet:
    """Words tokenized as pre-split input; each word's tag on its first piece, -100 on the rest."""

    def __init__(self, tokenizer, words, tags, ids: dict, max_length: int):
        self.enc = tokenizer([list(w) for w in words], is_split_into_words=True, truncation=True,
                             max_length=max_length)
        self.labels = []
        for i, row in enumerate(tags):
            labels, previous = [], None
            for word in self.enc.word_ids(i):
                labels.append(IGNORE if word is None or word == previous else ids[row[word]])
                previous = word
            self.labels.append(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {**{k: v[i] for k, v in self.enc.items()}, "labels": self.labels[i]}


class _TaggingTask:
    """What ``training.fit`` needs for token classification: datasets, collator, metrics."""

    by_length = True  # batches of sentences of about the same length: less padding, the same gradient on average

    def __init__(self, names: list[str]):
        self.names = names

    def datasets(self, tokenizer, train, held, config, extra=None):
        ids = {t: i for i, t in enumerate(self.names)}
        text, label, max_length = config["text"], config["label"], config["max_length"]
        train_set = _TaggedSet(tokenizer, train[text], train[label], ids, max_length)
        eval_set = _TaggedSet(tokenizer, held[text], held[label], ids, max_length) if len(held) else None
        return train_set, eval_set

    def collator(self, transformers, tokenizer):
        return transformers.DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)

    def metrics(self, pred, state: TrainingState) -> dict:
        metrics, confusion = tag_metrics(pred.label_ids, pred.predictions.argmax(-1), self.names)
        state.confusion = confusion
        return metrics


def tag_metrics(label_ids, predicted_ids, names: list[str]) -> tuple[dict, "object"]:
    """seqeval's entity precision/recall/F1 (micro, and F1 per type), word accuracy, and the tag confusion matrix."""
    import numpy as np

    true_ids, pred_ids = [], []  # per sentence, the words' tag ids (first pieces only)
    for labels, preds in zip(np.asarray(label_ids), np.asarray(predicted_ids)):
        keep = labels != IGNORE
        true_ids.append(labels[keep])
        pred_ids.append(preds[keep])
    truth = [[names[i] for i in row] for row in true_ids]
    guess = [[names[i] for i in row] for row in pred_ids]
    flat_true, flat_pred = np.concatenate(true_ids), np.concatenate(pred_ids)
    confusion = np.zeros((len(names), len(names)), dtype=int)
    np.add.at(confusion, (flat_true, flat_pred), 1)
    return entity_scores(truth, guess), confusion


def entity_scores(truth: list[list[str]], guess: list[list[str]]) -> dict:
    """Word accuracy, seqeval's entity precision/recall/F1 (micro) and F1 per type of tag sequences (per sentence,
    one tag per word)."""
    from seqeval.metrics import classification_report

    pairs = [(t, g) for a, b in zip(truth, guess) for t, g in zip(a, b)]
    with warnings.catch_warnings():  # a type never predicted yet has no precision: seqeval warns, we report 0
        warnings.simplefilter("ignore")
        report = classification_report(truth, guess, output_dict=True, zero_division=0)
    metrics = {"accuracy": float(sum(t == g for t, g in pairs) / len(pairs)) if pairs else 0.0,
               "precision": float(report["micro avg"]["precision"]), "recall": float(report["micro avg"]["recall"]),
               "f1": float(report["micro avg"]["f1-score"])}
    for kind, row in report.items():
        if kind not in ("micro avg", "macro avg", "weighted avg"):
            metrics[f"f1_{kind}"] = float(row["f1-score"])
    return metrics


def tag_words(model, sentences: list[list[str]], batch_size: int = 32) -> list[list[str]]:
    """Each sentence given as its words, tagged as the tagger was trained and evaluated: the tag predicted at each
    word's first piece, the sentence cut at the tagger's length (words past it tagged O). Batches of like length."""
    from ..training import sorted_batches

    names = _tags_of(model, bio=False)
    enc = model.tokenizer([list(words) for words in sentences], is_split_into_words=True, truncation=True,
                          max_length=model.read_length)
    out: list = [None] * len(sentences)
    for rows, output in sorted_batches(model, enc, range(len(sentences)), batch_size, progress=False,
                                       desc="tagging", unit="sentence"):
        best = output.logits.argmax(-1).cpu().tolist()
        for b, i in enumerate(rows):
            tags = ["O"] * len(sentences[i])
            seen = set()
            for piece, word in enumerate(enc.word_ids(i)):
                if word is not None and word not in seen:
                    seen.add(word)
                    tags[word] = names[best[b][piece]]
            out[i] = tags
    return out


# -- the tagger --------------------------------------------------------------------------------
class Tagger(FineTuned):
    """A fine-tuned token classifier: tags words; ``tag`` / ``predict`` return entities with offsets."""

    task = "tokens"

    def predict(self, texts, batch_size: int = 32, truncate: bool = False, stride: int | None = None,
                progress: bool | None = None):
        """The entities of each text: a DataFrame with text, entity, type, start, end, score (see :func:`tag`
        for long texts; ``attrs["note"]`` says how many were read in windows or cut)."""
        import pandas as pd

        found = _tag_batch(self, _checked_texts(listed(texts, _GIVE)), batch_size, list(self.label_names), truncate,
                           stride, progress)
        frames = [e.to_frame().assign(text=e.text) for e in found]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        frame = frame[["text", "entity", "type", "start", "end", "score"]]
        windowed, cut = sum(e.windows > 1 for e in found), sum(e.cut > 0 for e in found)
        if windowed or cut:
            frame.attrs["note"] = "; ".join(part for part in (
                f"{windowed} of {len(found)} texts read in overlapping windows" if windowed else "",
                f"{cut} of {len(found)} texts cut at {self.read_length} pieces" if cut else "") if part)
        return frame

    @property
    def entity_types(self) -> list[str]:
        """The entity types it knows (PER, ORG, ...), in the order of its tags."""
        return list(dict.fromkeys(n[2:] for n in self.label_names if n != "O"))

    def type_confusion(self):
        """The last evaluation's confusion by entity type over words (B- and I- together): (matrix, types)."""
        import numpy as np

        if self.confusion is None:
            return None, []
        types = ["O", *self.entity_types]
        index = [types.index(n if n == "O" else n[2:]) for n in self.label_names]
        merged = np.zeros((len(types), len(types)), dtype=int)
        np.add.at(merged, (np.repeat(index, len(index)), np.tile(index, len(index))), self.confusion.ravel())
        return merged, types

    def _kind(self) -> str:
        return f"token classifier (tagger); tags: {', '.join(self.label_names)}"

    def metric_columns(self) -> list[str]:
        """Word accuracy, entity precision/recall/F1, then the F1 of each entity type."""
        return super().metric_columns() + [c for c in self.metrics.columns if c.startswith("f1_")]

    def to_text(self) -> str:
        return "\n".join(self._summary_lines())


_GIVE = "Give one or more non-empty texts to tag"


def _checked_texts(texts):
    words = next((i for i, t in enumerate(texts) if isinstance(t, (list, tuple)) and t and
                  all(isinstance(w, str) for w in t)), None)
    if words is not None:  # a sentence as its words, as the training data holds it
        raise BertNbError(f"Text {words} is a list of words; give each sentence as one string, for example "
                          "' '.join(words) (''.join(characters) for Chinese).")
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise BertNbError(f"{_GIVE}.")
    return texts


def finetune_tagger(engine, data, text: str = "tokens", label: str = "tags", eval_data=None,
                    eval_fraction: float = 0.2, epochs: float = 3, learning_rate: float = 5e-5,
                    batch_size: int = 16, max_length: int | None = None, warmup_ratio: float = 0.1, seed: int = 0,
                    callbacks=None, state: TrainingState | None = None, logging_steps: int | None = None,
                    cache=None) -> Tagger:
    """Fine-tune ``engine``'s encoder with a token-classification head on (words, BIO tags) rows.

    ``bert_nb.finetune(engine, data, task="tokens")`` calls this; the parameters are
    :func:`bert_nb.finetune`'s. Returns a :class:`Tagger`, also when interrupted.
    """
    import transformers

    from ..training import (_check_numbers, _random_split, example_length, fit, started_from, starting_model,
                            train_or_load)

    train = check_tagged(data, text, label)
    held = check_tagged(eval_data, text, label, what="evaluation data") if eval_data is not None else None
    names = _tag_names(train, held, label)
    if held is None:
        train, held = _random_split(train, eval_fraction, seed)
    max_length = example_length(max_length, engine)
    _check_numbers(epochs, learning_rate, batch_size, max_length, warmup_ratio, engine)
    config = dict(task="tokens", text=text, label=label, epochs=epochs, learning_rate=learning_rate,
                  batch_size=batch_size, max_length=max_length, warmup_ratio=warmup_ratio, seed=seed,
                  **started_from(engine), train_rows=len(train), eval_rows=len(held))
    state = state or TrainingState()

    def train_new():
        transformers.set_seed(seed)
        model = starting_model(engine, transformers.AutoModelForTokenClassification, num_labels=len(names),
                               id2label=dict(enumerate(names)),
                               label2id={n: i for i, n in enumerate(names)})
        trained = fit(engine, model, train, held, names, config, callbacks=callbacks, state=state,
                      logging_steps=logging_steps, task=_TaggingTask(names))
        return Tagger(engine, trained, state, names, config, data=(train, held), name=f"{engine.name}+tagger")

    return train_or_load(engine, train, held, names, config, cache, state, callbacks, train_new,
                         auto=transformers.AutoModelForTokenClassification, cls=Tagger)


# -- tagging new text ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Entities:
    """The entities a tagger found in one text, with character offsets into it."""

    text: str
    spans: tuple  # (entity, type, start, end, score) per entity, in reading order
    words: tuple  # (word, start, end, tag, score) per word, as the tagger saw them
    model: str
    windows: int = 1  # the overlapping windows the text was read in
    cut: int = 0  # the pieces truncate=True dropped
    note: str = ""  # how a text longer than the tagger was read (windows, or what truncation cut)

    def to_frame(self):
        """entity, type, start, end, score: one row per entity (``attrs["note"]``: how a long text was read)."""
        import pandas as pd

        frame = pd.DataFrame(list(self.spans), columns=["entity", "type", "start", "end", "score"])
        if self.note:
            frame.attrs["note"] = self.note
        return frame

    def to_text(self) -> str:
        """One line: each entity with its type and score (and the note, on its own line)."""
        found = ", ".join(f"{e} ({k}, {s:.2f})" for e, k, _, _, s in self.spans) or "none"
        return f"entities ({self.model}): {found}" + (f"\n{self.note}" if self.note else "")

    def __repr__(self) -> str:
        return f"Entities({len(self.spans)} in {len(self.text)} characters, {self.model})"


def entity_spans(words) -> list[tuple]:
    """Group tagged words ``(word, start, end, tag, score)`` into entities ``(type, start, end, score)``.

    ``B-X`` starts an entity; ``I-X`` continues an entity of type X and starts one otherwise
    (a tagger's stray I- still marks an entity).
    """
    spans, current = [], None
    for _, start, end, tag_name, score in words:
        kind = None if tag_name == "O" else tag_name[2:]
        if kind is not None and tag_name.startswith("I-") and current and current[0] == kind:
            current[2], current[3] = end, current[3] + [score]
            continue
        if current:
            spans.append(current)
        current = [kind, start, end, [score]] if kind else None
    if current:
        spans.append(current)
    return [(k, s, e, float(sum(sc) / len(sc))) for k, s, e, sc in spans]


def tag(model, text, batch_size: int = 32, truncate: bool = False, stride: int | None = None,
        progress: bool | None = None):
    """The entities a tagger finds in ``text`` (one string; a list gives a ``Batch``): one fine-tuned here, or a
    token classifier from the hub or a folder whose tags are BIO (``B-PER``, ``I-PER``, ``O``).

    Each word's tag is the one predicted for its first piece (words as the tokenizer's
    pre-tokenizer splits them: spaces and punctuation); consecutive words of one entity join.
    A text longer than the tagger reads (the length it was fine-tuned at) is read in overlapping
    windows of that length (``stride`` pieces shared, default a quarter), each word tagged in the
    window where it has the most context on both sides; the result's ``note`` says so. With
    ``truncate=True`` the text is cut there instead, and the note says how many pieces were dropped.
    ``progress``: a progress bar; by default only from 1,024 windows on.

    Returns
    -------
    Entities
        ``to_frame()``: entity, type, start, end (character offsets into ``text``), score (the
        mean probability of its words' tags); ``windows`` and ``note`` for a long text.

    Examples
    --------
    >>> ner = bert_nb.finetune(bert_nb.load(), bert_nb.datasets.load("conll2003", "train").head(2000),
    ...                        task="tokens")                                         # doctest: +SKIP
    >>> bert_nb.tag(ner, "Angela Merkel visited Paris.").to_frame()                   # doctest: +SKIP
    """
    from ..batch import Batch

    names = _tags_of(model)
    if isinstance(text, str):
        return _tag_batch(model, _checked_texts([text]), batch_size, names, truncate, stride, progress)[0]
    return Batch(tuple(_tag_batch(model, _checked_texts(listed(text, _GIVE)), batch_size, names, truncate, stride,
                                  progress)))


def _tags_of(model, bio: bool = True) -> list[str]:
    """The tagger's tags: a Tagger's own, or a loaded token classifier's (its config's; with ``bio``, only when
    they are BIO, as reading entities needs)."""
    if isinstance(model, Tagger):
        return list(model.label_names)
    if "tokens" not in getattr(model, "heads", ()):
        raise BertNbError(f"'{getattr(model, 'name', model)}' is not a token classifier; fine-tune one with "
                          "bert_nb.finetune(engine, data, task='tokens') or load a saved tagger.")
    ids = model.config.id2label  # a hub NER model: "is not a token classifier" before
    names = [str(ids[i]) for i in range(len(ids))]
    if bio and not all(n == "O" or n[:2] in ("B-", "I-") for n in names):
        raise BertNbError(f"'{model.name}' tags {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}, which are "
                          "not BIO tags (B-PER, I-PER, O); tag reads entities from BIO tags.")
    return names


def _tag_batch(model, texts: list[str], batch_size: int, names: list[str], truncate: bool = False,
               stride: int | None = None, progress: bool | None = None) -> list[Entities]:
    from ..windows import cut_pieces, first_windows, stride_for

    check_batch_size(batch_size)
    limit = model.read_length
    stride = stride_for(stride, limit, model.tokenizer)
    enc, owner, probs = tag_windows(model, texts, batch_size, limit, stride, truncate, progress)
    cut = cut_pieces(enc["input_ids"], owner, len(texts), stride, model.tokenizer) if truncate else (0,) * len(texts)
    mine: list[list[int]] = [[] for _ in texts]
    for w in first_windows(owner, truncate):
        mine[owner[w]].append(w)
    out = []
    for i, text in enumerate(texts):
        words = [(text[s:e], s, e, names[best], float(p)) for s, e, best, p, _, _ in
                 tagged_words(enc, mine[i], probs).values()]
        spans = [(text[s:e], k, s, e, score) for k, s, e, score in entity_spans(words)]
        windows = len(mine[i])
        note = (f"The text is longer than {limit} pieces: cut there ({cut[i]} pieces dropped; truncate=False reads "
                "it whole in overlapping windows)." if cut[i] else
                f"The text is longer than {limit} pieces: read in {windows} overlapping windows ({stride} pieces "
                "shared), each word tagged in the window where it has the most context." if windows > 1 else "")
        out.append(Entities(text=text, spans=tuple(spans), words=tuple(words), model=model.name, windows=windows,
                            cut=cut[i], note=note))
    return out


def tag_windows(model, texts: list[str], batch_size: int, limit: int, stride: int, truncate: bool = False,
                progress: bool | None = False):
    """Every window of ``texts`` (each ``limit`` pieces, ``stride`` shared) and the tagger's tag probabilities for
    each: (encoding with offsets and word ids, window -> text, window -> (pieces, tags) array). With ``truncate``
    only each text's first window is run. Windows run in batches of like length (``progress``: a bar; None:
    from 1,024 windows on)."""
    import numpy as np

    from ..training import sorted_batches
    from ..windows import first_windows

    enc = model.tokenizer(texts, truncation=True, max_length=limit, stride=stride, return_overflowing_tokens=True,
                          return_offsets_mapping=True)
    owner = list(enc["overflow_to_sample_mapping"])
    probs: dict[int, np.ndarray] = {}
    for rows, output in sorted_batches(model, enc, first_windows(owner, truncate), batch_size, progress,
                                       desc="tagging", unit="window"):
        out = output.logits.float().softmax(-1).cpu().numpy()  # (B, T, tags)
        for b, w in enumerate(rows):
            probs[w] = out[b, :len(enc["input_ids"][w])]
    return enc, owner, probs


def tagged_words(enc, windows: list[int], probs: dict) -> dict:
    """Each word of one text read in ``windows``: word id -> (start, end, best tag, its probability, window, piece),
    tagged at its first piece in the window where that piece has the most context (pieces of the text on either
    side, the fewer side counting), in word order."""
    words: dict[int, list] = {}
    for w in windows:
        ids, offsets = enc.word_ids(w), enc["offset_mapping"][w]
        inside = [p for p, word in enumerate(ids) if word is not None]
        if not inside:  # a text of no pieces
            continue
        first, last = inside[0], inside[-1]
        for p in inside:
            start, end = offsets[p]
            seen = words.get(ids[p])
            if seen is None:
                words[ids[p]] = seen = [start, end, None, None, None, None, -1]
            seen[1] = max(seen[1], end)  # its first window holds its first piece: the start is known
            context = min(p - first, last - p)
            if start == seen[0] and context > seen[6]:  # the word's first piece, with more context than before
                seen[2:7] = [int(probs[w][p].argmax()), float(probs[w][p].max()), w, p, context]
    return {word: tuple(v[:6]) for word, v in sorted(words.items())}
