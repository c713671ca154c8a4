"""``%%bert index``: a corpus embedded into an on-disk store and indexed with faiss."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, out_option


def _options(p):
    p.add_argument("--data", metavar="VAR|FILE", help="the corpus: a variable (a list, a Series, a DataFrame with "
                   "--text) or a .txt (a text per line), .csv or .parquet file (default: the cell's lines)")
    p.add_argument("--text", metavar="COL", help="the text column of a DataFrame, CSV or Parquet file (default text)")
    p.add_argument("--store", metavar="PATH", help="the folder that keeps the index (default: a temporary one, "
                   "removed with the Index); run again with the same folder to resume")
    p.add_argument("--kind", choices=["auto", "flat", "hnsw"], help="exact search, HNSW, or auto (exact below 100,000)")
    p.add_argument("--batch-size", type=int, help="texts per forward pass (default: 512 on a GPU, 128 in bf16, 64 in fp32)")
    out_option(p, "the Index")


def index(magics, args, cell):
    """Embed the corpus in chunks into the store, with a progress bar; resumes a store that holds part of it."""
    from ..indexes import index as run

    if args.data:
        if cell and cell.strip():
            raise UsageError("Give the corpus either with --data or in the cell, not both.")
        source = magics._variable(args.data, f"put the texts in it first, e.g. `{args.data} = "
                                  "bert_nb.datasets.load('rotten_tomatoes').text`", files=(".txt", ".csv", ".parquet"))
    else:
        source = [ln.strip() for ln in magics._lines(cell, "index")]
    found = run(magics._engine(), source, **given(args, store="store", kind="kind", text="text",
                                                   batch_size="batch_size"))
    print(found.to_text())
    return magics._store(args, found)


COMMANDS = (Command("index", "%%bert index [--data VAR|FILE] [--store PATH]: embed a corpus to disk and index it "
                             "(faiss); search it with %%bert search --index VAR",
                    _options, index, order=72),)
