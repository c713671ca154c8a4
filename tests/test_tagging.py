"""Token classification: data checks, entity grouping, seqeval metrics, a tiny tagger end to end, views, magics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.tasks.tagging import Entities, Tagger, check_tagged, entity_spans, tag, tag_metrics
from bert_nb.training import TrainingState, finetune
from tests.test_training import _StopAt, run_exported, tiny_vocab_engine  # noqa: F401  (a fixture)

# 'bert' (with 'model' after it) is a person, 'mat' and 'world' are places: a tiny model learns it in a few epochs
TEMPLATES = [
    (["hello", "bert", "model"], ["O", "B-PER", "I-PER"]),
    (["the", "cat", "sat", "on", "the", "mat"], ["O", "O", "O", "O", "O", "B-LOC"]),
    (["bert", "ran", "fast"], ["B-PER", "O", "O"]),
    (["hello", "world"], ["O", "B-LOC"]),
    (["bert", "model", "sat", "on", "a", "mat"], ["B-PER", "I-PER", "O", "O", "O", "B-LOC"]),
    (["the", "dog", "is", "fast"], ["O", "O", "O", "O"]),
    (["it", "was", "the", "world"], ["O", "O", "O", "B-LOC"]),
    (["a", "good", "bert"], ["O", "O", "B-PER"]),
]


@pytest.fixture(scope="module")
def tagged():
    return pd.DataFrame([(list(w), list(t)) for w, t in TEMPLATES * 6], columns=["tokens", "tags"])


@pytest.fixture(scope="module")
def tagger(tiny_vocab_engine, tagged):
    return finetune(tiny_vocab_engine, tagged, task="tokens", epochs=12, learning_rate=5e-3, batch_size=8,
                    max_length=16)


@pytest.mark.parametrize("rows, message", [
    ([(["a", "b"], ["O"])], "has 2 words but 1 tags"),
    ([(["a"], ["PER"])], "tag 'PER', which is not BIO"),
    ([(["a"], ["B_PER"])], "not BIO"),
    ([("a b", ["O", "O"])], "must be a non-empty list of words"),
    ([([], [])], "must be a non-empty list of words"),
    ([(["a", " "], ["O", "O"])], "has an empty word"),
    ([("just a text",)], "as (words, tags) pairs"),
    ([(["a"], [3])], "has tag 3, a number: give the tags' names"),
    ([("['a', 'b'", ["O", "O"])], "must be a non-empty list of words"),  # a broken list's text stays text
])
def test_bad_tagged_data_is_named_in_one_sentence(rows, message):
    with pytest.raises(BertNbError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_tagged(rows)


def test_data_forms_and_iob1_tags(tagged):
    with pytest.raises(BertNbError, match="no column 'words'"):
        check_tagged(tagged, text="words")
    frame = check_tagged([(["New", "York", "is", "big"], ["I-LOC", "I-LOC", "O", "O"])])  # IOB1 style
    assert frame.tags[0] == ["B-LOC", "I-LOC", "O", "O"]
    with pytest.raises(BertNbError, match="has no entity at all"):
        finetune(bert_nb.load("default", device="cpu"), [(["a", "b"], ["O", "O"])] * 4, task="tokens")
    with pytest.raises(BertNbError, match="Unknown task 'ner'"):
        finetune(bert_nb.load("default", device="cpu"), tagged, task="ner")


def test_tables_read_back_from_csv_and_parquet_files(tagged, tmp_path):
    tagged.to_csv(tmp_path / "t.csv", index=False)  # lists come back as their text: "['EU', 'rejects', ...]"
    tagged.to_parquet(tmp_path / "t.parquet")  # and as numpy arrays
    import pandas as pd

    want = check_tagged(tagged)
    for source in (pd.read_csv(tmp_path / "t.csv"), pd.read_parquet(tmp_path / "t.parquet"),
                   str(tmp_path / "t.csv"), tmp_path / "t.parquet"):
        pd.testing.assert_frame_equal(check_tagged(source), want)
    with pytest.raises(BertNbError, match="Cannot read '.txt' files as data; give a .csv, .tsv, .parquet or .jsonl"):
        (tmp_path / "t.txt").write_text("EU rejects")
        check_tagged(tmp_path / "t.txt")


def test_entity_spans_join_b_and_i_of_one_type():
    words = [("Angela", 0, 6, "B-PER", 0.9), ("Merkel", 7, 13, "I-PER", 0.7), ("in", 14, 16, "O", 0.99),
             ("Bonn", 17, 21, "I-LOC", 0.6), ("Rhine", 22, 27, "B-LOC", 0.8), ("Valley", 28, 34, "I-ORG", 0.5)]
    assert entity_spans(words) == [("PER", 0, 13, pytest.approx(0.8)), ("LOC", 17, 21, 0.6), ("LOC", 22, 27, 0.8),
                                   ("ORG", 28, 34, 0.5)]


def test_metrics_are_seqeval_entity_scores():
    names = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    truth = np.array([[-100, 3, 4, 0, 1, -100], [-100, 1, 2, 0, 0, -100]])
    guess = np.array([[0, 3, 4, 0, 1, 2], [0, 1, 0, 0, 3, 0]])  # positions at -100 are not words: never scored
    metrics, confusion = tag_metrics(truth, guess, names)
    # true entities: PER, LOC (row 1), a two-word LOC (row 2); predicted: PER, LOC, a one-word LOC (cut short)
    # and a stray PER (row 2): 2 of 4 predicted are right, 2 of 3 true are found
    assert metrics["precision"] == pytest.approx(0.5) and metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1_PER"] == pytest.approx(2 / 3) and metrics["f1_LOC"] == pytest.approx(0.5)
    assert metrics["accuracy"] == pytest.approx(6 / 8) and confusion.sum() == 8 and confusion[2, 0] == 1


def test_a_tiny_tagger_learns_and_tags_with_offsets(tagger):
    assert isinstance(tagger, Tagger) and tagger.label_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert tagger.entity_types == ["LOC", "PER"] and tagger.info().heads == ("tokens",)
    last = tagger.metrics.iloc[-1]
    assert last.f1 > 0.9 and last.f1_PER > 0.9 and last.accuracy > 0.95
    text = "hello bert model, the cat sat on the mat"
    found = tag(tagger, text)
    assert isinstance(found, Entities)
    rows = found.to_frame()
    assert list(rows.entity) == ["bert model", "mat"] and list(rows.type) == ["PER", "LOC"]
    assert all(text[s:e] == ent for ent, s, e in zip(rows.entity, rows.start, rows.end))
    assert rows.score.between(0, 1).all() and "bert model (PER" in found.to_text()
    batch = tag(tagger, ["hello world", "bert ran fast"])
    assert [list(e.to_frame().type) for e in batch] == [["LOC"], ["PER"]]
    both = tagger.predict(["hello world", "bert ran fast"])
    assert list(both.columns) == ["text", "entity", "type", "start", "end", "score"] and len(both) == 2
    matrix, types = tagger.type_confusion()
    assert types == ["O", "LOC", "PER"] and matrix.sum() == tagger.confusion.sum()
    with pytest.raises(BertNbError, match="non-empty texts"):
        tag(tagger, ["  "])


def test_save_reload_cache_and_stop(tagger, tiny_vocab_engine, tagged, tmp_path):
    back = bert_nb.load(tagger.save(tmp_path / "tagger"), device="cpu")
    assert isinstance(back, Tagger) and back.label_names == tagger.label_names
    pd.testing.assert_frame_equal(back.predict(["hello bert model on the mat"]),
                                  tagger.predict(["hello bert model on the mat"]))
    pd.testing.assert_frame_equal(back.metrics, tagger.metrics)
    settings = dict(task="tokens", epochs=2, learning_rate=5e-3, batch_size=8, max_length=16, cache=tmp_path / "kept")
    first = finetune(tiny_vocab_engine, tagged, **settings)
    again = finetune(tiny_vocab_engine, tagged, **settings)  # loaded from the cache
    assert isinstance(again, Tagger) and again.metrics.equals(first.metrics)
    pd.testing.assert_frame_equal(again.predict(["bert ran fast"]), first.predict(["bert ran fast"]))
    state = TrainingState()
    stopped = finetune(tiny_vocab_engine, tagged, task="tokens", epochs=3, batch_size=4, max_length=16, state=state,
                       callbacks=[_StopAt(2, "button", state)])
    assert stopped.stopped_early["step"] in (2, 3) and stopped.state.step == stopped.stopped_early["step"]
    assert list(stopped.predict(["hello world"]).columns)[:2] == ["text", "entity"]  # kept and usable


def test_export_script_runs(tagger, tmp_path):
    assert run_exported(tagger, tmp_path, "f1", processes=2).heads == ("tokens",)  # seqeval's entity F1
    assert (tmp_path / "job" / "train_train.jsonl").is_file()


def test_the_task_follows_the_data(tiny_vocab_engine, tagged):
    got = finetune(tiny_vocab_engine, tagged, epochs=0.2, batch_size=8, max_length=16)  # tokens + tags columns
    assert isinstance(got, Tagger)


def test_views_escape_user_text(tagger):
    from bert_nb.plots import describe, entities_html, entity_f1_bar, type_confusion_heatmap

    found = tag(tagger, "<b>bert</b> on the mat")
    html = entities_html(found)
    assert "&lt;" in html and "<b>" not in html and html.count("<mark") == len(found.spans)
    assert {("bert", "PER"), ("mat", "LOC")} <= {(e, k) for e, k, *_ in found.spans}
    assert "bar 'F1': 2 bars; x: LOC, PER" in describe(entity_f1_bar(tagger))
    assert "heatmap: 3 x 3" in describe(type_confusion_heatmap(tagger))


def test_magics(shell, tiny_vocab_engine, tagged, tagger):
    shell.push({"tagged": tagged, "tagger": tagger, "plain": tiny_vocab_engine})
    found = shell.run_cell("%%bert ner --model tagger -o ents\nhello bert model\nthe cat sat on the mat")
    assert [list(e.to_frame().type) for e in found] == [["PER"], ["LOC"]] and shell.user_ns["ents"] is found
    one = shell.run_cell("%%bert tag --model tagger\nhello world")
    assert isinstance(one, Entities)
    bundle = shell.display_formatter.format(one)[0]
    assert "bert-nb-tagging" in bundle["text/html"] and "entities (" in bundle["text/plain"]
    assert "is not a tagger" in shell.usage_error("%%bert ner --model plain\nhello")
    assert "pass it with --data VAR" in shell.usage_error("%%bert finetune --task tokens\nhello\tO")
    shell.run_cell("%bert use plain")
    trained = shell.run_cell("%bert finetune --task tokens --data tagged --epochs 0.5 --batch-size 8 "
                             "--max-length 16 -o quick")
    assert isinstance(trained, Tagger) and shell.user_ns["quick"] is trained


def test_what_is_no_texts_is_named(tagger):
    for nothing in (None, 5):  # TypeErrors before
        with pytest.raises(BertNbError, match=r"Give one or more non-empty texts to tag; got (NoneType|int)\."):
            tag(tagger, nothing)
        with pytest.raises(BertNbError, match="Give one or more non-empty texts to tag"):
            tagger.predict(nothing)
    assert len(tag(tagger, ("good play", "bad play"))) == 2  # a tuple of texts is texts
    with pytest.raises(BertNbError, match="batch_size must be a whole number of at least 1; got 0"):
        tag(tagger, "good play", batch_size=0)


def test_compare_takes_a_tagger_on_its_own_columns(tagger, tagged):
    assert bert_nb.compare({"tagger": tagger}, tagged).metric == "entity_f1"  # "works on classifiers" before


def test_a_sentence_given_as_its_words_says_to_join_them(tagger):
    with pytest.raises(BertNbError, match=r"Text 1 is a list of words; give each sentence as one string, for example "
                                          r"' '.join\(words\)"):  # "Give one or more non-empty texts" before
        tagger.predict(["Angela visited", ["Angela", "Merkel"]])


def _hub_tagger(folder, names):
    """A token classifier as transformers saves one (a hub NER model, say): no bert_nb training record."""
    import transformers

    from tests.conftest import build_tiny_bert

    base = build_tiny_bert(folder / "base", words=["angela", "paris"])
    model = transformers.BertForTokenClassification.from_pretrained(
        base, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    model.save_pretrained(folder / "tagger")
    transformers.AutoTokenizer.from_pretrained(base).save_pretrained(folder / "tagger")
    return bert_nb.load(str(folder / "tagger"), device="cpu")


def test_a_token_classifier_from_the_hub_tags(tmp_path, shell):
    hub = _hub_tagger(tmp_path, ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    found = bert_nb.tag(hub, "angela visited paris")  # "is not a token classifier" before
    frame = found.to_frame()
    assert list(frame.columns[:5]) == ["entity", "type", "start", "end", "score"] and set(frame.type) <= {"PER", "LOC"}
    words = found.words
    assert [w[0] for w in words] == ["angela", "visited", "paris"] and all(w[3] in hub.config.label2id for w in words)
    assert len(bert_nb.tag(hub, ["angela", "paris"]).items) == 2
    from bert_nb.panels import TaskPanel

    assert TaskPanel(hub, text="angela visited paris").result is not None  # the task tab tags with it too
    shell.user_ns["hub_ner"] = hub  # `%%bert ner` said "is not a tagger" before
    got = shell.run_cell("%%bert ner --model hub_ner\nangela visited paris")
    assert got.to_frame().equals(bert_nb.tag(hub, "angela visited paris").to_frame())
    odd = _hub_tagger(tmp_path / "odd", ["LABEL_0", "LABEL_1"])
    with pytest.raises(BertNbError, match=r"tags LABEL_0, LABEL_1, which are not BIO tags \(B-PER, I-PER, O\)"):
        bert_nb.tag(odd, "angela")


def test_texts_of_mixed_lengths_run_in_batches_of_like_length_and_come_back_in_order(tagger):
    texts = ["the good cat sat on the mat and the dog ran fast", "a cat", "the dog ran", "good", "the cat sat on a mat"]
    together = bert_nb.tag(tagger, texts, batch_size=2)
    assert [e.text for e in together] == texts
    for one, text in zip(together, texts):
        alone = bert_nb.tag(tagger, text)
        assert [w[:4] for w in one.words] == [w[:4] for w in alone.words]
        np.testing.assert_allclose([w[4] for w in one.words], [w[4] for w in alone.words], atol=1e-5)


def test_explain_says_which_words_made_a_words_tag(tagger, shell):
    from bert_nb.attentions import attention
    from bert_nb.explanations import explain
    from bert_nb.panels import ExplainPanel
    from bert_nb.plots.explanations import explanation_html

    text = "hello bert model, the cat sat on the mat"
    words = tag(tagger, text).words  # (word, start, end, tag, score)
    why = explain(tagger, text, steps=32)  # the first word of the first entity
    assert why.kind == "tag" and why.spanned == "bert" and why.target == "B-PER" and why.span == (0, 6, 10)
    assert why.value == pytest.approx(next(w[4] for w in words if w[0] == "bert"), rel=1e-5)  # tag's own probability
    assert why.scores.sum() == pytest.approx(why.value - why.baseline_value, abs=abs(why.delta) + 1e-4)
    assert "for P('bert' is B-PER) = " in why.to_text()
    html = explanation_html(why)
    assert html.count("underline") == 1 and "bert</span>" in html.split("underline")[1][:80]
    mat = explain(tagger, text, target="MAT", method="attention")  # a word as typed, any case: its first place
    assert mat.spanned == "mat" and mat.target == "B-LOC" and mat.to_text().startswith("attention (the word, ")
    att = attention(tagger, text)
    row = att.tokens.index("mat")
    np.testing.assert_allclose(mat.scores, att.weights[-1].mean(0)[row], atol=1e-6)  # the word's own attention row
    assert explain(tagger, text, target=0, method="occlusion").spanned == "hello"
    assert explain(tagger, text, target="bert model", method="occlusion").spanned == "bert"  # a phrase: its first word
    assert explain(tagger, "İt was the world", target="WORLD", method="occlusion").spanned == "world"  # lower() of İ
    # is two characters: offsets found in the lowered text pointed one character off
    assert "No word is tagged as part of an entity" in explain(tagger, "the cat sat", method="occlusion").note
    for kwargs, message in (({"target": "zebra"}, "'zebra' is not a word of the text; choose one of: hello, bert"),
                            ({"target": "ert"}, "'ert' is not a word of the text"),  # inside a word
                            ({"target": "ber"}, "'ber' is not a word of the text"),  # a word's start only
                            ({"target": "bert mo"}, "'bert mo' is not a word of the text"),
                            ({"target": " "}, "target is empty; name a word of the text"),
                            ({"target": 40}, "Word 40 is out of range; the text has words 0 to"),
                            ({"pair": "a second text"}, "is a tagger of one text; leave pair out")):
        with pytest.raises(BertNbError, match=message):
            explain(tagger, text, method="occlusion", **kwargs)
    panel = ExplainPanel(tagger, text=text)
    assert panel.result.spanned == "bert" and "mat" in panel.target.options and panel.target.description == "Word"
    panel.target.value = "mat"
    assert panel.result.spanned == "mat" and panel.result.target == "B-LOC"
    panel.text.value = "bert ran fast"  # a new text: the word chosen for the last one is not in it
    panel.button.click()
    assert panel.result.spanned == "bert" and "#d32f2f" not in panel.status.value and "ran" in panel.target.options
    shell.user_ns["tagger_here"] = tagger
    shown = shell.run_cell(f"%%bert explain --model tagger_here --target mat --method occlusion\n{text}")
    assert shown.spanned == "mat"


def test_faithfulness_of_a_taggers_tags_never_deletes_the_word(tagger):
    from bert_nb.explanations import _marked, _without, explain, faithfulness

    texts = ["hello bert model, the cat sat on the mat", "the dog sat on a mat", "it was the world and bert ran"]
    f = faithfulness(tagger, texts, methods=("occlusion", "ig"), fractions=(0.5, 1.0), steps=8)
    assert f.target == "tag of each text's first entity" and set(f.curves.method) == {"occlusion", "integrated_gradients",
                                                                                     "random"}
    kept = f.curves[f.curves.fraction == 1.0]  # every other word deleted (one text per method), or all kept
    np.testing.assert_allclose(kept.comprehensiveness, kept.comprehensiveness.iloc[0], atol=1e-6)
    np.testing.assert_allclose(kept.sufficiency, 0, atol=1e-5)  # all words kept, in order: the same pieces
    # by hand for the first text: the word alone, read where it now stands
    why = explain(tagger, texts[0], method="occlusion")
    alone, at = _marked(lambda t: _without(t, why.words(), [0, 2, 3, 4, 5, 6, 7, 8, 9]), texts[0], why.span)
    assert (alone, at) == ("bert", 0)
    moved, at = _marked(lambda t: _without(t, why.words(), [0]), texts[0], why.span)
    assert moved.startswith("bert model") and at == 0


def test_explain_a_word_of_a_later_window_or_of_any_tags(tagger, tmp_path):
    import transformers

    from bert_nb.explanations import explain
    from tests.conftest import build_tiny_bert

    long = "hello bert model, the cat sat on the mat and the dog ran fast on a good world"  # past 16 pieces
    world = next(w for w in tag(tagger, long).words if w[0] == "world")  # (word, start, end, tag, probability)
    why = explain(tagger, long, target="world", method="occlusion")  # in the window tag read it in
    assert why.spanned == "world" and why.target == world[3] and "overlapping windows" in why.note
    assert why.value == pytest.approx(world[4], rel=1e-5) and len(why.tokens) <= 16
    assert "world" in why.words().word.tolist() and "hello" not in why.words().word.tolist()
    with pytest.raises(BertNbError, match="The tagger reads no word in this text"):
        explain(tagger, "\u200b", method="occlusion")  # a zero-width space: dropped by the tokenizer (an IndexError)
    assert tag(tagger, "\u200b").spans == () and tag(tagger, "\u200b").words == ()
    folder = build_tiny_bert(tmp_path / "pos", head="base")  # a part-of-speech tagger: tags that are not BIO
    config = transformers.BertConfig.from_pretrained(folder, id2label={0: "NOUN", 1: "VERB"},
                                                     label2id={"NOUN": 0, "VERB": 1})
    transformers.BertForTokenClassification.from_pretrained(folder, config=config).save_pretrained(folder)
    pos = bert_nb.load(folder, device="cpu")
    why = explain(pos, "the cat sat", target="sat", method="occlusion")
    assert why.kind == "tag" and why.spanned == "sat" and why.target in ("NOUN", "VERB")
    with pytest.raises(BertNbError, match="not BIO tags"):
        tag(pos, "the cat sat")  # entities need BIO tags; explaining a tag does not


def test_a_text_longer_than_the_tagger_is_read_in_windows(tagger, shell):
    from bert_nb.plots.tagging import entities_html

    long = "hello bert model, the cat sat on the mat and the dog ran fast on a good world"  # past 16 pieces
    found = tag(tagger, long)
    assert found.windows > 1 and "read in" in found.note and "overlapping windows" in found.note
    words = [w for w, *_ in found.words]
    assert words == [w for w, _ in tagger.tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(long)]  # once each
    assert all(long[s:e] == w for w, s, e, _, _ in found.words)
    assert ("world", "LOC") in [(e, k) for e, k, *_ in found.spans]  # past the first window: it was cut before
    assert found.to_frame().attrs["note"] == found.note and found.note in found.to_text()
    cut = tag(tagger, long, truncate=True)
    assert cut.windows == 1 and "world" not in [e for e, *_ in cut.spans] and "pieces dropped" in cut.note
    assert cut.cut > 0 and f"({cut.cut} pieces dropped" in cut.note and found.cut == 0
    assert words[:len(cut.words)] == [w for w, *_ in cut.words]
    # a word tagged in the first window: as the first window's text alone tags it (the same pieces)
    first = tagger.tokenizer(long, truncation=True, max_length=16, return_offsets_mapping=True)
    prefix = long[:max(e for _, e in first["offset_mapping"])]
    alone = tag(tagger, prefix).words
    assert [w[:4] for w in found.words[:3]] == [w[:4] for w in alone[:3]]
    np.testing.assert_allclose([w[4] for w in found.words[:3]], [w[4] for w in alone[:3]], rtol=1e-5)
    assert tag(tagger, "hello bert model").note == "" and tag(tagger, "hello bert model").windows == 1
    with pytest.raises(BertNbError, match="stride is the number of pieces consecutive windows share, from 0 to 13"):
        tag(tagger, long, stride=14)
    assert tag(tagger, long, stride=10).windows > found.windows
    frame = tagger.predict(["hello bert model", long])
    assert frame.attrs["note"] == "1 of 2 texts read in overlapping windows" and "world" in frame.entity.tolist()
    assert "cut at 16 pieces" in tagger.predict([long], truncate=True).attrs["note"]
    assert "note: The text is longer than 16 pieces" in entities_html(found)
    shell.user_ns["tagger_long"] = tagger
    shown = shell.run_cell(f"%%bert ner --model tagger_long --truncate\n{long}")
    assert "pieces dropped" in shown.note
    assert shell.run_cell(f"%%bert ner --model tagger_long --stride 10\n{long}").windows > found.windows


def test_tagging_many_texts_shows_progress(tagger, capsys):
    tagger.predict(["hello bert model"] * 3)
    assert "tagging" not in capsys.readouterr().err
    frame = tagger.predict(["hello bert model"] * 1024)
    assert "tagging" in capsys.readouterr().err and frame.entity.tolist()[:2] == ["bert model", "bert model"]
    tag(tagger, "hello bert model", progress=True)
    assert "tagging: 100%" in capsys.readouterr().err


def test_compare_taggers_entity_f1_agreement_and_speed(tagger, tagged, shell):
    from bert_nb.compress import compare, quantize
    from bert_nb.plots.compress import compress_html, pareto_scatter
    from bert_nb.tasks.tagging import entity_scores, tag_words

    small = quantize(tagger)
    test = tagged.head(16)
    result = compare({"fp32": tagger, "int8": small}, test)  # tokens and tags: a tagger's columns by default
    table = result.to_frame()
    assert result.metric == "entity_f1" and list(table.model) == ["fp32", "int8"]
    assert {"entity_f1", "accuracy", "agreement", "latency_ms", "throughput", "size_mb"} <= set(table.columns)
    assert table.size_mb[1] < table.size_mb[0] and table.agreement[0] == 1.0
    guess = tag_words(tagger, test.tokens.tolist())
    expected = entity_scores(test.tags.tolist(), guess)  # the same tags as tag() gives each sentence, as words
    assert table.entity_f1[0] == pytest.approx(expected["f1"]) and table.accuracy[0] == pytest.approx(expected["accuracy"])
    assert [t for _, _, _, t, _ in tag(tagger, "hello bert model").words] == tag_words(tagger, [["hello", "bert", "model"]])[0]
    assert result.predictions.columns.tolist() == ["text", "tags", "fp32", "int8"]
    assert result.predictions.fp32[0] == " ".join(guess[0]) and "entity F1" in result.to_text()
    assert "entity F1" in pareto_scatter(result).layout.yaxis.title.text and "entity_f1" in compress_html(result)
    shell.user_ns.update(tagger_a=tagger, tagger_b=small, test_tags=test)
    assert shell.run_cell("%bert compare --models tagger_a,tagger_b --data test_tags").metric == "entity_f1"
    with pytest.raises(BertNbError, match="does not know"):
        compare({"a": tagger, "b": small}, pd.DataFrame({"tokens": [["bert"]], "tags": [["B-ORG"]]}))
    with pytest.raises(BertNbError, match="is no tagger"):
        compare({"a": tagger, "b": bert_nb.load("default")}, test)
    with pytest.raises(BertNbError, match="The data has no column 'tokens'; its columns are words, tags"):
        compare({"a": tagger, "b": small}, test.rename(columns={"tokens": "words"}))
    assert compare({"a": tagger}, test.rename(columns={"tokens": "words"}), text="words").table.entity_f1[0] == \
        table.entity_f1[0]
