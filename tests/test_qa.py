"""Question answering: data checks, windows, SQuAD scores, a tiny reader end to end, hub readers, views, magics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.tasks.qa import Answers, QAModel, _encode, _positions, _Windows, answer, check_squad, squad_scores
from bert_nb.training import TrainingState, finetune
from tests.test_training import _StopAt, run_exported, tiny_vocab_engine  # noqa: F401  (a fixture)

FILLER = "the cat sat on mat dog ran fast it purred and is was play".split()


def _records(n: int, seed: int = 0, length: int = 9) -> list[dict]:
    """Contexts of filler words with one 'bert', the answer to 'hello model', and a 'world' beside it.

    (A 2-layer model this small learns to find a word in a few epochs, not yet to tell two
    questions apart: one question keeps the test about the pipeline.)
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice([w for w in FILLER if w not in ("mat",)], size=length))
        at_person, at_place = rng.choice(length, size=2, replace=False)
        words[at_person], words[at_place] = "bert", "world"
        context = " ".join(words)
        asked, at = "bert", at_person
        start = len(" ".join(words[:at])) + (1 if at else 0)
        rows.append({"id": str(i), "context": context, "question": "hello model",
                     "answers": {"text": [asked], "answer_start": [start]}})
    return rows


@pytest.fixture(scope="module")
def squad():
    return pd.DataFrame(_records(64))


@pytest.fixture(scope="module")
def reader(tiny_vocab_engine, squad):
    return finetune(tiny_vocab_engine, squad, task="qa", epochs=10, learning_rate=5e-3, batch_size=8, max_length=24,
                    stride=4)


def test_records_are_right():
    for row in _records(20):
        start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
        assert row["context"][start:start + len(text)] == text


@pytest.mark.parametrize("rows, message", [
    ([{"context": "Paris is big.", "question": "Where?", "answers": {"text": ["Paris"], "answer_start": [3]}}],
     "is not in its context at character 3 (it occurs at 0)"),
    ([{"context": "Paris is big.", "question": "Where?", "answers": {"text": ["Rome"], "answer_start": [0]}}],
     "does not occur in the context at all"),
    ([{"context": "Paris is big.", "question": "Where?", "answers": {"text": [], "answer_start": []}}],
     "has no answer"),
    ([{"context": "  ", "question": "Where?", "answer": "x", "answer_start": 0}], "has no context"),
    ([{"context": "Paris", "question": "", "answer": "Paris", "answer_start": 0}], "has no question"),
    ([{"context": "Paris", "question": "Where?", "answer": "Paris", "answer_start": "first"}],
     "answer_start must be the character offset"),
    ([{"context": "Paris", "question": "Where?"}], "no column 'answers'"),
    (["Where is Paris?"], "SQuAD records"),
])
def test_bad_questions_are_named_in_one_sentence(rows, message):
    with pytest.raises(BertNbError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_squad(rows)


def test_squad_json_and_flat_columns(tmp_path):
    nested = {"data": [{"title": "t", "paragraphs": [{"context": "Angela Merkel visited Paris.", "qas": [
        {"id": "q1", "question": "Who?", "answers": [{"text": "Angela Merkel", "answer_start": 0}]},
        {"id": "q2", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 22}]}]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(nested))
    frame = check_squad(str(path))
    assert list(frame.id) == ["q1", "q2"] and list(frame.answer) == ["Angela Merkel", "Paris"]
    flat = check_squad(pd.DataFrame({"context": ["Angela Merkel visited Paris."], "question": ["Where?"],
                                     "answer": ["Paris"], "answer_start": [22]}))
    assert flat.answer_start[0] == 22
    with pytest.raises(BertNbError, match="No file"):
        check_squad(str(tmp_path / "missing.json"))
    frame.assign(answers=[{"text": [a], "answer_start": [s]} for a, s in zip(frame.answer, frame.answer_start)]) \
        .drop(columns=["answer", "answer_start"]).to_csv(tmp_path / "q.csv", index=False)  # answers as their text
    back = pd.read_csv(tmp_path / "q.csv")
    assert back.answers[0].startswith("{'text'")  # a traceback in check_squad before
    for source in (back, str(tmp_path / "q.csv")):
        pd.testing.assert_frame_equal(check_squad(source), frame)
    with pytest.raises(BertNbError, match="answers must be SQuAD's .*not 'Paris'"):
        check_squad(back.assign(answers="Paris"))


def test_long_contexts_are_windows_that_each_hold_the_answer_or_point_at_cls(tiny_vocab_engine):
    rows = check_squad(_records(6, seed=3, length=30))
    windows = _Windows(tiny_vocab_engine.tokenizer, rows, max_length=20, stride=5)
    assert len(windows) > len(rows)  # every 30-word context takes several 20-piece windows
    held = 0
    for i in range(len(windows)):
        item, offsets, row = windows[i], windows.offsets[i], windows.example[i]
        assert len(item["input_ids"]) <= 20
        s, e = item["start_positions"], item["end_positions"]
        if (s, e) != (0, 0):
            held += 1
            context = rows.context[row]
            assert context[offsets[s][0]:offsets[e][1]] == rows.answer[row]
    assert held >= len(rows)  # each answer is inside at least one window
    assert _positions([None, (0, 3), (4, 7), None], 4, 7) == (2, 2)
    assert _positions([None, (0, 3), (4, 7), None], 8, 10) == (0, 0)


def test_squad_scores_normalise_like_squad():
    scores = squad_scores(["The Cat!", "Angela", "Paris"], ["cat", "Angela Merkel", "Rome"])
    assert scores["exact"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 2 * 1 * 0.5 / 1.5 + 0) / 3)


def test_a_tiny_reader_learns_and_answers_with_offsets(reader, tiny_vocab_engine):
    assert isinstance(reader, QAModel) and reader.info().heads == ("qa",)
    last = reader.metrics.iloc[-1]
    assert last.exact > 0.8 and last.f1 > 0.8 and reader.metrics.loss.iloc[-1] < reader.metrics.loss.iloc[0]
    assert reader.metric_columns() == ["epoch", "loss", "exact", "f1"]
    context = "the cat sat on the mat and bert ran fast in the world"
    who = answer(reader, "hello model", context)
    assert isinstance(who, Answers) and who.best == "bert"
    assert all(context[s:e] == a for a, s, e, _ in who.spans) and len(who.spans) == 3
    assert who.spans[0][3] > who.spans[1][3] and all(0 < sc <= 1 for *_, sc in who.spans)
    assert len(answer(reader, "hello model", context, top_k=1).spans) == 1
    assert sum(p[3] for p in who.pieces) == pytest.approx(1.0) and who.windows == 1
    long = " ".join(["the cat sat on the mat"] * 5 + ["and bert ran"])  # past one 24-piece window
    far = answer(reader, "hello model", long)
    assert far.windows > 1 and far.best == "bert" and long[far.spans[0][1]:far.spans[0][2]] == "bert"
    batch = answer(reader, ["hello model ||| bert ran fast", "hello model ||| the world and a bert"])
    assert [a.best for a in batch] == ["bert", "bert"] and batch.items[1].spans[0][1] == 16
    table = pd.DataFrame({"question": ["hello model"] * 2, "context": ["bert ran fast", "the world and a bert"]})
    assert [a.spans for a in answer(reader, table)] == [a.spans for a in batch]  # it said "Line 0 has no context"
    with pytest.raises(BertNbError, match="The frame has no column 'context'"):
        answer(reader, table.rename(columns={"context": "passage"}))
    frame = reader.predict(["hello model", "hello model"], "the world and bert")
    assert list(frame.columns) == ["question", "answer", "start", "end", "score"] and list(frame.answer) == ["bert",
                                                                                                             "bert"]
    assert "Q: hello model" in who.to_text() and "'bert'" in who.to_text()
    with pytest.raises(BertNbError, match="no context"):
        answer(reader, "hello model")
    with pytest.raises(BertNbError, match="2 questions but 3 contexts"):
        answer(reader, ["a", "b"], ["c", "d", "e"])
    with pytest.raises(BertNbError, match="no question-answering head"):
        answer(tiny_vocab_engine, "hello model", context)


def test_a_question_longer_than_the_window_says_so(tiny_vocab_engine, squad):
    with pytest.raises(BertNbError, match="leaves no room for the context"):
        finetune(tiny_vocab_engine, squad.assign(question="hello " * 30), task="qa", max_length=24)
    with pytest.raises(BertNbError, match="stride .* must be smaller"):
        finetune(tiny_vocab_engine, squad, task="qa", max_length=24, stride=20)


def test_save_reload_hub_reader_cache_stop_and_script(reader, tiny_vocab_engine, squad, tmp_path):
    back = bert_nb.load(reader.save(tmp_path / "reader"), device="cpu")
    assert isinstance(back, QAModel) and back.training_config["stride"] == 4
    pd.testing.assert_frame_equal(back.predict("hello model", "the cat and bert"),
                                  reader.predict("hello model", "the cat and bert"))
    reader.model.save_pretrained(tmp_path / "hub")  # a reader from elsewhere: no bert_nb files, a QA head
    reader.tokenizer.save_pretrained(tmp_path / "hub")
    hub = bert_nb.load(str(tmp_path / "hub"), device="cpu")
    assert not isinstance(hub, QAModel) and hub.heads == ("qa",)
    assert answer(hub, "hello model", "the cat and bert").best == "bert"
    settings = dict(task="qa", epochs=1, learning_rate=5e-3, batch_size=8, max_length=24, cache=tmp_path / "kept")
    first = finetune(tiny_vocab_engine, squad, **settings)
    again = finetune(tiny_vocab_engine, squad, **settings)
    assert isinstance(again, QAModel) and again.metrics.equals(first.metrics)
    state = TrainingState()
    stopped = finetune(tiny_vocab_engine, squad, task="qa", epochs=3, batch_size=4, max_length=24, state=state,
                       callbacks=[_StopAt(2, "button", state)])
    assert stopped.stopped_early["step"] in (2, 3)
    assert list(stopped.predict("hello model", "bert ran").columns)[:2] == ["question", "answer"]


def test_the_task_follows_the_data(tiny_vocab_engine, squad):
    got = finetune(tiny_vocab_engine, squad, epochs=0.2, batch_size=8, max_length=24)  # question + context columns
    assert isinstance(got, QAModel) and got.training_config["stride"] == 6  # a quarter of the window


def test_views_escape_user_text(reader):
    from bert_nb.plots import answers_html, describe, start_end_bars

    found = answer(reader, "<i>hello</i> model", "<b>bert</b> sat on the mat")
    html = answers_html(found)
    assert "&lt;" in html and "</b> sat" not in html and "<i>" not in html
    assert html.count("<mark") >= 1 and "Q: &lt;i&gt;hello" in html
    text = describe(start_end_bars(found))
    assert "bar 'start'" in text and "bar 'end'" in text


def test_magics(shell, tiny_vocab_engine, squad, reader):
    shell.push({"squad": squad, "reader": reader, "plain": tiny_vocab_engine})
    found = shell.run_cell("%%bert answer --model reader --top-k 2 -o said\n"
                           "hello model ||| the cat and bert\nhello model ||| bert is it")
    assert [a.best for a in found] == ["bert", "bert"] and shell.user_ns["said"] is found
    assert all(len(a.spans) == 2 for a in found)
    one = shell.run_cell("%%bert qa --model reader\nhello model ||| bert ran")
    bundle = shell.display_formatter.format(one)[0]
    assert "bert-nb-qa" in bundle["text/html"] and "Q: hello model" in bundle["text/plain"]
    assert "application/vnd.plotly.v1+json" in bundle
    assert "is not `question ||| context`" in shell.usage_error("%%bert answer --model reader\njust a question")
    assert "no question-answering head" in shell.usage_error("%%bert answer --model plain\nhello ||| world")
    assert "pass it with --data VAR" in shell.usage_error("%%bert finetune --task qa\nhello\tO")
    shell.run_cell("%bert use plain")
    trained = shell.run_cell("%bert finetune --task qa --data squad --epochs 0.5 --batch-size 8 --max-length 24 "
                             "--stride 4 -o quick")
    assert isinstance(trained, QAModel) and shell.user_ns["quick"] is trained


def test_conll_questions_are_answerable():
    test = bert_nb.datasets.load("conll_qa", split="test")
    assert len(test) > 500 and set(test.type) == {"PER", "ORG", "LOC", "MISC"}
    checked = check_squad(test)  # every answer sits at its answer_start
    assert len(checked) == len(test) and checked.id.is_unique
    from bert_nb.datasets import QUESTIONS

    assert set(test.question) == set(QUESTIONS.values())
    enc, example, offsets = _encode(bert_nb.load("default", device="cpu").tokenizer, test.question[:50],
                                    test.context[:50], 64, 16)
    assert len(example) > 50  # some passages need more than one 64-piece window


def test_export_script_runs(reader, tmp_path):
    assert run_exported(reader, tmp_path, "exact", processes=2).heads == ("qa",)


def test_what_is_no_question_is_named(reader):
    for nothing in (None, 5):  # TypeErrors before
        with pytest.raises(BertNbError, match=r"Give a question \(or a list of them\) and its context; got"):
            answer(reader, nothing, "bert ran fast")
        with pytest.raises(BertNbError, match=r"Give a question \(or a list of them\) and its context; got"):
            reader.predict(nothing, "bert ran fast")
    with pytest.raises(BertNbError, match="batch_size must be a whole number of at least 1; got 0"):
        answer(reader, "hello model", "bert ran fast", batch_size=0)


def test_explain_says_which_words_made_the_answer(reader, shell):
    from bert_nb.explanations import explain
    from bert_nb.panels import ExplainPanel
    from bert_nb.plots.explanations import explanation_html

    context = "the cat sat on the mat and bert ran fast in the world"
    best = answer(reader, "hello model", context).spans[0]  # (answer, start, end, score)
    why = explain(reader, "hello model", pair=context, steps=32)  # its best answer
    assert why.kind == "answer" and why.target == best[0] == why.spanned and why.span == (1, best[1], best[2])
    assert why.value == pytest.approx(best[3], rel=1e-5)  # answer's own score: P(start) x P(end) in its window
    assert why.scores.sum() == pytest.approx(why.value - why.baseline_value, abs=abs(why.delta) + 1e-4)
    assert set(why.segment) == {0, 1} and why.words().segment.tolist().count("A") == 2  # question A, context B
    assert f"for P(answer = '{best[0]}') = " in why.to_text()
    assert explanation_html(why).count("underline") == 1
    world = explain(reader, "hello model", pair=context, target="World", method="occlusion")
    assert world.spanned == "world" and world.span == (1, context.index("world"), context.index("world") + 5)
    assert 0 < world.value < why.value
    phrase = explain(reader, "hello model", pair=context, target="THE WORLD", method="occlusion")  # whole words, any case
    assert phrase.spanned == "the world" and phrase.span[1] == context.index("the world")
    long = " ".join(["the cat sat on the mat"] * 5 + ["and bert ran"])  # past one 24-piece window
    far = answer(reader, "hello model", long).spans[0]
    spread = explain(reader, "hello model", pair=long, method="occlusion")
    assert spread.spanned == "bert" and "overlapping windows" in spread.note
    assert spread.value == pytest.approx(far[3], rel=1e-5)
    assert len(spread.tokens) <= 24 and len(spread.tokens) < len(reader.tokenizer("hello model", long)["input_ids"])
    for kwargs, message in (({}, "is a reader: give the context to answer from as pair="),
                            ({"pair": context, "target": "zebra"}, "'zebra' is not in the context"),
                            ({"pair": context, "target": ""}, "target is empty; name words of the context"),
                            ({"pair": context, "target": "wor"}, "'wor' is only part of a word of the context"),
                            ({"pair": context, "target": "at"}, "'at' is only part of a word of the context"),
                            ({"pair": "   "}, "The context is empty")):
        with pytest.raises(BertNbError, match=message):
            explain(reader, "hello model", method="occlusion", **kwargs)
    panel = ExplainPanel(reader, text="hello model", pair=context)
    assert panel.pair.description == "Context" and panel.pair.layout.display is None
    assert panel.result.spanned == best[0] and best[0] in panel.target.options
    panel.target.value = next(a for a in panel.target.options[1:] if a != best[0])
    assert panel.result.spanned == panel.target.value
    shell.user_ns["reader_here"] = reader
    shown = shell.run_cell(f"%%bert explain --model reader_here --method occlusion\nhello model ||| {context}")
    assert shown.spanned == best[0]
    faith = bert_nb.faithfulness(reader, [("hello model", context), "hello model ||| bert ran fast in the world"],
                                 methods=("occlusion", "attention"), fractions=(0.5, 1.0))
    assert faith.target == "best answer to each question" and faith.texts == 2  # refused before
    whole = faith.curves[faith.curves.fraction == 1.0]  # only the answer left, or every word kept
    np.testing.assert_allclose(whole.comprehensiveness, whole.comprehensiveness.iloc[0], atol=1e-6)
    np.testing.assert_allclose(whole.sufficiency, 0, atol=1e-5)
    with pytest.raises(BertNbError, match="Pair 0 is not two texts"):
        bert_nb.faithfulness(reader, ["hello model"])


def test_compare_readers_exact_f1_agreement_and_speed(reader, squad, shell):
    from bert_nb.compress import compare, quantize
    from bert_nb.panels.compress import ComparePanel
    from bert_nb.plots.compress import pareto_scatter
    from bert_nb.tasks.qa import squad_scores

    small = quantize(reader)
    test = squad.head(12)
    result = compare({"fp32": reader, "int8": small}, test)
    table = result.to_frame()
    assert result.metric == "f1" and list(table.model) == ["fp32", "int8"] and table.agreement[0] == 1.0
    assert {"exact", "f1", "agreement", "latency_ms", "throughput", "size_mb"} <= set(table.columns)
    best = reader.predict(list(test.question), list(test.context)).answer.tolist()  # what answer gives, question by question
    truth = [a["text"][0] for a in test.answers]
    assert result.predictions.fp32.tolist() == best and result.predictions.label.tolist() == truth
    assert table.f1[0] == pytest.approx(squad_scores(best, truth)["f1"]) and "exact match" in result.to_text()
    assert pareto_scatter(result).layout.yaxis.title.text == "SQuAD F1"
    shell.user_ns.update(reader_a=reader, reader_b=small, test_questions=test)
    assert shell.run_cell("%bert compare --models reader_a,reader_b --data test_questions").metric == "f1"
    with pytest.raises(BertNbError, match="'b' is no reader; compare readers with readers"):
        compare({"a": reader, "b": bert_nb.load("default")}, test)
    with pytest.raises(BertNbError, match="has no column 'question'"):
        compare({"a": reader, "b": small}, test.drop(columns="question"))
    offered = ComparePanel.for_engine(reader).candidates  # readers only (those loaded by other tests too)
    assert offered[reader.name] is reader and all("qa" in m.heads for m in offered.values())


def test_faithfulness_reads_every_variants_windows_in_batches_with_the_values_one_at_a_time(reader):
    from bert_nb.explanations import _answer_window, _answered

    context = "the model ran fast in the world . " * 4 + "bert ran fast in the world"
    answer = "bert"
    at = context.index(answer)
    variants = [("hello model", (context, at)), ("", (context[:at] + answer, at)), ("model", (context, -1)),
                ("hello", ("ran fast " + answer + " world", 9)), ("world model", (context, 0))]
    one_by_one = []
    for question, (text, where) in variants:
        best = _answer_window(reader, question or reader.tokenizer.unk_token, text, where, where + len(answer))[0] \
            if where >= 0 else None
        one_by_one.append(best[0] if best is not None else 0.0)
    batched = _answered(reader, variants, len(answer), batch_size=2)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    assert batched[2] == 0.0 and min(batched[0], batched[1], batched[3]) > 0
