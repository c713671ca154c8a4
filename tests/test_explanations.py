"""explain and faithfulness: parity with Captum and the model, completeness, each method, bad input, views."""

import numpy as np
import pytest
import torch
import transformers

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.explanations import METHODS, Explanation, Explanations, explain, faithfulness

MASKED = "Paris is the [MASK] of France."
HOSTILE = '<script>alert("x")</script> & "quoted"'


@pytest.fixture(scope="module")
def tiny_clf(tmp_path_factory, tiny_base_path):
    """A randomly initialised 3-label classifier on the tiny vocabulary, loaded as a plain engine."""
    folder = tmp_path_factory.mktemp("tiny-seq")
    torch.manual_seed(0)
    config = transformers.AutoConfig.from_pretrained(tiny_base_path, num_labels=3,
                                                     id2label={0: "neg", 1: "neutral", 2: "pos"},
                                                     label2id={"neg": 0, "neutral": 1, "pos": 2})
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_base_path).save_pretrained(folder)
    return bert_nb.load(str(folder), device="cpu")


def _captum_lig(engine, model, enc, forward, steps=50):
    """A direct Captum call: LayerIntegratedGradients on the word-embedding layer, [PAD] baseline."""
    from captum.attr import LayerIntegratedGradients

    ids = enc["input_ids"]
    special = torch.tensor(engine.tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)).bool()
    base = ids.clone()
    base[0, ~special] = engine.tokenizer.pad_token_id
    lig = LayerIntegratedGradients(forward, engine.encoder.embeddings.word_embeddings)
    attr = lig.attribute(ids, baselines=base, n_steps=steps)
    return attr[0].sum(-1).detach().numpy()


def test_integrated_gradients_match_captum_and_sum_to_the_change(mini_mlm):
    e = explain(mini_mlm, MASKED)
    assert isinstance(e, Explanation) and e.method == "integrated_gradients" and e.kind == "mask"
    enc = mini_mlm.tokenizer(MASKED, return_tensors="pt")
    position = int((enc["input_ids"][0] == mini_mlm.tokenizer.mask_token_id).nonzero()[0, 0])
    token = mini_mlm.tokenizer.convert_tokens_to_ids(e.target)

    def forward(ids):
        mask = enc["attention_mask"].expand(ids.shape[0], -1)
        return mini_mlm.model(input_ids=ids, attention_mask=mask).logits[:, position].softmax(-1)[:, token]

    theirs = _captum_lig(mini_mlm, mini_mlm.model, enc, forward)
    np.testing.assert_allclose(e.scores, theirs, atol=1e-4 * np.abs(theirs).max())
    assert abs(e.scores.sum() - (e.value - e.baseline_value)) <= abs(e.delta) + 1e-6
    assert abs(e.delta) < 1e-3


def test_the_explained_values_are_the_models_own(mini_mlm, minilm, tiny_clf):
    top = bert_nb.fill_mask(mini_mlm, MASKED).masks[0][0]
    e = explain(mini_mlm, MASKED, method="occlusion")
    assert e.target == top.token_str and e.value == pytest.approx(top.score, rel=1e-4)
    pair = ("A man is playing a guitar.", "Someone is playing an instrument.")
    sim = bert_nb.similarity(minilm, [pair[0]], [pair[1]]).matrix[0][0]
    assert explain(minilm, pair[0], pair=pair[1], method="attention").value == pytest.approx(sim, abs=1e-5)
    enc = tiny_clf.tokenizer("the cat sat", return_tensors="pt")
    probs = tiny_clf.model(**enc).logits.softmax(-1)[0].detach()
    c = explain(tiny_clf, "the cat sat", target="neutral")
    assert c.kind == "label" and c.target == "neutral" and c.value == pytest.approx(float(probs[1]), rel=1e-5)
    assert explain(tiny_clf, "the cat sat", target=2).target == "pos"
    assert explain(tiny_clf, "the cat sat").target == ["neg", "neutral", "pos"][int(probs.argmax())]


def test_gradient_x_input_is_the_gradient_times_the_embeddings(tiny_clf):
    e = explain(tiny_clf, "the dog ran fast", target="pos", method="gxi")
    enc = tiny_clf.tokenizer("the dog ran fast", return_tensors="pt")
    emb = tiny_clf.encoder.embeddings.word_embeddings(enc["input_ids"]).detach().requires_grad_()
    p = tiny_clf.model(inputs_embeds=emb, attention_mask=enc["attention_mask"],
                       token_type_ids=enc["token_type_ids"]).logits.softmax(-1)[0, 2]
    (grad,) = torch.autograd.grad(p, emb)
    np.testing.assert_allclose(e.scores, (grad * emb).sum(-1)[0].detach().numpy(), atol=1e-6)


def test_occlusion_is_the_drop_when_a_word_becomes_mask(mini_mlm):
    text = "The unbelievably old [MASK] sat on the mat."
    e = explain(mini_mlm, text, method="occlusion")
    words = e.words()
    assert "unbelievably" in set(words.word)  # several pieces, one word
    tok = mini_mlm.tokenizer
    enc = tok(text, return_tensors="pt")
    word_ids = enc.word_ids(0)
    w = list(words.word).index("unbelievably")
    ids = enc["input_ids"].clone()
    ids[0, [i for i, x in enumerate(word_ids) if x == w]] = tok.mask_token_id
    position = int((enc["input_ids"][0] == tok.mask_token_id).nonzero()[0, 0])
    token = tok.convert_tokens_to_ids(e.target)
    with torch.no_grad():
        p = mini_mlm.model(input_ids=ids, attention_mask=enc["attention_mask"]).logits[0, position].softmax(-1)[token]
    assert words.score.iloc[w] == pytest.approx(e.value - float(p), abs=1e-6)
    assert e.scores[[i for i, x in enumerate(word_ids) if x is None]].tolist() == [0.0, 0.0]


def test_attention_and_rollout(minilm, mini_mlm):
    text = "The animal didn't cross the street because it was too tired."
    att = bert_nb.attention(mini_mlm, "Paris is the [MASK] of France.")
    a = explain(mini_mlm, MASKED, method="attention")
    np.testing.assert_allclose(a.scores, att.weights[-1].mean(0)[0], atol=1e-6)
    r = explain(mini_mlm, MASKED, method="rollout")
    assert r.method == "attention_rollout" and r.scores.sum() == pytest.approx(1.0, abs=1e-5)
    w = torch.tensor(att.weights)  # by hand: 0.5 A + 0.5 I per layer, rows renormalised, multiplied through
    T = w.shape[-1]
    roll = torch.eye(T)
    for layer in w:
        m = 0.5 * layer.mean(0) + 0.5 * torch.eye(T)
        roll = (m / m.sum(-1, keepdim=True)) @ roll
    np.testing.assert_allclose(r.scores, roll[0].numpy(), atol=1e-5)
    assert len(explain(minilm, text, pair="It was tired.", method="rollout").tokens) == 16 + 6


def test_all_methods_in_one_call_and_the_word_table(mini_mlm):
    every = explain(mini_mlm, MASKED, method="all")
    assert isinstance(every, Explanations) and every.methods == METHODS
    frame = every.to_frame()
    assert list(frame.columns) == ["word", "start", "end", *METHODS] and list(frame.word)[:2] == ["Paris", "is"]
    assert every["ig"] is every.items[0]
    with pytest.raises(KeyError):
        every["nope"]
    two = explain(mini_mlm, MASKED, method=["occlusion", "ig"])
    assert two.methods == ("occlusion", "integrated_gradients")


def test_words_follow_offsets_and_cjk_characters_are_words(minilm):
    e = explain(minilm, "東京 is big", pair="Tokyo is big", method="occlusion")
    words = e.words()
    assert list(words.word[words.segment == "A"]) == ["東", "京", "is", "big"]
    assert list(words.columns) == ["word", "start", "end", "score", "segment"]
    frame = e.to_frame()
    assert list(frame.columns) == ["piece", "segment", "start", "end", "score"] and frame.start.isna().sum() == 4
    np.testing.assert_allclose(words.score.sum(), e.scores.sum(), atol=1e-9)


def test_long_inputs_are_truncated_and_say_so(mini_mlm):
    e = explain(mini_mlm, "Paris is the [MASK] of France. " + "word " * 600, method="attention")
    assert len(e.tokens) == mini_mlm.max_length and "Truncated" in e.note and "Truncated" in e.to_text()


@pytest.mark.parametrize("call, message", [
    (lambda m, c, q: explain(c, "the cat", target="happy"), "not one of this classifier's labels; choose one of neg, neutral, pos"),
    (lambda m, c, q: explain(c, "the cat", target=7), "Label index 7 is out of range"),
    (lambda m, c, q: explain(m, MASKED, target="😀"), "not in this model's vocabulary"),
    (lambda m, c, q: explain(m, MASKED, target="hippopotamus"), "choose a one-piece word"),
    (lambda m, c, q: explain(m, "Paris is the capital.", ), "The text has no [MASK]"),
    (lambda m, c, q: explain(m, "The [MASK] of [MASK].", ), "explain one at a time"),
    (lambda m, c, q: explain(m, "   "), "The text is empty"),
    (lambda m, c, q: explain(c, ["the cat", "a dog"]), "explain takes one text (a string); got 2 in a list"),
    (lambda m, c, q: explain(m, MASKED, method="shap"), "Unknown method 'shap'"),
    (lambda m, c, q: explain(m, MASKED, method=3), "method is a name such as 'ig'"),
    (lambda m, c, q: explain(m, MASKED, steps=0), "steps must be a positive whole number"),
    (lambda m, c, q: explain(q, "a text"), "is neither a classifier, a tagger, a reader nor a masked-LM"),
    (lambda m, c, q: explain(q, "a text", target="x", pair="b"), "A similarity has no target"),
    (lambda m, c, q: explain(q, "a text", pair=""), "The pair is empty"),
])
def test_bad_input_says_what_to_do(mini_mlm, tiny_clf, minilm, call, message):
    with pytest.raises(BertNbError, match=None) as err:
        call(mini_mlm, tiny_clf, minilm)
    assert message in str(err.value)
    assert str(err.value).count(". ") <= 1  # one sentence


def test_quantized_engines_have_no_gradients():
    q = bert_nb.load("default", device="cpu", quantize="int8")
    with pytest.raises(BertNbError, match="int8 and has no gradients"):
        explain(q, "a", pair="b")
    assert explain(q, "a cat", pair="a dog", method="occlusion").kind == "similarity"


def test_faithfulness_has_a_random_baseline_and_consistent_extremes(tiny_clf):
    texts = ["the cat sat on the mat", "a dog ran fast and it purred", "hello world the model"]
    f = faithfulness(tiny_clf, texts, methods=("ig", "occlusion"), fractions=(0.5, 1.0), steps=8)
    curves = f.curves
    assert set(curves.method) == {"integrated_gradients", "occlusion", "random"} and set(curves.fraction) == {0.5, 1.0}
    whole = curves[curves.fraction == 1.0]  # every word deleted or every word kept: the same text for every method
    np.testing.assert_allclose(whole.comprehensiveness, whole.comprehensiveness.iloc[0], atol=1e-6)
    np.testing.assert_allclose(whole.sufficiency, 0, atol=1e-5)
    summary = f.to_frame()
    assert list(summary.columns) == ["method", "aopc_comprehensiveness", "aopc_sufficiency", "beats_random"]
    ig = curves[curves.method == "integrated_gradients"]
    assert summary.set_index("method").aopc_comprehensiveness["integrated_gradients"] == pytest.approx(ig.comprehensiveness.mean())
    assert not summary.set_index("method").beats_random["random"]
    assert "AOPC" in f.to_text() and f.best() in set(summary.method)
    again = faithfulness(tiny_clf, texts, methods=("ig", "occlusion"), fractions=(0.5, 1.0), steps=8)
    assert again.curves.equals(curves)  # seeded: the random order repeats


def test_faithfulness_on_a_masked_lm_never_deletes_the_mask(mini_mlm):
    f = faithfulness(mini_mlm, [MASKED, "The [MASK] sat on the mat and purred."], methods="occlusion", fractions=(1.0,))
    assert set(f.curves.method) == {"occlusion", "random"}  # one name, not its letters
    assert f.target == "top [MASK] filler"
    assert (f.curves.sufficiency.abs() < 1e-5).all()  # only the words kept = the whole text
    with pytest.raises(BertNbError, match="fractions must be shares"):
        faithfulness(mini_mlm, [MASKED], fractions=(0, 2))
    with pytest.raises(BertNbError, match="Give one or more non-empty texts to test on; got NoneType"):
        faithfulness(mini_mlm, None)  # a TypeError before


def test_views_escape_user_text_and_draw_the_scores(mini_mlm, minilm):
    from bert_nb.plots import deletion_curves, describe, explanation_bar, methods_heatmap
    from bert_nb.plots.explanations import explanation_html

    e = explain(minilm, HOSTILE, pair="a <b>bold</b> pair", method="occlusion")
    page = explanation_html(e)
    import re

    shown = re.sub(r"<[^>]+>", "", page)  # the text a reader sees, still escaped
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in shown
    assert "a &lt;b&gt;bold&lt;/b&gt; pair" in shown
    assert "raises" in page and "lowers" in page
    bar = explanation_bar(e, top_k=3)
    assert bar.data[0].type == "bar" and len(bar.data[0].y) == 3 and "occlusion" in bar.layout.title.text
    assert "<script" not in "".join(bar.data[0].y)
    every = explain(mini_mlm, MASKED, method=["ig", "attention"])
    heat = methods_heatmap(every)
    assert np.shape(heat.data[0].z) == (2, 7) and np.abs(np.array(heat.data[0].z)).max() == pytest.approx(1.0)
    f = faithfulness(mini_mlm, [MASKED], methods=("attention",), fractions=(0.2, 0.5))
    curves = deletion_curves(f)
    assert [t.name for t in curves.data] == ["attention", "attention", "random", "random"]
    assert "2 x scatter 'random'" in describe(curves) or "scatter 'random'" in describe(curves)


def test_magic_explains_each_line(shell, mini_mlm):
    shell.run_cell("%bert load default-mlm --device cpu")
    r = shell.run_cell(f"%%bert explain --method ig,occlusion -o why\n{MASKED}")
    assert isinstance(r, Explanations) and shell.user_ns["why"] is r
    one = shell.run_cell(f"%%bert explain --target france --steps 10\n{MASKED}")
    assert one.target == "france" and one.method == "integrated_gradients"
    sim = shell.run_cell("%%bert explain --method occlusion\nA cat sat. ||| A dog sat.")
    assert sim.kind == "similarity"
    assert "Unknown method 'x'" in shell.usage_error(f"%%bert explain --method x\n{MASKED}")
    assert "The text has no [MASK]" in shell.usage_error("%%bert explain\nno mask here")
    assert "No variable 'no_such_clf'" in shell.usage_error(f"%%bert explain --model no_such_clf\n{MASKED}")
    bundle = shell.display_formatter.format(one)[0]
    assert "application/vnd.plotly.v1+json" in bundle and "bert-nb-explain" in bundle["text/html"]


def test_panel_follows_method_and_target(mini_mlm, tiny_clf, minilm):
    from bert_nb.panels import ExplainPanel, panel

    p = ExplainPanel(mini_mlm)
    assert p.result.kind == "mask" and "city" in p.target.options
    p.method.value = "occlusion"
    assert p.result.method == "occlusion" and p.figure.data[0].type == "bar"
    p.target.value = "france"
    assert p.result.target == "france" and "france" in p.view.value
    p.text.value = "no mask"
    p.button.click()
    assert "no [MASK]" in p.status.value and p.result.target == "france"  # the last result stays
    c = ExplainPanel(tiny_clf)
    assert list(c.target.options)[1:] == ["neg", "neutral", "pos"]
    c.target.value = "pos"
    assert c.result.target == "pos"
    assert ExplainPanel.for_engine(minilm) is None
    with pytest.raises(BertNbError, match="explain panel does not work with 'default'"):
        panel("explain", minilm)


def test_other_layouts_without_segments(tmp_path, tiny_base_path):
    """DistilBERT has no token_type_ids and names its parts differently: every method still runs."""
    cfg = transformers.DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=2, hidden_dim=37,
                                        max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.DistilBertForMaskedLM(cfg).save_pretrained(tmp_path / "distil")
    tok = transformers.AutoTokenizer.from_pretrained(tiny_base_path)
    tok.save_pretrained(tmp_path / "distil")
    engine = bert_nb.load(str(tmp_path / "distil"), device="cpu")
    every = explain(engine, "the cat sat on the [MASK]", method="all")
    ig = every["ig"]
    assert every.methods == METHODS and abs(ig.scores.sum() - (ig.value - ig.baseline_value)) <= abs(ig.delta) + 1e-6


def test_a_long_text_is_explained_one_window_at_a_time(tiny_clf, shell):
    long = " ".join(["the cat sat on the mat and the dog ran"] * 60)
    first = bert_nb.explain(tiny_clf, long, method="gxi")
    later = bert_nb.explain(tiny_clf, long, method="gxi", window=1)
    assert "window 0 is shown (characters 0-" in first.note and "window 1 is shown" in later.note
    assert first.words().start.min() == 0 and later.words().start.min() > 0  # the second window's own words
    with pytest.raises(BertNbError, match="window is a number from 0 to"):
        bert_nb.explain(tiny_clf, long, window=99)
    shell.user_ns["long_clf"] = tiny_clf
    out = shell.run_cell(f"%%bert explain --model long_clf --method gxi --window 1\n{long}")
    assert "window 1 is shown" in out.note
    with pytest.raises(BertNbError, match="window= picks the part of a long text a classifier reads"):
        bert_nb.explain(tiny_clf, "the cat", pair="the dog", window=0)


def test_the_explain_panel_picks_a_window_of_a_long_text(tiny_clf):
    from bert_nb.panels import ExplainPanel

    long = " ".join(["the cat sat on the mat and the dog ran"] * 60)
    panel = ExplainPanel(tiny_clf, text=long, method="gradient_x_input")
    assert panel.window.layout.display is None and panel.window.max >= 1
    panel.window.value = 1
    assert "window 1 is shown" in panel.result.note and "window 1 is shown" in panel.status.value
    panel.text.value = "the cat sat"
    panel.button.click()
    assert panel.window.layout.display == "none" and panel.window.value == 0
