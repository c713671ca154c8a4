"""Sentence pairs: a cross-encoder that reads both texts in one input (segments A and B) and scores or labels them.

``bert_nb.finetune(engine, data, text=("sentence1", "sentence2"), label="score")`` trains one.
A numeric label (STS-B's 0-5 similarity, say) makes it a regression: the scores are scaled to
0-1 by the training range and learned with a sigmoid and binary cross-entropy, the recipe of
sentence-transformers' CrossEncoder, which trains better than a mean squared error on the raw
score; predictions are scaled back. Metrics: Pearson and Spearman correlation, and the mean
squared error. Any other label makes it a classifier of pairs (entailment, paraphrase, ...),
with the classification metrics.
"""

from __future__ import annotations

from ..errors import BertNbError, check_batch_size, listed
from ..training import FineTuned, TrainingState, sigmoid
from .classify import metrics_from

__all__ = ["finetune_pairs", "PairModel", "check_pairs", "pair_inputs"]


def check_pairs(data, text: tuple[str, str], label: str, what: str = "data"):
    """The two text columns and the label of ``data`` (a DataFrame or (a, b, label) rows), checked."""
    import pandas as pd

    if isinstance(data, (list, tuple)):
        if not data or not all(isinstance(r, (list, tuple)) and len(r) == 3 for r in data):
            raise BertNbError(f"Give the {what} as (text, text_pair, label) rows or a DataFrame with the columns "
                              f"{text[0]}, {text[1]} and {label}.")
        data = pd.DataFrame(list(data), columns=[*text, label])
    if not hasattr(data, "columns"):
        raise BertNbError(f"Give the {what} as a DataFrame with the columns {text[0]}, {text[1]} and {label}.")
    missing = [c for c in (*text, label) if c not in data.columns]
    if missing:
        raise BertNbError(f"The {what} has no column '{missing[0]}' (a pair needs two text columns: "
                          f"text=('{text[0]}', '{text[1]}')); its columns are {', '.join(map(str, data.columns))}.")
    frame = data[[*text, label]].copy()
    keep = frame[label].notna()
    for column in text:
        keep &= frame[column].map(lambda t: isinstance(t, str) and bool(t.strip())).astype(bool)
    if not keep.any():
        raise BertNbError(f"The {what} has no usable pair (every row misses a text or its label).")
    return frame[keep].reset_index(drop=True)


def _is_numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def pair_inputs(pairs) -> tuple[list[str], list[str]]:
    """(texts, text_pairs) from 2-tuples, a two-column frame, or ``A ||| B`` strings (the magics' lines)."""
    if hasattr(pairs, "columns"):
        if len(pairs.columns) < 2:
            raise BertNbError("Give pairs as a frame with two text columns.")
        pairs = list(zip(pairs.iloc[:, 0], pairs.iloc[:, 1]))
    out = []
    for n, pair in enumerate(listed(pairs, "Give pairs of texts: (text, text_pair) tuples, a two-column frame or "
                                           "`A ||| B` lines", single=(str, tuple))):
        if isinstance(pair, str):
            pair = tuple(pair.split("|||", 1)) if "|||" in pair else (pair,)
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(t, str) and t.strip()
                                                                          for t in pair)):
            raise BertNbError(f"Pair {n} is not two texts; give (text, text_pair) tuples or `A ||| B` lines.")
        out.append((pair[0].strip(), pair[1].strip()))
    if not out:
        raise BertNbError("Give one or more pairs of texts.")
    return [a for a, _ in out], [b for _, b in out]


class _PairSet:
    def __init__(self, tokenizer, first, second, labels, max_length):
        self.enc = tokenizer(list(first), list(second), truncation=True, max_length=max_length)
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {**{k: v[i] for k, v in self.enc.items()}, "labels": self.labels[i]}


class _PairTask:
    """``fit``'s datasets, collator and metrics for pairs: regression on 0-1 targets, or classification."""

    by_length = False  # pairs vary little in length; on small sets, batches of one length can be all of one kind

    def __init__(self, names: list | None, low: float = 0.0, high: float = 1.0):
        self.names, self.low, self.high = names, low, high

    def _targets(self, frame, label):
        if self.names is None:  # regression: 0-1 targets, one per example (BCE wants shape (1,))
            return [[(float(v) - self.low) / (self.high - self.low)] for v in frame[label]]
        ids = {n: i for i, n in enumerate(self.names)}
        return list(frame[label].map(ids))

    def datasets(self, tokenizer, train, held, config, extra=None):
        (a, b), label, max_length = config["text"], config["label"], config["max_length"]
        train_set = _PairSet(tokenizer, train[a], train[b], self._targets(train, label), max_length)
        eval_set = _PairSet(tokenizer, held[a], held[b], self._targets(held, label), max_length) if len(held) else None
        return train_set, eval_set

    def collator(self, transformers, tokenizer):
        return transformers.DataCollatorWithPadding(tokenizer)

    def metrics(self, pred, state: TrainingState) -> dict:
        import numpy as np

        if self.names is not None:
            metrics, state.confusion = metrics_from(pred.label_ids, pred.predictions.argmax(-1), len(self.names))
            return metrics
        return regression_metrics(np.ravel(pred.label_ids), sigmoid(np.ravel(pred.predictions)), self.low, self.high)


def regression_metrics(targets, predicted, low: float, high: float) -> dict:
    """Pearson and Spearman correlation and the mean squared error, on the label's own scale."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    truth = np.asarray(targets) * (high - low) + low
    guess = np.asarray(predicted) * (high - low) + low
    constant = np.ptp(guess) == 0 or np.ptp(truth) == 0
    return {"pearson": 0.0 if constant else float(pearsonr(truth, guess)[0]),
            "spearman": 0.0 if constant else float(spearmanr(truth, guess)[0]),
            "mse": float(np.mean((truth - guess) ** 2))}


class PairModel(FineTuned):
    """A fine-tuned cross-encoder: scores (regression) or labels (classification) pairs of texts."""

    task = "pairs"

    @property
    def regression(self) -> bool:
        """True when it predicts a number (a similarity score), False when a label."""
        return self.training_config.get("regression", False)

    def on_scale(self, share):
        """A regression's output share (the sigmoid of its logit, 0 to 1; numpy or torch) on its label's scale."""
        low, high = self.training_config["label_range"]
        return share * (high - low) + low

    def predict(self, pairs, batch_size: int = 32, progress: bool | None = None):
        """Each pair's score (regression) or label and probabilities: text, text_pair, then score or label, ...

        ``pairs``: (text, text_pair) tuples, a two-column frame, or ``"A ||| B"`` strings. A pair longer
        than the model's length is cut there (the longer text first), and ``frame.attrs["note"]`` says so.
        ``progress``: a progress bar; by default only from 1,024 pairs on.
        """
        import pandas as pd

        from ..training import _labelled, _pair_logits

        first, second = pair_inputs(pairs)
        check_batch_size(batch_size)
        logits, note = _pair_logits(self, first, second, self.read_length, batch_size, progress)
        if not self.regression:  # a label and each label's probability, as classify gives them
            return _labelled(logits, list(self.label_names), {"text": first, "text_pair": second}, note)
        frame = pd.DataFrame({"text": first, "text_pair": second})
        if note:
            frame.attrs["note"] = note
        frame[self.training_config["label"]] = self.on_scale(sigmoid(logits[:, 0])).astype("float32")
        return frame

    def _kind(self) -> str:
        if self.regression:
            return (f"cross-encoder (regression of {self.training_config.get('label')}, range "
                    f"{self.training_config.get('label_range')})")
        return f"cross-encoder (pair classifier); labels: {', '.join(map(str, self.label_names))}"

    def metric_columns(self) -> list[str]:
        """Pearson, Spearman and MSE for a score; accuracy, precision, recall and F1 for labels."""
        wanted = ("epoch", "loss", "pearson", "spearman", "mse", "accuracy", "precision", "recall", "f1")
        return [c for c in wanted if c in self.metrics]

    def to_text(self) -> str:
        return "\n".join(self._summary_lines())


def finetune_pairs(engine, data, text=("sentence1", "sentence2"), label: str = "label", eval_data=None,
                   eval_fraction: float = 0.2, epochs: float = 3, learning_rate: float = 5e-5, batch_size: int = 16,
                   max_length: int | None = None, warmup_ratio: float = 0.1, seed: int = 0, callbacks=None,
                   state: TrainingState | None = None, logging_steps: int | None = None, cache=None) -> PairModel:
    """Fine-tune ``engine``'s encoder as a cross-encoder on pairs of texts.

    ``bert_nb.finetune(engine, data, text=(col_a, col_b), label=...)`` calls this; the parameters
    are :func:`bert_nb.finetune`'s. Returns a :class:`PairModel`, also when interrupted.
    """
    import transformers

    from ..training import (_check_numbers, _random_split, example_length, fit, started_from, starting_model,
                            train_or_load)
    from .classify import _check_labels, _split

    text = tuple(text)
    train = check_pairs(data, text, label)
    held = check_pairs(eval_data, text, label, what="evaluation data") if eval_data is not None else None
    regression = _is_numeric(train[label])
    if regression:
        low, high = float(train[label].min()), float(train[label].max())
        if low == high:
            raise BertNbError(f"Every training label is {low:g}: a score needs at least two different values "
                              "to learn from.")
        names = None
        if held is None:
            train, held = _random_split(train, eval_fraction, seed)
    else:
        low, high = 0.0, 1.0
        names = _check_labels(train, held, label)
        if held is None:
            train, held = _split(train, label, eval_fraction, seed)
    max_length = example_length(max_length, engine)
    _check_numbers(epochs, learning_rate, batch_size, max_length, warmup_ratio, engine)
    config = dict(task="pairs", text=list(text), label=label, regression=regression, epochs=epochs,
                  learning_rate=learning_rate, batch_size=batch_size, max_length=max_length, warmup_ratio=warmup_ratio,
                  seed=seed, **started_from(engine), train_rows=len(train), eval_rows=len(held))
    if regression:
        config["label_range"] = [low, high]
    labels = names or [label]
    state = state or TrainingState()
    head = dict(num_labels=1, problem_type="multi_label_classification", id2label={0: label},
                label2id={label: 0}) if regression else \
        dict(num_labels=len(names), id2label={i: str(n) for i, n in enumerate(names)},
             label2id={str(n): i for i, n in enumerate(names)})

    def train_new():
        transformers.set_seed(seed)
        model = starting_model(engine, transformers.AutoModelForSequenceClassification, **head)
        trained = fit(engine, model, train, held, labels, config, callbacks=callbacks, state=state,
                      logging_steps=logging_steps, task=_PairTask(names, low, high))
        return PairModel(engine, trained, state, labels, config, data=(train, held), name=f"{engine.name}+pairs")

    return train_or_load(engine, train, held, labels, config, cache, state, callbacks, train_new, cls=PairModel)
