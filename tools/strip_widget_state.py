"""Drop what changes every run from stored notebooks: widget state (megabytes of JavaScript)
and each cell's execution timestamps; the outputs stay."""

import glob
import sys

import nbformat

for path in sys.argv[1:] or glob.glob("notebooks/*.ipynb"):
    nb = nbformat.read(path, as_version=4)
    changed = nb.metadata.pop("widgets", None) is not None
    for cell in nb.cells:
        changed |= cell.metadata.pop("execution", None) is not None
    if changed:
        nbformat.write(nb, path)
