"""The package's layers: results never import their views, and the engine never imports what is built on it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bert_nb

ROOT = Path(bert_nb.__file__).parent
VIEWS = ("plots", "panels", "magics", "widgets", "figures", "notebook_html")  # built on the results
ABOVE_ENGINE = ("training", "tasks", "export", "compress", "cache", "explanations", "internals", *VIEWS)  # surgery is below it


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, first part of the bert_nb module) of every relative import in ``path``, lazy ones included."""
    here = path.relative_to(ROOT).parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            package = list(here[:len(here) - (node.level - 1)])
            target = package + (node.module.split(".") if node.module else [])
            if target:
                found.append((node.lineno, target[0]))
            else:  # `from . import x`
                found += [(node.lineno, alias.name) for alias in node.names]
    return found


RESULTS = sorted(p for p in ROOT.rglob("*.py")
                 if Path(p.relative_to(ROOT).parts[0]).stem not in VIEWS and p.name != "__init__.py")


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_results_never_import_their_views(path):
    wrong = [(line, name) for line, name in _imports(path) if name in VIEWS]
    assert not wrong, f"{path.name} imports {wrong}: a view imports its result, never the reverse"


def test_the_engine_imports_nothing_built_on_it():
    wrong = [(line, name) for line, name in _imports(ROOT / "engine.py") if name in ABOVE_ENGINE]
    assert not wrong, f"engine.py imports {wrong}"


def test_a_save_names_the_class_that_loads_it(tmp_path):
    import json

    from bert_nb.engine import _saved_kind
    from bert_nb.errors import ModelLoadError
    from bert_nb.tasks.qa import QAModel

    (tmp_path / "bert_nb_training.json").write_text(json.dumps({"class": "bert_nb.tasks.qa:QAModel"}))
    assert _saved_kind(tmp_path) is QAModel
    (tmp_path / "bert_nb_training.json").write_text(json.dumps({"class": "os:system"}))
    with pytest.raises(ModelLoadError, match="loads its own kinds only"):
        _saved_kind(tmp_path)
    (tmp_path / "bert_nb_training.json").write_text(json.dumps({"class": "bert_nb.tasks.qa:Nothing"}))
    with pytest.raises(ModelLoadError, match="does not have"):
        _saved_kind(tmp_path)
