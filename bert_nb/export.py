"""Export a fine-tuning as a standalone script that runs on one CPU, several GPUs or several machines.

Every task's script has the same frame (its settings, the base model, the Trainer, the
command-line options) and a part of its own: how the data is read and encoded, the head, the
metrics. The data goes beside the script: CSV for texts and pairs, JSON lines for tagged words
and questions (lists and answers do not fit CSV cells).
"""

from __future__ import annotations

import json
from pathlib import Path

from .engine import PACKAGED
from .errors import BertNbError

__all__ = ["write_script"]

# The end of every exported script that the Trainer runs as several processes (it needs `os` and `sys`).
LEAVE = '''def leave():
    """End one of several processes once its work is done and written, skipping Python's teardown: there
    PyTorch's process-group threads may still be releasing tensors, which needs the interpreter being torn
    down, and the process hangs or aborts ('terminate called without an active exception')."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
'''

_HEAD = '''"""Fine-tune @TITLE@ as @WHAT@: exported by bert_nb.

Runs anywhere transformers does:
    python @NAME@                                   # one CPU or GPU
    accelerate launch @NAME@                        # every GPU of this machine
    accelerate launch --num_machines N ... @NAME@   # several machines (see `accelerate config`)
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N @NAME@   # N processes on CPUs
Options override the exported settings, e.g. `--epochs 5 --model bert-base-uncased --output out/`.
"""

import argparse
import collections
import json
import math
import os
import re
import string
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import transformers

HERE = Path(__file__).resolve().parent
CONFIG = json.loads(r"""@CONFIG@""")


def base_model():
    """The model to start from: a packaged model is found in this machine's site-packages."""
    packaged = CONFIG.get("packaged")
    if packaged and not Path(CONFIG["model"]).exists():
        import importlib.util

        spec = importlib.util.find_spec(packaged[0])
        return str(Path(list(spec.submodule_search_locations)[0]) / packaged[1])
    return CONFIG["model"]


class Examples:
    """Encoded examples as a torch-style dataset (padding happens per batch)."""

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {**{k: v[i] for k, v in self.enc.items()}, **self.label(i)}

    def label(self, i):
        return {"labels": self.labels[i]}
'''

_CLASSIFY = '''

def read(path):
    return pd.read_csv(path)


class Encoded(Examples):
    def __init__(self, tokenizer, frame, max_length):
        ids = {name: i for i, name in enumerate(CONFIG["label_names"])}
        self.enc = tokenizer(frame[CONFIG["text"]].tolist(), truncation=True, max_length=max_length)
        self.labels = [ids[str(v)] for v in frame[CONFIG["label"]]]


def new_model(name):
    names = CONFIG["label_names"]
    return transformers.AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        ignore_mismatched_sizes=True)


def collator(tokenizer):
    return transformers.DataCollatorWithPadding(tokenizer)


def class_metrics(labels, guesses):
    n = len(CONFIG["label_names"])
    confusion = np.zeros((n, n), dtype=int)
    np.add.at(confusion, (labels, guesses), 1)
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(n), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(n), where=confusion.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=precision + recall > 0)
    return {"accuracy": tp.sum() / len(labels), "precision": precision.mean(), "recall": recall.mean(), "f1": f1.mean()}


def metrics(pred, held):
    return class_metrics(pred.label_ids, pred.predictions.argmax(-1))
'''

_PAIRS = _CLASSIFY + '''

class Encoded(Examples):  # noqa: F811  (two texts in one input; a score scaled to 0-1, or a label)
    def __init__(self, tokenizer, frame, max_length):
        first, second = CONFIG["text"]
        self.enc = tokenizer(frame[first].tolist(), frame[second].tolist(), truncation=True, max_length=max_length)
        if CONFIG["regression"]:
            low, high = CONFIG["label_range"]
            self.labels = [[(float(v) - low) / (high - low)] for v in frame[CONFIG["label"]]]
        else:
            ids = {name: i for i, name in enumerate(CONFIG["label_names"])}
            self.labels = [ids[str(v)] for v in frame[CONFIG["label"]]]


def new_model(name):  # noqa: F811
    if not CONFIG["regression"]:
        names = CONFIG["label_names"]
        return transformers.AutoModelForSequenceClassification.from_pretrained(
            name, num_labels=len(names), id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)}, ignore_mismatched_sizes=True)
    # a sigmoid and binary cross-entropy on the 0-1 score, as sentence-transformers' CrossEncoder trains
    return transformers.AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=1, problem_type="multi_label_classification", id2label={0: CONFIG["label"]},
        label2id={CONFIG["label"]: 0}, ignore_mismatched_sizes=True)


def metrics(pred, held):  # noqa: F811
    if not CONFIG["regression"]:
        return class_metrics(pred.label_ids, pred.predictions.argmax(-1))
    low, high = CONFIG["label_range"]
    truth = pd.Series(np.ravel(pred.label_ids)) * (high - low) + low
    guess = pd.Series(1 / (1 + np.exp(-np.ravel(pred.predictions)))) * (high - low) + low
    return {"pearson": truth.corr(guess), "spearman": truth.corr(guess, method="spearman"),
            "mse": float(((truth - guess) ** 2).mean())}
'''

_TOKENS = '''

IGNORE = -100  # pieces after a word's first: left out of the loss and the metrics


def read(path):
    return pd.read_json(path, lines=True)


class Encoded(Examples):
    """Words as pre-split input; each word's tag on its first piece."""

    def __init__(self, tokenizer, frame, max_length):
        ids = {name: i for i, name in enumerate(CONFIG["label_names"])}
        words = [list(w) for w in frame[CONFIG["text"]]]
        self.enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        self.labels = []
        for i, tags in enumerate(frame[CONFIG["label"]]):
            row, previous = [], None
            for word in self.enc.word_ids(i):
                row.append(IGNORE if word is None or word == previous else ids[tags[word]])
                previous = word
            self.labels.append(row)


def new_model(name):
    names = CONFIG["label_names"]
    return transformers.AutoModelForTokenClassification.from_pretrained(
        name, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        ignore_mismatched_sizes=True)


def collator(tokenizer):
    return transformers.DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)


def metrics(pred, held):
    """Entity precision, recall and F1 (seqeval, when installed) and the accuracy over words."""
    names = CONFIG["label_names"]
    truth, guess = [], []
    for labels, preds in zip(pred.label_ids, pred.predictions.argmax(-1)):
        keep = labels != IGNORE
        truth.append([names[i] for i in labels[keep]])
        guess.append([names[i] for i in preds[keep]])
    flat = [(t, g) for ts, gs in zip(truth, guess) for t, g in zip(ts, gs)]
    out = {"accuracy": sum(t == g for t, g in flat) / max(len(flat), 1)}
    try:
        from seqeval.metrics import f1_score, precision_score, recall_score
    except ImportError:
        return out
    return {**out, "precision": precision_score(truth, guess, zero_division=0),
            "recall": recall_score(truth, guess, zero_division=0), "f1": f1_score(truth, guess, zero_division=0)}
'''

_QA = '''

MAX_ANSWER_PIECES = 30


def read(path):
    return pd.read_json(path, lines=True, dtype={"id": str})


class Encoded(Examples):
    """Question + context windows (``stride`` pieces shared); the answer's first and last piece, or [CLS]."""

    def __init__(self, tokenizer, frame, max_length):
        self.frame = frame.reset_index(drop=True)
        self.enc = tokenizer(self.frame.question.tolist(), self.frame.context.tolist(), truncation="only_second",
                             max_length=max_length, stride=CONFIG["stride"], return_overflowing_tokens=True,
                             return_offsets_mapping=True)
        self.example = list(self.enc.pop("overflow_to_sample_mapping"))
        self.offsets = [[tuple(o) if s == 1 else None for o, s in zip(pieces, self.enc.sequence_ids(i))]
                        for i, pieces in enumerate(self.enc.pop("offset_mapping"))]
        self.labels = []
        for offsets, row in zip(self.offsets, self.example):
            start = int(self.frame.answer_start[row])
            end = start + len(self.frame.answer[row])
            inside = [i for i, o in enumerate(offsets) if o is not None]
            if offsets[inside[0]][0] > start or offsets[inside[-1]][1] < end:
                self.labels.append((0, 0))
            else:
                self.labels.append((next(i for i in inside if offsets[i][1] > start),
                                    next(i for i in reversed(inside) if offsets[i][0] < end)))

    def label(self, i):
        return {"start_positions": self.labels[i][0], "end_positions": self.labels[i][1]}


def new_model(name):
    return transformers.AutoModelForQuestionAnswering.from_pretrained(name, ignore_mismatched_sizes=True)


def collator(tokenizer):
    return transformers.DataCollatorWithPadding(tokenizer)


def normal(text):
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return re.sub(r"\\b(a|an|the)\\b", " ", text).split()


def metrics(pred, held):
    """SQuAD's exact match and word F1, each question answered from its best window."""
    start_logits, end_logits = pred.predictions[:2]
    best = {}
    for w, row in enumerate(held.example):
        offsets = held.offsets[w]
        inside = [i for i, o in enumerate(offsets) if o is not None]
        starts = sorted(inside, key=lambda i: -start_logits[w][i])[:20]
        ends = sorted(inside, key=lambda i: -end_logits[w][i])[:20]
        for s in starts:
            for e in ends:
                score = start_logits[w][s] + end_logits[w][e]
                if s <= e < s + MAX_ANSWER_PIECES and score > best.get(row, (-np.inf, ""))[0]:
                    best[row] = (score, held.frame.context[row][offsets[s][0]:offsets[e][1]])
    exact, f1 = [], []
    for row, gold in enumerate(held.frame.answer):
        g, t = normal(best.get(row, (0, ""))[1]), normal(gold)
        common = sum((collections.Counter(g) & collections.Counter(t)).values())
        exact.append(float(g == t))
        f1.append(0.0 if common == 0 else 2 * common / (len(g) + len(t)))
    return {"exact": float(np.mean(exact)), "f1": float(np.mean(f1))}
'''

_MAIN = '''

def main():
    ap = argparse.ArgumentParser(description="Fine-tune @WHAT@ (exported by bert_nb).")
    ap.add_argument("--model", default=base_model())
    ap.add_argument("--train", default=str(HERE / "@TRAIN@"))
    ap.add_argument("--eval", default=str(HERE / "@EVAL@"))
    ap.add_argument("--epochs", type=float, default=CONFIG["epochs"])
    ap.add_argument("--learning-rate", type=float, default=CONFIG["learning_rate"])
    ap.add_argument("--batch-size", type=int, default=CONFIG["batch_size"], help="per device")
    ap.add_argument("--max-length", type=int, default=CONFIG["max_length"])
    ap.add_argument("--output", default=str(HERE / "model"))
    args = ap.parse_args()

    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model)
    model = new_model(args.model)
    train = Encoded(tokenizer, read(args.train), args.max_length)
    held = Encoded(tokenizer, read(args.eval), args.max_length) if Path(args.eval).is_file() else None
    steps = math.ceil(len(train) / args.batch_size) * args.epochs
    training = transformers.TrainingArguments(
        output_dir=args.output, num_train_epochs=args.epochs, learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=max(args.batch_size, 32),
        warmup_steps=int(round(CONFIG["warmup_ratio"] * steps)), lr_scheduler_type="linear", weight_decay=0.01,
        seed=CONFIG["seed"], eval_strategy="epoch" if held else "no", save_strategy="no",
        logging_steps=max(1, math.ceil(steps / 50)), report_to=[], bf16=transformers.utils.is_torch_bf16_gpu_available(),
    )
    trainer = transformers.Trainer(model=model, args=training, train_dataset=train, eval_dataset=held,
                                   data_collator=collator(tokenizer), compute_metrics=lambda pred: metrics(pred, held))
    if trainer.is_world_process_zero():
        print(f"training on {training.world_size} process(es), {training.device.type}", flush=True)
    trainer.train()
    if held:
        scores = trainer.evaluate()
        if trainer.is_world_process_zero():
            print(json.dumps(scores, indent=2))
    trainer.save_model(args.output)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(args.output)
    if training.world_size > 1:
        leave()


@LEAVE@

if __name__ == "__main__":
    main()
'''

# task -> (what it trains, its script part, the data format beside the script)
_TASKS = {
    None: ("a text classifier", _CLASSIFY, "csv"),
    "classify": ("a text classifier", _CLASSIFY, "csv"),
    "pairs": ("a cross-encoder of text pairs", _PAIRS, "csv"),
    "tokens": ("a token classifier (tagger)", _TOKENS, "jsonl"),
    "qa": ("an extractive question-answering reader", _QA, "jsonl"),
}


def write_script(finetuned, path: Path) -> str:
    """Write ``path`` (a .py file) and the training and evaluation data beside it; returns the script's path."""
    path = script_path(path, "train.py")
    if finetuned._data is None or finetuned.training_config.get("from_model"):
        raise BertNbError(f"'{finetuned.name}' did not come from bert_nb.finetune of a pre-trained model in this session "
                          "(it was distilled, continued from a trained model, or loaded), so there is no fine-tuning "
                          "to export; keep it with .save(folder) instead.")
    changed, again = _changed_after_training(finetuned)
    if changed:
        raise BertNbError(f"'{finetuned.name}' was {changed} after its fine-tuning, which the script would not do; "
                          f"export the fine-tuned model it came from, then {again} what the script saves.")
    if finetuned.training_config.get("in_session"):
        raise BertNbError(f"'{finetuned.name}' was fine-tuned from {finetuned.training_config['model']}, a model made in "
                          "this session that a script cannot load; save that model (.save(folder)), fine-tune "
                          "bert_nb.load(folder) and export that run.")
    what, part, kind = _TASKS[finetuned.training_config.get("task")]
    train, held = finetuned._data
    cfg = dict(finetuned.training_config)
    cfg["label_names"] = [str(n) for n in finetuned.label_names]
    base_name = finetuned.base_name
    if base_name in PACKAGED:
        cfg["packaged"] = [PACKAGED[base_name].package, PACKAGED[base_name].folder]
    train_file, eval_file = f"{path.stem}_train.{kind}", f"{path.stem}_eval.{kind}"
    title = base_name if base_name in PACKAGED else cfg["model"]
    script = _HEAD + part + _MAIN
    for key, value in (("@TITLE@", title), ("@WHAT@", what), ("@NAME@", path.name), ("@TRAIN@", train_file),
                       ("@EVAL@", eval_file), ("@LEAVE@", LEAVE), ("@CONFIG@", json.dumps(cfg, indent=2, default=str))):
        script = script.replace(key, value)
    write_script_file(path, script)  # first: a path nothing can be written to is one sentence
    for frame, name in ((train, train_file), (held, eval_file)):
        if kind == "csv":
            frame.to_csv(path.parent / name, index=False)
        else:
            frame.to_json(path.parent / name, orient="records", lines=True, force_ascii=False)
    return str(path)


def _changed_after_training(finetuned) -> tuple[str, str]:
    """How a fine-tuned model was changed since (quantized, pruned), which its fine-tuning script leaves out,
    and what to do to the script's model; empty strings where it was not."""
    from .surgery import pruned_heads

    if getattr(finetuned, "quantize", None):
        return f"quantized to {finetuned.quantize}", "quantize"
    if pruned_heads(finetuned.config):
        return "pruned of attention heads", "prune"
    return "", ""


def script_path(path, name: str) -> Path:
    """Where a script goes: ``path`` itself when it ends in .py, else the file ``name`` in the folder ``path``."""
    path = Path(path).expanduser()
    return path if path.suffix == ".py" else path / name


def write_script_file(path: Path, script: str) -> Path:
    """Write a script whole (or nothing), making its folder; a path that cannot be written is one sentence."""
    from .files import write_whole

    return write_whole(path, lambda tmp: Path(tmp).write_text(script, encoding="utf-8"))
