"""Text classification: one label per text, the task bert_nb fine-tunes by default.

What differs from the other tasks around the one Trainer loop in ``training.py``: the data
checks (labels, a stratified held-out split, warnings for few or unbalanced examples), a
sequence-classification head, and the metrics (accuracy, macro precision/recall/F1, the
confusion matrix). ``bert_nb.finetune(engine, data)`` calls :func:`finetune_classifier`.
"""

from __future__ import annotations

import warnings

from ..errors import BertNbError
from ..training import (FineTuned, TrainingState, _check_numbers, _Encoded, _frame, example_length, fit,
                        started_from, starting_model, train_or_load)

__all__ = ["finetune_classifier", "metrics_from", "prepare", "classifier_labels", "check_known"]

_FEW_ROWS = 20
_UNBALANCED = 0.1  # smallest class / largest class below this: warn


def _check_labels(train, eval_frame, label: str) -> list:
    counts = train[label].value_counts()
    if len(counts) < 2:
        raise BertNbError(f"The training data has {len(counts)} class; a classifier needs at least two.")
    names = sorted(counts.index, key=lambda v: (str(type(v)), v))
    if eval_frame is not None:
        unseen = sorted(set(eval_frame[label]) - set(names), key=str)
        if unseen:
            raise BertNbError(f"The evaluation data has label(s) {', '.join(map(str, unseen))} that training never "
                              "sees; remove them or add training examples.")
    if len(train) < _FEW_ROWS:
        warnings.warn(f"Only {len(train)} training examples: expect noisy results.", stacklevel=3)
    if counts.min() / counts.max() < _UNBALANCED:
        warnings.warn(f"Classes are very unbalanced ({counts.to_dict()}); accuracy will flatter the model, "
                      "watch macro-F1.", stacklevel=3)
    return names


def _split(frame, label, fraction, seed):
    """A stratified split: ``fraction`` of each class (at least one row when possible) for evaluation."""
    import numpy as np

    if not 0 < fraction < 1:
        raise BertNbError("eval_fraction must be between 0 and 1 (or give eval_data).")
    rng = np.random.default_rng(seed)
    eval_idx = []
    for _, rows in frame.groupby(label, sort=True).groups.items():
        rows = rng.permutation(np.asarray(rows))
        n = int(round(len(rows) * fraction))
        eval_idx.extend(rows[: max(1, n) if len(rows) > 1 else 0])
    is_eval = frame.index.isin(eval_idx)
    return frame[~is_eval].reset_index(drop=True), frame[is_eval].reset_index(drop=True)


def prepare(data, text, label, eval_data, eval_fraction, seed, known=None):
    """Training and held-out frames, the sorted label names and the rows dropped.

    ``known``: a classifier's own labels, which the data must use (any order).
    """
    train, dropped = _frame(data, text, label)
    held = _frame(eval_data, text, label, what="evaluation data")[0] if eval_data is not None else None
    names = _check_labels(train, held, label)
    if known is not None:
        check_known(names, known, "the classifier")
        names = list(known)
        train = train.assign(**{label: train[label].astype(str)})
        held = None if held is None else held.assign(**{label: held[label].astype(str)})
    if held is None:
        train, held = _split(train, label, eval_fraction, seed)
    return train, held, names, dropped


def classifier_labels(engine) -> list[str]:
    """The label names of a classifier engine (a fine-tuned one's, or its config's), in the model's order."""
    if hasattr(engine, "label_names"):
        return [str(n) for n in engine.label_names]
    engine.head("classification")
    ids = engine.config.id2label
    return [str(ids[i]) for i in range(len(ids))]


def hub_classifier(engine) -> bool:
    """A sequence classifier from the hub or a folder, not fine-tuned here (those have their own label names and
    task): it reads a single text, or a pair as one input (an NLI model, a cross-encoder)."""
    return "classification" in getattr(engine, "heads", ()) and not hasattr(engine, "label_names")


def check_known(labels, known, who: str, what: str = "data") -> None:
    """A clear error when ``labels`` holds labels outside a classifier's ``known`` ones."""
    unknown = sorted({str(n) for n in labels} - set(known))
    if unknown:
        raise BertNbError(f"The {what} has label(s) {', '.join(unknown)} that {who} does not know "
                          f"(its labels: {', '.join(known)}).")


def metrics_from(labels, predictions, n_classes: int) -> tuple[dict, "object"]:
    """Accuracy and macro precision/recall/F1, and the confusion matrix (rows: true, columns: predicted)."""
    import numpy as np

    labels, predictions = np.asarray(labels), np.asarray(predictions)
    confusion = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(n_classes), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(n_classes), where=confusion.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n_classes), where=(precision + recall) > 0)
    metrics = {"accuracy": float(tp.sum() / max(len(labels), 1)), "precision": float(precision.mean()),
               "recall": float(recall.mean()), "f1": float(f1.mean())}
    return metrics, confusion


class _Classify:
    """What ``fit`` needs for text classification: datasets, collator, metrics (a task module's shape)."""

    def __init__(self, names):
        self.names = names

    def datasets(self, tokenizer, train, held, config, extra=None):
        ids = {name: i for i, name in enumerate(self.names)}
        text, label, max_length = config["text"], config["label"], config["max_length"]
        train_set = _Encoded(tokenizer, train[text], train[label].map(ids), max_length, extra=extra)
        eval_set = _Encoded(tokenizer, held[text], held[label].map(ids), max_length) if len(held) else None
        return train_set, eval_set

    def collator(self, transformers, tokenizer):
        return _collator(transformers, tokenizer)

    def metrics(self, pred, state: TrainingState) -> dict:
        metrics, confusion = metrics_from(pred.label_ids, pred.predictions.argmax(-1), len(self.names))
        state.confusion = confusion
        return metrics


def _collator(transformers, tokenizer):
    """Dynamic padding of the text inputs; float extras (teacher logits) stacked beside them."""
    import torch

    pad = transformers.DataCollatorWithPadding(tokenizer)

    def collate(features):
        extras = {k: torch.tensor([f.pop(k) for f in features]) for k in list(features[0]) if k.startswith("extra_")}
        return {**pad(features), **extras}

    return collate


def finetune_classifier(engine, data, text: str = "text", label: str = "label", eval_data=None,
                        eval_fraction: float = 0.2, epochs: float = 3, learning_rate: float = 5e-5,
                        batch_size: int = 16, max_length: int | None = None, warmup_ratio: float = 0.1, seed: int = 0,
                        callbacks=None, state: TrainingState | None = None, logging_steps: int | None = None,
                        from_model: bool = False, cache=None) -> FineTuned:
    """Fine-tune ``engine``'s encoder with a sequence-classification head on (text, label) examples.

    ``bert_nb.finetune(engine, data)`` calls this; the parameters are :func:`bert_nb.finetune`'s.
    Returns a :class:`~bert_nb.training.FineTuned`, also when interrupted.
    """
    import copy

    import transformers

    text, label = text or "text", label or "label"
    train, held, names, dropped = prepare(data, text, label, eval_data, eval_fraction, seed,
                                          known=classifier_labels(engine) if from_model else None)
    max_length = example_length(max_length, engine)
    _check_numbers(epochs, learning_rate, batch_size, max_length, warmup_ratio, engine)
    transformers.set_seed(seed)  # the new head's initial weights too: the same seed gives the same model
    config = dict(text=text, label=label, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                  max_length=max_length, warmup_ratio=warmup_ratio, seed=seed, **started_from(engine),
                  dropped_rows=dropped, train_rows=len(train), eval_rows=len(held))
    if from_model:
        if engine.quantize:
            raise BertNbError(f"'{engine.name}' is {engine.quantize}-quantized and cannot train; continue from the "
                              "fp32 model.")
        model = copy.deepcopy(engine.model).float().train()
        config.update(from_model=True, model=engine.name)  # continued in memory: no script can redo it from a hub name
    else:  # fp32 master weights; GPUs compute in bf16/fp16 via autocast
        model = starting_model(engine, transformers.AutoModelForSequenceClassification, num_labels=len(names),
                               id2label={i: str(n) for i, n in enumerate(names)},
                               label2id={str(n): i for i, n in enumerate(names)})
    state = state or TrainingState()
    name = f"{engine.name}+retrained" if from_model else None

    def train_new():
        trained = fit(engine, model, train, held, names, config, callbacks=callbacks, state=state,
                      logging_steps=logging_steps)
        return FineTuned(engine, trained, state, names, config, data=(train, held), name=name)

    return train_or_load(engine, train, held, names, config, False if from_model else cache, state, callbacks,
                         train_new)
