"""Drop stored widget state from notebooks: it is megabytes of JavaScript and changes every run."""

import glob
import sys

import nbformat

for path in sys.argv[1:] or glob.glob("notebooks/*.ipynb"):
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.pop("widgets", None) is not None:
        nbformat.write(nb, path)
