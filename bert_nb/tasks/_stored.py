"""Cells of a table read back from a file: lists and dicts as CSV and Parquet return them."""

from __future__ import annotations

import ast


def read_back(value):
    """``value`` as it was written: a list or dict that a CSV file kept as its text (``"['EU', 'rejects']"``)
    parsed back (as a literal, never run), a Parquet array a list; anything else as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    if type(value).__name__ == "ndarray":
        return value.tolist()
    return value


def table(path, what: str, csv_otherwise: bool = False):
    """The DataFrame in a .csv, .tsv, .parquet or .jsonl file (lists in its cells read back by the caller);
    ``csv_otherwise``: a file of any other name is read as CSV."""
    from pathlib import Path

    import pandas as pd

    from ..errors import BertNbError
    from ..files import is_file

    path = Path(path).expanduser()
    if not is_file(path):
        raise BertNbError(f"No file '{str(path)[:80]}'; give a .csv, .tsv, .parquet or .jsonl file, or a DataFrame.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t")
        if suffix == ".csv" or (csv_otherwise and suffix not in (".parquet", ".jsonl", ".json")):
            return pd.read_csv(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=suffix == ".jsonl")
    except (OSError, ValueError, UnicodeDecodeError, ImportError) as err:
        raise BertNbError(f"Cannot read the {what} from {path.name} ({str(err)[:80]}).") from None
    raise BertNbError(f"Cannot read '{path.suffix}' files as {what}; give a .csv, .tsv, .parquet or .jsonl file.")
