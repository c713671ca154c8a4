"""Masked-LM: fill-mask parity with the pipeline, targets, joint filling, corruption, NSP."""


import pytest
import torch
from transformers import pipeline

from bert_nb.errors import BertNbError, MissingHeadError
from bert_nb.mask import FATES, _normalise_masks, corrupt, fill_mask, next_sentence

SENTENCES = [
    "Paris is the [MASK] of France.",
    "The man worked as a [MASK].",
    "I love [MASK] and cheese!",
    "[MASK] is the best programming language.",
]


@pytest.fixture(scope="module")
def pipe(mini_mlm):
    return pipeline("fill-mask", model=mini_mlm.model, tokenizer=mini_mlm.tokenizer, device="cpu")


@pytest.mark.parametrize("text", SENTENCES)
def test_single_mask_equals_the_pipeline(mini_mlm, pipe, text):
    ours = fill_mask(mini_mlm, text, top_k=5).masks[0]
    theirs = pipe(text, top_k=5)
    assert [c.token for c in ours] == [t["token"] for t in theirs]
    assert [c.token_str for c in ours] == [t["token_str"] for t in theirs]
    assert [c.sequence for c in ours] == [t["sequence"] for t in theirs]
    assert [c.score for c in ours] == pytest.approx([t["score"] for t in theirs], rel=1e-5, abs=1e-7)


def test_single_piece_targets_equal_the_pipeline(mini_mlm, pipe):
    text, targets = SENTENCES[0], ["city", "capital", "river"]
    ours = {c.token_str: c.score for c in fill_mask(mini_mlm, text, targets=targets).masks[0]}
    theirs = {t["token_str"]: t["score"] for t in pipe(text, targets=targets)}
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_targets_that_are_no_words_or_too_long_are_one_sentence(mini_mlm):
    with pytest.raises(BertNbError, match="targets are words to score"):
        fill_mask(mini_mlm, "The [MASK] sat.", targets=3)
    with pytest.raises(BertNbError, match="longer than the .* pieces 'default-mlm' reads; give a shorter target"):
        fill_mask(mini_mlm, "The [MASK] sat.", targets=["word " * 600])


def test_frame_columns(mini_mlm):
    frame = fill_mask(mini_mlm, "The [MASK] sat on the [MASK].", top_k=3).to_frame()
    assert list(frame.columns) == ["mask", "rank", "token", "token_str", "score", "sequence"]
    assert frame["mask"].tolist() == [0, 0, 0, 1, 1, 1] and frame["rank"].tolist() == [1, 2, 3] * 2
    assert (frame.groupby("mask")["score"].diff().dropna() <= 0).all()


def test_several_piece_target_is_scored_as_a_whole(mini_mlm):
    tok = mini_mlm.tokenizer
    word = "hippopotamus"
    pieces = tok(word, add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    preds = fill_mask(mini_mlm, "The [MASK] swam in the river.", targets=[word, "cat"])
    cand = {c.token_str: c for c in preds.masks[0]}[word]
    # the same score by hand: widen the mask, predict the pieces left to right
    ids = tok("The " + " ".join(["[MASK]"] * len(pieces)) + " swam in the river.", return_tensors="pt")["input_ids"]
    first = (ids[0] == tok.mask_token_id).nonzero()[0].item()
    expected = 1.0
    with torch.no_grad():
        for k, piece in enumerate(pieces):
            expected *= mini_mlm.model(input_ids=ids).logits[0, first + k].softmax(-1)[piece].item()
            ids[0, first + k] = piece
    assert cand.score == pytest.approx(expected, rel=1e-4)
    assert word in cand.sequence


def test_unknown_target_is_refused(mini_mlm):
    with pytest.raises(BertNbError, match="not in this model's vocabulary"):
        fill_mask(mini_mlm, SENTENCES[0], targets=["😀"])
    with pytest.raises(BertNbError, match="targets is empty"):
        fill_mask(mini_mlm, SENTENCES[0], targets=" , ")


def test_joint_filling_decides_most_confident_first(tiny):
    preds = fill_mask(tiny, "the [MASK] sat on the [MASK] .", joint=True)
    joint = preds.joint
    assert sorted(joint.order) == [0, 1] and len(joint.tokens) == 2
    assert "[MASK]" not in joint.sequence
    # replay: the first decided mask is the one with the highest top probability
    first = joint.order[0]
    tops = [cands[0].score for cands in preds.masks]
    assert tops[first] == max(tops)
    assert 0 < joint.score <= max(tops)


def test_no_mask_and_bad_top_k(mini_mlm):
    with pytest.raises(BertNbError, match=r"^No \[MASK\] in the text; write \[MASK\] where a word is missing"):
        fill_mask(mini_mlm, "no mask here")
    with pytest.raises(BertNbError, match="top_k"):
        fill_mask(mini_mlm, SENTENCES[0], top_k=0)


def test_masks_lost_to_truncation(mini_mlm):
    text = "[MASK] " + "word " * 600 + "[MASK]"
    preds = fill_mask(mini_mlm, text)
    assert len(preds.masks) == 1 and "1 of 2 masks fell beyond" in preds.note
    with pytest.raises(BertNbError, match="beyond the model's limit"):
        fill_mask(mini_mlm, "word " * 600 + "[MASK]")


def test_model_without_mlm_head_names_one(minilm):
    with pytest.raises(MissingHeadError, match="'default-mlm' or 'bert-base-uncased'"):
        fill_mask(minilm, SENTENCES[0])


def test_packaged_mlm_is_honest(mini_mlm, tiny):
    assert "bert-base-uncased" in fill_mask(mini_mlm, SENTENCES[0]).note
    assert "retrieval" in str(mini_mlm.info())
    assert fill_mask(tiny, "the [MASK] sat").note is None


def test_roberta_style_mask_token_is_normalised():
    class _Tok:
        mask_token = "<mask>"

    class _Engine:
        name, tokenizer = "roberta-like", _Tok()

    assert _normalise_masks(_Engine(), "a [MASK] b [MASK]") == "a <mask> b <mask>"
    assert _normalise_masks(_Engine(), "already <mask>") == "already <mask>"
    assert _normalise_masks(_Engine(), "any [mask] case [Mask]") == "any <mask> case <mask>"


def test_a_mask_typed_in_lower_case_is_a_mask(mini_mlm):
    typed = fill_mask(mini_mlm, "paris is the [mask] of france.")  # "No [MASK] in the text" before
    assert [c.token for c in typed.masks[0]] == [c.token for c in fill_mask(mini_mlm, SENTENCES[0]).masks[0]]  # uncased
    assert len(fill_mask(mini_mlm, "the <mask> sat").masks) == 1


# -- corruption ---------------------------------------------------------------------
LONG = ("The quick brown fox jumps over the lazy dog while the children play football in the "
        "park and their parents talk about the weather, the news and the price of bread. ") * 8


def test_corruption_frame_and_fates(mini_mlm):
    c = corrupt(mini_mlm, "The quick brown fox jumps over the lazy dog.", seed=3)
    frame = c.to_frame()
    assert list(frame.columns) == ["position", "original", "shown", "fate", "prediction"]
    assert set(c.fate) <= set(FATES)
    assert c.fate[0] == c.fate[-1] == "untouched"  # [CLS], [SEP]
    for orig, shown, fate, pred in zip(c.original, c.shown, c.fate, c.prediction):
        if fate == "masked":
            assert shown == "[MASK]"
        elif fate in ("kept", "untouched"):
            assert shown == orig
        assert (pred is None) == (fate == "untouched")
    assert len(c.picked) == max(1, round(0.15 * c.candidates)) and c.candidates == 10


def test_corruption_is_reproducible_with_a_seed(mini_mlm):
    a, b = corrupt(mini_mlm, LONG, seed=7), corrupt(mini_mlm, LONG, seed=7)
    assert a == b
    assert corrupt(mini_mlm, LONG, seed=8).fate != a.fate


def test_predictions_are_the_models_argmax_on_what_it_was_shown(tiny):
    c = corrupt(tiny, "the cat sat on the mat and the dog ran fast", seed=1, rate=0.5)
    ids = torch.tensor([tiny.tokenizer.convert_tokens_to_ids(list(c.shown))])
    with torch.no_grad():
        best = tiny.model(input_ids=ids).prediction_logits[0].argmax(-1)
    expected = tiny.tokenizer.convert_ids_to_tokens(best.tolist())
    assert [c.prediction[i] for i in c.picked] == [expected[i] for i in c.picked]
    right = sum(c.prediction[i] == c.original[i] for i in c.picked)
    assert c.accuracy == right / len(c.picked)


def test_proportions_match_bert(mini_mlm):
    """15% picked; of those 80/10/10. Tolerance: 4 binomial standard deviations."""
    counts = dict.fromkeys(FATES, 0)
    candidates = 0
    for seed in range(40):
        c = corrupt(mini_mlm, LONG, seed=seed)
        candidates += c.candidates
        for fate, n in c.counts().items():
            counts[fate] += n
    picked = counts["masked"] + counts["random"] + counts["kept"]
    assert abs(picked / candidates - 0.15) < 0.005  # round(0.15 n) per text
    for fate, p in (("masked", 0.8), ("random", 0.1), ("kept", 0.1)):
        sd = (p * (1 - p) / picked) ** 0.5
        assert abs(counts[fate] / picked - p) < 4 * sd, (fate, counts)


def test_random_replacements_are_ordinary_pieces(mini_mlm):
    specials = set(mini_mlm.tokenizer.all_special_tokens)
    for seed in range(10):
        c = corrupt(mini_mlm, LONG, seed=seed)
        assert not {s for s, f in zip(c.shown, c.fate) if f == "random"} & specials


def test_bad_rate(mini_mlm):
    for rate in (0, 1.5, -0.1, "x"):
        with pytest.raises(BertNbError, match="rate must be a fraction"):
            corrupt(mini_mlm, "hello world", rate=rate)


# -- next-sentence prediction ------------------------------------------------------------
def test_next_sentence_is_the_heads_softmax(tiny):
    result = next_sentence(tiny, "the cat sat", "it ran fast")
    enc = tiny.tokenizer("the cat sat", "it ran fast", return_tensors="pt")
    with torch.no_grad():
        logits = tiny.model(**enc).seq_relationship_logits[0]
    assert result.probability == pytest.approx(logits.softmax(-1)[0].item(), rel=1e-5)
    assert 0 <= result.probability <= 1 and result.is_next == (result.probability >= 0.5)
    assert "p=" in result.to_text()


def test_next_sentence_needs_the_head(minilm, mini_mlm):
    for engine in (minilm, mini_mlm):
        with pytest.raises(MissingHeadError, match="next-sentence-prediction head.*'bert-base-uncased'"):
            next_sentence(engine, "a", "b")


def test_next_sentence_empty_part(tiny):
    with pytest.raises(BertNbError, match="second sentence is empty"):
        next_sentence(tiny, "the cat", "  ")
