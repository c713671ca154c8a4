"""Retrieve, then rerank: a cross-encoder orders a search's hits again, from Python and %%bert search."""

from __future__ import annotations

import numpy as np
import pytest

import bert_nb
from bert_nb.errors import BertNbError
from tests.conftest import BAD, GOOD
# fixtures; cross scores good with good 5, good with bad 0, bad with bad 2.5
from tests.test_pairs import cross, hub_pair_models, scored  # noqa: F401
from tests.test_training import clf, tiny_vocab_engine  # noqa: F401  (fixtures)

CORPUS = [BAD[0], GOOD[1], BAD[2], GOOD[3], BAD[4], GOOD[5]]


@pytest.fixture(scope="module")
def hits(tiny_vocab_engine):  # noqa: F811
    return bert_nb.search(tiny_vocab_engine, ["good play", "bad play"], CORPUS, top_k=6)


def test_the_cross_encoder_orders_each_querys_hits(cross, hits):  # noqa: F811
    got = bert_nb.rerank(cross, hits, top_k=4)
    assert list(got.columns) == ["query", "rank", "text", "score", "retrieval_rank", "retrieval_score", "corpus_index"]
    assert list(got["query"]) == ["good play"] * 4 + ["bad play"] * 4 and list(got["rank"]) == [1, 2, 3, 4] * 2
    assert set(got.text[:3]) == {GOOD[1], GOOD[3], GOOD[5]}  # good with good: 5; good with bad: 0
    assert set(got.text[4:7]) == {BAD[0], BAD[2], BAD[4]}  # bad with bad: 2.5; bad with good: 0
    expected = cross.predict(list(zip(got["query"], got.text))).score.to_numpy()
    np.testing.assert_allclose(got.score.to_numpy(), expected, atol=1e-5)
    for _, one in got.groupby("query", sort=False):
        assert (np.diff(one.score.to_numpy()) <= 0).all()
    kept = hits.set_index(["query", "text"])
    for _, row in got.iterrows():  # the search's own rank and score travel with each hit
        before = kept.loc[(row["query"], row.text)]
        assert (row.retrieval_rank, row.corpus_index) == (before["rank"], before.corpus_index)
        assert row.retrieval_score == pytest.approx(before.score)
    assert "reranked by" in got.attrs["note"] and len(bert_nb.rerank(cross, hits)) == len(hits)


def test_an_index_s_hits_and_a_hub_cross_encoder(hub_pair_models, tiny_vocab_engine, tmp_path):  # noqa: F811
    scorer = hub_pair_models["scorer"][0]
    index = bert_nb.index(tiny_vocab_engine, CORPUS, store=tmp_path / "idx", progress=False)
    found = index.search(["good play"], k=5)
    got = bert_nb.rerank(scorer, found, top_k=3)
    assert list(got.columns) == ["query", "rank", "text", "score", "retrieval_rank", "retrieval_score", "id"]
    scores = bert_nb.classify(scorer, list(zip(found["query"], found.text))).score.to_numpy()
    np.testing.assert_allclose(got.score.to_numpy(), np.sort(scores)[::-1][:3], atol=1e-6)
    nli = hub_pair_models["nli"][0]
    by_label = bert_nb.rerank(nli, found, label="entailment")
    probs = bert_nb.classify(nli, list(zip(found["query"], found.text))).entailment.to_numpy()
    np.testing.assert_allclose(by_label.score.to_numpy(), np.sort(probs)[::-1], atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda m, h, e, c: bert_nb.rerank(e, h), "is not a cross-encoder"),
    (lambda m, h, e, c: bert_nb.rerank(c, h), "is not a cross-encoder"),  # a classifier of single texts
    (lambda m, h, e, c: bert_nb.rerank(m["nli"][0], h), r"labels pairs \(entailment, neutral, contradiction\); name"),
    (lambda m, h, e, c: bert_nb.rerank(m["nli"][0], h, label="yes"), "'yes' is not one of them"),
    (lambda m, h, e, c: bert_nb.rerank(m["scorer"][0], h, label="yes"), "gives one score per pair; leave label out"),
    (lambda m, h, e, c: bert_nb.rerank(m["scorer"][0], h.text), "Give the hits bert_nb.search or Index.search"),
    (lambda m, h, e, c: bert_nb.rerank(m["scorer"][0], h.head(0)), "There are no hits to rerank"),
    (lambda m, h, e, c: bert_nb.rerank(m["scorer"][0], h, top_k=0), "top_k is the hits kept per query"),
    (lambda m, h, e, c: bert_nb.rerank(m["scorer"][0], h.assign(text=None)), "Hit 0 has no query or no text"),
    (lambda m, h, e, c: bert_nb.rerank(m["scorer"][0], h, windows="yes"), "windows is True .* or False"),
])
def test_mistakes_in_one_sentence(hub_pair_models, hits, tiny_vocab_engine, clf, call, message):  # noqa: F811
    with pytest.raises(BertNbError, match=message):
        call(hub_pair_models, hits, tiny_vocab_engine, clf)


def test_search_magic_reranks(shell, cross, tiny_vocab_engine):  # noqa: F811
    shell.user_ns.update(rerank_corpus=CORPUS, rerank_cross=cross, rerank_engine=tiny_vocab_engine)
    shell.run_cell("%bert use rerank_engine")
    got = shell.run_cell("%%bert search --corpus rerank_corpus --rerank rerank_cross --top-k 2\ngood play")
    assert list(got["rank"]) == [1, 2] and set(got.text) <= {GOOD[1], GOOD[3], GOOD[5]}
    assert got.retrieval_rank.max() <= 6
    assert "go with --rerank" in shell.usage_error("%%bert search --corpus rerank_corpus --candidates 3\ngood")
    assert "go with --rerank" in shell.usage_error("%%bert search --corpus rerank_corpus --windows\ngood")
    windowed = shell.run_cell("%%bert search --corpus rerank_corpus --rerank rerank_cross --windows --top-k 2\ngood play")
    assert windowed.text.tolist() == got.text.tolist()  # short hits: one window each, the same scores
    assert "must be at least --top-k" in shell.usage_error(
        "%%bert search --corpus rerank_corpus --rerank rerank_cross --top-k 4 --candidates 2\ngood")
    assert "No variable 'nothing'" in shell.usage_error("%%bert search --corpus rerank_corpus --rerank nothing\ngood")
    shell.user_ns["rerank_list"] = [1, 2]  # an AttributeError before
    assert "rerank takes a cross-encoder" in shell.usage_error(
        "%%bert search --corpus rerank_corpus --rerank rerank_list\ngood")
    assert "is not a cross-encoder" in shell.usage_error(
        "%%bert search --corpus rerank_corpus --rerank rerank_engine\ngood")


def test_a_query_asked_twice_is_reranked_as_two_searches(cross, tiny_vocab_engine):  # noqa: F811
    hits = bert_nb.search(tiny_vocab_engine, ["good play", "bad play", "good play"], CORPUS, top_k=3)
    got = bert_nb.rerank(cross, hits)
    assert list(got["rank"]) == [1, 2, 3] * 3 and list(got["query"]) == ["good play"] * 3 + ["bad play"] * 3 + \
        ["good play"] * 3  # one search of six hits before
    assert got.text[:3].tolist() == got.text[6:].tolist()
    unranked = bert_nb.rerank(cross, hits.drop(columns=["rank", "score"]).head(6))  # query and text alone
    assert list(unranked["rank"]) == [1, 2, 3] * 2 and "retrieval_rank" not in unranked.columns
    later = bert_nb.rerank(cross, hits[hits["rank"] > 1])  # each search's hits after its first
    assert list(later["rank"]) == [1, 2] * 3


def test_the_search_panel_reranks_each_search(cross, tiny_vocab_engine, tmp_path, shell):  # noqa: F811
    from bert_nb.panels import SearchPanel
    from bert_nb.plots import hits_bars, hits_html

    index = bert_nb.index(tiny_vocab_engine, CORPUS, store=tmp_path / "idx", progress=False)
    panel = SearchPanel(index, queries="good play", k=2, rerank=cross, candidates=5)
    expected = bert_nb.rerank(cross, index.search(["good play"], k=5), top_k=2)
    assert panel.result.text.tolist() == expected.text.tolist() and "retrieval_rank" in panel.result.columns
    assert "reranked by" in panel.status.value and panel.rerank.layout.display is None
    assert "search rank" in hits_html(panel.result) and hits_bars(panel.result).layout.xaxis.title.text == \
        "cross-encoder score"
    panel.rerank.value = False  # the plain search again: its cosines
    assert "retrieval_rank" not in panel.search().columns and "search rank" not in hits_html(panel.result)
    assert SearchPanel(index, queries="good").rerank.layout.display == "none"
    with pytest.raises(BertNbError, match="is not a cross-encoder"):
        SearchPanel(index, rerank=tiny_vocab_engine)
    shell.user_ns.update(rerank_index=index, rerank_cross=cross)
    opened = shell.run_cell("%%bert search --index rerank_index --panel --rerank rerank_cross --candidates 4\ngood")
    assert isinstance(opened, SearchPanel) and opened.candidates.value == 4 and "retrieval_rank" in opened.result
    windowed = shell.run_cell("%%bert search --index rerank_index --panel --rerank rerank_cross --windows\ngood")
    assert windowed.windows.value and windowed.windows.layout.display is None
    assert not opened.windows.value and SearchPanel(index, queries="good").windows.layout.display == "none"


def test_a_hit_longer_than_the_cross_encoder_is_cut_and_said(hub_pair_models):
    import pandas as pd

    scorer = hub_pair_models["scorer"][0]
    hits = pd.DataFrame({"query": ["good play"] * 2, "rank": [1, 2], "text": [" ".join(["dog"] * 400), "a good dog"],
                         "score": [0.9, 0.8], "id": [0, 1]})
    got = bert_nb.rerank(scorer, hits)
    assert f"1 pair longer than {scorer.read_length} pieces cut there" in got.attrs["note"]
    assert got.attrs["note"].startswith("reranked by")


def test_a_long_hit_read_in_windows_counts_its_best_part(cross, hub_pair_models):  # noqa: F811
    import pandas as pd

    long = " ".join(["bad"] * 40 + ["a", "good", "dog"] * 10)  # past the 24 pieces the cross-encoder reads
    hits = pd.DataFrame({"query": ["good play"] * 2, "rank": [1, 2], "text": [long, "a good dog"],
                         "score": [0.9, 0.8], "id": [0, 1]})
    cut = bert_nb.rerank(cross, hits).set_index("id")
    read = bert_nb.rerank(cross, hits, windows=True).set_index("id")
    assert read.score[1] == pytest.approx(cut.score[1], abs=1e-5)  # a short hit: one window, the same score
    assert read.score[0] > cut.score[0] + 0.5  # the good end of the text, cut off before, now read
    assert "1 text longer than 24 pieces with the query read in" in read.attrs["note"]
    assert "cut there" in cut.attrs["note"]
    scorer = hub_pair_models["scorer"][0]
    with pytest.raises(BertNbError, match="leaves too little room for its text"):
        bert_nb.rerank(scorer, hits.assign(query=" ".join(["good"] * 70)), windows=True)
