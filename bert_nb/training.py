"""Fine-tuning: a text classifier (or masked-LM adaptation) on the user's own data, with transformers' Trainer.

The Trainer (accelerate underneath) does the training: AdamW, a linear schedule
with warmup, mixed precision on GPUs, several GPUs when present. bert_nb adds data
checks, per-epoch metrics (accuracy, macro precision/recall/F1, confusion matrix),
a history that survives an interrupt, and a :class:`FineTuned` engine that every
other command can use. This module knows nothing about widgets: live views are
Trainer callbacks passed in ``callbacks``.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import tempfile
import threading
import warnings
import weakref
from pathlib import Path

from .engine import Engine, quiet_transformers
from .errors import BertNbError, check_batch_size, listed
from .files import is_file

__all__ = ["finetune", "finetune_mlm", "FineTuned", "TrainingState", "text_progress", "fit", "train_or_load"]


class TrainingState:
    """What a running training shares with its callbacks and with whoever may stop it."""

    def __init__(self):
        self.history: list[dict] = []  # one dict per log: step, epoch, loss, eval_loss, learning_rate, ...
        self.epochs: list[dict] = []  # per-epoch metrics
        self.confusion = None
        self.stop_requested = False
        self.stopped_at: dict | None = None
        self.total_steps = 0
        self.step = 0

    def request_stop(self) -> None:
        """Ask training to stop after the step in progress (the Stop button calls this)."""
        self.stop_requested = True


def _callback_class():
    from transformers import TrainerCallback

    class _Recorder(TrainerCallback):
        """Feeds the TrainingState: logs, metrics, steps; stops when asked."""

        def __init__(self, state: TrainingState):
            self.state = state

        def on_train_begin(self, args, state, control, **kw):
            self.state.total_steps = state.max_steps

        def on_log(self, args, state, control, logs=None, **kw):
            row = {"step": state.global_step, "epoch": round(float(state.epoch or 0), 4)}
            row.update({k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))})
            self.state.history.append(row)

        def on_evaluate(self, args, state, control, metrics=None, **kw):
            if metrics:
                self.state.epochs.append({"epoch": round(float(state.epoch or 0), 4), "step": state.global_step,
                                          **{k.removeprefix("eval_"): float(v) for k, v in metrics.items()
                                             if isinstance(v, (int, float))}})

        def on_step_end(self, args, state, control, **kw):
            self.state.step = state.global_step
            if self.state.stop_requested:
                control.should_training_stop = True
                self.state.stopped_at = {"step": state.global_step, "epoch": round(float(state.epoch or 0), 4)}

    return _Recorder


def text_progress(write=None, every: int = 10):
    """A Trainer callback that keeps one progress line up to date (for scripts and plain IPython)."""
    import sys
    import time

    from transformers import TrainerCallback

    out = write or sys.stderr.write

    class _TextProgress(TrainerCallback):
        start = 0.0

        def on_train_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if state.global_step % every and state.global_step != state.max_steps:
                return
            done = state.global_step / max(state.max_steps, 1)
            spent = time.perf_counter() - self.start
            left = spent / done - spent if done else float("nan")
            loss = next((h["loss"] for h in reversed(state.log_history) if "loss" in h), float("nan"))
            out(f"\rstep {state.global_step}/{state.max_steps} ({done:.0%}) loss {loss:.4f}, "
                f"{spent:.0f}s spent, about {left:.0f}s left   ")

        def on_train_end(self, args, state, control, **kw):
            out("\n")

        def on_loaded(self, state, path):
            out(f"loaded from {path}: trained before with the same data and settings\n")

    return _TextProgress()


# -- data ------------------------------------------------------------------------------------
def _frame(data, text: str, label: str | None, what: str = "data"):
    """A DataFrame with the text (and label) columns from a DataFrame, a .csv, .tsv, .parquet or .jsonl path
    or a list of pairs."""
    import pandas as pd

    from .tasks._stored import table

    if isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if not is_file(path):
            raise BertNbError(f"No file '{str(data)[:80]}'; give a CSV path, a DataFrame or a list of (text, label).")
        data = table(path, what, csv_otherwise=True)  # as before: any other name is read as CSV
    elif isinstance(data, (list, tuple)):
        if not data:
            raise BertNbError(f"The {what} is empty; give examples to learn from.")
        if label is not None and not all(isinstance(r, (list, tuple)) and len(r) == 2 for r in data):
            raise BertNbError(f"Give the {what} as (text, label) pairs, a DataFrame or a CSV path.")
        data = pd.DataFrame(list(data), columns=[text, label]) if label is not None else pd.DataFrame({text: list(data)})
    elif not hasattr(data, "columns"):
        raise BertNbError(f"Give the {what} as a DataFrame, a CSV path or a list of (text, label) pairs.")
    needed = [c for c in (text, label) if c is not None]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise BertNbError(f"The {what} has no column '{missing[0]}'; its columns are "
                          f"{', '.join(map(str, data.columns))} (set text= and label=).")
    twice = [c for c in needed if list(data.columns).count(c) > 1]
    if twice:
        raise BertNbError(f"The {what} has more than one column named '{twice[0]}'; rename or drop the others.")
    frame = data[needed].copy()
    given = frame[text].dropna()
    if len(given) and not given.map(lambda t: isinstance(t, str)).any():  # numbers, say: not "empty"
        raise BertNbError(f"Column '{text}' of the {what} holds {frame[text].dtype} values, not texts; name the text "
                          f"column with text=, or convert it with .astype(str).")
    keep = frame[text].map(lambda t: isinstance(t, str) and bool(t.strip())).astype(bool)
    if label is not None:
        keep &= frame[label].notna().astype(bool)
    dropped = int((~keep).sum())
    if not keep.any():
        raise BertNbError(f"The {what} has no usable examples (every text or label is empty).")
    if dropped:
        warnings.warn(f"{dropped} row(s) of the {what} had an empty text or label and were dropped.", stacklevel=3)
    return frame[keep].reset_index(drop=True), dropped


def _random_split(frame, fraction, seed):
    """``fraction`` of the rows (at least one) held out by a seeded permutation, for data without classes."""
    import numpy as np

    if not 0 < fraction < 1:
        raise BertNbError("eval_fraction must be between 0 and 1 (or give eval_data).")
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = max(1, int(round(len(frame) * fraction)))
    return frame.iloc[np.sort(order[cut:])].reset_index(drop=True), frame.iloc[np.sort(order[:cut])].reset_index(drop=True)


class _Encoded:
    """A torch-style dataset of tokenized examples (padding happens per batch)."""

    def __init__(self, tokenizer, texts, labels, max_length, extra=None):
        self.enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        self.labels = None if labels is None else list(labels)
        self.extra = extra or {}  # name -> per-example values, handed to the loss as extra_<name>

    def __len__(self):
        return len(self.enc["input_ids"])

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.enc.items()}
        if self.labels is not None:
            item["labels"] = self.labels[i]
        item.update({f"extra_{k}": v[i] for k, v in self.extra.items()})
        return item




# -- the fine-tuned engine -------------------------------------------------------------------
class Recorded:
    """What a trained engine's ``state`` (a :class:`TrainingState`) shows as tables."""

    @property
    def history(self):
        """One row per log: step, epoch, loss (each objective's for pre-training), learning_rate."""
        import pandas as pd

        return pd.DataFrame(self.state.history)

    @property
    def metrics(self):
        """One row per evaluation: the task's scores (accuracy, F1, ...; masked top-1/top-5 for pre-training)."""
        import pandas as pd

        return pd.DataFrame(self.state.epochs)

    @property
    def stopped_early(self) -> dict | None:
        """Where training stopped when it was interrupted or stopped, else None."""
        return self.state.stopped_at


def classify(model, texts, batch_size: int = 32, truncate: bool = False, stride: int | None = None,
             progress: bool | None = None):
    """Labels and class probabilities for ``texts`` from a text classifier: one fine-tuned here (its ``predict``
    is this), or a sequence classifier from the hub or a folder, read with its config's labels.

    Returns a DataFrame with text, label and one column per class. A text longer than the model's
    training length is read in overlapping windows of that length (``stride`` pieces shared,
    default a quarter) and its class logits are averaged over them: a ``windows`` column says how
    many each took. With ``truncate=True`` it is cut instead, and a ``cut`` column says how many
    pieces were dropped.

    ``texts``: a list (or any sequence) of strings, or a frame: its ``text`` column, or its one
    column. A hub or folder classifier also reads pairs, given as ``(text, text_pair)`` tuples, a
    two-column frame (or one with ``text`` and ``text_pair``) or ``"A ||| B"`` strings: both texts in one input (segments A and B), as an
    NLI model or a cross-encoder reads them; the frame starts with text and text_pair. A head of
    one output (a cross-encoder's relevance or similarity, a regression) gives ``score``, the
    sigmoid of that output as such models are trained, and the raw ``logit``, instead of labels.
    ``progress``: a progress bar; by default only from 1,024 inputs on.

    Examples
    --------
    >>> bert_nb.classify(bert_nb.load("distilbert-base-uncased-finetuned-sst-2-english"), ["A triumph."])  # doctest: +SKIP
    >>> bert_nb.classify(bert_nb.load("cross-encoder/ms-marco-MiniLM-L-6-v2"),
    ...                  [("How many people live in Berlin?", "Berlin has 3.5 million inhabitants.")])  # doctest: +SKIP
    """
    import numpy as np

    from .tasks.classify import classifier_labels
    from .tasks.pairs import pair_inputs
    from .windows import cut_note, cut_pieces, first_windows, stride_for, windows_note

    kind = {"pairs": "a cross-encoder: give it (text, text_pair) pairs with its own predict",
            "tokens": "a tagger: use bert_nb.tag", "qa": "a reader: use bert_nb.answer"}.get(getattr(model, "task", None))
    if kind:
        raise BertNbError(f"'{model.name}' is {kind}.")
    # its own labels (as given: numbers stay numbers), or its config's id2label; says so where it has no head
    names = list(model.label_names) if hasattr(model, "label_names") else classifier_labels(model)
    check_batch_size(batch_size)
    limit = model.read_length
    if hasattr(texts, "columns"):
        texts = _frame_texts(texts)
    elif not isinstance(texts, str) and hasattr(texts, "__iter__"):
        texts = list(texts)  # a Series, an array or a generator: read once
    if _given_pairs(texts):
        if hasattr(model, "label_names"):
            raise BertNbError(f"'{model.name}' was fine-tuned on single texts; give it texts, or fine-tune a "
                              "cross-encoder on pairs with text=('first column', 'second column').")
        if truncate or stride is not None:
            raise BertNbError("stride and truncate are for single texts; a pair is read in one input, cut at the "
                              f"model's {limit} pieces.")
        first, second = pair_inputs(texts)
        logits, note = _pair_logits(model, first, second, limit, batch_size, progress)
        return _labelled(logits, names, {"text": first, "text_pair": second}, note)
    texts = listed(texts, "Give one or more non-empty texts to predict")
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise BertNbError("Give one or more non-empty texts to predict.")
    stride = stride_for(stride, limit, model.tokenizer)
    enc = model.tokenizer(texts, truncation=True, max_length=limit, return_overflowing_tokens=True, stride=stride)
    owner = list(enc["overflow_to_sample_mapping"])  # window -> text
    keep = first_windows(owner, truncate)
    kept = {k: [enc[k][w] for w in keep] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    logits = np.zeros((len(texts), len(names)), dtype=np.float64)
    taken = np.zeros(len(texts), dtype=np.int64)
    np.add.at(logits, [owner[w] for w in keep], _sorted_logits(model, kept, batch_size, progress))
    np.add.at(taken, [owner[w] for w in keep], 1)
    logits /= taken[:, None]  # the mean of each text's window logits
    frame = _labelled(logits, names, {"text": texts})
    cut = cut_pieces(enc["input_ids"], owner, len(texts), stride, model.tokenizer) if truncate else ()
    if any(cut):
        frame["cut"] = list(cut)
        frame.attrs["note"] = cut_note(cut, limit)
    elif taken.max() > 1:
        frame["windows"] = taken.tolist()
        frame.attrs["note"] = windows_note(taken.tolist(), limit, stride, "their logits")
    return frame


def _frame_texts(frame) -> list:
    """A frame's texts: its ``text`` column (with ``text_pair``, pairs), its one column, or its two as pairs."""
    columns = list(frame.columns)
    if "text" in columns and "text_pair" in columns:
        return list(zip(frame["text"], frame["text_pair"]))
    if "text" in columns or len(columns) == 1:
        return frame["text" if "text" in columns else columns[0]].tolist()
    if len(columns) == 2:
        return list(zip(frame.iloc[:, 0], frame.iloc[:, 1]))
    raise BertNbError(f"The frame has {len(columns)} columns and none is 'text'; give its text column "
                      "(frame['review']), or two columns for pairs (frame[['question', 'passage']]).")


def _given_pairs(texts) -> bool:
    """Whether ``texts`` are pairs: 2-tuples or ``A ||| B`` strings."""
    if isinstance(texts, str):
        return "|||" in texts
    return isinstance(texts, list) and any(isinstance(t, (list, tuple)) or (isinstance(t, str) and "|||" in t)
                                           for t in texts)


def _pair_logits(model, first: list, second: list, limit: int, batch_size: int, progress: bool | None = None):
    """A sequence classifier's logits for each (first, second) read as one input; and a note on pairs cut.

    The pairs run in batches of similar length (each padded to its longest), in their order again after."""
    tok = model.tokenizer
    enc = tok(first, second, verbose=False)  # once; only the pairs longer than the limit again, cut
    long = [i for i, ids in enumerate(enc["input_ids"]) if len(ids) > limit]
    if long:
        cut = tok([first[i] for i in long], [second[i] for i in long], truncation=True, max_length=limit)
        for key in cut.keys():
            for j, i in enumerate(long):
                enc[key][i] = cut[key][j]
    logits = _sorted_logits(model, enc, batch_size, progress)
    note = (f"{len(long)} pair{'' if len(long) == 1 else 's'} longer than {limit} pieces cut there (the longer text "
            "first)" if long else "")
    return logits, note


def pair_window_logits(model, first: list, second: list, limit: int, batch_size: int, stride: int | None = None):
    """Logits of each window of each pair: the first text whole in every window, the second read in overlapping
    windows of ``limit`` pieces (``stride`` shared, default a quarter). Returns the logits, the pair of each
    window and the stride; a pair that fits is one window."""
    from .windows import stride_for

    tok = model.tokenizer
    longest = max(len(ids) for ids in tok(first, verbose=False)["input_ids"])
    room = limit - tok.num_special_tokens_to_add(pair=True) - (longest - tok.num_special_tokens_to_add(pair=False))
    if room < 8:
        raise BertNbError(f"A query of {longest} pieces leaves too little room for its text in the model's {limit}; "
                          "shorten the query, or read the texts cut (windows=False).")
    stride = stride_for(stride, room + tok.num_special_tokens_to_add(pair=False), tok)
    enc = tok(first, second, truncation="only_second", max_length=limit, stride=stride,
              return_overflowing_tokens=True)
    return _sorted_logits(model, enc, batch_size), list(enc["overflow_to_sample_mapping"]), stride


def _sorted_logits(model, enc, batch_size: int, progress: bool | None = None):
    """The logits of every row of ``enc`` (token id lists), run in batches of like length, in ``enc``'s order;
    a progress bar (``progress`` None: from 1,024 rows on)."""
    import numpy as np

    out = None
    for rows, output in sorted_batches(model, enc, range(len(enc["input_ids"])), batch_size, progress):
        logits = output.logits.float().cpu().numpy()
        if out is None:
            out = np.zeros((len(enc["input_ids"]), logits.shape[1]), dtype=np.float64)
        out[rows] = logits
    return out


def sorted_batches(model, enc, rows, batch_size: int, progress: bool | None = None, desc: str = "predicting",
                   unit: str = "input"):
    """``rows`` of ``enc`` (token id lists) in batches of like length, each padded to its longest and run by the
    model (in eval mode): yields (the batch's rows, the model's output), with a progress bar (``progress`` None:
    from 1,024 rows on)."""
    from .embeddings import progress_bar

    model.model.eval()
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    order = sorted(rows, key=lambda i: len(enc["input_ids"][i]))  # stable: ties keep their order
    with progress_bar(len(order), progress, desc=desc, unit=unit) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = model.tokenizer.pad({k: [enc[k][i] for i in chunk] for k in keys}, return_tensors="pt")
            yield chunk, model.forward(dict(batch), prepacked=True)
            bar.update(len(chunk))


def sigmoid(x):
    """1 / (1 + e^-x) of a numpy array: a one-output head's score."""
    import numpy as np

    return 1.0 / (1.0 + np.exp(-x))


def softmax_rows(logits):
    """Each row of a numpy array of logits as probabilities (its maximum taken off first)."""
    import numpy as np

    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def _labelled(logits, names: list, first_columns: dict, note: str = ""):
    """The frame of predictions: ``first_columns``, then label and each class's probability; or, for a head of
    one output, its sigmoid ``score`` and raw ``logit``."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(first_columns)
    if len(names) == 1:  # a score: a softmax over one output is always 1
        frame["score"] = sigmoid(logits[:, 0]).astype(np.float32)
        frame["logit"] = logits[:, 0].astype(np.float32)
    else:
        p = softmax_rows(logits).astype(np.float32)
        frame["label"] = [names[i] for i in p.argmax(1)]
        for i, name in enumerate(names):
            frame[str(name)] = p[:, i]
    if note:
        frame.attrs["note"] = note
    return frame


class FineTuned(Recorded, Engine):
    """A fine-tuned classifier: an :class:`Engine` with its history, metrics and label names."""

    def __init__(self, base: Engine, model, state: TrainingState, label_names, config: dict, data=None,
                 name: str | None = None):
        self.base_name = getattr(base, "base_name", base.name)  # the pre-trained model it started from
        super().__init__(name or f"{self.base_name}+finetuned", base.source, base.tokenizer, model, base.device,
                         base.dtype)  # trained in fp32 master weights, also from an int8 start
        self.state = state
        self.label_names = list(label_names)
        self.training_config = config
        self._data = data  # (train, eval) frames, for export_script

    @property
    def confusion(self):
        """The last evaluation's confusion matrix (rows: true label, columns: predicted), or None."""
        return self.state.confusion

    def predict(self, texts, batch_size: int = 32, truncate: bool = False, stride: int | None = None,
                progress: bool | None = None):
        """Labels and class probabilities for ``texts``: a DataFrame with text, label and one column per class.

        As :func:`classify`: a text longer than the training length is read in overlapping windows; a
        progress bar from 1,024 texts on (``progress``).
        """
        return classify(self, texts, batch_size=batch_size, truncate=truncate, stride=stride, progress=progress)

    def save(self, path) -> str:
        """Write a save_pretrained folder (safetensors, tokenizer, label names, history); returns its path.

        ``bert_nb.load(path)`` gives the classifier back, pruned or distilled ones included.
        """
        path = Path(super().save(path))
        confusion = None if self.confusion is None else self.confusion.tolist()
        (path / "bert_nb_training.json").write_text(json.dumps(
            {"config": self.training_config, "label_names": [str(n) for n in self.label_names],
             "history": self.state.history, "epochs": self.state.epochs, "confusion": confusion,
             "name": self.name, "base_name": self.base_name, "stopped_at": self.state.stopped_at,
             "class": f"{type(self).__module__}:{type(self).__qualname__}"},
            indent=2, default=str))
        return str(path)

    @classmethod
    def from_saved(cls, engine: Engine) -> "FineTuned":
        """The classifier that :meth:`save` wrote, around the engine :func:`bert_nb.load` built from its folder."""
        import numpy as np

        saved = json.loads((Path(engine.source) / "bert_nb_training.json").read_text())
        state = TrainingState()
        state.history, state.epochs = saved.get("history", []), saved.get("epochs", [])
        state.stopped_at = saved.get("stopped_at")
        if saved.get("confusion") is not None:
            state.confusion = np.asarray(saved["confusion"])
        names = saved["label_names"]
        ids = getattr(engine.config, "id2label", None) or {}
        if len(ids) == len(names):  # the model's own order of labels wins over the file's
            names = [ids[i] for i in range(len(names))]
        engine.base_name = saved.get("base_name", engine.name)
        task = saved.get("config", {}).get("task")
        if task in ("tokens", "pairs", "qa") and cls is FineTuned:  # saved before the file named its class
            from .tasks.pairs import PairModel
            from .tasks.qa import QAModel
            from .tasks.tagging import Tagger

            cls = {"tokens": Tagger, "pairs": PairModel, "qa": QAModel}[task]
        return cls(engine, engine.model, state, names, saved.get("config", {}), name=engine.name)

    def export_script(self, path) -> str:
        """Write a standalone training script (and its data) that reruns this fine-tuning at scale.

        The script uses only transformers and pandas; run it with ``python train.py`` or
        ``accelerate launch train.py`` on several GPUs or machines.
        """
        from .export import write_script

        return write_script(self, Path(path))

    def info(self):
        """The engine's info, with the classifier's labels noted."""
        from dataclasses import replace

        base = super().info()
        note = self._kind()
        if self.stopped_early:
            note += f"; stopped early at step {self.stopped_early['step']}"
        if base.note:  # pruned heads, say
            note += f"; {base.note}"
        return replace(base, note=note)

    def _kind(self) -> str:
        """What this model is, first in its info note (the task kinds say tagger, cross-encoder)."""
        return f"fine-tuned classifier; labels: {', '.join(map(str, self.label_names))}"

    def metric_columns(self) -> list[str]:
        """The per-epoch metrics its views show, in order (each task kind names its own)."""
        return [c for c in ("epoch", "loss", "accuracy", "precision", "recall", "f1") if c in self.metrics]

    def _summary_lines(self) -> list[str]:
        """Its info, then the table of :meth:`metric_columns` per epoch."""
        lines = [str(self.info())]
        if self.state.epochs:
            lines.append(self.metrics[self.metric_columns()].round(3).to_string(index=False))
        return lines

    def to_text(self) -> str:
        """Status, per-epoch metrics and the confusion matrix."""
        lines = self._summary_lines()
        if self.confusion is not None:
            lines.append("confusion (rows true, columns predicted): " + json.dumps(self.confusion.tolist()))
        return "\n".join(lines)


# -- training --------------------------------------------------------------------------------
def finetune(engine: Engine, data, text: str | None = None, label: str | None = None, eval_data=None,
             eval_fraction: float = 0.2, epochs: float = 3, learning_rate: float = 5e-5, batch_size: int = 16,
             max_length: int | None = None, warmup_ratio: float = 0.1, seed: int = 0, callbacks=None,
             state: TrainingState | None = None, logging_steps: int | None = None,
             from_model: bool = False, cache=None, task: str | None = None, stride: int | None = None) -> FineTuned:
    """Fine-tune ``engine``'s encoder with a new head on ``data``: a text classifier, a cross-encoder, a tagger or a reader.

    Parameters
    ----------
    engine : Engine
        The starting model (``bert_nb.load()``: the packaged MiniLM; any BERT-family model).
        Training starts from its pre-trained weights (``engine.source``), with a new head.
    data : DataFrame, CSV path or list of (text, label)
        For ``task="tokens"``: a DataFrame with a column of word lists and a column of BIO tag
        lists (``bert_nb.datasets.load("conll2003")``), or a list of (words, tags). For
        ``task="qa"``: SQuAD records (a DataFrame, a list of dicts or a SQuAD JSON path;
        ``bert_nb.datasets.load("conll_qa")``).
    text, label : str
        Column names: ``"text"`` and ``"label"`` by default (``"tokens"`` and ``"tags"`` for
        ``task="tokens"``). Labels may be strings or integers.
    task : {"classify", "pairs", "tokens", "qa"}, optional
        ``"classify"``: one label per text (a sequence-classification head). ``"pairs"``: a
        cross-encoder on two texts (``text=("sentence1", "sentence2")``), a regression when the
        label is numeric (Pearson/Spearman), else a pair classifier. ``"tokens"``: one BIO tag
        per word (a token-classification head; see :func:`bert_nb.tag`). ``"qa"``: extractive
        question answering on SQuAD-style records (context, question, answers; see
        :func:`bert_nb.answer`). By default: pairs when ``text`` names two columns or the data has
        ``sentence1`` and ``sentence2`` columns and no ``text`` column, qa when it has ``question``
        and ``context`` columns, tokens when it has ``tokens`` and ``tags`` columns and no ``text``
        column, else classify.
    stride : int, optional
        For ``task="qa"``: the pieces two neighbouring windows of a long context share (a
        quarter of ``max_length`` by default).
    eval_data : same forms as ``data``, optional
        Held-out data; otherwise ``eval_fraction`` of ``data`` (stratified) is held out.
    epochs, learning_rate, batch_size, max_length, warmup_ratio, seed
        AdamW with a linear schedule warming up over ``warmup_ratio`` of the steps; ``max_length``
        pieces per example (default 128, or the model's maximum where that is less).
    callbacks : list of transformers.TrainerCallback, optional
        Extra callbacks (the live views of bert_nb.panels are such callbacks).
    state : TrainingState, optional
        Pass one to stop training from elsewhere (``state.request_stop()``).
    from_model : bool
        Continue training ``engine``'s own classifier (a fine-tuned, pruned or distilled one, on
        a copy, with its labels) instead of a new head on the pre-trained weights.
    cache : str or Path, optional
        A folder that keeps each classifier trained here, keyed by the base model, the data, the
        labels and every setting: the same call again loads it from there in a second, with its
        history and metrics, instead of training. ``None`` uses the folder named by the
        ``BERT_NB_CACHE`` environment variable, when set; ``False`` always trains. Callbacks
        with an ``on_loaded(state, path)`` method hear of a load (the live views draw the
        loaded history). Runs stopped early are not kept; ``from_model`` runs never are.

    Returns
    -------
    FineTuned
        Also when interrupted (kernel interrupt, Stop button): training stops after the
        step in progress, and the model and its history are kept.

    Examples
    --------
    >>> data = bert_nb.datasets.load("rotten_tomatoes", split="train").head(400)   # doctest: +SKIP
    >>> clf = bert_nb.finetune(bert_nb.load(), data, epochs=1)                     # doctest: +SKIP
    >>> clf.predict(["A triumph.", "A mess."])                                     # doctest: +SKIP
    """
    if isinstance(data, (str, Path)) and task is None and text is None:
        from .tasks._stored import table

        data = table(data, "data", csv_otherwise=True)  # its columns say the task
    task = _task_of(data, text, task)
    if task == "pairs":
        if from_model:
            raise BertNbError("from_model continues a single-text classifier only; fine-tune a new cross-encoder.")
        from .tasks.pairs import finetune_pairs

        columns = set(getattr(data, "columns", ()))
        if label is None:  # STS-B's similarity is its "score"
            label = "score" if "label" not in columns and "score" in columns else "label"
        return finetune_pairs(engine, data, text=text or ("sentence1", "sentence2"), label=label,
                              eval_data=eval_data, eval_fraction=eval_fraction, epochs=epochs,
                              learning_rate=learning_rate, batch_size=batch_size, max_length=max_length,
                              warmup_ratio=warmup_ratio, seed=seed, callbacks=callbacks, state=state,
                              logging_steps=logging_steps, cache=cache)
    if task == "tokens":
        if from_model:
            raise BertNbError("from_model continues a text classifier only; fine-tune a new tagger instead.")
        from .tasks.tagging import finetune_tagger

        return finetune_tagger(engine, data, text=text or "tokens", label=label or "tags", eval_data=eval_data,
                               eval_fraction=eval_fraction, epochs=epochs, learning_rate=learning_rate,
                               batch_size=batch_size, max_length=max_length, warmup_ratio=warmup_ratio, seed=seed,
                               callbacks=callbacks, state=state, logging_steps=logging_steps, cache=cache)
    if task == "qa":
        if from_model:
            raise BertNbError("from_model continues a text classifier only; fine-tune a new reader instead.")
        from .tasks.qa import finetune_qa

        return finetune_qa(engine, data, eval_data=eval_data, eval_fraction=eval_fraction, epochs=epochs,
                           learning_rate=learning_rate, batch_size=batch_size, max_length=max_length, stride=stride,
                           warmup_ratio=warmup_ratio, seed=seed, callbacks=callbacks, state=state,
                           logging_steps=logging_steps, cache=cache)
    from .tasks.classify import finetune_classifier

    return finetune_classifier(engine, data, text=text or "text", label=label or "label", eval_data=eval_data,
                               eval_fraction=eval_fraction, epochs=epochs, learning_rate=learning_rate,
                               batch_size=batch_size, max_length=max_length, warmup_ratio=warmup_ratio, seed=seed,
                               callbacks=callbacks, state=state, logging_steps=logging_steps, from_model=from_model,
                               cache=cache)


def train_or_load(engine, train, held, names, config: dict, cache, state: TrainingState, callbacks, train_new,
                  auto=None, cls=None):
    """The fine-tuning the cache holds for this model, data, labels and settings; else ``train_new()``, then kept.

    Every task's ``finetune`` ends here. ``auto`` and ``cls``: the transformers Auto class of the
    head and the FineTuned kind a cached entry loads as (text classification by default). A run
    stopped early is not kept.
    """
    from . import cache as kept

    folder = None if config.get("in_session") else kept.cache_folder(cache)  # a name does not say which weights
    key = folder and kept.entry_key(config, train, held, names)
    entry = folder and kept.lookup(folder, key)
    if entry:
        return _load_kept(engine, entry, state, names, config, (train, held), callbacks, auto=auto, cls=cls)
    result = train_new()
    if folder and not state.stopped_at:
        kept.store(folder, key, result.save)
    return result


_TASKS = ("classify", "pairs", "tokens", "qa")


def _task_of(data, text, task) -> str:
    """The task asked for, or the one the data's shape says (two text columns: pairs; words and tags: tokens)."""
    if task is not None:
        if task not in _TASKS:
            raise BertNbError(f"Unknown task {task!r}; choose one of {', '.join(_TASKS)}.")
        if task == "pairs" and text is not None and (isinstance(text, str) or len(text) != 2):
            raise BertNbError("A pair task reads two text columns: text=('sentence1', 'sentence2').")
        return task
    if isinstance(text, (list, tuple)):
        if len(text) != 2:
            raise BertNbError(f"text= names one column, or two for pairs; got {len(text)}.")
        return "pairs"
    columns = set(getattr(data, "columns", ()))
    if text is None and {"question", "context"} <= columns:
        return "qa"
    if text is None and {"sentence1", "sentence2"} <= columns and "text" not in columns:
        return "pairs"  # STS-B's and GLUE's columns, the pairs task's defaults
    return "tokens" if text is None and {"tokens", "tags"} <= columns and "text" not in columns else "classify"


def _load_kept(engine, entry: Path, state: TrainingState, names, config, data, callbacks, auto=None,
               cls=None) -> FineTuned:
    """The model a cached fine-tuning stored in ``entry``, its history in ``state``, as if just trained.

    ``auto``: the transformers Auto class of its head (sequence classification by default);
    ``cls``: the FineTuned kind to build.
    """
    import numpy as np
    import transformers

    saved = json.loads((entry / "bert_nb_training.json").read_text())
    state.history, state.epochs = saved["history"], saved["epochs"]
    state.confusion = None if saved.get("confusion") is None else np.asarray(saved["confusion"])
    state.step = state.total_steps = max((r.get("step", 0) for r in state.history), default=0)
    with quiet_transformers(transformers):
        model = (auto or transformers.AutoModelForSequenceClassification).from_pretrained(entry, use_safetensors=True)
    model = model.float().eval().to(engine.device)
    for callback in callbacks or []:
        if hasattr(callback, "on_loaded"):
            callback.on_loaded(state, str(entry))
    return (cls or FineTuned)(engine, model, state, names, config, data=data, name=saved.get("name"))


def started_from(engine) -> dict:
    """What a fine-tuning's config records as its start: the checkpoint, or the name of a model made in the session."""
    engine = _fp32(engine)
    if engine.loadable or engine.quantize:  # a loaded int8 model: its fp32 checkpoint is where it came from
        return {"model": engine.source}
    return {"model": engine.name, "in_session": True}


def _fp32(engine):
    """The fp32 engine an int8 copy of a model made in the session was quantized from; else ``engine``."""
    return getattr(engine, "unquantized", None) or engine


def starting_model(engine, auto_class, **kwargs):
    """A new task model (``auto_class``: ``AutoModelForSequenceClassification`` and the like, fp32) with the
    engine's encoder weights and a new head (``kwargs`` go to ``from_pretrained``).

    A model bert_nb loaded by name or folder starts from that checkpoint. One made in the session
    (pre-trained, adapted, pruned, distilled, fine-tuned) starts from its weights in memory, written
    to a temporary folder first: its ``source`` is where it began, not what it is now. An int8 copy
    has no gradients: it starts from the fp32 weights it was quantized from.
    """
    import transformers

    engine = _fp32(engine)
    kwargs = dict(use_safetensors=True, ignore_mismatched_sizes=True, **kwargs)
    with quiet_transformers(transformers):
        if not started_from(engine).get("in_session"):
            return auto_class.from_pretrained(engine.source, **kwargs).float()
        with tempfile.TemporaryDirectory(prefix="bert_nb-start-") as folder:
            engine.model.save_pretrained(folder, safe_serialization=True)
            return auto_class.from_pretrained(folder, **kwargs).float()


def fit(engine, model, train, held, names, config: dict, callbacks=None, state: TrainingState | None = None,
        logging_steps: int | None = None, trainer_class=None, extra=None, task=None):
    """Train ``model`` on the frames with the Trainer: the one training loop every bert_nb model goes through.

    ``extra``: per training row, more inputs for ``trainer_class.compute_loss`` (a distillation's
    teacher logits). ``task``: how the data is encoded and batched and what the metrics are
    (``datasets``, ``collator``, ``metrics``; text classification by default, see ``tasks/``).
    Returns the trained model in eval mode on the engine's device.
    """
    import transformers

    if task is None:
        from .tasks.classify import _Classify

        task = _Classify(names)
    epochs, batch_size = config["epochs"], config["batch_size"]
    train_set, eval_set = task.datasets(engine.tokenizer, train, held, config, extra)
    steps = math.ceil(len(train_set) / batch_size) * epochs

    def compute_metrics(pred):
        return task.metrics(pred, state)

    args = _training_args(transformers, engine, epochs, config["learning_rate"], batch_size, config["seed"],
                          warmup_steps=int(round(config.get("warmup_ratio", 0) * steps)),
                          logging_steps=logging_steps or max(1, math.ceil(steps / 50)), evaluate=eval_set is not None,
                          by_length=getattr(task, "by_length", False))
    trainer = (trainer_class or transformers.Trainer)(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
        data_collator=task.collator(transformers, engine.tokenizer),
        compute_metrics=compute_metrics, callbacks=[_callback_class()(state), *(callbacks or [])],
    )
    _quiet(transformers, trainer)
    _train(trainer, state)
    return trainer.model.eval().to(engine.device)


def example_length(max_length, engine) -> int:
    """``max_length`` as given, else 128 pieces per example (the model's maximum where that is less)."""
    return min(_EXAMPLE_PIECES, engine.max_length) if max_length is None else max_length


_EXAMPLE_PIECES = 128


def _check_numbers(epochs, learning_rate, batch_size, max_length, warmup_ratio, engine=None):
    """The training settings, each a sensible number; ``max_length`` within ``engine``'s positions."""
    if not epochs or epochs <= 0:
        raise BertNbError("epochs must be more than 0.")
    if not learning_rate or not 0 < learning_rate < 1:
        raise BertNbError("learning_rate must be a small positive number, for example 5e-5.")
    check_batch_size(batch_size)
    if not isinstance(max_length, int) or max_length < 8:
        raise BertNbError("max_length must be a whole number of at least 8.")
    if engine is not None and max_length > engine.max_length:  # a longer example failed inside the model
        raise BertNbError(f"max_length {max_length} is more than this model's maximum of {engine.max_length}.")
    if not 0 <= warmup_ratio < 1:
        raise BertNbError("warmup_ratio must be between 0 and 1.")


def _training_args(transformers, engine, epochs, learning_rate, batch_size, seed, warmup_steps,
                   logging_steps, evaluate, by_length: bool = False):
    """The Trainer's arguments. ``by_length``: batches of examples of about the same length (less padding;
    the pairs, tagging and question-answering tasks ask for it)."""
    import torch

    cuda = engine.device.startswith("cuda")
    return arguments(
        transformers, num_train_epochs=epochs, learning_rate=learning_rate,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=max(batch_size, 32),
        warmup_steps=warmup_steps, lr_scheduler_type="linear", weight_decay=0.01, seed=seed,
        eval_strategy="epoch" if evaluate else "no", save_strategy="no", logging_strategy="steps",
        logging_steps=logging_steps, report_to=[], disable_tqdm=True, use_cpu=not cuda,
        bf16=cuda and engine.dtype == torch.bfloat16, fp16=cuda and engine.dtype == torch.float16,
        dataloader_pin_memory=cuda,
        remove_unused_columns=False,  # the datasets hold model inputs and labels, plus extras the loss reads
        **({"train_sampling_strategy": "group_by_length"} if by_length else {}),
    )


def arguments(transformers, **kwargs):
    """``TrainingArguments(**kwargs)`` writing (if at all) into a temporary folder that goes with them: removed
    once nothing refers to them any more, or when Python exits."""
    folder = tempfile.mkdtemp(prefix="bert_nb-")
    args = transformers.TrainingArguments(output_dir=folder, **kwargs)
    weakref.finalize(args, shutil.rmtree, folder, ignore_errors=True)
    return args


def _quiet(transformers, trainer) -> None:
    """Drop the Trainer's own printing of every log dict: bert_nb's views show them."""
    for cls in (transformers.PrinterCallback, transformers.ProgressCallback):
        trainer.remove_callback(cls)


def _train(trainer, state: TrainingState) -> None:
    """Run the Trainer; a kernel interrupt (SIGINT) stops after the current step instead of raising."""
    with _interrupt_stops(state):
        try:
            trainer.train()
        except KeyboardInterrupt:  # a second interrupt, or one outside a step: keep what there is
            state.stopped_at = state.stopped_at or {"step": state.step, "epoch": None}


@contextlib.contextmanager
def _interrupt_stops(state: TrainingState):
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if state.stop_requested:  # a second interrupt: stop now
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        state.request_stop()

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def finetune_mlm(engine: Engine, texts, epochs: float = 1, learning_rate: float = 5e-5, batch_size: int = 16,
                 max_length: int | None = None, mlm_probability: float = 0.15, seed: int = 0, callbacks=None,
                 state: TrainingState | None = None) -> Engine:
    """Adapt a masked-LM to your own text (BERT's 15% / 80-10-10 corruption), returning an engine for fill-mask.

    The returned engine's ``state.history`` holds the loss per logging step.
    """
    import transformers

    engine.head("mlm")
    frame, _ = _frame(texts if not isinstance(texts, str) else [texts], "text", None, what="texts")
    max_length = example_length(max_length, engine)
    _check_numbers(epochs, learning_rate, batch_size, max_length, 0, engine)
    transformers.set_seed(seed)
    model = starting_model(engine, transformers.AutoModelForMaskedLM)  # the masked-LM part of any checkpoint
    state = state or TrainingState()
    data = _Encoded(engine.tokenizer, frame["text"], None, max_length)
    steps = math.ceil(len(data) / batch_size) * epochs
    args = _training_args(transformers, engine, epochs, learning_rate, batch_size, seed, warmup_steps=0,
                          logging_steps=max(1, math.ceil(steps / 50)), evaluate=False)
    collator = transformers.DataCollatorForLanguageModeling(engine.tokenizer, mlm_probability=mlm_probability,
                                                            seed=seed) if _has_seed_arg(transformers) else \
        transformers.DataCollatorForLanguageModeling(engine.tokenizer, mlm_probability=mlm_probability)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, data_collator=collator,
                                   callbacks=[_callback_class()(state), *(callbacks or [])])
    _quiet(transformers, trainer)
    _train(trainer, state)
    adapted = Engine(f"{engine.name}+adapted", engine.source, engine.tokenizer, trainer.model.eval().to(engine.device),
                     engine.device, engine.dtype)
    adapted.state = state
    return adapted


def _has_seed_arg(transformers) -> bool:
    import inspect

    return "seed" in inspect.signature(transformers.DataCollatorForLanguageModeling.__init__).parameters
