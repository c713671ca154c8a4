"""Sentence pairs: a cross-encoder for a score (regression) or a label, from Python and the magics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.tasks.pairs import PairModel, check_pairs, pair_inputs, regression_metrics
from bert_nb.training import finetune
from tests.conftest import BAD, GOOD
from tests.test_training import clf, run_exported, tiny_vocab_engine  # noqa: F401  (fixtures)

SETTINGS = dict(epochs=15, learning_rate=3e-3, batch_size=8, max_length=24)


@pytest.fixture(scope="module")
def scored():
    """Two good texts score 5, a good and a bad one 0, two bad ones 2.5: the score depends on both texts."""
    rows = [(a, b, 5.0) for a in GOOD for b in GOOD[:3]] + [(a, b, 0.0) for a in GOOD for b in BAD[:3]] + \
        [(a, b, 0.0) for a in BAD for b in GOOD[:3]] + [(a, b, 2.5) for a in BAD for b in BAD[:3]]
    return pd.DataFrame(rows, columns=["first", "second", "score"])


@pytest.fixture(scope="module")
def cross(tiny_vocab_engine, scored):
    return finetune(tiny_vocab_engine, scored, text=("first", "second"), label="score", **SETTINGS)


def test_a_cross_encoder_learns_a_score_of_both_texts(cross, scored):
    assert isinstance(cross, PairModel) and cross.regression and cross.training_config["label_range"] == [0.0, 5.0]
    last = cross.metrics.iloc[-1]
    assert last.pearson > 0.8 and last.spearman > 0.7 and last.mse < 2
    got = cross.predict([("the good mat", "a good dog"), ("the good mat", "a bad dog"), ("bad play", "bad and slow")])
    assert list(got.columns) == ["text", "text_pair", "score"] and got.score.between(0, 5).all()
    assert got.score[0] > got.score[2] > got.score[1]  # 5 > 2.5 > 0
    same = cross.predict(scored[["first", "second"]].head(4))  # a two-column frame
    np.testing.assert_allclose(same.score.to_numpy(), cross.predict(list(zip(scored["first"][:4],
                                                                               scored["second"][:4]))).score)
    one = cross.predict("good play ||| it was good")  # a magic line
    assert len(one) == 1 and one.text[0] == "good play" and one.text_pair[0] == "it was good"
    assert "cross-encoder (regression of score" in cross.info().note and "pearson" in cross.to_text()


def test_the_pair_is_one_input_with_two_segments(cross):
    enc = cross.tokenizer("the good mat", "a bad dog")
    assert set(enc["token_type_ids"]) == {0, 1}  # segment A then B, as the model was trained on


@pytest.fixture(scope="module")
def pair_classifier(tiny_vocab_engine, scored):
    labelled = scored.assign(label=np.where(scored.score == 5.0, "both good", "not both"))
    return finetune(tiny_vocab_engine, labelled, text=("first", "second"), label="label", **SETTINGS)


def test_a_pair_classifier_with_labels(pair_classifier):
    clf = pair_classifier
    assert isinstance(clf, PairModel) and not clf.regression and clf.label_names == ["both good", "not both"]
    assert clf.metrics.accuracy.iloc[-1] > 0.8 and clf.confusion.shape == (2, 2)
    got = clf.predict([("good play", "a good dog"), ("bad play", "a good dog")])
    assert list(got.columns) == ["text", "text_pair", "label", "both good", "not both"]
    assert list(got.label) == ["both good", "not both"]


def test_save_reload_and_cache(cross, tiny_vocab_engine, scored, tmp_path):
    back = bert_nb.load(cross.save(tmp_path / "ce"), device="cpu")
    assert isinstance(back, PairModel) and back.regression
    pairs = [("the good mat", "a good dog"), ("bad play", "a good dog")]
    pd.testing.assert_frame_equal(back.predict(pairs), cross.predict(pairs))
    kept = dict(text=("first", "second"), label="score", epochs=1, learning_rate=3e-3, batch_size=8, max_length=24,
                cache=tmp_path / "kept")
    first = finetune(tiny_vocab_engine, scored, **kept)
    again = finetune(tiny_vocab_engine, scored, **kept)
    assert isinstance(again, PairModel) and again.metrics.equals(first.metrics)
    pd.testing.assert_frame_equal(again.predict(pairs), first.predict(pairs))


def test_export_script_runs(cross, tmp_path):
    assert run_exported(cross, tmp_path, "spearman", processes=2).heads == ("classification",)  # one sigmoid output


@pytest.mark.parametrize("call, message", [
    (lambda e, d: finetune(e, d, text=("first", "nope"), label="score"), "no column 'nope'"),
    (lambda e, d: finetune(e, d.assign(score=3.0), text=("first", "second"), label="score"),
     "Every training label is 3"),
    (lambda e, d: finetune(e, d, text=("first", "second", "third"), label="score"), "two for pairs"),
    (lambda e, d: finetune(e, d, task="pairs", text="first", label="score"), "two text columns"),
    (lambda e, d: finetune(e, [("only", "two")], text=("a", "b")), "(text, text_pair, label) rows"),
])
def test_bad_pair_data_in_one_sentence(tiny_vocab_engine, scored, call, message):
    with pytest.raises(BertNbError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(tiny_vocab_engine, scored)


def test_pair_inputs_and_metrics():
    assert pair_inputs(["a ||| b", ("c", "d")]) == (["a", "c"], ["b", "d"])
    with pytest.raises(BertNbError, match="Pair 0 is not two texts"):
        pair_inputs(["no separator"])
    with pytest.raises(BertNbError, match="Pair 1 is not two texts"):
        pair_inputs([("a", "b"), ("c", " ")])
    assert len(check_pairs(pd.DataFrame({"a": ["x", " ", "y"], "b": ["p", "q", None], "s": [1, 2, 3]}), ("a", "b"),
                           "s")) == 1
    metrics = regression_metrics([0.0, 0.5, 1.0], [0.1, 0.5, 0.9], 0.0, 5.0)
    assert metrics["pearson"] == pytest.approx(1.0) and metrics["spearman"] == pytest.approx(1.0)
    assert metrics["mse"] == pytest.approx((0.25 + 0 + 0.25) / 3)


def test_magics(shell, tiny_vocab_engine, scored, cross):
    shell.push({"pairs_data": scored, "cross": cross, "plain": tiny_vocab_engine})
    shell.run_cell("%bert use plain")
    trained = shell.run_cell("%bert finetune --data pairs_data --text first,second --label score --epochs 0.5 "
                             "--batch-size 8 --max-length 24 -o quick_pairs")
    assert isinstance(trained, PairModel) and trained.regression and shell.user_ns["quick_pairs"] is trained
    got = shell.run_cell("%%bert predict --model cross\nthe good mat ||| a good dog\nbad play ||| a good dog")
    assert list(got.columns) == ["text", "text_pair", "score"] and len(got) == 2
    assert "pass it with --data VAR" in shell.usage_error("%%bert finetune --task pairs\na\tb")


def test_display(shell, cross):
    bundle = shell.display_formatter.format(cross)[0]
    html = bundle["text/html"]
    assert "<th>pearson</th>" in html and "<th>spearman</th>" in html and "cross-encoder" in html
    assert "application/vnd.plotly.v1+json" in bundle


def test_tokenize_and_attention_views_of_a_pair_model(cross):
    toks = bert_nb.tokenize(cross, "the good mat", pair="a bad dog")
    assert set(toks.to_frame().segment) == {"A", "B"}
    att = bert_nb.attention(cross, "the good mat", pair="a bad dog")
    assert att.weights.shape[:2] == (2, 2) and att.weights.shape[2] == len(toks.to_frame())
    np.testing.assert_allclose(att.weights.sum(-1), 1.0, atol=1e-5)  # every row of every head sums to 1


def test_explain_a_cross_encoders_score_of_the_pair(cross, pair_classifier, shell):
    why = bert_nb.explain(cross, "good play", pair="a bad dog", method="ig", steps=256)  # a sharp tiny model
    assert why.kind == "pair score" and why.quantity == "predicted score"
    predicted = float(cross.predict([("good play", "a bad dog")]).score[0])
    assert why.value == pytest.approx(predicted, abs=1e-4)  # the score itself, on the label's 0-5 scale
    assert abs(why.delta) < 1e-3 and float(why.scores.sum()) == pytest.approx(why.value - why.baseline_value, abs=1e-3)
    words = why.words()
    assert list(words.segment) == ["A", "A", "B", "B", "B"] and list(words.word) == ["good", "play", "a", "bad", "dog"]
    every = bert_nb.explain(cross, "good play", pair="a bad dog", method="all")
    table = every.to_frame()
    assert len(table) == 5 and table.occlusion.notna().all()  # one word ablated at a time, across both segments
    label = bert_nb.explain(pair_classifier, "good play", pair="a good dog", method="occlusion")
    assert label.kind == "pair label" and label.target == "both good" and 0 < label.value <= 1
    other = bert_nb.explain(pair_classifier, "good play", pair="a good dog", target="not both", method="gxi")
    assert other.target == "not both" and other.value == pytest.approx(1 - label.value, abs=1e-5)
    with pytest.raises(BertNbError, match="give the second text as pair="):
        bert_nb.explain(cross, "good play")
    shell.push({"cross": cross})
    magic = shell.run_cell("%%bert explain --model cross --method occlusion\ngood play ||| a bad dog")
    assert magic.kind == "pair score" and list(magic.words().segment) == ["A", "A", "B", "B", "B"]
    with pytest.raises(BertNbError, match="A score has no target"):
        bert_nb.explain(cross, "good play", pair="a bad dog", target="5")
    with pytest.raises(BertNbError, match="not one of this cross-encoder's labels"):
        bert_nb.explain(pair_classifier, "good play", pair="a good dog", target="maybe")


def test_predict_names_what_is_no_pairs(cross):
    for nothing in (None, 5):  # TypeErrors before
        with pytest.raises(BertNbError, match=r"Give pairs of texts: .*; got (NoneType|int)\."):
            cross.predict(nothing)
    assert len(cross.predict(("good play", "a good dog"))) == 1  # a tuple is one pair
    with pytest.raises(BertNbError, match="batch_size must be a whole number of at least 1; got 0"):
        cross.predict(("good play", "a good dog"), batch_size=0)


def test_distill_says_it_takes_single_text_classifiers(pair_classifier, scored):
    """A pair model's data has two text columns: 'no column text' said nothing of the model before."""
    labelled = scored.assign(label=np.where(scored.score == 5.0, "both good", "not both"))
    said = r"works on classifiers of single texts; '.*' is a cross-encoder of text pairs \(bert_nb.quantize makes"
    with pytest.raises(BertNbError, match=said):
        bert_nb.distill(pair_classifier, labelled)
    assert bert_nb.quantize(pair_classifier, "int8").predict([(GOOD[0], GOOD[1])]).label.iloc[0] in (
        "both good", "not both")


def test_sentence1_and_sentence2_columns_say_pairs(tiny_vocab_engine, scored, tmp_path):
    sts_like = scored.rename(columns={"first": "sentence1", "second": "sentence2"})
    model = finetune(tiny_vocab_engine, sts_like, **SETTINGS)  # "no column 'text'" before
    assert isinstance(model, PairModel) and model.regression and model.training_config["label"] == "score"
    sts_like.to_csv(tmp_path / "pairs.csv", index=False)
    assert isinstance(finetune(tiny_vocab_engine, tmp_path / "pairs.csv", **SETTINGS), PairModel)  # a file too
    from bert_nb.panels import FinetunePanel

    panel = FinetunePanel(tiny_vocab_engine, data=str(tmp_path / "pairs.csv"))  # an AttributeError before
    assert panel.task.value == "pairs" and panel.text_column == ("sentence1", "sentence2") and len(panel.data) == len(
        sts_like)
    from bert_nb.panels.compress import ComparePanel

    compare = ComparePanel.for_engine(model)  # trained on STS-B's columns: measured on its test pairs
    assert compare.kind == "pairs" and list(compare.data.columns[:3]) == ["sentence1", "sentence2", "score"]
    compare.int8.value, compare.texts.value = True, compare.texts.min
    result = compare.run()
    assert result.metric == "spearman" and len(result.table) == len(compare.models.value) + 1
    assert "pairs the models score most differently" in compare.disagreements.value
    spread = result.disagreements().spread
    assert spread.is_monotonic_decreasing and spread.iloc[0] > 0


def test_faithfulness_of_a_cross_encoder_deletes_words_of_both_texts(cross):
    pairs = [("good play", "good and fast"), ("bad play", "the good mat")]
    f = bert_nb.faithfulness(cross, pairs, methods=("occlusion", "ig"), fractions=(0.5, 1.0), steps=8)
    assert f.target == "predicted score of each pair" and f.texts == 2  # refused before: "takes single texts"
    whole = f.curves[f.curves.fraction == 1.0]  # every word deleted (the same for every method), or every word kept
    np.testing.assert_allclose(whole.comprehensiveness, whole.comprehensiveness.iloc[0], atol=1e-6)
    np.testing.assert_allclose(whole.sufficiency, 0, atol=1e-5)
    assert bert_nb.faithfulness(cross, ["good play ||| good and fast"], methods="occlusion").texts == 1
    with pytest.raises(BertNbError, match="Pair 0 is not two texts"):
        bert_nb.faithfulness(cross, ["good fine"])


@pytest.fixture(scope="module")
def hub_pair_models(tmp_path_factory):
    """A cross-encoder of one output and an NLI classifier of three labels, saved as the hub saves them."""
    import transformers

    from tests.conftest import build_tiny_bert

    tmp = tmp_path_factory.mktemp("hub_pairs")
    base = build_tiny_bert(tmp / "base", words=["good", "bad", "play", "dog"])
    labels = {0: "entailment", 1: "neutral", 2: "contradiction"}
    made = {}
    for name, extra in (("scorer", dict(num_labels=1)),
                        ("nli", dict(num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()}))):
        torch_model = transformers.BertForSequenceClassification.from_pretrained(base, **extra).eval()
        torch_model.save_pretrained(tmp / name)
        transformers.AutoTokenizer.from_pretrained(base).save_pretrained(tmp / name)
        made[name] = (bert_nb.load(str(tmp / name), device="cpu"), torch_model)
    return made


def _logits(engine, torch_model, first, second):
    import torch

    with torch.inference_mode():
        return torch_model(**engine.tokenizer(first, second, padding=True, return_tensors="pt")).logits.numpy()


def test_a_hub_cross_encoder_scores_pairs(hub_pair_models, shell):
    from bert_nb.panels import ExplainPanel, TaskPanel

    scorer, torch_model = hub_pair_models["scorer"]
    got = bert_nb.classify(scorer, [("good play", "a bad dog"), "bad ||| good dog"])  # "has one output" before
    assert list(got.columns) == ["text", "text_pair", "score", "logit"]
    logits = _logits(scorer, torch_model, ["good play", "bad"], ["a bad dog", "good dog"])[:, 0]
    np.testing.assert_allclose(got.logit.to_numpy(), logits, atol=1e-5)
    np.testing.assert_allclose(got.score.to_numpy(), 1 / (1 + np.exp(-logits)), atol=1e-6)
    frame = bert_nb.classify(scorer, pd.DataFrame({"q": ["good play"], "d": ["a bad dog"]}))
    assert frame.score[0] == pytest.approx(got.score[0], abs=1e-6)
    why = bert_nb.explain(scorer, "good play", pair="a bad dog", method="occlusion")  # its encoder's cosine before
    assert why.kind == "pair score" and why.value == pytest.approx(got.score[0], abs=1e-5)
    assert set(why.segment) == {0, 1}
    panel = TaskPanel(scorer, text="good play")  # a box per text, as a fine-tuned cross-encoder's
    assert panel.kind == "pairs" and panel.result.score[0] == pytest.approx(
        bert_nb.classify(scorer, [("good play", panel.second.value)]).score[0], abs=1e-6)
    explained = ExplainPanel(scorer, text="good play", pair="a bad dog", method="occlusion")
    assert explained.result.kind == "pair score" and list(explained.target.options) == ["(the model's prediction)"]
    shell.user_ns["hub_scorer"] = scorer
    cell = shell.run_cell("%%bert predict --model hub_scorer\ngood play ||| a bad dog")
    assert cell.score[0] == pytest.approx(got.score[0], abs=1e-6)


def test_a_hub_pair_classifier_labels_pairs(hub_pair_models):
    from bert_nb.panels import ExplainPanel

    nli, torch_model = hub_pair_models["nli"]
    got = bert_nb.classify(nli, [("good play", "a bad dog"), ("dog", "good dog")])
    assert list(got.columns) == ["text", "text_pair", "label", "entailment", "neutral", "contradiction"]
    logits = _logits(nli, torch_model, ["good play", "dog"], ["a bad dog", "good dog"])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(got[["entailment", "neutral", "contradiction"]].to_numpy(), probs, atol=1e-5)
    assert list(got.label) == [["entailment", "neutral", "contradiction"][i] for i in probs.argmax(1)]
    single = bert_nb.classify(nli, ["good play"])  # single texts as before
    assert list(single.columns) == ["text", "label", "entailment", "neutral", "contradiction"]
    why = bert_nb.explain(nli, "good play", pair="a bad dog", target="neutral", method="occlusion")
    assert why.kind == "pair label" and why.value == pytest.approx(got.neutral[0], abs=1e-5)
    panel = ExplainPanel(nli, text="good play", method="occlusion")  # no pair typed: the text alone
    assert panel.result.kind == "label" and panel.pair.layout.display is None
    panel.pair.value = "a bad dog"
    assert panel.run().kind == "pair label"


@pytest.mark.parametrize("call, message", [
    (lambda m: bert_nb.classify(m, [("good", "bad")], truncate=True), "stride and truncate are for single texts"),
    (lambda m: bert_nb.classify(m, [("good", "bad"), ("good",)]), "Pair 1 is not two texts"),
    (lambda m: bert_nb.explain(m, "good", target="entailment"), "A score has no target"),
])
def test_hub_pair_mistakes_in_one_sentence(hub_pair_models, call, message):
    with pytest.raises(BertNbError, match=message):
        call(hub_pair_models["scorer"][0])


def test_a_long_pair_is_cut_and_says_so(hub_pair_models):
    nli = hub_pair_models["nli"][0]
    long = (" ".join(["good"] * 400), "a bad dog")
    got = bert_nb.classify(nli, [long, ("good", "dog")])
    assert got.attrs["note"].startswith(f"1 pair longer than {nli.read_length} pieces cut there")
    alone = nli.tokenizer(*long, truncation=True, max_length=nli.read_length, return_tensors="pt")  # cut by hand
    expected = nli.forward(dict(alone)).logits.float().softmax(-1)[0].numpy()
    np.testing.assert_allclose(got.iloc[0][list(nli.config.id2label.values())].to_numpy(float), expected, atol=1e-5)


def test_a_classifier_fine_tuned_on_single_texts_refuses_pairs(clf):
    with pytest.raises(BertNbError, match="was fine-tuned on single texts; give it texts"):
        bert_nb.classify(clf, [("good", "bad")])


def test_what_classify_reads_from_a_frame_or_a_series(hub_pair_models, clf):  # noqa: F811
    scorer = hub_pair_models["scorer"][0]
    pairs = [("good play", "a bad dog"), ("dog", "good dog")]
    expected = bert_nb.classify(scorer, pairs).score.tolist()
    as_frame = bert_nb.classify(scorer, pd.DataFrame(pairs, columns=["text", "text_pair"]).assign(other=1))
    assert as_frame.score.tolist() == pytest.approx(expected, abs=1e-6)
    assert bert_nb.classify(scorer, pd.Series([f"{a} ||| {b}" for a, b in pairs])).score.tolist() == pytest.approx(
        expected, abs=1e-6)
    assert bert_nb.classify(scorer, (p for p in pairs)).score.tolist() == pytest.approx(expected, abs=1e-6)
    reviews = pd.DataFrame({"text": ["good play", "bad dog"], "label": ["pos", "neg"]})  # its column names before
    assert clf.predict(reviews).text.tolist() == ["good play", "bad dog"]
    assert bert_nb.classify(clf, reviews[["text"]].rename(columns={"text": "review"})).text.tolist() == [
        "good play", "bad dog"]
    with pytest.raises(BertNbError, match="The frame has 3 columns and none is 'text'"):
        bert_nb.classify(scorer, pd.DataFrame({"a": ["x"], "b": ["y"], "c": ["z"]}))


def test_compression_measures_say_a_scorer_has_no_labels(hub_pair_models):
    from bert_nb.panels import ComparePanel

    scorer = hub_pair_models["scorer"][0]
    data = pd.DataFrame({"text": ["good play", "bad dog"], "label": ["LABEL_0", "LABEL_0"]})
    with pytest.raises(BertNbError, match="Head importance needs the labels a cross-encoder learnt, and .* was not "
                                          "fine-tuned here"):
        bert_nb.head_importance(scorer, data)  # accuracies of its one label (always 1) before
    with pytest.raises(BertNbError, match="The data has no column 'sentence1' \\(a pair needs two text columns"):
        bert_nb.compare({"s": scorer}, data)  # a scorer compares as a cross-encoder: on pairs
    assert ComparePanel.for_engine(scorer) is None and ComparePanel.for_engine(hub_pair_models["nli"][0]) is not None


def test_faithfulness_of_hub_pair_models_given_pairs(hub_pair_models):
    scorer, nli = hub_pair_models["scorer"][0], hub_pair_models["nli"][0]
    pairs = [("good play", "a good dog"), ("bad play", "a dog")]
    scored = bert_nb.faithfulness(scorer, pairs, methods="occlusion", fractions=(1.0,))
    labelled = bert_nb.faithfulness(nli, pairs, methods="occlusion", fractions=(1.0,))
    assert scored.target == "predicted score of each pair" and labelled.target == "predicted label of each pair"
    for f in (scored, labelled):
        np.testing.assert_allclose(f.curves.sufficiency, 0, atol=1e-5)  # every word kept: the same input
    assert bert_nb.faithfulness(scorer, ["good play"], methods="occlusion").target == "predicted score"  # one text


def test_compare_cross_encoders_spearman_agreement_and_speed(cross, pair_classifier, scored, shell):
    from scipy.stats import spearmanr

    from bert_nb.compress import compare, quantize
    from bert_nb.plots.compress import pareto_scatter

    small = quantize(cross)
    result = compare({"fp32": cross, "int8": small}, scored)  # the columns it was trained on: first, second, score
    table = result.to_frame().set_index("model")
    assert result.metric == "spearman" and table.agreement["fp32"] == pytest.approx(1.0)
    assert {"spearman", "pearson", "mse", "agreement", "latency_ms", "throughput", "size_mb"} <= set(table.columns)
    own = cross.predict(scored[["first", "second"]]).score.to_numpy()  # what predict gives, pair by pair
    np.testing.assert_allclose(result.predictions.fp32, own, rtol=1e-6)
    assert table.spearman["fp32"] == pytest.approx(spearmanr(own, scored.score)[0])
    assert table.spearman["fp32"] == pytest.approx(cross.metrics.spearman.iloc[-1], abs=0.2)  # its own evaluation
    assert "Spearman" in result.to_text() and pareto_scatter(result).layout.yaxis.title.text == "Spearman"
    renamed = scored.rename(columns={"first": "a", "second": "b", "score": "s"})
    again = compare({"fp32": cross}, renamed, text="a,b", label="s").to_frame()
    assert again.spearman[0] == pytest.approx(table.spearman["fp32"], rel=1e-6)
    labelled = scored.assign(label=np.where(scored.score == 5.0, "both good", "not both"))
    labels = compare({"fp32": pair_classifier, "int8": quantize(pair_classifier)}, labelled)
    assert labels.metric == "accuracy" and labels.to_frame().accuracy[0] == pytest.approx(
        (pair_classifier.predict(labelled[["first", "second"]]).label == labelled.label).mean())
    shell.user_ns.update(cross_a=cross, cross_b=small, pairs_data=scored)
    assert shell.run_cell("%bert compare --models cross_a,cross_b --data pairs_data").metric == "spearman"
    for models, data, kwargs, message in (
            ({"a": cross, "b": pair_classifier}, labelled, {}, "Some of these cross-encoders score pairs and some"),
            ({"a": cross, "b": bert_nb.load("default")}, scored, {}, "'b' is no cross-encoder; compare cross-encoders with"),
            ({"a": cross}, scored, {"text": "first"}, "A pair has two text columns"),
            ({"a": cross}, renamed, {}, "has no column 'first'")):
        with pytest.raises(BertNbError, match=message):
            compare(models, data, **kwargs)


def test_compare_a_hub_scorer_with_its_int8_copy(hub_pair_models):
    from scipy.stats import spearmanr

    from bert_nb.compress import compare, quantize

    scorer = hub_pair_models["scorer"][0]
    data = pd.DataFrame({"query": ["good play", "good dog", "bad play", "bad dog"] * 3,
                         "passage": ["a good dog", "bad play", "good good", "dog dog", "play", "bad"] * 2,
                         "relevance": [3, 0, 1, 2, 0, 1, 2, 3, 1, 0, 2, 1]})
    result = compare({"hub": scorer, "int8": quantize(scorer)}, data, text=("query", "passage"), label="relevance")
    table = result.to_frame().set_index("model")
    own = bert_nb.classify(scorer, list(zip(data["query"], data.passage))).score.to_numpy()  # its sigmoid scores
    np.testing.assert_allclose(result.predictions.hub, own, rtol=1e-6)
    assert result.metric == "spearman" and table.spearman["hub"] == pytest.approx(spearmanr(data.relevance, own)[0])
    assert np.isnan(table.mse["hub"]) and table.agreement["hub"] == pytest.approx(1.0)  # no scale: no MSE
    long = data.assign(passage=" ".join(["good dog"] * 60))  # past the 64 positions of this model
    assert compare({"hub": scorer}, long, text=("query", "passage"), label="relevance").table.latency_ms[0] > 0
    # (its latency read pairs at 128 pieces, past the model's positions: a RuntimeError)
    with pytest.raises(BertNbError, match="its label column 'grade' must hold numbers"):
        compare({"hub": scorer}, data.assign(grade="high"), text=("query", "passage"), label="grade")


# -- pruning a cross-encoder -------------------------------------------------------------------
def test_head_importance_of_a_cross_encoder_is_the_gradient_of_its_training_loss(cross):
    """Central differences of the loss it was trained with (binary cross entropy on the 0-1 score), in each head's
    output scale, give the same normalised importance."""
    import torch

    from tests.conftest import head_scale_gradients

    # several pairs: for one, any loss of the logit gives the same normalised importance (one factor per layer)
    pairs = pd.DataFrame({"first": ["the good mat", "bad play", "the good mat"],
                          "second": ["a bad dog", "bad and slow", "a good dog"], "score": [0.0, 2.5, 5.0]})
    imp = bert_nb.head_importance(cross, pairs)
    assert imp.texts == 3 and len(imp.to_frame()) == imp.layers * imp.heads
    enc = cross.tokenizer(list(pairs["first"]), list(pairs["second"]), padding=True, return_tensors="pt")
    target = torch.tensor(pairs.score.to_numpy() / 5.0, dtype=torch.float64)
    expected = head_scale_gradients(cross.model, lambda model: torch.nn.functional.binary_cross_entropy_with_logits(
        model(**enc).logits[:, 0], target, reduction="sum"), imp.layers, imp.heads)
    np.testing.assert_allclose(imp.matrix(), expected, atol=1e-3)


def test_prune_a_cross_encoder_by_importance_on_its_pairs(cross, pair_classifier, scored):
    from bert_nb.plots import prune_curve_line

    small = bert_nb.prune(cross, fraction=0.25, data=scored)  # its own columns (first, second, score) by default
    assert isinstance(small, PairModel) and small.regression
    assert small.info().parameters < cross.info().parameters
    assert small.predict([("the good mat", "a good dog")]).score.between(0, 5).all()
    curve = bert_nb.prune_curve(cross, scored, fractions=(0.25, 0.5))
    frame = curve.to_frame()
    assert curve.metric == "spearman" and curve.unit == "pairs" and curve.texts == len(scored)
    assert list(frame.columns) == ["fraction", "heads_pruned", "heads_left", "parameters", "spearman"]
    from scipy.stats import spearmanr

    whole = spearmanr(scored.score, cross.predict(scored[["first", "second"]]).score)[0]
    assert frame.spearman.iloc[0] == pytest.approx(whole, abs=1e-6)
    assert "Spearman by share of heads removed" in curve.to_text() and f"on {len(scored)} pairs" in curve.to_text()
    assert prune_curve_line(curve).layout.yaxis.title.text == "Spearman"
    labelled = scored.assign(label=np.where(scored.score == 5.0, "both good", "not both"))
    by_label = bert_nb.prune_curve(pair_classifier, labelled, fractions=(0.25,)).to_frame()
    truth = (pair_classifier.predict(labelled[["first", "second"]]).label == labelled.label).mean()
    assert list(by_label.columns)[-1] == "accuracy" and by_label.accuracy.iloc[0] == pytest.approx(truth)


def test_pruning_a_cross_encoder_refuses_in_one_sentence(cross, pair_classifier, scored, hub_pair_models):
    labelled = scored.assign(label=np.where(scored.score == 5.0, "both good", "not both"))
    for call, message in (
            (lambda: bert_nb.head_importance(cross, scored, text="first"), "A pair has two text columns"),
            (lambda: bert_nb.head_importance(cross, scored.assign(score="high")), "must hold numbers"),
            (lambda: bert_nb.head_importance(pair_classifier, labelled.assign(label="meh")), "meh"),
            (lambda: bert_nb.prune(hub_pair_models["scorer"][0], fraction=0.25, data=scored),
             "was not fine-tuned here: fine-tune it on your pairs first")):
        with pytest.raises(BertNbError, match=message):
            call()


def test_prune_a_cross_encoder_from_the_magic(shell, cross, scored):
    shell.push({"cross": cross, "pairs_data": scored})
    small = shell.run_cell("%bert prune --model cross --fraction 0.25 --data pairs_data --text first,second "
                           "--label score -o small_cross")
    assert isinstance(small, PairModel) and shell.user_ns["small_cross"] is small
    assert small.info().parameters < cross.info().parameters
