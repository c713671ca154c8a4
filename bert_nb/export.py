"""Export a fine-tuning as a standalone script that runs on one CPU, several GPUs or several machines."""

from __future__ import annotations

import json
from pathlib import Path

from .engine import PACKAGED
from .errors import BertNbError

__all__ = ["write_script"]

_SCRIPT = '''"""Fine-tune {title} as a text classifier: exported by bert_nb.

Runs anywhere transformers does:
    python {name}                                   # one CPU or GPU
    accelerate launch {name}                        # every GPU of this machine
    accelerate launch --num_machines N ... {name}   # several machines (see `accelerate config`)
Options override the exported settings, e.g. `--epochs 5 --model bert-base-uncased --output out/`.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import transformers

HERE = Path(__file__).resolve().parent
CONFIG = json.loads(r"""{config}""")


def base_model():
    """The model to start from: a packaged model is found in this machine's site-packages."""
    packaged = CONFIG.get("packaged")
    if packaged and not Path(CONFIG["model"]).exists():
        import importlib.util

        spec = importlib.util.find_spec(packaged[0])
        return str(Path(list(spec.submodule_search_locations)[0]) / packaged[1])
    return CONFIG["model"]


class Examples:
    def __init__(self, tokenizer, frame, label_ids, max_length):
        self.enc = tokenizer(frame[CONFIG["text"]].tolist(), truncation=True, max_length=max_length)
        self.labels = [label_ids[str(v)] for v in frame[CONFIG["label"]]]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {{**{{k: v[i] for k, v in self.enc.items()}}, "labels": self.labels[i]}}


def metrics(pred):
    labels, guesses = pred.label_ids, pred.predictions.argmax(-1)
    n = len(CONFIG["label_names"])
    confusion = np.zeros((n, n), dtype=int)
    np.add.at(confusion, (labels, guesses), 1)
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(n), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(n), where=confusion.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=precision + recall > 0)
    return {{"accuracy": tp.sum() / len(labels), "precision": precision.mean(), "recall": recall.mean(), "f1": f1.mean()}}


def main():
    ap = argparse.ArgumentParser(description="Fine-tune a text classifier (exported by bert_nb).")
    ap.add_argument("--model", default=base_model())
    ap.add_argument("--train", default=str(HERE / "{train}"))
    ap.add_argument("--eval", default=str(HERE / "{eval}"))
    ap.add_argument("--epochs", type=float, default=CONFIG["epochs"])
    ap.add_argument("--learning-rate", type=float, default=CONFIG["learning_rate"])
    ap.add_argument("--batch-size", type=int, default=CONFIG["batch_size"], help="per device")
    ap.add_argument("--max-length", type=int, default=CONFIG["max_length"])
    ap.add_argument("--output", default=str(HERE / "model"))
    args = ap.parse_args()

    names = CONFIG["label_names"]
    label_ids = {{name: i for i, name in enumerate(names)}}
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label_ids,
        ignore_mismatched_sizes=True)
    train = Examples(tokenizer, pd.read_csv(args.train), label_ids, args.max_length)
    held = Examples(tokenizer, pd.read_csv(args.eval), label_ids, args.max_length) if Path(args.eval).is_file() else None
    steps = math.ceil(len(train) / args.batch_size) * args.epochs
    training = transformers.TrainingArguments(
        output_dir=args.output, num_train_epochs=args.epochs, learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=max(args.batch_size, 32),
        warmup_steps=int(round(CONFIG["warmup_ratio"] * steps)), lr_scheduler_type="linear", weight_decay=0.01,
        seed=CONFIG["seed"], eval_strategy="epoch" if held else "no", save_strategy="no",
        logging_steps=max(1, math.ceil(steps / 50)), report_to=[], bf16=transformers.utils.is_torch_bf16_gpu_available(),
    )
    trainer = transformers.Trainer(model=model, args=training, train_dataset=train, eval_dataset=held,
                                   data_collator=transformers.DataCollatorWithPadding(tokenizer),
                                   compute_metrics=metrics)
    trainer.train()
    if held:
        print(json.dumps(trainer.evaluate(), indent=2))
    trainer.save_model(args.output)
    tokenizer.save_pretrained(args.output)


if __name__ == "__main__":
    main()
'''


def write_script(finetuned, path: Path) -> str:
    """Write ``path`` (a .py file) and the training and evaluation data as CSV files beside it."""
    path = Path(path)
    if path.suffix != ".py":
        path = path / "train.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    if finetuned._data is None or finetuned.training_config.get("from_model"):
        raise BertNbError(f"'{finetuned.name}' did not come from bert_nb.finetune of a pre-trained model in this session "
                          "(it was distilled, continued from a trained model, or loaded), so there is no fine-tuning "
                          "to export; keep it with .save(folder) instead.")
    train, held = finetuned._data
    cfg = dict(finetuned.training_config)
    cfg["label_names"] = [str(n) for n in finetuned.label_names]
    base_name = finetuned.base_name
    if base_name in PACKAGED:
        cfg["packaged"] = [PACKAGED[base_name].package, PACKAGED[base_name].folder]
    train_csv, eval_csv = f"{path.stem}_train.csv", f"{path.stem}_eval.csv"
    train.to_csv(path.parent / train_csv, index=False)
    held.to_csv(path.parent / eval_csv, index=False)
    title = base_name if base_name in PACKAGED else cfg["model"]
    path.write_text(_SCRIPT.format(title=title, name=path.name, config=json.dumps(cfg, indent=2, default=str),
                                   train=train_csv, eval=eval_csv))
    return str(path)
