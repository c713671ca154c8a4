"""Fine-tuned classifiers kept on disk, keyed by everything that made them.

``finetune(..., cache="folder")`` (or the ``BERT_NB_CACHE`` environment variable) keeps each
classifier it trains in that folder under a key made of the base model, the training and
held-out rows, the labels, every setting and the versions of torch and transformers. The same
call again, in this notebook after a restart or in another one, loads the classifier in a
second instead of training it for minutes, with its history, metrics and confusion matrix.
A run that was stopped early is not kept. Entries are written to a temporary folder and
renamed into place, so a half-written one is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import BertNbError

__all__ = ["ENV", "cache_folder", "entry_key", "lookup", "store"]

ENV = "BERT_NB_CACHE"
_DONE = "bert_nb_training.json"  # written last by FineTuned.save: its presence marks a complete entry


def cache_folder(cache) -> Path | None:
    """The folder to use: ``cache`` itself, ``$BERT_NB_CACHE`` when ``cache`` is None, nothing when False."""
    if cache is False:
        return None
    if cache is None or cache is True:
        named = os.environ.get(ENV) or None
        if named is None and cache is True:
            raise BertNbError(f"cache=True needs a folder: pass cache='folder' or set {ENV}.")
        cache = named
    return None if cache is None else Path(cache).expanduser()


def _frame_digest(frame) -> str:
    """A digest of a DataFrame's values and column names (row order counts)."""
    import pandas as pd

    rows = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes()
    return hashlib.sha256(rows + json.dumps(list(map(str, frame.columns))).encode()).hexdigest()


def entry_key(config: dict, train, held, names) -> str:
    """The key of one fine-tuning: base model, data, labels, settings and library versions."""
    import torch
    import transformers

    # 3 and 3.0 epochs are the same run (the magics parse numbers as floats, Python callers write ints)
    config = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in config.items()}
    parts = {"config": config, "train": _frame_digest(train), "held": _frame_digest(held),
             "labels": [str(n) for n in names], "torch": torch.__version__, "transformers": transformers.__version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def lookup(folder: Path, key: str) -> Path | None:
    """The complete entry for ``key`` in ``folder``, or None."""
    entry = folder / key
    return entry if (entry / _DONE).is_file() else None


def store(folder: Path, key: str, save) -> Path:
    """Write an entry with ``save(path)`` into a temporary folder, then rename it into place."""
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder))
    try:
        save(work)
        try:
            os.replace(work, folder / key)
        except OSError:  # another process stored the same entry first: theirs is as good
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder / key
