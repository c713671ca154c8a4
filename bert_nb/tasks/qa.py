"""Extractive question answering: fine-tune a reader on SQuAD-style records, then answer questions on a context.

Training data is one row per question: a ``context``, a ``question`` and its ``answers``
(SQuAD's form, ``{"text": [...], "answer_start": [...]}``; or plain ``answer`` and
``answer_start`` columns; or the SQuAD JSON file itself). Question and context go into one
input (segments A and B); a context longer than the window is split into overlapping windows
(``stride`` pieces shared between neighbours), and the head learns where the answer starts and
ends (a window that does not hold the answer points at [CLS]). Metrics are SQuAD's exact match
and word F1 over the held-out questions, each answered from its best window.
:func:`answer` runs a reader (one fine-tuned here, or a hub model with a question-answering
head) on new text.
"""

from __future__ import annotations

import collections
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

from ..errors import BertNbError, check_batch_size, listed
from ..files import is_file
from ..training import FineTuned, TrainingState

__all__ = ["finetune_qa", "answer", "QAModel", "Answers", "check_squad", "squad_scores"]

MAX_ANSWER_PIECES = 30  # the longest answer a reader may give, in pieces (SQuAD's usual limit)
_N_BEST = 20  # start and end candidates per window


# -- data ------------------------------------------------------------------------------------
def _records(data, what: str):
    """SQuAD JSON (a path or its dict) -> one dict per question; a frame, a list of dicts or a .csv, .parquet
    or .jsonl table of questions passes through."""
    import pandas as pd

    if isinstance(data, (str, Path)) and Path(data).suffix.lower() in (".csv", ".parquet", ".jsonl"):
        from ._stored import table

        data = table(data, what)  # a table of questions, one per row
    elif isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if not is_file(path):
            raise BertNbError(f"No file '{str(data)[:80]}'; give SQuAD JSON, a DataFrame or a list of records.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise BertNbError(f"'{data}' is not SQuAD JSON; give a file with data > paragraphs > qas.") from None
    if isinstance(data, dict) and "data" in data:  # SQuAD's nesting: articles > paragraphs > qas
        rows = []
        for article in data["data"]:
            for paragraph in article.get("paragraphs", []):
                for qa in paragraph.get("qas", []):
                    answers = qa.get("answers", [])
                    rows.append({"id": qa.get("id", str(len(rows))), "context": paragraph.get("context"),
                                 "question": qa.get("question"),
                                 "answers": {"text": [a.get("text") for a in answers],
                                             "answer_start": [a.get("answer_start") for a in answers]}})
        data = rows
    if isinstance(data, (list, tuple)):
        if not data or not all(isinstance(r, dict) for r in data):
            raise BertNbError(f"Give the {what} as SQuAD records (dicts with context, question and answers), "
                              "a DataFrame with those columns, or a SQuAD JSON file.")
        data = pd.DataFrame(list(data))
    if not hasattr(data, "columns"):
        raise BertNbError(f"Give the {what} as a DataFrame with context, question and answers columns "
                          "(e.g. bert_nb.datasets.load('conll_qa', split='train')) or a SQuAD JSON file.")
    return data


def check_squad(data, what: str = "data"):
    """The questions of ``data``, checked: id, context, question, answer, answer_start (one answer per row).

    ``answers`` in SQuAD's form keeps its first answer for training (SQuAD's training split has
    one); ``answer`` and ``answer_start`` columns are taken as they are. Every answer must be
    found in its context at its ``answer_start``.
    """
    import pandas as pd

    from ._stored import read_back

    data = _records(data, what)
    missing = [c for c in ("context", "question") if c not in data.columns]
    if not missing and "answers" not in data.columns and not {"answer", "answer_start"} <= set(data.columns):
        missing = ["answers"]
    if missing:
        raise BertNbError(f"The {what} has no column '{missing[0]}'; a question needs context, question and answers "
                          f"(SQuAD's {{'text': [...], 'answer_start': [...]}}) or answer and answer_start columns.")
    rows = []
    for n, row in enumerate(data.to_dict("records")):
        context, question = row.get("context"), row.get("question")
        if not isinstance(context, str) or not context.strip():
            raise BertNbError(f"Row {n} of the {what} has no context; every question needs the text to answer from.")
        if not isinstance(question, str) or not question.strip():
            raise BertNbError(f"Row {n} of the {what} has no question.")
        if "answers" in row and row["answers"] is not None and not isinstance(row["answers"], float):
            answers = read_back(row["answers"])  # a CSV file keeps SQuAD's dict as its text
            if not isinstance(answers, dict):
                raise BertNbError(f"Row {n} of the {what}: answers must be SQuAD's {{'text': [...], 'answer_start': "
                                  f"[...]}}, not {row['answers']!r:.60}.")
            texts, starts = list(answers.get("text", [])), list(answers.get("answer_start", []))
            if not texts or not starts:
                raise BertNbError(f"Row {n} of the {what} has no answer; bert_nb trains on answerable questions "
                                  "(SQuAD 1.1 style): drop the row or give its answer.")
            text, start = texts[0], starts[0]
        else:
            text, start = row.get("answer"), row.get("answer_start")
        if not isinstance(text, str) or not text.strip():
            raise BertNbError(f"Row {n} of the {what} has an empty answer; give the answer's text.")
        try:
            start = int(start)
        except (TypeError, ValueError):
            raise BertNbError(f"Row {n} of the {what}: answer_start must be the character offset where the "
                              f"answer begins in the context, not {start!r}.") from None
        if context[start:start + len(text)] != text:
            where = context.find(text)
            hint = f"it occurs at {where}" if where >= 0 else "it does not occur in the context at all"
            raise BertNbError(f"Row {n} of the {what}: the answer {text!r:.60} is not in its context at character "
                              f"{start} ({hint}); give answer_start as the offset where the answer begins.")
        rows.append({"id": str(row.get("id", n)), "context": context, "question": question.strip(),
                     "answer": text, "answer_start": start})
    if not rows:
        raise BertNbError(f"The {what} is empty; give questions to learn from.")
    return pd.DataFrame(rows, columns=["id", "context", "question", "answer", "answer_start"])


def _window_room(tokenizer, questions, max_length: int, stride: int) -> None:
    longest = max(len(tokenizer(q, add_special_tokens=False)["input_ids"]) for q in questions)
    room = max_length - longest - tokenizer.num_special_tokens_to_add(pair=True)
    if room < 8:
        raise BertNbError(f"A question takes {longest} pieces, which leaves no room for the context in a "
                          f"{max_length}-piece window; raise max_length or shorten the question.")
    if stride >= room:
        raise BertNbError(f"stride ({stride}) must be smaller than the context's room in a window ({room} pieces); "
                          "lower it, or raise max_length.")


def _encode(tokenizer, questions, contexts, max_length: int, stride: int):
    """Question + context windows: each window's inputs, its example, its pieces' offsets (None outside the context)."""
    enc = tokenizer(list(questions), list(contexts), truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    offsets = []
    for i, pieces in enumerate(enc["offset_mapping"]):
        segments = enc.sequence_ids(i)
        offsets.append([tuple(o) if s == 1 else None for o, s in zip(pieces, segments)])
    example = list(enc.pop("overflow_to_sample_mapping"))
    enc.pop("offset_mapping")
    return enc, example, offsets


def _positions(offsets, start: int, end: int) -> tuple[int, int]:
    """The first and last piece of the answer's characters [start, end) in one window; (0, 0) when outside."""
    inside = [i for i, o in enumerate(offsets) if o is not None]
    if not inside or offsets[inside[0]][0] > start or offsets[inside[-1]][1] < end:
        return 0, 0
    first = next(i for i in inside if offsets[i][1] > start)
    last = next(i for i in reversed(inside) if offsets[i][0] < end)
    return first, last


class _Windows:
    """The windows of a set of questions, as a torch-style dataset with start and end positions."""

    def __init__(self, tokenizer, frame, max_length: int, stride: int):
        self.enc, self.example, self.offsets = _encode(tokenizer, frame.question, frame.context, max_length, stride)
        self.frame = frame
        self.starts, self.ends = [], []
        for offsets, row in zip(self.offsets, self.example):
            start = int(frame.answer_start.iloc[row])
            first, last = _positions(offsets, start, start + len(frame.answer.iloc[row]))
            self.starts.append(first)
            self.ends.append(last)

    def __len__(self):
        return len(self.example)

    def __getitem__(self, i):
        return {**{k: v[i] for k, v in self.enc.items()}, "start_positions": self.starts[i],
                "end_positions": self.ends[i]}


# -- decoding and scoring ------------------------------------------------------------------------
def _softmax(x):
    import numpy as np

    x = x - x.max()
    e = np.exp(x)
    return e / e.sum()


def _spans(start_logits, end_logits, offsets, top: int):
    """The best (score, start char, end char, p_start, p_end) spans of one window, by start x end probability.

    Probabilities are softmaxes over the window's context pieces only.
    """
    import numpy as np

    inside = np.array([o is not None for o in offsets] + [False] * (len(start_logits) - len(offsets)))
    if not inside.any():
        return [], None, None
    p_start = np.zeros(len(start_logits))
    p_end = np.zeros(len(end_logits))
    p_start[inside] = _softmax(np.asarray(start_logits, dtype=float)[inside])
    p_end[inside] = _softmax(np.asarray(end_logits, dtype=float)[inside])
    starts = [i for i in np.argsort(-p_start)[:_N_BEST] if inside[i]]
    ends = [i for i in np.argsort(-p_end)[:_N_BEST] if inside[i]]
    found = [(p_start[s] * p_end[e], offsets[s][0], offsets[e][1], s, e)
             for s in starts for e in ends if s <= e < s + MAX_ANSWER_PIECES]
    found.sort(key=lambda f: -f[0])
    return found[:top], p_start, p_end


def _best_answers(window_logits, examples, offsets, contexts, top: int):
    """Per example, its ``top`` answers across its windows: (text, start, end, score), one per character span."""
    by_example = collections.defaultdict(list)
    for w, row in enumerate(examples):
        start_logits, end_logits = window_logits[w]
        spans, _, _ = _spans(start_logits, end_logits, offsets[w], top)
        by_example[row].extend(spans)
    out = []
    for row, context in enumerate(contexts):
        seen, answers = set(), []
        for score, start, end, _, _ in sorted(by_example.get(row, []), key=lambda f: -f[0]):
            if (start, end) not in seen:
                seen.add((start, end))
                answers.append((context[start:end], int(start), int(end), float(score)))
            if len(answers) == top:
                break
        out.append(answers)
    return out


def _normal(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces; as words."""
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def squad_scores(predicted: list[str], truth: list[str]) -> dict:
    """SQuAD's exact match and word-overlap F1 (0-1), averaged over questions."""
    exact, f1 = [], []
    for guess, gold in zip(predicted, truth):
        g, t = _normal(guess), _normal(gold)
        exact.append(float(g == t))
        common = sum((collections.Counter(g) & collections.Counter(t)).values())
        if not g or not t:
            f1.append(float(g == t))
        elif common == 0:
            f1.append(0.0)
        else:
            precision, recall = common / len(g), common / len(t)
            f1.append(2 * precision * recall / (precision + recall))
    n = max(len(exact), 1)
    return {"exact": sum(exact) / n, "f1": sum(f1) / n}


class _QATask:
    """What ``training.fit`` needs for question answering: windows, collator, and metrics over whole questions."""

    by_length = False  # the Trainer would reorder the held-out windows too, and the metrics read them in order

    def __init__(self):
        self.held = None

    def datasets(self, tokenizer, train, held, config, extra=None):
        max_length, stride = config["max_length"], config["stride"]
        train_set = _Windows(tokenizer, train, max_length, stride)
        self.held = _Windows(tokenizer, held, max_length, stride) if len(held) else None
        return train_set, self.held

    def collator(self, transformers, tokenizer):
        return transformers.DataCollatorWithPadding(tokenizer)

    def metrics(self, pred, state: TrainingState) -> dict:
        start_logits, end_logits = pred.predictions[:2]
        held = self.held
        logits = [(start_logits[w], end_logits[w]) for w in range(len(held))]
        answers = _best_answers(logits, held.example, held.offsets, list(held.frame.context), 1)
        predicted = [a[0][0] if a else "" for a in answers]
        return squad_scores(predicted, list(held.frame.answer))


# -- the reader --------------------------------------------------------------------------------
class QAModel(FineTuned):
    """A fine-tuned extractive reader: finds the answer to a question as a span of its context."""

    task = "qa"

    def predict(self, questions, contexts=None, top_k: int = 1, batch_size: int = 32):
        """The best answer to each question: question, answer, start, end, score (``"question ||| context"`` lines too)."""
        import pandas as pd

        pairs = _qa_pairs(questions, contexts)
        found = _answer_batch(self, pairs, top_k, batch_size)
        rows = [{"question": a.question, **row} for a in found for row in a.to_frame().to_dict("records")]
        return pd.DataFrame(rows, columns=["question", "answer", "start", "end", "score"])

    def _kind(self) -> str:
        cfg = self.training_config
        return (f"extractive reader (question answering); windows of {cfg.get('max_length')} pieces, "
                f"stride {cfg.get('stride')}")

    def metric_columns(self) -> list[str]:
        """SQuAD's exact match and F1 per epoch."""
        return [c for c in ("epoch", "loss", "exact", "f1") if c in self.metrics]

    def to_text(self) -> str:
        return "\n".join(self._summary_lines())


def finetune_qa(engine, data, eval_data=None, eval_fraction: float = 0.2, epochs: float = 3,
                learning_rate: float = 5e-5, batch_size: int = 16, max_length: int | None = None,
                stride: int | None = None, warmup_ratio: float = 0.1, seed: int = 0, callbacks=None, state: TrainingState | None = None,
                logging_steps: int | None = None, cache=None) -> QAModel:
    """Fine-tune ``engine``'s encoder with a question-answering head (start and end of the answer span).

    ``bert_nb.finetune(engine, data, task="qa")`` calls this; the parameters are
    :func:`bert_nb.finetune`'s, plus ``stride``: the pieces two neighbouring windows of a long
    context share (a quarter of ``max_length`` by default). Returns a :class:`QAModel`, also
    when interrupted.
    """
    import transformers

    from ..training import (_check_numbers, _random_split, example_length, fit, started_from, starting_model,
                            train_or_load)

    train = check_squad(data)
    held = check_squad(eval_data, what="evaluation data") if eval_data is not None else None
    if held is None:
        train, held = _random_split(train, eval_fraction, seed)
    max_length = example_length(max_length, engine)
    _check_numbers(epochs, learning_rate, batch_size, max_length, warmup_ratio, engine)
    stride = max_length // 4 if stride is None else stride
    if not isinstance(stride, int) or stride < 0:
        raise BertNbError("stride must be a whole number of pieces, 0 or more.")
    _window_room(engine.tokenizer, list(train.question) + list(held.question), max_length, stride)
    config = dict(task="qa", text="question", label="answer", epochs=epochs, learning_rate=learning_rate,
                  batch_size=batch_size, max_length=max_length, stride=stride, warmup_ratio=warmup_ratio, seed=seed,
                  **started_from(engine), train_rows=len(train), eval_rows=len(held))
    names = ["start", "end"]
    state = state or TrainingState()

    def train_new():
        transformers.set_seed(seed)
        model = starting_model(engine, transformers.AutoModelForQuestionAnswering)
        trained = fit(engine, model, train, held, names, config, callbacks=callbacks, state=state,
                      logging_steps=logging_steps, task=_QATask())
        return QAModel(engine, trained, state, names, config, data=(train, held), name=f"{engine.name}+qa")

    return train_or_load(engine, train, held, names, config, cache, state, callbacks, train_new,
                         auto=transformers.AutoModelForQuestionAnswering, cls=QAModel)


# -- answering new questions ---------------------------------------------------------------------
@dataclass(frozen=True)
class Answers:
    """A reader's best answers to one question on one context, and where it looked."""

    question: str
    context: str
    spans: tuple  # (answer, start, end, score) per answer, best first; offsets into the context
    pieces: tuple  # (piece, start, end, p_start, p_end) per context piece, in order (best window's probabilities)
    windows: int  # how many windows the context took
    model: str

    def to_frame(self):
        """answer, start, end, score: one row per answer, best first."""
        import pandas as pd

        return pd.DataFrame(list(self.spans), columns=["answer", "start", "end", "score"])

    @property
    def best(self) -> str:
        """The best answer's text ('' when the reader found none)."""
        return self.spans[0][0] if self.spans else ""

    def to_text(self) -> str:
        """The question, then each answer with its score."""
        found = "; ".join(f"{a!r} ({s:.2f})" for a, _, _, s in self.spans) or "no answer"
        windows = f", {self.windows} windows" if self.windows > 1 else ""
        return f"Q: {self.question}\nA ({self.model}{windows}): {found}"

    def __repr__(self) -> str:
        return f"Answers({self.best!r}, {len(self.spans)} candidates, {self.model})"


def _qa_pairs(questions, contexts) -> list[tuple[str, str]]:
    """(question, context) pairs from a question and a context, two lists, ``question ||| context`` lines, or a
    DataFrame with question and context columns."""
    if hasattr(questions, "columns") and contexts is None:
        missing = [c for c in ("question", "context") if c not in questions.columns]
        if missing:
            raise BertNbError(f"The frame has no column '{missing[0]}'; give question and context columns.")
        questions, contexts = list(questions["question"]), list(questions["context"])
    say = "Give a question (or a list of them) and its context"
    if contexts is None:
        lines = [questions] if isinstance(questions, str) else listed(questions, say)
        pairs = []
        for n, line in enumerate(lines):
            if isinstance(line, (list, tuple)) and len(line) == 2:
                pairs.append(tuple(line))
            elif isinstance(line, str) and "|||" in line:
                pairs.append(tuple(part.strip() for part in line.split("|||", 1)))
            else:
                raise BertNbError(f"Line {n} has no context: give `question ||| context`, or the context as a "
                                  "second argument.")
    else:
        qs = [questions] if isinstance(questions, str) else listed(questions, say)
        cs = [contexts] if isinstance(contexts, str) else listed(contexts, say)
        if len(cs) == 1 and len(qs) > 1:
            cs = cs * len(qs)
        if len(qs) != len(cs):
            raise BertNbError(f"{len(qs)} questions but {len(cs)} contexts; give one context, or one per question.")
        pairs = list(zip(qs, cs))
    for q, c in pairs:
        if not (isinstance(q, str) and q.strip() and isinstance(c, str) and c.strip()):
            raise BertNbError("Each question needs a non-empty question and a non-empty context.")
    if not pairs:
        raise BertNbError("Give a question and the context to answer it from.")
    return [(q.strip(), c) for q, c in pairs]


def _reader(model):
    """The question-answering model of a QAModel or of an engine with such a head (a hub reader)."""
    from ..engine import MissingHeadError

    if isinstance(model, QAModel):
        return model
    try:
        model.head("qa")
    except (MissingHeadError, AttributeError):
        raise BertNbError(f"'{getattr(model, 'name', model)}' has no question-answering head; fine-tune one with "
                          "bert_nb.finetune(engine, data, task='qa') or load a reader such as "
                          "'distilbert-base-cased-distilled-squad'.") from None
    return model


def reading_window(model) -> tuple[int, int]:
    """The pieces a reader reads at once and how many consecutive windows of a long context share: its
    training's, else 384 (at most the model's limit) and a quarter of it."""
    cfg = getattr(model, "training_config", {}) or {}
    max_length = min(cfg.get("max_length", 384), model.max_length)
    return max_length, cfg.get("stride", max_length // 4)


def _answer_batch(model, pairs, top_k: int, batch_size: int) -> list[Answers]:
    from ..training import sorted_batches

    check_batch_size(batch_size)
    if not isinstance(top_k, int) or top_k < 1:
        raise BertNbError("top_k must be a whole number of at least 1.")
    max_length, stride = reading_window(model)
    _window_room(model.tokenizer, [q for q, _ in pairs], max_length, stride)
    enc, example, offsets = _encode(model.tokenizer, [q for q, _ in pairs], [c for _, c in pairs], max_length, stride)
    logits: list = [None] * len(example)  # each window's (start, end) logits, padding included
    for windows, out in sorted_batches(model, enc, range(len(example)), batch_size, progress=False):
        for w, s, e in zip(windows, out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()):
            logits[w] = (s, e)
    contexts = [c for _, c in pairs]
    best = _best_answers(logits, example, offsets, contexts, top_k)
    results, of_row = [], collections.defaultdict(list)
    for w, r in enumerate(example):
        of_row[r].append(w)
    for row, (question, context) in enumerate(pairs):
        windows = of_row[row]  # (each row's windows looked up in all of them: quadratic in the questions)
        # the view: each context piece once, with the probabilities of the window that gave the best answer
        top = max(windows, key=lambda w: max([f[0] for f in _spans(*logits[w], offsets[w], 1)[0]], default=0.0))
        _, p_start, p_end = _spans(*logits[top], offsets[top], 1)
        pieces = {}
        for w in [top, *[w for w in windows if w != top]]:
            for i, o in enumerate(offsets[w]):
                if o is not None and o[1] > o[0] and o not in pieces:
                    own = w == top and p_start is not None
                    pieces[o] = (context[o[0]:o[1]], o[0], o[1], float(p_start[i]) if own else 0.0,
                                 float(p_end[i]) if own else 0.0)
        ordered = tuple(pieces[o] for o in sorted(pieces))
        results.append(Answers(question=question, context=context, spans=tuple(best[row]), pieces=ordered,
                               windows=len(windows), model=model.name))
    return results


def answer(model, question, context=None, top_k: int = 3, batch_size: int = 32):
    """The ``top_k`` answers a reader finds for ``question`` in ``context``, as spans of the context.

    ``model``: a reader from ``bert_nb.finetune(engine, data, task="qa")``, or any engine whose
    model has a question-answering head (a hub reader). A context longer than the reader's
    window is read in overlapping windows; the answers of all windows compete.

    Returns
    -------
    Answers
        ``to_frame()``: answer, start, end (character offsets into ``context``), score (the
        probability of the answer's start times that of its end, within its window). A list of
        questions (or ``"question ||| context"`` lines, or a DataFrame with question and context
        columns) gives a ``Batch``.

    Examples
    --------
    >>> qa = bert_nb.finetune(bert_nb.load(), bert_nb.datasets.load("conll_qa", "train"), task="qa")  # doctest: +SKIP
    >>> bert_nb.answer(qa, "Which place is mentioned?", "Angela Merkel visited Paris.").to_frame()  # doctest: +SKIP
    """
    from ..batch import Batch

    reader = _reader(model)
    single = isinstance(question, str) and (context is None or isinstance(context, str))
    found = _answer_batch(reader, _qa_pairs(question, context), top_k, batch_size)
    return found[0] if single else Batch(tuple(found))
