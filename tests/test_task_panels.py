"""The fine-tune panel's task choice and the task panel over a tagger, a reader, a cross-encoder and a classifier."""

from __future__ import annotations

import pytest

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.panels import FinetunePanel, TaskPanel
from bert_nb.tasks.qa import QAModel
from bert_nb.tasks.tagging import Tagger
from tests.test_pairs import cross, scored  # noqa: F401  (fixtures)
from tests.test_qa import reader, squad  # noqa: F401  (fixtures)
from tests.test_tagging import tagged, tagger  # noqa: F401  (fixtures)
from tests.test_training import clf, tiny_vocab_engine  # noqa: F401  (fixtures)


def test_the_finetune_panel_offers_each_task_with_an_example(minilm):
    panel = FinetunePanel(minilm)
    assert panel.task.value == "classify" and "labels: " in panel.preview.value
    assert [v for _, v in panel.task.options] == ["classify", "pairs", "tokens", "qa", "pretrain"]
    panel.task.value = "tokens"  # no data of the user's: the packaged CoNLL example comes in
    assert panel.text_column == "tokens" and "words by entity type" in panel.preview.value and "PER" in \
        panel.preview.value
    panel.task.value = "qa"
    assert "Which" in panel.preview.value and panel.max_length.value == 128 and "question" in panel.data
    panel.task.value = "pairs"
    assert panel.text_column == ("sentence1", "sentence2") and "sentence1" in panel.preview.value


def test_the_finetune_panel_trains_a_tagger_from_the_users_data(tiny_vocab_engine, tagged):
    panel = FinetunePanel(tiny_vocab_engine, data=tagged)
    assert panel.task.value == "tokens"  # from the data's columns
    panel.epochs.value, panel.max_length.value = 1, 16
    panel.start()
    result = panel.join(timeout=120)
    assert isinstance(result, Tagger) and "done" in panel.status.value
    assert "f1_PER" in panel.metrics.value and panel.confusion.data[0].type == "heatmap"
    panel.task.value = "qa"  # the user's data stays: training says what is missing, in the status line
    assert panel.data is tagged
    panel.start()
    panel.join(timeout=60)
    assert "no column &#x27;context&#x27;" in panel.status.value and panel.result is result


def test_the_finetune_panel_trains_a_reader(tiny_vocab_engine, squad):
    panel = FinetunePanel(tiny_vocab_engine, data=squad)
    assert panel.task.value == "qa"
    panel.epochs.value, panel.max_length.value = 1, 24
    panel.start()
    assert isinstance(panel.join(timeout=120), QAModel) and "exact" in panel.metrics.value
    assert [t.name for t in panel.live.figure.data[2:]] == ["eval exact", "eval f1"]  # a reader's scores, live
    assert panel.live.figure.layout.yaxis2.title.text == "exact match / F1"
    assert panel._confusion_box.layout.display == "none"  # a reader has no confusion matrix


def test_the_task_panel_tags_and_answers(tagger, reader):
    tags = TaskPanel(tagger, text="hello bert model\nthe cat sat on the mat")
    assert tags.kind == "tokens" and tags.button.description == "Tag"
    assert tags.view.value.count("<mark") == 2 and "2 entities in 2 text(s)" in tags.status.value
    tags.text.value = "<b>bert</b>"
    tags.button.click()
    assert "&lt;b&gt;" in tags.view.value and "<b>bert" not in tags.view.value
    tags.text.value = "  "
    tags.button.click()
    assert "Type a text first" in tags.status.value and tags.view.value  # the last view stays
    qa = TaskPanel(reader, question="hello model", context="the cat and bert sat")
    assert qa.kind == "qa" and qa.result.best == "bert" and "best answer: &#x27;bert&#x27;" in qa.status.value
    assert [t.name for t in qa.figure.data] == ["start", "end"] and "bert-nb-qa" in qa.view.value
    qa.top_k.value = 1
    qa.button.click()
    assert len(qa.result.spans) == 1


def test_the_task_panel_scores_pairs_and_labels_texts(cross, clf):
    pairs = TaskPanel(cross, text="good play", question="")
    assert pairs.kind == "pairs" and list(pairs.result.columns) == ["text", "text_pair", "score"]
    labels = TaskPanel(clf, text="good play\nbad play")
    assert labels.kind == "classify" and list(labels.result.label) == ["pos", "neg"]
    assert "<table" in labels.view.value


def test_the_dashboard_has_a_task_tab_only_for_a_task_head(tagger, minilm):
    assert "task" in bert_nb.dashboard(tagger).panels
    assert "task" not in bert_nb.dashboard(minilm).panels
    with pytest.raises(BertNbError, match="has no task head"):
        TaskPanel(minilm)
    with pytest.raises(BertNbError, match="The task panel does not work with 'default'"):
        bert_nb.panels.panel("task", minilm)


def test_the_compare_panel_offers_classifiers_of_single_texts_taggers_or_readers(cross, tagger, tagged, reader,
                                                                                     squad):
    from bert_nb.panels.compress import ComparePanel, _classifiers, _labels

    assert "compare" not in bert_nb.dashboard(cross).panels  # it offered Rotten Tomatoes to a cross-encoder before
    assert ComparePanel.for_engine(cross) is None
    assert cross not in _classifiers({}, cross).values()
    panel = ComparePanel.for_engine(tagger)  # over a tagger: taggers on CoNLL-2003's test sentences
    assert panel.kind == "tagger" and (panel.text_column, panel.label_column) == ("tokens", "tags")
    assert tagger.name in panel.candidates and all("tokens" in c.heads
                                                   for c in panel.candidates.values())
    panel.int8.value, panel.texts.value = True, panel.texts.min
    assert panel.run() is None and "B-MISC, B-ORG, I-ORG that" in panel.status.value  # it knows PER and LOC only
    panel = ComparePanel(tagger, data=tagged)
    panel.int8.value = True
    result = panel.run()
    assert result.metric == "entity_f1" and len(result.table) == len(panel.models.value) + 1  # and its int8 copy
    assert "error" not in panel.status.value and tagger.name in panel.models.value
    same = _labels(tagger, "tagger")  # chosen at first: the taggers of the same tags (others cannot be compared)
    assert same == frozenset(tagger.label_names) and all(_labels(panel.candidates[n], "tagger") == same
                                                         for n in panel.models.value)
    assert "get different tags" in panel.disagreements.value and panel.figure.layout.yaxis.title.text == "entity F1"
    assert ComparePanel.for_engine(reader).kind == "reader"  # over a reader: readers on the CoNLL questions
    panel = ComparePanel(reader, data=squad)
    panel.int8.value = True
    assert panel.run().metric == "f1" and "get different answers" in panel.disagreements.value
    assert panel.figure.layout.yaxis.title.text == "SQuAD F1"


def test_the_explain_panel_takes_a_cross_encoders_pair(cross, clf):
    from bert_nb.panels import ExplainPanel

    panel = ExplainPanel(cross, text="good fine", pair="good great", method="occlusion")  # an error, no pair box before
    assert panel.pair.layout.display is None and list(panel.target.options) == ["(the model's prediction)"]
    assert panel.result.kind == "pair score" and "error" not in panel.status.value
    score = cross.predict([("good fine", "good great")]).score.iloc[0]
    assert panel.result.value == pytest.approx(score, abs=1e-4)
    panel.pair.value = "bad awful"
    panel.button.click()
    assert panel.result.value == pytest.approx(cross.predict([("good fine", "bad awful")]).score.iloc[0], abs=1e-4)
    assert ExplainPanel(clf).pair.layout.display == "none"


def test_a_cross_encoders_curve_shows_its_correlations(cross):
    from bert_nb.plots import describe, finetune_figure

    text = describe(finetune_figure(cross))
    assert "'eval pearson'" in text and "'eval spearman'" in text and "Pearson / Spearman" in text
