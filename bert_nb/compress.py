"""Smaller and faster: quantize, rank and prune attention heads, distill into fewer layers, compare side by side.

- :func:`quantize`: a copy in int8 (dynamic, CPU), bf16 or fp16 (where the device runs them natively).
- :func:`head_importance`: Michel et al. 2019: the expected |d loss / d head mask| of every head,
  normalised per layer, from gradients through a mask on each head's output.
- :func:`prune`: a copy with heads really removed (smaller projections: fewer parameters, less work);
  :func:`prune_curve`: accuracy as more and more of the least important heads go.
- :func:`distill`: a student with fewer layers, initialised from the teacher's, trained with the
  Trainer on the teacher's soft targets plus the labels (Hinton et al. 2015; DistilBERT).
- :func:`compare`: parameters, size, accuracy, macro-F1, agreement, latency and throughput of
  several classifiers, measured in one run on this machine.

Every function returns new engines; the models passed in are never changed.
"""

from __future__ import annotations

import copy
import functools
import io
import statistics
import time
from dataclasses import dataclass

from .errors import BertNbError, check_batch_size

__all__ = ["quantize", "head_importance", "HeadImportance", "prune", "prune_curve", "PruneCurve", "distill",
           "compare", "Comparison", "KINDS"]

KINDS = ("int8", "bf16", "fp16")
_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


# -- quantize -------------------------------------------------------------------------------
def quantize(model, kind: str = "int8"):
    """A copy of ``model`` in int8 (dynamic int8 Linear layers, CPU), bf16 or fp16; a classifier stays one.

    Parameters
    ----------
    model : Engine or FineTuned
    kind : {"int8", "bf16", "fp16"}
        bf16 and fp16 only where the device computes them natively (a GPU; a CPU with
        avx512_bf16 or AMX for bf16); elsewhere they would be emulated and slower than fp32.

    Examples
    --------
    >>> small = bert_nb.quantize(clf, "int8")                # doctest: +SKIP
    >>> small.predict(["A triumph."])                         # doctest: +SKIP
    """
    import torch

    from .engine import _SHORT_DTYPE, _quantize_int8, native_dtypes

    if kind not in KINDS:
        raise BertNbError(f"Unknown quantization '{kind}'; choose int8, bf16 or fp16.")
    current = _SHORT_DTYPE.get(str(model.dtype).removeprefix("torch."), str(model.dtype))
    if model.quantize or current != "fp32":
        raise BertNbError(f"'{model.name}' is already {model.quantize or current}; quantize the fp32 original instead.")
    if kind == "int8":
        if model.device != "cpu":
            raise BertNbError("Dynamic int8 runs on the CPU; load the model with device='cpu' to quantize it to int8.")
        small = model.with_model(_quantize_int8(copy.deepcopy(model.model)), name=f"{model.name}+int8",
                                 quantize="int8")
        small.unquantized = None if model.loadable else model  # its fp32 source is not these weights
        return small
    native = native_dtypes(model.device)
    if kind not in native:
        where = "This CPU" if model.device == "cpu" else f"The device {model.device}"
        raise BertNbError(f"{where} has no native {kind}, so it would run slower than fp32; use int8 on the CPU, "
                          f"or a GPU for {kind}.")
    dtype = torch.bfloat16 if kind == "bf16" else torch.float16
    return model.with_model(copy.deepcopy(model.model).to(dtype), name=f"{model.name}+{kind}", dtype=dtype)


# -- labelled data ----------------------------------------------------------------------------
_OTHER_TASKS = {"pairs": "cross-encoder of text pairs", "tokens": "tagger", "qa": "question-answering reader"}


def text_classifier(model) -> bool:
    """Whether ``model`` labels single texts: a classification head of labels, fine-tuned for no other task."""
    return "classification" in model.heads and _other_kind(model) is None


def _other_kind(model) -> str | None:
    """What ``model`` is where it is no labeller of single texts: another task's model, or a head of one score."""
    from .tasks.classify import classifier_labels

    kind = _OTHER_TASKS.get(getattr(model, "task", None))
    if kind is None and "classification" in model.heads and len(classifier_labels(model)) == 1:
        return "scorer (one output, no labels: a hub cross-encoder's or a regression's head)"
    return kind


def _text_classifier(model, doing: str) -> None:
    """One sentence where ``model`` is fine-tuned for another task than labelling single texts."""
    kind = _other_kind(model)
    if kind:  # its data has other columns: 'no column text' said nothing of the model
        raise BertNbError(f"{doing} works on classifiers of single texts; '{model.name}' is a {kind} "
                          "(bert_nb.quantize makes a smaller copy of any model).")


def _labelled(model, data, text: str, label: str, what: str = "data", doing: str = "This"):
    """Texts and the classifier's label ids for them; clear errors for columns or labels it does not know."""
    from .tasks.classify import check_known, classifier_labels
    from .training import _frame

    _text_classifier(model, doing)
    names = classifier_labels(model)
    frame, _ = _frame(data, text, label, what=what)
    labels = frame[label].astype(str)
    check_known(labels, names, f"'{model.name}'", what=what)
    ids = {n: i for i, n in enumerate(names)}
    return list(frame[text]), [ids[l] for l in labels], names


def _batches(model, texts, batch_size: int, max_length: int, pairs=None):
    """(first row, tokenized batch) of ``texts``, or of (text, ``pairs``' text) pairs, in order."""
    tok = model.tokenizer
    for start in range(0, len(texts), batch_size):
        end = start + batch_size
        yield start, tok(texts[start:end], None if pairs is None else pairs[start:end], padding=True, truncation=True,
                         max_length=max_length, return_tensors="pt")


def _max_length(model) -> int:
    """The pieces to read a text at: the length the model was fine-tuned at, else 128 (at most its own limit)."""
    config = getattr(model, "training_config", None) or {}
    return int(config.get("max_length") or min(128, getattr(model, "max_length", 128)))


def _pair_columns(model, text, label) -> tuple[tuple[str, str], str]:
    """A cross-encoder's two text columns and its label column: those given (``text`` a pair or ``"a,b"``),
    by default the ones it was fine-tuned on."""
    config = getattr(model, "training_config", None) or {}
    if text == "text":
        text = tuple(config.get("text", ("sentence1", "sentence2")))
    elif isinstance(text, str):
        text = tuple(c.strip() for c in text.split(","))
    if len(text) != 2:
        raise BertNbError(f"A pair has two text columns; give text=('first', 'second') (or 'first,second'), not {text!r}.")
    return tuple(text), config.get("label", "label") if label == "label" else label


def _pair_truth(name: str, frame, label: str, regression: bool):
    """The truth of pairs: their scores (floats, the label's scale) for a cross-encoder that scores, else the labels
    as strings."""
    import pandas as pd

    if not regression:
        return frame[label].astype(str).tolist()
    if not pd.api.types.is_numeric_dtype(frame[label]):
        raise BertNbError(f"'{name}' scores pairs; its label column '{label}' must hold numbers (a similarity or "
                          "relevance), not labels.")
    return frame[label].to_numpy(dtype=float)


def _pair_examples(model, data, text, label, what: str = "data", doing: str = "This"):
    """The pairs of ``data`` for a cross-encoder fine-tuned here: (first texts, second texts, truth (see
    :func:`_pair_truth`), the targets it was trained on (0-1 scores, or label ids))."""
    import pandas as pd

    from .tasks.classify import check_known
    from .tasks.pairs import _PairTask, check_pairs

    if getattr(model, "task", None) != "pairs":
        raise BertNbError(f"{doing} needs the labels a cross-encoder learnt, and '{model.name}' was not fine-tuned "
                          "here: fine-tune it on your pairs first (bert_nb.finetune with text=('a', 'b')).")
    text, label = _pair_columns(model, text, label)
    frame = check_pairs(data, text, label, what=what)
    truth = _pair_truth(model.name, frame, label, model.regression)
    if model.regression:
        task = _PairTask(None, *model.training_config["label_range"])
    else:
        names = [str(n) for n in model.label_names]
        check_known(pd.Series(truth), names, f"'{model.name}'", what=what)
        task, frame = _PairTask(names), frame.assign(**{label: truth})
    return list(frame[text[0]]), list(frame[text[1]]), truth, task._targets(frame, label)


# -- head importance --------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadImportance:
    """Per layer and head: the expected |gradient of the loss w.r.t. the head's mask|, normalised per layer."""

    scores: "object"  # DataFrame: layer, head, importance (0-based; pruned heads absent)
    layers: int
    heads: int  # heads per layer before any pruning
    texts: int
    model: str

    def to_frame(self):
        """layer, head, importance: one row per head the model has."""
        return self.scores.copy()

    def matrix(self):
        """(layers, heads) array; NaN where a head was pruned already."""
        import numpy as np

        m = np.full((self.layers, self.heads), np.nan)
        m[self.scores["layer"].to_numpy(), self.scores["head"].to_numpy()] = self.scores["importance"].to_numpy()
        return m

    def least(self, n: int) -> list[tuple[int, int]]:
        """The ``n`` least important (layer, head) pairs, ties in reading order."""
        ranked = self.scores.sort_values(["importance", "layer", "head"], kind="stable")
        return [(int(r.layer), int(r.head)) for r in ranked.head(n).itertuples()]

    def to_text(self) -> str:
        """The most and least important heads."""
        ranked = self.scores.sort_values(["importance", "layer", "head"], ascending=[False, True, True])
        top = ", ".join(f"{int(r.layer)}.{int(r.head)}" for r in ranked.head(3).itertuples())
        low = ", ".join(f"{l}.{h}" for l, h in self.least(3))
        return (f"head importance of {len(self.scores)} heads over {self.texts} texts ({self.model}); "
                f"most important (layer.head): {top}; least: {low}")

    def __repr__(self) -> str:
        return f"HeadImportance({self.layers} layers x {self.heads} heads, {self.model})"


def head_importance(model, data, text: str = "text", label: str = "label", batch_size: int = 32,
                    max_length: int | None = None) -> HeadImportance:
    """How much the loss depends on each attention head (Michel et al. 2019), normalised per layer.

    A mask of ones multiplies every head's output; the importance of a head is the mean
    over texts of |d loss / d mask|, and each layer's scores are divided by their L2 norm.

    Parameters
    ----------
    model : FineTuned or a classifier engine, or a cross-encoder fine-tuned here (``PairModel``)
    data : DataFrame, CSV path or list of (text, label), with the classifier's labels; for a cross-encoder,
        its two text columns and label (``text=('a', 'b')``, by default the columns it was fine-tuned on)

    Examples
    --------
    >>> bert_nb.head_importance(clf, reviews.head(200)).to_frame()     # doctest: +SKIP
    """
    import pandas as pd
    import torch

    from .surgery import attention_parts, remaining_heads

    if model.quantize:
        raise BertNbError(f"'{model.name}' is {model.quantize}-quantized and has no gradients; use the fp32 model.")
    check_batch_size(batch_size)
    if _is_pair_model(model):  # its own targets: the model's loss is the one it was trained with
        texts, pairs, _, labels = _pair_examples(model, data, text, label, doing="Head importance")
    else:
        (texts, labels, _), pairs = _labelled(model, data, text, label, doing="Head importance"), None
    parts = attention_parts(model.model)
    masks = [torch.ones(p.heads, device=model.device, requires_grad=True) for p in parts]
    total = [torch.zeros(p.heads) for p in parts]

    def gate(l, head_size):
        def hook(module, inputs):
            x = inputs[0]  # (B, T, heads * head_size)
            shaped = x.view(*x.shape[:-1], -1, head_size) * masks[l].to(x.dtype)[:, None]
            return (shaped.view(x.shape), *inputs[1:])
        return hook

    handles = [p.output.register_forward_pre_hook(gate(l, p.head_size)) for l, p in enumerate(parts)]
    was_training = model.model.training
    model.model.eval()
    try:
        for start, enc in _batches(model, texts, batch_size, max_length or _max_length(model), pairs):
            batch = model.to_device({**dict(enc), "labels": torch.tensor(labels[start:start + len(enc["input_ids"])])})
            with torch.enable_grad():
                loss = model.model(**batch).loss * len(enc["input_ids"])  # summed over the batch
                grads = torch.autograd.grad(loss, masks)
            for l, g in enumerate(grads):
                total[l] += g.detach().abs().float().cpu()
    finally:
        for h in handles:
            h.remove()
        model.model.train(was_training)
    rows = []
    for l, (scores, heads) in enumerate(zip(total, remaining_heads(model.config))):
        scores = scores / len(texts)
        scores = scores / scores.norm().clamp_min(1e-12)
        rows += [{"layer": l, "head": h, "importance": float(s)} for h, s in zip(heads, scores.tolist())]
    cfg = model.config
    return HeadImportance(scores=pd.DataFrame(rows), layers=len(parts),
                          heads=int(getattr(cfg, "num_attention_heads", 0) or getattr(cfg, "n_heads")),
                          texts=len(texts), model=model.name)


# -- prune ------------------------------------------------------------------------------------
def _check_heads(model, heads) -> dict[int, list[int]]:
    from .surgery import remaining_heads

    if not isinstance(heads, dict) or not heads:
        raise BertNbError("Name the heads as {layer: [head, ...]}, for example {0: [1, 5], 3: [2]} (0-based).")
    left = remaining_heads(model.config)
    out = {}
    for layer, drop in heads.items():
        if not isinstance(layer, int) or not 0 <= layer < len(left):
            raise BertNbError(f"There is no layer {layer!r}; this model has layers 0 to {len(left) - 1}.")
        drop = sorted({int(h) for h in drop})
        missing = [h for h in drop if h not in left[layer]]
        if missing:
            raise BertNbError(f"Layer {layer} has no head {missing[0]}; its heads are {left[layer]}.")
        if len(drop) >= len(left[layer]):
            raise BertNbError(f"That would remove every head of layer {layer}; keep at least one head per layer.")
        out[layer] = drop
    return out


def _least_heads(importance: HeadImportance, fraction: float) -> dict[int, list[int]]:
    """The least important ``fraction`` of all heads, never the last head of a layer."""
    n = int(round(fraction * len(importance.scores)))
    per_layer = importance.scores.groupby("layer").size().to_dict()
    chosen: dict[int, list[int]] = {}
    for layer, head in importance.least(len(importance.scores)):
        if sum(map(len, chosen.values())) >= n:
            break
        if len(chosen.get(layer, [])) + 1 < per_layer[layer]:
            chosen.setdefault(layer, []).append(head)
    return chosen


def prune(model, fraction: float | None = None, heads: dict | None = None, data=None, text: str = "text",
          label: str = "label", importance: HeadImportance | None = None):
    """A copy of ``model`` with attention heads removed: the least important ``fraction``, or ``heads``.

    Parameters
    ----------
    model : FineTuned or Engine
    fraction : float, optional
        Share of all heads to remove, the least important first (:func:`head_importance` on
        ``data``); every layer keeps at least one head.
    heads : dict, optional
        ``{layer: [head, ...]}`` (0-based, the original numbering) to remove exactly these.
    data : labelled data for the importance (with ``fraction``), or pass ``importance``; for a
        cross-encoder fine-tuned here, pairs and their labels (``text=('a', 'b')``, by default its columns).

    Returns
    -------
    A new engine of the same kind, with fewer parameters; ``bert_nb.load`` reloads it once saved.
    """
    from .surgery import prune_heads

    if model.quantize:
        raise BertNbError(f"'{model.name}' is {model.quantize}-quantized; prune the fp32 model, then quantize.")
    if (fraction is None) == (heads is None):
        raise BertNbError("Give either fraction= (the least important share of heads) or heads={layer: [heads]}.")
    if heads is None:
        if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            if isinstance(fraction, dict):  # prune(model, {0: [1, 2]}): the heads, given in fraction's place
                raise BertNbError("A dict of heads goes to heads=: prune(model, heads={layer: [head, ...]}).")
            given = fraction if isinstance(fraction, (int, float)) else f"a {type(fraction).__name__}"
            raise BertNbError(f"fraction must be between 0 and 1 (0.4 removes 40% of the heads), not {given}.")
        if importance is None:
            if data is None:
                raise BertNbError("Pruning by fraction ranks heads on labelled data; pass data= (text and label).")
            importance = head_importance(model, data, text=text, label=label)
        heads = _least_heads(importance, fraction)
    heads = _check_heads(model, heads)
    pruned = copy.deepcopy(model.model)
    pruned.config = copy.deepcopy(model.model.config)
    prune_heads(pruned, heads)
    n = sum(map(len, heads.values()))
    return model.with_model(pruned, name=f"{model.name}+pruned{n}")


@dataclass(frozen=True)
class PruneCurve:
    """Accuracy as the least important heads are removed: one row per fraction (0: the unpruned model)."""

    points: "object"  # DataFrame: fraction, heads_pruned, heads_left, parameters, then the metric's column
    texts: int
    model: str
    metric: str = "accuracy"  # a cross-encoder that scores pairs: spearman (of its scores with the labels)
    unit: str = "texts"  # what was measured on: texts, or a cross-encoder's pairs

    def to_frame(self):
        """fraction, heads_pruned, heads_left, parameters, and accuracy (a scoring cross-encoder: spearman)."""
        return self.points.copy()

    def to_text(self) -> str:
        """The metric per fraction pruned."""
        steps = ", ".join(f"{r.fraction:.0%}: {getattr(r, self.metric):.3f}" for r in self.points.itertuples())
        return (f"prune curve of {self.model} on {self.texts} {self.unit}; {self.metric_name} by share of heads "
                f"removed: {steps}")

    @property
    def metric_name(self) -> str:
        """The metric as a reader writes it: accuracy, or Spearman."""
        return "Spearman" if self.metric == "spearman" else self.metric

    def __repr__(self) -> str:
        return f"PruneCurve({len(self.points)} points, {self.model})"


def prune_curve(model, data, fractions=_FRACTIONS, eval_data=None, text: str = "text",
                label: str = "label", importance: HeadImportance | None = None) -> PruneCurve:
    """Accuracy on ``eval_data`` (default ``data``) with the least important share of heads removed, per fraction.

    Heads are ranked once, by :func:`head_importance` on ``data``, or by ``importance`` when
    given (a result of :func:`head_importance` on this model: it is not measured again). A
    cross-encoder fine-tuned here is measured on its pairs (``text=('a', 'b')``, by default its
    own columns): accuracy of its labels, or the Spearman correlation of its scores with the labels.
    """
    import pandas as pd

    fractions = sorted({float(f) for f in fractions})
    if not fractions or not all(0 < f < 1 for f in fractions):
        raise BertNbError("fractions must lie between 0 and 1, e.g. (0.1, 0.2, 0.4).")
    importance = head_importance(model, data, text=text, label=label) if importance is None else importance
    held = data if eval_data is None else eval_data
    if _is_pair_model(model):
        first, second, truth, _ = _pair_examples(model, held, text, label, what="evaluation data",
                                                 doing="A pruning curve")
        metric, n, unit = "spearman" if model.regression else "accuracy", len(first), "pairs"
        quality = functools.partial(_pair_quality, pairs=list(zip(first, second)), truth=truth)
    else:
        texts, labels, _ = _labelled(model, held, text, label, what="evaluation data", doing="A pruning curve")
        metric, n, unit = "accuracy", len(texts), "texts"
        quality = functools.partial(_text_accuracy, texts=texts, labels=labels)
    rows = []
    for fraction in [0.0, *fractions]:
        chosen = _least_heads(importance, fraction) if fraction else {}
        candidate = prune(model, heads=chosen) if chosen else model
        pruned = sum(map(len, chosen.values()))
        rows.append({"fraction": fraction, "heads_pruned": pruned, "heads_left": len(importance.scores) - pruned,
                     "parameters": candidate.info().parameters, metric: quality(candidate)})
    return PruneCurve(points=pd.DataFrame(rows), texts=n, model=model.name, metric=metric, unit=unit)


def _text_accuracy(model, texts, labels) -> float:
    predicted = _predict_ids(model, texts)
    return float(sum(int(p == y) for p, y in zip(predicted, labels)) / len(labels))


def _pair_quality(model, pairs, truth) -> float:
    """A cross-encoder's accuracy on ``pairs`` (labels) or the Spearman correlation of its scores with ``truth``."""
    import numpy as np
    from scipy.stats import spearmanr

    guess = _pair_scores(model, pairs, 32)
    if model.regression:
        return 0.0 if np.ptp(guess) == 0 or np.ptp(truth) == 0 else float(spearmanr(truth, guess)[0])
    return float(sum(g == t for g, t in zip(guess, truth)) / len(truth))


def _predict_ids(model, texts, batch_size: int = 32) -> list[int]:
    """Predicted label ids, in the order of ``texts``; batches of like length (``training.sorted_batches``)."""
    from .training import _sorted_logits

    enc = model.tokenizer(texts, truncation=True, max_length=_max_length(model))
    return _sorted_logits(model, enc, batch_size, progress=False).argmax(1).tolist()


# -- distill ----------------------------------------------------------------------------------
def _distill_trainer(transformers, temperature: float, alpha: float):
    import torch.nn.functional as F

    class _DistillTrainer(transformers.Trainer):
        """Loss = alpha * T^2 * KL(teacher || student at temperature T) + (1 - alpha) * cross-entropy."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            teacher = inputs.pop("extra_teacher_logits", None)
            outputs = model(**inputs)
            loss = outputs.loss
            if teacher is not None:
                soft = F.kl_div(F.log_softmax(outputs.logits / temperature, dim=-1),
                                F.softmax(teacher.to(outputs.logits) / temperature, dim=-1),
                                reduction="batchmean") * temperature ** 2
                loss = alpha * soft + (1 - alpha) * loss
            return (loss, outputs) if return_outputs else loss

    return _DistillTrainer


def _student_layers(teacher, student_layers) -> list[int]:
    layers = int(getattr(teacher.config, "num_hidden_layers", 0) or getattr(teacher.config, "n_layers", 0))
    n = layers // 2 if student_layers is None else student_layers
    if not isinstance(n, int) or not 1 <= n < layers:
        raise BertNbError(f"The student needs 1 to {layers - 1} layers (fewer than its teacher's {layers}), "
                          f"not {student_layers!r}.")
    return [i * layers // n for i in range(n)]  # every other layer for half the depth


def distill(teacher, data, student_layers: int | None = None, temperature: float = 2.0, alpha: float = 0.5,
            text: str = "text", label: str = "label", eval_data=None, eval_fraction: float = 0.2,
            epochs: float = 3, learning_rate: float = 1e-4, batch_size: int = 16, max_length: int | None = None,
            seed: int = 0, callbacks=None, state=None, logging_steps: int | None = None):
    """Train a student with fewer layers on ``teacher``'s soft targets plus the labels (with the Trainer).

    Parameters
    ----------
    teacher : FineTuned or a classifier engine
    data : DataFrame, CSV path or list of (text, label), with the teacher's labels
    student_layers : int, optional
        Default: half the teacher's layers. The student starts as a copy of the teacher that keeps
        every other layer (0, 2, 4 of 6), with its embeddings and classifier head.
    temperature, alpha
        Softmax temperature of the soft targets; the weight of the soft loss against the labels'.
    callbacks, state
        As in :func:`bert_nb.finetune`: live views, the Stop button; an interrupt keeps the student.

    Returns
    -------
    FineTuned
        The student: ``predict``, ``metrics``, ``history``, ``save`` like any fine-tuned classifier.

    Examples
    --------
    >>> student = bert_nb.distill(clf, reviews, student_layers=3, epochs=2)    # doctest: +SKIP
    """
    import transformers

    from .surgery import keep_layers
    from .tasks.classify import classifier_labels, prepare
    from .training import FineTuned, TrainingState, _check_numbers, _sorted_logits, fit

    if teacher.quantize:
        raise BertNbError(f"'{teacher.name}' is {teacher.quantize}-quantized; distill from the fp32 teacher.")
    _text_classifier(teacher, "Distillation")
    keep = _student_layers(teacher, student_layers)
    if not temperature or temperature <= 0:
        raise BertNbError("temperature must be more than 0 (2 is usual).")
    if not 0 <= alpha <= 1:
        raise BertNbError("alpha weighs the teacher's soft targets against the labels; it must be between 0 and 1.")
    max_length = max_length or _max_length(teacher)
    _check_numbers(epochs, learning_rate, batch_size, max_length, 0, teacher)
    names = classifier_labels(teacher)
    train, held, names, dropped = prepare(data, text, label, eval_data, eval_fraction, seed, known=names)
    enc = teacher.tokenizer(list(train[text]), truncation=True, max_length=max_length)
    logits = _sorted_logits(teacher, enc, 64, progress=False).tolist()  # the teacher's, in the rows' order
    transformers.set_seed(seed)
    student = copy.deepcopy(teacher.model).float()
    student.config = copy.deepcopy(teacher.model.config)
    keep_layers(student, keep)
    config = dict(text=text, label=label, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                  max_length=max_length, warmup_ratio=0.1, seed=seed, model=teacher.source, teacher=teacher.name,
                  student_layers=keep, temperature=temperature, alpha=alpha, dropped_rows=dropped,
                  train_rows=len(train), eval_rows=len(held))
    state = state or TrainingState()
    trained = fit(teacher, student, train, held, names, config, callbacks=callbacks, state=state,
                  logging_steps=logging_steps, trainer_class=_distill_trainer(transformers, temperature, alpha),
                  extra={"teacher_logits": logits})
    return FineTuned(teacher, trained, state, names, config, name=f"{teacher.name}+distilled{len(keep)}")


# -- compare ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Several classifiers (or taggers, readers, cross-encoders) measured on the same data in one run on this
    machine."""

    table: "object"  # DataFrame, one row per model (see to_frame)
    predictions: "object"  # DataFrame: text, label (a tagger's: tags), then each model's prediction
    device: str
    metric: str = "accuracy"  # the quality column the plot weighs against speed: a tagger's entity_f1, a reader's f1

    def to_frame(self):
        """model, parameters, size_mb, accuracy, macro_f1, agreement, latency_ms, throughput; for taggers
        entity_f1 (seqeval, micro), accuracy over words and agreement over words instead of the F1; for readers
        exact and f1 (SQuAD's) and agreement (the same best answer) instead of accuracy and macro_f1; for
        cross-encoders of a score spearman, pearson, mse and agreement (the Spearman correlation of its scores
        with the first model's)."""
        return self.table.copy()

    def disagreements(self):
        """The texts where the models' predictions differ, with the true label and each model's prediction; for
        scores (cross-encoders), every pair with the ``spread`` of its scores, the widest first."""
        models = list(self.table.model)
        if self.metric == "spearman":
            scores = self.predictions[models]
            spread = scores.max(axis=1) - scores.min(axis=1)
            return self.predictions.assign(spread=spread).sort_values("spread", ascending=False,
                                                                      kind="stable").reset_index(drop=True)
        differ = self.predictions[models].nunique(axis=1) > 1
        return self.predictions[differ].reset_index(drop=True)

    def to_text(self) -> str:
        """One line per model."""
        lines = [f"{len(self.table)} models on {len(self.predictions)} texts ({self.device}):"]
        for r in self.table.itertuples():
            quality = (f"entity F1 {r.entity_f1:.3f}, word accuracy {r.accuracy:.3f}, agreement {r.agreement:.3f} "
                       "(words)" if self.metric == "entity_f1" else
                       f"exact match {r.exact:.3f}, F1 {r.f1:.3f}, agreement {r.agreement:.3f} (answers)"
                       if self.metric == "f1" else
                       f"Spearman {r.spearman:.3f}, Pearson {r.pearson:.3f}, agreement {r.agreement:.3f} (Spearman "
                       "with the first)" if self.metric == "spearman" else
                       f"accuracy {r.accuracy:.3f}, macro-F1 {r.macro_f1:.3f}, agreement {r.agreement:.3f}")
            lines.append(f"  {r.model}: {r.parameters / 1e6:.1f}M parameters, {r.size_mb:.1f} MB, {quality}, "
                         f"{r.latency_ms:.1f} ms/text, {r.throughput:.0f} texts/s")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Comparison({', '.join(self.table.model)})"


def _size_mb(model) -> float:
    """Bytes of the serialized weights (what saving them writes), in MB."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.model.state_dict(), buffer)
    return buffer.tell() / 1e6


def _latency_ms(model, texts, rounds: int) -> float:
    """The median time of one forward pass of one text (or one (question, context) pair: its first window), each
    after a first untimed pass: on a CPU oneDNN makes a kernel for every new matrix shape the first time (a model
    pruned just before measured 1.3x slower than after)."""
    from . import _prepacked

    run = _prepacked.for_inference(model, model.model)  # the copy predictions run, made before the clock starts
    inputs = []
    for text in texts[:rounds]:
        pair = [text[1]] if isinstance(text, tuple) else None
        inputs.append(dict(model.tokenizer([text[0] if pair else text], pair, truncation=True,
                                           max_length=_max_length(model), return_tensors="pt")))
    for enc in inputs:
        model.forward(enc, model=run)
    times = []
    for enc in inputs:
        t0 = time.perf_counter()
        model.forward(enc, model=run)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def compare(models: dict, data, text: str | tuple = "text", label: str = "label", batch_size: int = 32,
            latency_texts: int = 20, progress=None) -> Comparison:
    """Parameters, size, accuracy, macro-F1, agreement with the first model, latency and throughput, side by side.

    Taggers compare the same way on sentences given as words with their BIO tags (``tokens`` and
    ``tags`` columns, as they were trained): entity F1 (seqeval), accuracy and agreement over
    words, each sentence tagged as the tagger reads its training data. Readers compare on
    questions in SQuAD's form (context, question, answers): exact match and F1 (SQuAD's), and
    agreement as the share of questions given the same best answer. Cross-encoders compare on
    pairs with their label (by default the columns they were trained on): a score's Spearman,
    Pearson and MSE, agreement as the Spearman correlation with the first model's scores; labels
    as for classifiers.

    Parameters
    ----------
    models : dict
        name -> classifier (FineTuned, quantized, pruned, distilled ...), all with the same labels;
        or name -> tagger (a Tagger, its ``bert_nb.quantize`` copies, a hub token classifier), all
        with the same tags; or name -> reader, or name -> cross-encoder. The first is the reference
        for ``agreement``.
    data : labelled data (text, label; for taggers tokens, tags; for readers SQuAD's records; for
        cross-encoders two text columns, ``text=("a", "b")``, and the label)
    batch_size : int
        Batch for the throughput (texts per second over all of ``data``); latency is batch 1,
        the median over ``latency_texts`` texts.
    progress : callable(done, total, message), optional
        Called after each step (the ComparePanel's bar).

    Examples
    --------
    >>> bert_nb.compare({"fp32": clf, "int8": bert_nb.quantize(clf)}, test).to_frame()   # doctest: +SKIP
    """
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    from .tasks.classify import classifier_labels

    if not isinstance(models, dict) or not models:
        raise BertNbError("Give the models as a dict name -> model, e.g. {'fp32': clf, 'int8': bert_nb.quantize(clf)}.")
    check_batch_size(batch_size)
    if not isinstance(latency_texts, int) or isinstance(latency_texts, bool) or latency_texts < 1:
        raise BertNbError(f"latency_texts is how many texts to time one at a time, at least 1; got {latency_texts!r}.")
    other = next(((n, m) for n, m in models.items() if not hasattr(m, "head")), None)
    if other is not None:
        raise BertNbError(f"'{other[0]}' is a {type(other[1]).__name__}, not a model; give classifiers from "
                          "bert_nb.finetune (or their bert_nb.quantize, prune and distill copies).")
    clash = [n for n in models if n in ("text", "label", "tags")]
    if clash:
        raise BertNbError(f"Name the model something other than '{clash[0]}' (the predictions table has that column).")
    report = progress or (lambda done, total, message: None)
    if any(_is_pair_model(m) for m in models.values()):
        return _compare_pairs(models, data, text, label, batch_size, latency_texts, report)
    if any(_is_reader(m) for m in models.values()):
        return _compare_readers(models, data, batch_size, latency_texts, report)
    if any(_is_tagger(m) for m in models.values()):
        return _compare_taggers(models, data, "tokens" if text == "text" else text, "tags" if label == "label" else
                                label, batch_size, latency_texts, report)
    for model in models.values():
        _text_classifier(model, "compare")
    label_sets = {name: classifier_labels(m) for name, m in models.items()}
    first = next(iter(models))
    for name, labels in label_sets.items():
        if set(labels) != set(label_sets[first]):
            raise BertNbError(f"'{name}' has labels {', '.join(labels)} but '{first}' has "
                              f"{', '.join(label_sets[first])}; compare models trained on the same labels.")
    texts, truth, names = _labelled(models[first], data, text, label)
    ids, measured = _measured(models, texts, _predict_ids, texts, batch_size, latency_texts, report)
    predicted = {name: [classifier_labels(models[name])[i] for i in ids[name]] for name in models}
    rows = []
    for name in models:
        as_ids = [names.index(p) for p in predicted[name]]
        rows.append(_row(name, measured[name], {
            "accuracy": accuracy_score(truth, as_ids),
            "macro_f1": f1_score(truth, as_ids, average="macro", labels=list(range(len(names))), zero_division=0),
            "agreement": sum(a == b for a, b in zip(predicted[name], predicted[first])) / len(texts)}))
    frame = pd.DataFrame({"text": texts, "label": [names[i] for i in truth], **predicted})
    return Comparison(table=pd.DataFrame(rows), predictions=frame, device=next(iter(models.values())).device)


def _measured(models: dict, inputs: list, run, latency_inputs: list, batch_size: int, latency_texts: int,
              report) -> tuple[dict, dict]:
    """Each model's predictions of ``inputs`` (``run(model, inputs, batch_size)``, timed after a warm-up on one batch:
    first-call allocation is not the model's speed) and what every comparison measures of it: parameters, size,
    latency (one of ``latency_inputs`` at a time) and throughput. Two dicts, name -> each, in the models' order."""
    predicted, measured = {}, {}
    for step, (name, model) in enumerate(models.items()):
        report(step, len(models), f"measuring {name}")
        run(model, inputs[:batch_size], batch_size)
        t0 = time.perf_counter()
        predicted[name] = run(model, inputs, batch_size)
        seconds = time.perf_counter() - t0
        measured[name] = {"parameters": model.info().parameters, "size_mb": _size_mb(model),
                          "latency_ms": _latency_ms(model, latency_inputs, latency_texts),
                          "throughput": len(inputs) / seconds}
    report(len(models), len(models), "done")
    return predicted, measured


def _row(name: str, measured: dict, quality: dict) -> dict:
    """One row of a comparison: model, parameters, size_mb, the task's ``quality`` columns, latency_ms, throughput."""
    return {"model": name, "parameters": measured["parameters"], "size_mb": measured["size_mb"], **quality,
            "latency_ms": measured["latency_ms"], "throughput": measured["throughput"]}


def _one_kind(models: dict, test, kind: str) -> None:
    """One sentence where a model of ``models`` is no ``kind`` (as ``test`` says)."""
    odd = next((n for n, m in models.items() if not test(m)), None)
    if odd is not None:
        raise BertNbError(f"'{odd}' is no {kind}; compare {kind}s with {kind}s (and classifiers with classifiers).")


def _is_tagger(model) -> bool:
    return getattr(model, "task", None) == "tokens" or "tokens" in getattr(model, "heads", ())


def _compare_taggers(models: dict, data, text: str, label: str, batch_size: int, latency_texts: int,
                     report) -> Comparison:
    """:func:`compare` for taggers: entity F1, word accuracy and agreement, size, latency, throughput."""
    import pandas as pd

    from .tasks.tagging import _tags_of, check_tagged, entity_scores, tag_words

    _one_kind(models, _is_tagger, "tagger")
    tag_sets = {name: _tags_of(m, bio=False) for name, m in models.items()}
    first = next(iter(models))
    for name, tags in tag_sets.items():
        if set(tags) != set(tag_sets[first]):
            raise BertNbError(f"'{name}' has tags {', '.join(tags)} but '{first}' has {', '.join(tag_sets[first])}; "
                              "compare taggers trained on the same tags.")
    frame = check_tagged(data, text, label)
    unknown = sorted({t for row in frame[label] for t in row} - set(tag_sets[first]))
    if unknown:
        raise BertNbError(f"The data has tag(s) {', '.join(unknown[:6])} that '{first}' does not know; compare on data "
                          "tagged with its tags.")
    sentences, truth = frame[text].tolist(), frame[label].tolist()
    joined = [" ".join(words) for words in sentences]
    predicted, measured = _measured(models, sentences, tag_words, joined, batch_size, latency_texts, report)
    rows = []
    for name, guess in predicted.items():
        scores = entity_scores(truth, guess)
        words = [(a, b) for x, y in zip(guess, predicted[first]) for a, b in zip(x, y)]
        rows.append(_row(name, measured[name], {"entity_f1": scores["f1"], "accuracy": scores["accuracy"],
                                                "agreement": sum(a == b for a, b in words) / max(len(words), 1)}))
    table = pd.DataFrame({"text": joined, "tags": [" ".join(t) for t in truth],
                          **{name: [" ".join(t) for t in guess] for name, guess in predicted.items()}})
    return Comparison(table=pd.DataFrame(rows), predictions=table, device=next(iter(models.values())).device,
                      metric="entity_f1")


def _is_reader(model) -> bool:
    return getattr(model, "task", None) == "qa" or "qa" in getattr(model, "heads", ())


def _compare_readers(models: dict, data, batch_size: int, latency_texts: int, report) -> Comparison:
    """:func:`compare` for readers: SQuAD's exact match and F1, agreement, size, latency, throughput."""
    import pandas as pd

    from .tasks.qa import _answer_batch, check_squad, squad_scores

    _one_kind(models, _is_reader, "reader")
    frame = check_squad(data)
    pairs = list(zip(frame.question, frame.context))
    first = next(iter(models))

    def best_answers(model, some, size):
        return [a.spans[0][0] if a.spans else "" for a in _answer_batch(model, some, 1, size)]

    predicted, measured = _measured(models, pairs, best_answers, pairs, batch_size, latency_texts, report)
    rows = []
    for name, answers in predicted.items():
        scores = squad_scores(answers, list(frame.answer))
        rows.append(_row(name, measured[name], {
            "exact": scores["exact"], "f1": scores["f1"],
            "agreement": sum(a == b for a, b in zip(answers, predicted[first])) / len(pairs)}))
    table = pd.DataFrame({"text": list(frame.question), "label": list(frame.answer), **predicted})
    return Comparison(table=pd.DataFrame(rows), predictions=table, device=next(iter(models.values())).device,
                      metric="f1")


def _is_pair_model(model) -> bool:
    """A cross-encoder: fine-tuned here on pairs, or a hub model whose classification head gives one score."""
    kind = _other_kind(model) if "classification" in getattr(model, "heads", ()) else None
    return getattr(model, "task", None) == "pairs" or bool(kind and kind.startswith("scorer"))


def _pair_scores(model, pairs: list, batch_size: int):
    """A cross-encoder's predictions of ``pairs``: scores (numpy; a hub scorer's sigmoid) or labels (strings)."""
    if getattr(model, "task", None) != "pairs":  # a hub scorer: classify gives the sigmoid of its one output
        from .training import classify

        return classify(model, pairs, batch_size=batch_size, progress=False).score.to_numpy(dtype=float)
    out = model.predict(pairs, batch_size, progress=False)
    if model.regression:
        return out[model.training_config["label"]].to_numpy(dtype=float)
    return out.label.astype(str).tolist()


def _compare_pairs(models: dict, data, text, label: str, batch_size: int, latency_texts: int,
                   report) -> Comparison:
    """:func:`compare` for cross-encoders: Spearman, Pearson and MSE of a score (accuracy and macro-F1 of labels),
    agreement, size, latency, throughput. A hub scorer's MSE is NaN: its scale is not its labels'."""
    import numpy as np
    import pandas as pd
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score

    from .tasks.pairs import check_pairs

    _one_kind(models, _is_pair_model, "cross-encoder")
    first = next(iter(models))
    if len({getattr(m, "regression", True) for m in models.values()}) > 1:
        raise BertNbError("Some of these cross-encoders score pairs and some label them; compare one kind at a time.")
    text, label = _pair_columns(models[first], text, label)  # by default the columns it was trained on
    frame = check_pairs(data, text, label)
    pairs = list(zip(frame[text[0]], frame[text[1]]))
    regression = getattr(models[first], "regression", True)
    truth = _pair_truth(first, frame, label, regression)
    predicted, measured = _measured(models, pairs, _pair_scores, pairs, batch_size, latency_texts, report)
    rows = []
    for name, guess in predicted.items():
        if regression:
            flat = np.ptp(guess) == 0 or np.ptp(truth) == 0
            scored_here = getattr(models[name], "task", None) == "pairs"  # on its labels' scale: an MSE means something
            same = spearmanr(guess, predicted[first])[0] if np.ptp(guess) and np.ptp(predicted[first]) else 0.0
            quality = {"spearman": 0.0 if flat else float(spearmanr(truth, guess)[0]),
                       "pearson": 0.0 if flat else float(pearsonr(truth, guess)[0]),
                       "mse": float(np.mean((truth - guess) ** 2)) if scored_here else float("nan"),
                       "agreement": float(same)}
        else:
            quality = {"accuracy": accuracy_score(truth, guess),
                       "macro_f1": f1_score(truth, guess, average="macro", zero_division=0),
                       "agreement": sum(a == b for a, b in zip(guess, predicted[first])) / len(pairs)}
        rows.append(_row(name, measured[name], quality))
    table = pd.DataFrame({"text": frame[text[0]].tolist(), "text_pair": frame[text[1]].tolist(),
                          "label": frame[label].tolist(), **predicted})
    return Comparison(table=pd.DataFrame(rows), predictions=table, device=next(iter(models.values())).device,
                      metric="spearman" if regression else "accuracy")
