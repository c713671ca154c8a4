"""Tokenization: parity with the model's own tokenizer, offsets, segments, truncation."""

import pytest

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.tokens import COLUMNS, Tokens, TokensBatch

CORPUS = [
    "Hello, world!",
    "Tokenization isn't magic; it's WordPiece.",
    "Crème brûlée, naïve café, Ångström, São Paulo",
    "東京は日本の首都です。北京欢迎你",
    "I love it 😀🎉 👍🏽 ❤️",
    "See https://example.com/a/b?q=1&r=two#frag or mail me@example.org",
    "Numbers: 3.14159, 1,000,000, -42, 7e-10, 2026-11-22",
    "tabs\tand\nnewlines and \x07bell \x00nul \u200bzero-width",
    "  leading and trailing spaces  ",
    "UNBELIEVABLE unbelievably antidisestablishmentarianism",
    "<script>alert('x')</script> & \"quotes\"",
    "[MASK] is a [SEP] special [CLS] token",
    "ﬁ ligature, Ｆｕｌｌｗｉｄｔｈ, Ⅻ roman",
    "word " * 700,
]
PAIRS = [
    ("The cat sat on the mat.", "It purred."),
    ("Empty second part", ""),
    ("A question?", "An answer with émojis 😀"),
    ("long " * 400, "short"),
    ("short", "long " * 400),
    ("long " * 300, "longer " * 300),
]


def _reference(engine, text, pair=None, max_length=None):
    limit = max_length or engine.max_length
    return engine.tokenizer(text, pair, truncation=True, max_length=limit)["input_ids"]


@pytest.mark.parametrize("text", CORPUS)
@pytest.mark.parametrize("model", ["minilm", "mini_mlm", "tiny"])
def test_ids_equal_the_models_tokenizer(request, model, text):
    engine = request.getfixturevalue(model)
    toks = bert_nb.tokenize(engine, text)
    assert list(toks.ids) == _reference(engine, text)
    assert list(toks.tokens) == engine.tokenizer.convert_ids_to_tokens(list(toks.ids))


@pytest.mark.parametrize("text, pair", PAIRS)
def test_pair_ids_equal_the_models_tokenizer(minilm, text, pair):
    toks = bert_nb.tokenize(minilm, text, pair)
    assert list(toks.ids) == _reference(minilm, text, pair)
    ref_types = minilm.tokenizer(text, pair, truncation=True, max_length=512)["token_type_ids"]
    assert list(toks.segment) == ref_types


@pytest.mark.parametrize("text", CORPUS[:-1])
def test_offsets_point_into_the_original_text(minilm, text):
    toks = bert_nb.tokenize(minilm, text)
    norm = minilm.tokenizer.backend_tokenizer.normalizer
    for pos in range(len(toks)):
        if toks.word[pos] is None:  # [CLS] and [SEP] the tokenizer added
            assert toks.special[pos] and toks.start[pos] is None and toks.end[pos] is None
            continue
        assert 0 <= toks.start[pos] < toks.end[pos] <= len(text)
        piece = toks.tokens[pos].removeprefix("##").lower()
        if piece != "[unk]":
            assert piece in norm.normalize_str(toks.source_text(pos)).lower()


def test_frame_columns_and_types(minilm):
    frame = bert_nb.tokenize(minilm, "Hello unbelievable world").to_frame()
    assert tuple(frame.columns) == COLUMNS
    assert frame["token"].tolist() == ["[CLS]", "hello", "unbelievable", "world", "[SEP]"]
    assert frame["special"].tolist() == [True, False, False, False, True]
    assert frame["segment"].tolist() == ["A"] * 5
    assert frame["start"].tolist()[1:4] == [0, 6, 19]
    assert frame["start"].isna().tolist() == [True, False, False, False, True]


def test_typed_special_tokens_are_marked_and_keep_offsets(minilm):
    toks = bert_nb.tokenize(minilm, "[MASK] is a 😀 [SEP]")
    frame = toks.to_frame()
    assert frame["token"].tolist() == ["[CLS]", "[MASK]", "is", "a", "[UNK]", "[SEP]", "[SEP]"]
    assert frame["special"].tolist() == [True, True, False, False, False, True, True]  # [UNK] is the user's text
    assert (toks.start[1], toks.end[1]) == (0, 6) and toks.source_text(4) == "😀" and toks.unknown == 1
    assert toks.start[0] is None and toks.start[-1] is None and toks.start[-2] == 14


def test_wordpieces_group_into_words(tiny):
    toks = bert_nb.tokenize(tiny, "playing unbelievable cat")
    assert toks.tokens[1:3] == ("play", "##ing")
    assert toks.words[1] == (1, 2)
    assert toks.is_continuation(2) and not toks.is_continuation(1)
    assert toks.to_text() == "[CLS] | play ##ing | un ##believ ##able | cat | [SEP]"


def test_pair_segments_and_word_index_per_segment(minilm):
    toks = bert_nb.tokenize(minilm, "The cat sat.", "It purred.")
    frame = toks.to_frame()
    assert frame["segment"].tolist() == list("AAAAAA") + list("BBBBB")
    b_rows = frame[(frame.segment == "B") & ~frame.special]
    assert b_rows["word"].tolist() == [0, 1, 1, 2]
    assert toks.source_text(7) + toks.source_text(8) == "purred"


def test_truncation_counts_and_says_what_was_cut(minilm):
    text = "word " * 600
    toks = bert_nb.tokenize(minilm, text)
    full = len(minilm.tokenizer(text, verbose=False)["input_ids"])
    assert len(toks) == 512 and toks.truncated == full - 512 == 90
    assert toks.note == "Truncated: 90 pieces cut to fit the limit of 512 pieces."
    assert toks.tokens[-1] == "[SEP]"
    short = bert_nb.tokenize(minilm, "one two three four five", max_length=4)
    assert short.tokens == ("[CLS]", "one", "two", "[SEP]") and short.truncated == 3
    assert "limit of 4 pieces" in short.note and "Truncated" in short.to_text()
    assert bert_nb.tokenize(minilm, "fits").note is None


def test_pair_truncation_is_longest_first(minilm):
    toks = bert_nb.tokenize(minilm, "a " * 20, "b " * 5, max_length=16)
    assert list(toks.ids) == _reference(minilm, "a " * 20, "b " * 5, 16)
    assert toks.segment.count(1) == 6  # the short part is kept whole: 5 pieces and its [SEP]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_one_sentence(minilm, text):
    with pytest.raises(BertNbError, match=r"^The text is empty; give some text to tokenize\.$"):
        bert_nb.tokenize(minilm, text)


def test_bad_arguments(minilm):
    with pytest.raises(BertNbError, match="at least 3"):
        bert_nb.tokenize(minilm, "x", max_length=2)
    with pytest.raises(BertNbError, match="more than this model's maximum of 512"):
        bert_nb.tokenize(minilm, "x", max_length=10_000)
    with pytest.raises(BertNbError, match="must be a string"):
        bert_nb.tokenize(minilm, ["ok", 5])
    with pytest.raises(BertNbError, match="as many pair texts"):
        bert_nb.tokenize(minilm, ["a", "b"], ["only one"])


def test_batch(minilm):
    batch = bert_nb.tokenize(minilm, ["one", "two words"], ["x", "y"])
    assert isinstance(batch, TokensBatch) and len(batch) == 2
    assert isinstance(batch[1], Tokens) and batch[1].pair == "y"
    frame = batch.to_frame()
    assert tuple(frame.columns) == ("example", *COLUMNS)
    assert frame.groupby("example").size().tolist() == [len(batch[0]), len(batch[1])]


def test_repr_is_short_and_readable(minilm):
    toks = bert_nb.tokenize(minilm, "Hello world")
    assert repr(toks) == "Tokens(4 pieces: [CLS] hello world [SEP])"
    long = bert_nb.tokenize(minilm, "word " * 600)
    assert "truncated=90" in repr(long) and len(repr(long)) < 200


def test_roberta_style_tokenizer_offsets_and_segments(tmp_path):
    """A byte-level BPE tokenizer (no ## pieces, <s> </s> specials) is handled too."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in "abcdefghijklmnopqrstuvwxyzĠ":
        vocab[ch] = len(vocab)
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                  cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                  model_max_length=32)

    class _Engine:
        name, tokenizer, max_length = "bpe", tok, 32

    toks = bert_nb.tokenize(_Engine(), "ab cd", "ef")
    assert list(toks.ids) == tok("ab cd", "ef", truncation=True, max_length=32)["input_ids"]
    assert toks.tokens[0] == "<s>" and toks.special[0]
    assert set(toks.segment[toks.tokens.index("e"):]) == {1}
    assert toks.source_text(toks.tokens.index("c")) == "c"
