"""Chinese: bert-base-chinese's tokenizer offline, [UNK] as unknown text, the Chinese datasets, a Chinese model by path."""

from __future__ import annotations

import pytest

import bert_nb
from bert_nb.errors import BertNbError

MIXED = "BERT的自注意力机制很强大，transformers也是。（全角）"


@pytest.fixture(scope="module")
def chinese():
    return bert_nb.load("chinese")


def test_one_piece_per_character_wordpiece_for_latin_words(chinese):
    toks = bert_nb.tokenize(chinese, MIXED)
    frame = toks.to_frame()
    cjk = [t for t in toks.tokens if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    assert cjk == [c for c in MIXED if "\u4e00" <= c <= "\u9fff"]  # every character its own piece, none lost
    assert "，" in toks.tokens and "（" in toks.tokens and "）" in toks.tokens  # full-width punctuation
    latin = [t for t in toks.tokens if t.strip("#").isascii() and t.strip("#").isalpha()]
    assert "".join(t.removeprefix("##") for t in latin) == "transformers" and len(latin) > 1  # WordPiece
    assert toks.tokens[1] == "[UNK]" and toks.unknown == 1  # cased, as bert-base-chinese: 'BERT' is not in it
    assert not frame.special[1] and frame.start[1] == 0 and frame.end[1] == 4  # unknown text, not a special token
    by_word = frame.dropna(subset=["word"]).groupby("word").token.apply(list)
    assert all(len(p) == 1 for p in by_word if p[0] in cjk)  # each character its own word
    assert [p for p in by_word if len(p) > 1] == [latin]  # the Latin word's pieces: one word
    assert len(chinese.tokenizer) == 21128 and chinese.info().architecture == "tokenizer only"
    assert "bert-base-chinese's tokenizer" in str(chinese.info())


def test_a_tokenizer_only_says_so_in_one_sentence(chinese):
    for call in (lambda: bert_nb.fill_mask(chinese, "北京是中国的[MASK]都。"), lambda: bert_nb.embed(chinese, ["你好"]),
                 lambda: bert_nb.attention(chinese, "你好")):
        with pytest.raises(BertNbError, match="is a tokenizer only .* load a model for this"):
            call()


def test_unknown_text_is_named_and_a_covering_tokenizer_suggested(minilm):
    toks = bert_nb.tokenize(minilm, "BERT 模型的自注意力机制很强大。")
    assert toks.unknown > (len(toks) - 2) / 2 and not any(s for s, t in zip(toks.special, toks.tokens) if t == "[UNK]")
    assert "are [UNK]" in toks.note and "bert_nb.load('chinese')" in toks.note
    assert "bert-base-multilingual" in bert_nb.tokenize(minilm, "ሰላም ለዓለም እንዴት ነህ").note
    assert bert_nb.tokenize(minilm, "A plain English sentence.").note is None
    from bert_nb.render import token_html

    assert "unknown: text the vocabulary does not cover" in token_html(toks)


def test_magic_and_panel(shell, chinese):
    got = shell.run_cell("%%bert tokenize --tokenizer chinese\n自注意力")
    assert got.tokens == ("[CLS]", "自", "注", "意", "力", "[SEP]")
    from bert_nb.panels import TokenizePanel

    panel = TokenizePanel(chinese, text="自注意力很强大。")
    assert panel.result is not None and "自" in panel.view.value


def test_chinese_reviews():
    reviews = bert_nb.datasets.load("chinese_reviews")
    assert set(reviews.label) == {"positive", "negative"} and reviews.text.is_unique
    assert reviews.text.str.len().max() <= 200 and reviews.truncated.any()
    train, test = (bert_nb.datasets.load("chinese_reviews", split=s) for s in ("train", "test"))
    assert len(train) + len(test) == len(reviews) and not set(train.text) & set(test.text)


def test_peoples_daily_names_as_character_tags():
    from bert_nb.tasks.tagging import check_tagged

    test = bert_nb.datasets.load("peoples_daily_ner", split="test")
    assert len(test) > 3000 and check_tagged(test.head(500)).shape[0] == 500  # BIO, one tag per character
    assert all("".join(t) == "".join(w) for t, w in zip(test.tokens.head(200), test.words.head(200)))
    everything = bert_nb.datasets.load("peoples_daily_ner")
    assert set(everything.split) == {"train", "valid", "test"} and len(everything) > 9 * len(test)
    first = next(r for r in everything.itertuples() if "江泽民" in "".join(r.tokens))
    at = "".join(first.tokens).index("江泽民")
    assert first.tags[at:at + 3] == ["B-PER", "I-PER", "I-PER"]  # surname and given name: one person
    kinds = {t[2:] for row in test.tags for t in row if t != "O"}
    assert kinds == {"PER", "LOC", "ORG"}


def test_a_chinese_model_loads_by_path(chinese, tmp_path):
    """What a user with a network gets from 'bert-base-chinese', offline: a tiny random model with its vocabulary."""
    import transformers

    config = transformers.BertConfig(vocab_size=len(chinese.tokenizer), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=37, max_position_embeddings=64)
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path)
    chinese.tokenizer.save_pretrained(tmp_path)
    model = bert_nb.load(str(tmp_path), device="cpu")
    assert model.heads == ("mlm",)
    assert bert_nb.tokenize(model, MIXED).ids == bert_nb.tokenize(chinese, MIXED).ids
    filled = bert_nb.fill_mask(model, "北京是中国的[MASK]都。", top_k=3)
    assert len(filled.masks[0]) == 3 and all(len(c.token_str) >= 1 for c in filled.masks[0])


def test_word_views_say_chinese_characters_are_words(minilm):
    text = "BERT 模型的自注意力机制很强大。"
    chinese = bert_nb.load("chinese")
    toks = bert_nb.tokenize(chinese, text)
    assert "one word each" in toks.note and len(toks.words) == len(toks) and "one word each" in toks.to_text()
    assert "one word each" in bert_nb.render.token_html(toks)
    assert "one word each" in bert_nb.attention(minilm, text).note
    assert bert_nb.tokenize(chinese, "plain English").note is None
    assert bert_nb.attention(minilm, "plain English").note == ""


def test_an_unknown_tokenizer_name_suggests_the_packaged_one(shell):
    from bert_nb.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="did you mean 'chinese'\\? use the packaged 'default', 'default-mlm', 'chinese-tiny' or 'chinese'"):
        bert_nb.load("chinse")
    assert "did you mean 'chinese'" in shell.usage_error("%%bert tokenize --tokenizer chinse\n自注意力")


def test_the_packaged_pre_trained_model_explains_and_shows_its_layers():
    """chinese-tiny keeps both pre-training heads (masked-LM and NSP): its output names the vocabulary logits
    prediction_logits, and its heads module also wants the pooled output (an AttributeError, a TypeError before)."""
    model = bert_nb.load("chinese-tiny", device="cpu")
    text = "经济发[MASK]很快。"
    top = bert_nb.fill_mask(model, text, top_k=3).masks[0]
    lens = bert_nb.logit_lens(model, text, top_k=3).to_frame()
    last = lens[(lens.layer == lens.layer.max()) & (lens.position == 4)]
    assert list(last.token) == [c.token_str for c in top]
    e = bert_nb.explain(model, text, method="occlusion")
    assert e.target == top[0].token_str and e.value == pytest.approx(top[0].score, rel=1e-4)
    assert bert_nb.explain(model, text, method="ig", target="展").target == "展"
    f = bert_nb.faithfulness(model, [text, "天气很[MASK]。"], methods=("occlusion",), fractions=(1.0,))
    assert (f.curves.sufficiency.abs() < 1e-5).all()  # only the words kept = the whole text


def test_a_tokenizers_dashboard_has_only_the_tabs_it_can_serve(chinese):
    board = bert_nb.dashboard(chinese)  # similarity, attention and layers tabs each showed the no-model error before
    assert list(board.panels) == ["tokenize", "mask", "finetune"]  # mask: the packaged masked-LM
    with pytest.raises(BertNbError, match="The similarity panel does not work with 'chinese'; load a model for it"):
        bert_nb.panels.panel("similarity", chinese)


def test_an_int8_models_explain_tab_opens_on_a_method_it_has():
    from bert_nb.panels import ExplainPanel

    small = bert_nb.load("default-mlm", device="cpu", quantize="int8")
    panel = ExplainPanel(small)  # it opened on integrated gradients' "no gradients" error before
    assert panel.method.value == "occlusion" and panel.result is not None and "d32f2f" not in panel.status.value


def test_a_filled_chinese_sentence_reads_without_spaces():
    """The tokenizer's decoding puts a space between every two characters ('北 京 是 中 国 的 首 都 。'): Chinese is
    written without them; Latin words in it keep theirs."""
    from bert_nb.mask import decoded

    model = bert_nb.load("chinese-tiny", device="cpu")
    text = "北京是中国的[MASK]都。"
    for c in bert_nb.fill_mask(model, text, top_k=3).masks[0]:
        assert c.sequence == text.replace("[MASK]", c.token_str)
    joint = bert_nb.fill_mask(model, "北京是[MASK][MASK]的首都。", joint=True).joint
    assert joint.sequence == f"北京是{''.join(joint.tokens)}的首都。"
    target = bert_nb.fill_mask(model, text, targets=["首"]).masks[0][0]
    assert target.sequence == "北京是中国的首都。"
    ids = model.tokenizer("我在 paris 工作, 很好。")["input_ids"]
    assert decoded(model.tokenizer, ids, skip_special_tokens=True) == "我在 paris 工作, 很好。"
