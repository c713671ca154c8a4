"""The dashboard: every panel in tabs sharing one engine, with a static fallback."""

import pytest

import bert_nb
from bert_nb.widgets import (AttentionPanel, Dashboard, FinetunePanel, LayerPanel, MaskPanel, SimilarityPanel,
                             TokenizePanel)


def test_dashboard_tabs_share_the_engine(minilm):
    board = bert_nb.dashboard(minilm)
    assert isinstance(board, Dashboard)
    assert [board.tabs.get_title(i) for i in range(6)] == ["tokenize", "mask", "similarity", "attention", "layers",
                                                           "finetune"]
    kinds = [type(p) for p in board.tabs.children]
    assert kinds == [TokenizePanel, MaskPanel, SimilarityPanel, AttentionPanel, LayerPanel, FinetunePanel]
    shared = [board.panels[n].engine for n in ("tokenize", "similarity", "attention", "layers", "finetune")]
    assert all(e is minilm for e in shared)
    assert board.panels["mask"].engine.name == "default-mlm"  # the default model has no masked-LM head
    assert "default" in board.status.value and "cpu" in board.status.value and "encoder only" in board.status.value


def test_static_fallback_for_saved_notebooks(minilm):
    board = bert_nb.dashboard(minilm)
    bundle, meta = board._repr_mimebundle_()  # the metadata: each tab's figure, for bert_nb's HTML export
    assert [f["title"] for f in meta["bert_nb/figure"]] == ["mask", "similarity", "attention", "layers"]
    assert bundle["text/plain"] == "Dashboard(model=default, panels=tokenize, mask, similarity, attention, layers, finetune)"
    assert "bert_nb dashboard on default" in bundle["text/html"]
    panel = board.panels["tokenize"]
    panel.text.value = "<script>x</script>"
    panel.button.click()
    html = panel._repr_mimebundle_()["text/html"]
    assert "&lt; | script | &gt;" in html and "<script>" not in html
    assert "application/vnd.jupyter.widget-view+json" in panel._repr_mimebundle_()


def test_panel_all_magic(shell):
    shell.run_cell("%bert load default --device cpu")
    board = shell.run_cell("%bert panel all")
    assert isinstance(board, Dashboard) and board.engine.name == "default"


def test_explain_tab_only_where_there_is_a_decision(mini_mlm, shell):
    from bert_nb.panels import ExplainPanel, panel_classes

    board = bert_nb.dashboard(mini_mlm)
    assert list(board.panels) == ["tokenize", "mask", "similarity", "attention", "layers", "explain", "finetune"]
    assert isinstance(board.panels["explain"], ExplainPanel) and board.panels["explain"].engine is mini_mlm
    assert list(panel_classes()) == ["tokenize", "mask", "similarity", "search", "attention", "layers", "explain",
                                    "finetune", "task", "compare"]  # search needs an Index: no dashboard tab
    shell.run_cell("%bert load default --device cpu")
    assert "The explain panel does not work with 'default'; load a fine-tuned classifier" in \
        shell.usage_error("%bert panel explain")
    shell.run_cell("%bert load default-mlm --device cpu")
    assert isinstance(shell.run_cell("%bert panel explain"), ExplainPanel)


def test_a_panel_takes_a_model_name_and_refuses_what_is_no_model(minilm):
    from bert_nb.errors import BertNbError
    from bert_nb.panels import TokenizePanel, panel_classes

    assert TokenizePanel("default").engine is bert_nb.load("default")  # loaded and cached as bert_nb.load does
    for name, cls in panel_classes().items():
        if name == "search":  # it takes an Index first (its own message)
            continue
        with pytest.raises(BertNbError, match=f"{cls.__name__} shows a model: give an engine .* got int"):
            cls(5)  # an AttributeError from inside each panel before
