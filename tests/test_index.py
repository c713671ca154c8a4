"""The corpus index: streamed into a store, resumed after an interrupt, searched with faiss, merged, scaled out."""

import copy
import json

import numpy as np
import pandas as pd
import pytest

import bert_nb
from bert_nb.errors import BertNbError
from tests.conftest import run_script


@pytest.fixture(scope="module")
def corpus():
    texts = bert_nb.datasets.load("rotten_tomatoes", split="train").text.head(600)
    return [" ".join(t.split()) for t in texts]  # one line each, for the text-file sources


@pytest.fixture(scope="module")
def built(minilm, corpus, tmp_path_factory):
    return bert_nb.index(minilm, corpus, store=tmp_path_factory.mktemp("idx") / "rt", chunk=128, progress=False)


def test_search_matches_brute_force(minilm, corpus, built):
    queries = ["a moving film about family", "boring and far too long", "the actors are wonderful"]
    ours = built.search(queries, k=5)
    exact = bert_nb.search(minilm, queries, bert_nb.embed(minilm, corpus), top_k=5)
    assert list(ours.columns) == ["query", "rank", "id", "text", "score"] and len(ours) == 15
    assert ours.id.tolist() == exact.corpus_index.tolist()  # float16 on disk keeps the ranking here
    np.testing.assert_allclose(ours.score, exact.score, atol=2e-3)
    assert ours.text.tolist() == [corpus[i] for i in ours.id]
    via_search = bert_nb.search(minilm, queries, built, top_k=5)
    assert via_search.corpus_index.tolist() == ours.id.tolist()
    assert built.kind == "flat" and "exact inner product" in built.to_text() and len(built) == 600


def test_without_a_store_the_folder_goes_with_the_index(minilm, corpus, tmp_path):
    import gc

    temporary = bert_nb.index(minilm, corpus[:20], progress=False)
    folder, kept = temporary.folder, temporary.save(tmp_path / "kept")
    assert (folder / "meta.json").is_file() and folder != kept.folder
    assert kept.search("a fine film", k=3).id.tolist() == temporary.search("a fine film", k=3).id.tolist()
    named = bert_nb.index(minilm, corpus[:20], store=tmp_path / "named", progress=False)
    del temporary, named
    gc.collect()
    assert not folder.exists()  # the temporary store is gone, a named one and a saved copy stay
    assert (tmp_path / "named" / "meta.json").is_file() and len(bert_nb.Index.load(tmp_path / "kept")) == 20


def test_an_interrupted_run_resumes_and_reads_nothing_half_written(minilm, corpus, built, tmp_path):
    store = tmp_path / "partial"

    def interrupted():
        for i, text in enumerate(corpus):
            if i == 300:
                raise KeyboardInterrupt
            yield text

    with pytest.raises(KeyboardInterrupt):
        bert_nb.index(minilm, interrupted(), store=store, chunk=128, progress=False)
    meta = json.loads((store / "meta.json").read_text())
    assert meta["count"] == 256  # two whole chunks counted; the third was cut off
    with open(store / "vectors.bin", "ab") as f:  # what a crash mid-write leaves behind
        f.write(b"\x00" * 1000)
    with open(store / "texts.jsonl", "ab") as f:
        f.write(b'"half a li')
    assert len(bert_nb.Index.load(store).texts(range(256))) == 256  # the extra bytes are never read
    resumed = bert_nb.index(minilm, corpus, store=store, chunk=128, progress=False)
    assert len(resumed) == 600 and resumed.texts([0, 299, 599]) == [corpus[0], corpus[299], corpus[599]]
    np.testing.assert_array_equal(np.asarray(resumed.vectors), np.asarray(built.vectors))


def test_resuming_is_for_the_same_corpus(minilm, corpus, tmp_path):
    store = tmp_path / "kept"
    bert_nb.index(minilm, corpus[:200], store=store, chunk=64, progress=False)
    with pytest.raises(BertNbError, match=r"Text 3 of this source is not text 3 of .*kept, which holds 200 texts"):
        bert_nb.index(minilm, corpus[:3] + ["another corpus"] + corpus[4:], store=store, progress=False)
    with pytest.raises(BertNbError, match="holds 200 texts and this source only 150; resume with the corpus"):
        bert_nb.index(minilm, corpus[:150], store=store, progress=False)
    assert json.loads((store / "meta.json").read_text())["count"] == 200  # nothing appended by the refused calls
    grown = bert_nb.index(minilm, iter(corpus[:260]), store=store, chunk=64, progress=False)  # a stream resumes
    assert len(grown) == 260 and grown.texts([199, 200, 259]) == [corpus[199], corpus[200], corpus[259]]


def test_sources_stream_from_frames_and_files(minilm, corpus, tmp_path):
    frame = pd.DataFrame({"review": corpus[:50], "n": range(50)})
    a = bert_nb.index(minilm, frame, text="review", store=tmp_path / "a", progress=False)
    (tmp_path / "c.txt").write_text("\n".join(corpus[:50]) + "\n\n", encoding="utf-8")
    b = bert_nb.index(minilm, str(tmp_path / "c.txt"), store=tmp_path / "b", progress=False)
    frame.to_csv(tmp_path / "c.csv", index=False)
    c = bert_nb.index(minilm, tmp_path / "c.csv", text="review", store=tmp_path / "c", chunk=7, progress=False)
    d = bert_nb.index(minilm, (t for t in corpus[:50]), store=tmp_path / "d", dtype="float32", progress=False)
    frame.to_parquet(tmp_path / "c.parquet", row_group_size=16)  # read a row group at a time
    e = bert_nb.index(minilm, tmp_path / "c.parquet", text="review", store=tmp_path / "e", chunk=9, progress=False)
    for other in (b, c, d, e):
        assert len(other) == 50 and other.texts([49]) == [corpus[49]]
        np.testing.assert_allclose(np.asarray(other.vectors, dtype=np.float32), np.asarray(a.vectors, dtype=np.float32),
                                   atol=2e-3)
    assert d.vectors.dtype == np.float32 and a.vectors.dtype == np.float16


def test_hnsw_recall_add_save_load(minilm, corpus, built, tmp_path):
    hnsw = bert_nb.index(minilm, corpus, store=tmp_path / "h", kind="hnsw", progress=False)
    assert hnsw.kind == "hnsw" and "HNSW" in hnsw.to_text()
    queries = corpus[:40]  # the corpus's own texts: each should find itself first
    found = hnsw.search(queries, k=10).groupby("query", sort=False).id.apply(list)
    exact = built.search(queries, k=10).groupby("query", sort=False).id.apply(list)
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.95, recall
    copy = built.save(tmp_path / "copy")
    again = bert_nb.Index.load(tmp_path / "copy")
    assert len(again) == 600 and again.search("a moving film", k=1).id.tolist() == copy.search("a moving film", k=1).id.tolist()
    again.add(["A brand new review of a brand new film."], progress=False)
    assert len(bert_nb.Index.load(tmp_path / "copy")) == 601
    assert again.search("A brand new review of a brand new film.", k=1).id.tolist() == [600]
    with pytest.raises(BertNbError, match="is not empty"):
        built.save(tmp_path / "copy")


def test_merge_keeps_corpus_order(minilm, corpus, built, tmp_path):
    even = bert_nb.index(minilm, corpus[0::2], store=tmp_path / "even", progress=False)
    odd = bert_nb.index(minilm, corpus[1::2], store=tmp_path / "odd", progress=False)
    merged = bert_nb.Index.merge([even.folder, odd.folder], tmp_path / "merged",
                                 orders=[range(0, 600, 2), range(1, 600, 2)])
    assert merged.texts(range(600)) == corpus
    # other batches, other padding: the same vectors up to float noise (and float16's last bit)
    np.testing.assert_allclose(np.asarray(merged.vectors, np.float32), np.asarray(built.vectors, np.float32), atol=1e-3)
    assert bert_nb.Index.load(merged.folder).search("a moving film", k=3).id.tolist() == \
        built.search("a moving film", k=3).id.tolist()
    shards = [even.folder, odd.folder]
    with pytest.raises(BertNbError, match="Order 1 gives 299 positions for the 300 texts of shard 1"):
        bert_nb.Index.merge(shards, tmp_path / "m1", orders=[range(0, 600, 2), range(1, 599, 2)])
    with pytest.raises(BertNbError, match="name every corpus position from 0 to 599 once"):
        bert_nb.Index.merge(shards, tmp_path / "m2", orders=[range(0, 600, 2), range(0, 600, 2)])
    with pytest.raises(BertNbError, match="one order per shard: 1 orders for 2 shards"):
        bert_nb.Index.merge(shards, tmp_path / "m3", orders=[range(600)])
    cls = bert_nb.index(minilm, corpus[:4], store=tmp_path / "cls", pooling="cls", progress=False)
    with pytest.raises(BertNbError, match=r"holds default's vectors \(cls pooling, 384 dims, float16 on disk\)"):
        bert_nb.Index.merge([even.folder, cls.folder], tmp_path / "m4")
    assert not any((tmp_path / name).exists() for name in ("m1", "m2", "m3", "m4"))  # refused before writing


def test_bad_input_says_what_to_do(minilm, tiny, corpus, built, tmp_path):
    with pytest.raises(BertNbError, match="The source holds no texts"):
        bert_nb.index(minilm, [], store=tmp_path / "empty", progress=False)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BertNbError, match="Cannot read .*UTF-8 text file"):
        bert_nb.index(minilm, str(tmp_path / "bad.txt"), store=tmp_path / "bad", progress=False)
    with pytest.raises(BertNbError, match="No file 'nowhere.txt'"):
        bert_nb.index(minilm, "nowhere.txt", progress=False)
    with pytest.raises(BertNbError, match="holds default's vectors"):
        bert_nb.index(tiny, corpus[:5], store=built.folder, progress=False)
    with pytest.raises(BertNbError, match="queries are in .* space"):
        built.search(bert_nb.embed(tiny, ["a query"]))
    with pytest.raises(BertNbError, match="search it and add to it with that model"):
        built.search("a query", engine=tiny)
    with pytest.raises(BertNbError, match="Unknown kind 'ivf'"):
        bert_nb.index(minilm, corpus[:5], kind="ivf")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.md").write_text("mine")
    with pytest.raises(BertNbError, match="holds other files"):
        bert_nb.index(minilm, corpus[:5], store=tmp_path / "busy", progress=False)
    with pytest.raises(BertNbError, match=r"An index pools whole texts .* pooling='word'"):
        bert_nb.index(minilm, ["I sat on the river [bank]."], pooling="word", progress=False)
    with pytest.raises(BertNbError, match=r"Text 2 of the source is empty or not a string; clean the source\.$"):
        bert_nb.index(minilm, ["fine", "also fine", "  "], store=tmp_path / "holes", progress=False)
    with pytest.raises(BertNbError, match=r"Text 3 .* \(the 2 texts before its chunk are indexed and kept\)\.$"):
        bert_nb.index(minilm, ["fine", "also fine", "more", ""], store=tmp_path / "holes3", chunk=2, progress=False)
    with pytest.raises(BertNbError, match="Text 1 of the source is empty or not a string"):  # of what add was given
        bert_nb.index(minilm, ["fine", "also fine"], store=tmp_path / "holes2", progress=False).add(["ok", None])
    with pytest.raises(BertNbError, match="Text 3 of the source is empty"):  # a resumed run counts what it skipped
        bert_nb.index(minilm, ["fine", "also fine", "more", ""], store=tmp_path / "holes2", progress=False)
    with pytest.raises(BertNbError, match="No index in"):
        bert_nb.Index.load(tmp_path / "nothing")
    frame = pd.DataFrame({"review": corpus[:5]})
    frame.to_csv(tmp_path / "r.csv", index=False)
    frame.to_parquet(tmp_path / "r.parquet")
    for name in ("r.csv", "r.parquet"):  # the column is checked before anything is embedded
        with pytest.raises(BertNbError, match=rf"{name} has no column 'text'; name the text column with text= \(review\)"):
            bert_nb.index(minilm, tmp_path / name, store=tmp_path / name.replace(".", "-"), progress=False)
        assert json.loads((tmp_path / name.replace(".", "-") / "meta.json").read_text())["count"] == 0
    with pytest.raises(BertNbError, match="chunk is 'auto' or a whole number"):
        built.add(["one more"], chunk=-1)
    (tmp_path / "a-file").write_text("not a folder")
    for store in (tmp_path / "a-file", tmp_path / "a-file" / "below"):  # nothing can be made there
        with pytest.raises(BertNbError, match="is a file; give a folder|Cannot make the folder .*Not a directory"):
            bert_nb.index(minilm, corpus[:5], store=store, progress=False)
        with pytest.raises(BertNbError, match="is a file; give a folder|Cannot make the folder .*Not a directory"):
            built.save(store)
    assert (tmp_path / "a-file").read_text() == "not a folder"
    for inside in (built.folder, built.folder / "copy"):  # a copy inside the store copied the store into itself
        with pytest.raises(BertNbError, match="is inside the index's own folder .*; save it somewhere else"):
            built.save(inside)
    assert not (built.folder / "copy").exists()
    with pytest.raises(BertNbError, match="The shard .* is given twice; give each shard once"):
        bert_nb.Index.merge([built.folder, built.folder], tmp_path / "twice")  # its texts twice before
    assert len(built) == len(corpus)


def test_magics(shell, corpus, tmp_path):
    shell.user_ns["reviews"] = pd.DataFrame({"text": corpus[:80]})
    got = shell.run_cell(f"%bert index --data reviews --store {tmp_path / 'm'} -o rt_index")
    assert isinstance(got, bert_nb.Index) and len(shell.user_ns["rt_index"]) == 80
    hits = shell.run_cell("%%bert search --index rt_index --top-k 2\na moving film\nboring")
    assert len(hits) == 4 and set(hits["rank"]) == {1, 2}
    inline = shell.run_cell("%%bert index\nThe first text.\nThe second text.")
    assert len(inline) == 2
    assert "--corpus VAR" in shell.usage_error("%%bert search\na query")
    assert "is not an Index" in shell.usage_error("%%bert search --index reviews\na query")
    (tmp_path / "corpus.txt").write_text("\n".join(corpus[:30]))
    from_file = shell.run_cell(f"%bert index --data {tmp_path / 'corpus.txt'} -o from_file")
    assert len(from_file) == 30 and from_file.texts([29]) == [corpus[29]]
    assert "No file 'nowhere.txt' (and no variable" in shell.usage_error("%bert index --data nowhere.txt")
    assert "No variable 'nothing'; put the texts in it" in shell.usage_error("%bert index --data nothing")


def test_an_export_path_is_a_file_or_a_folder(built, tmp_path):
    assert built.export_script(tmp_path / "jobs") == str(tmp_path / "jobs" / "embed_index.py")
    assert (tmp_path / "jobs" / "embed_index.py").read_text().startswith('"""Embed a corpus')
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(BertNbError, match="a-file is a file, not a folder; choose another path"):
        built.export_script(tmp_path / "a-file" / "embed_index.py")  # it was a NotADirectoryError traceback
    assert (tmp_path / "a-file").read_text() == "mine"


def test_export_script_runs_on_two_processes(minilm, built, corpus, tmp_path):
    script = built.export_script(tmp_path / "embed_index.py")
    (tmp_path / "corpus.txt").write_text("\n".join(corpus[:90]), encoding="utf-8")
    # process 0 of a run that was interrupted: its chunks of 20 lines are 0-19, 40-59 and 80-89
    bert_nb.index(minilm, corpus[:20] + corpus[40:45], store=tmp_path / "merged.shards" / "00000", progress=False)
    done = run_script(script, "--corpus", "corpus.txt", "--out", "merged", "--chunk", "20", processes=2, cwd=tmp_path,
                      timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1 of 2 (cpu): 50 texts" in done.stdout and "process 2 of 2 (cpu): 40 texts" in done.stdout
    merged = bert_nb.Index.load(tmp_path / "merged")
    assert merged.texts(range(90)) == corpus[:90] and not (tmp_path / "merged.shards").exists()
    np.testing.assert_allclose(np.asarray(merged.vectors, np.float32), np.asarray(built.vectors, np.float32)[:90],
                               atol=1e-3)


def test_a_store_can_be_searched_the_other_way(built):
    other = bert_nb.Index.load(built.folder, kind="hnsw")
    assert other.kind == "hnsw" and bert_nb.Index.load(built.folder).kind == "flat"  # the store keeps its own
    assert other.search("a moving film", k=3).id.tolist()[0] == built.search("a moving film", k=3).id.tolist()[0]
    with pytest.raises(BertNbError, match="Unknown kind 'ivf'"):
        bert_nb.Index.load(built.folder, kind="ivf")


def test_a_bf16_engine_indexes_in_its_own_dtype(minilm, corpus, built, tmp_path):
    bf16 = bert_nb.load("default", device="cpu", dtype="bf16")
    found = bert_nb.index(bf16, corpus[:200], store=tmp_path / "bf16", progress=False)
    ours = np.asarray(found.vectors, np.float32)
    fp32 = np.asarray(built.vectors, np.float32)[:200]
    cos = np.sum(ours * fp32, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cos.min() > 0.995 and cos.min() < 1 - 1e-6  # bf16's own vectors, not fp32's
    queries = ["a moving film about family", "boring and far too long"]
    hits = found.search(queries, k=3)
    exact = bert_nb.search(minilm, queries, bert_nb.embed(minilm, corpus[:200]), top_k=3)
    assert hits[hits["rank"] == 1].id.tolist() == exact[exact["rank"] == 1].corpus_index.tolist()
    assert len(set(hits.id) & set(exact.corpus_index)) >= 5


def test_batch_size_auto_and_what_it_accepts(minilm, tmp_path):
    from bert_nb.indexes import _batch_size

    bf16 = bert_nb.load("default", device="cpu", dtype="bf16")
    assert _batch_size("auto", minilm) == 64 and _batch_size("auto", bf16) == 128 and _batch_size(16, minilm) == 16
    for bad in (0, "big", 2.5, True):
        with pytest.raises(BertNbError, match="batch_size is a whole number of at least 1, or 'auto'"):
            bert_nb.index(minilm, ["a text"], store=tmp_path / "b", batch_size=bad, progress=False)
    with pytest.raises(BertNbError, match="chunk is .auto. or a whole number"):
        bert_nb.index(minilm, ["a text"], store=tmp_path / "c", chunk=0, progress=False)


def test_texts_are_read_where_their_lines_start(minilm, tmp_path):
    texts = ["plain", "two\nlines in one text", "中文的句子", 'quotes " and \\ backslashes', "last"]
    found = bert_nb.index(minilm, texts, store=tmp_path / "odd", chunk=2, progress=False)
    assert found.texts([4, 0, 2, 1, 3]) == [texts[4], texts[0], texts[2], texts[1], texts[3]]
    assert bert_nb.Index.load(tmp_path / "odd").texts(range(5)) == texts
    found.add(["one more"], progress=False)
    assert found.texts([5, 1]) == ["one more", texts[1]]
    with pytest.raises(BertNbError, match="No text 6: ids run from 0 to 5"):
        found.texts([6])


def test_ef_search_trades_recall_for_time_on_hnsw_only(built):
    hnsw = bert_nb.Index.load(built.folder, kind="hnsw")
    wide = hnsw.search("a moving film about family", k=5, ef_search=400)
    assert wide.id.tolist() == built.search("a moving film about family", k=5).id.tolist()
    assert hnsw._index().hnsw.efSearch == 400
    hnsw.search("a moving film about family", k=5)
    assert hnsw._index().hnsw.efSearch == 256  # back to the default
    with pytest.raises(BertNbError, match="ef_search is a whole number of at least k"):
        hnsw.search("a query", k=10, ef_search=5)
    with pytest.raises(BertNbError, match="ef_search tunes HNSW"):
        built.search("a query", ef_search=100)


def test_the_progress_bar_knows_the_size_of_lists_columns_and_text_files(tmp_path):
    from bert_nb.indexes import _source_size

    (tmp_path / "c.txt").write_text("one\n\ntwo\n  \nthree\n")
    assert _source_size(tmp_path / "c.txt") == 3 and _source_size(str(tmp_path / "c.txt")) == 3
    assert _source_size(["a", "b"]) == 2 and _source_size(pd.DataFrame({"text": ["a"] * 4})) == 4
    assert _source_size(iter(["a"])) is None and _source_size(pd.Series(["a", "b"])) == 2
    pd.DataFrame({"text": ["a"] * 7}).to_parquet(tmp_path / "c.parquet")
    assert _source_size(tmp_path / "c.parquet") == 7  # from the file's footer
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    assert _source_size(tmp_path / "broken.parquet") is None  # the read itself says what is wrong


def test_chunk_auto_is_64_batches_of_at_least_4096_texts(minilm, tmp_path, monkeypatch):
    from bert_nb import embeddings

    seen = []
    real = embeddings.pooled_blocks

    def spy(*args, block=None, **kwargs):
        seen.append((args[7], block))
        return real(*args, block=block, **kwargs)

    monkeypatch.setattr(embeddings, "pooled_blocks", spy)
    bert_nb.index(minilm, ["a text", "another"], store=tmp_path / "a", progress=False)
    bert_nb.index(minilm, ["a text", "another"], store=tmp_path / "b", batch_size=100, progress=False)
    bert_nb.index(minilm, ["a text", "another"], store=tmp_path / "c", chunk=3, progress=False)
    chunks = [s for s in seen if s[1] is not None]  # the others embed the probes: embed's batches, no chunks
    assert chunks == [(64, 4096), (100, 6400), (64, 3)] and len(seen) == 6


def test_a_model_made_in_the_session_is_passed_or_saved_and_other_spaces_are_refused(minilm, corpus, tmp_path):
    import torch

    made = minilm.with_model(minilm.model, name="default+mine")  # as quantize, prune and finetune make them
    assert minilm.loadable and not made.loadable
    found = bert_nb.index(made, corpus[:40], store=tmp_path / "mine", progress=False)
    again = bert_nb.Index.load(found.folder)
    with pytest.raises(BertNbError, match="a model made in a Python session .* pass engine="):
        again.search("a moving film")
    with pytest.raises(BertNbError, match=r"save it .* pass model=folder"):
        again.export_script(tmp_path / "s.py")
    # another name, the same weights: the probes' vectors agree, so it searches and grows the index
    assert len(found.search(bert_nb.embed(made, ["a moving film"]), k=2)) == 2  # its own vectors, in the session
    with pytest.raises(BertNbError, match="embedded by another model named default\\+mine"):
        found.search(bert_nb.embed(minilm.with_model(minilm.model, name="default+mine"), ["a moving film"]))
    hits = again.search("a moving film", k=3, engine=minilm)
    assert hits.id.tolist() == found.search("a moving film", k=3).id.tolist()
    grown = bert_nb.index(minilm, corpus[:50], store=found.folder, progress=False)
    assert len(grown) == 50 and grown.meta.model == "default+mine"
    moved = minilm.with_model(copy.deepcopy(minilm.model), name="default+moved")  # noise of 0.002 on each weight, as
    torch.manual_seed(0)  # a little fine-tuning: another space
    with torch.no_grad():
        for p in moved.model.parameters():
            p.add_(torch.randn_like(p) * 0.002)
    with pytest.raises(BertNbError, match=r"holds default\+mine's vectors; search it and add to it with that model"):
        again.search("a query", engine=moved)
    namesake = moved.with_model(moved.model, name="default+mine")  # made in a session too: a name says nothing
    with pytest.raises(BertNbError, match=r"holds default\+mine's vectors; search it and add to it with that model"):
        again.search("a query", engine=namesake)
    with pytest.raises(BertNbError, match=r"holds default\+mine's vectors"):
        bert_nb.index(moved, corpus[:60], store=found.folder, progress=False)
    for name, engine in (("same", minilm), ("moved", moved)):
        engine.model.save_pretrained(tmp_path / name)
        engine.tokenizer.save_pretrained(tmp_path / name)
    script = again.export_script(tmp_path / "s.py", model=str(tmp_path / "same"))
    assert f"MODEL, POOLING, DTYPE = {str(tmp_path / 'same')!r}" in (tmp_path / "s.py").read_text()
    assert script == str(tmp_path / "s.py")
    with pytest.raises(BertNbError, match="embeds into another space than default"):
        again.export_script(tmp_path / "s.py", model=str(tmp_path / "moved"))
    meta = json.loads((found.folder / "meta.json").read_text())
    del meta["probe"], meta["loadable"]
    (found.folder / "meta.json").write_text(json.dumps(meta))  # an index from before probes: names only
    with pytest.raises(BertNbError, match="search it and add to it with that model"):
        bert_nb.Index.load(found.folder).search("a query", engine=minilm)
    assert len(bert_nb.Index.load(found.folder).search("a query", engine=made, k=2)) == 2


def test_the_search_panel_searches_redraws_and_keeps_what_it_showed(minilm, built, shell, tmp_path):
    from bert_nb.panels import SearchPanel
    from bert_nb.plots import hits_bars, hits_html

    panel = SearchPanel(built, queries="a moving film about family", k=3)
    expected = built.search(["a moving film about family"], k=3)
    assert panel.result.id.tolist() == expected.id.tolist() and len(panel.figure.data[0].x) == 3
    assert panel.ef_search.layout.display == "none" and "(exact, embedding included)" in panel.status.value
    assert repr(panel) == f"SearchPanel(model=default, index={built!r})"
    assert "SearchPanel on default: 600 texts, 3 hits shown" in panel._repr_mimebundle_()[0]["text/html"]
    panel.queries.value = "boring\nthe actors are wonderful"
    panel.k.value = 2
    panel.button.click()
    assert panel.result["query"].tolist() == ["boring"] * 2 + ["the actors are wonderful"] * 2
    assert [t.name for t in panel.figure.data] == ["boring", "the actors are wonderful"]
    shown = panel.result
    panel.queries.value = "  \n"
    panel.button.click()
    assert "one query per line" in panel.status.value and panel.result is shown and len(panel.figure.data) == 2
    assert panel.save(tmp_path / "hits.html").is_file()

    hnsw = SearchPanel(bert_nb.Index.load(built.folder, kind="hnsw"), engine=minilm, queries="boring", k=4)
    assert hnsw.ef_search.layout.display is None and "HNSW, efSearch 256" in hnsw.status.value
    hnsw.ef_search.value = 64
    hnsw.search()
    assert "HNSW, efSearch 64" in hnsw.status.value

    odd = bert_nb.index(minilm, ["<script>alert(1)</script> a film", "a plain film"], store=tmp_path / "odd",
                        progress=False)
    escaped = SearchPanel(odd, queries="<b>film</b>")
    assert "<script>" not in escaped.table.value and "&lt;script&gt;" in escaped.table.value
    assert all("<script>" not in label for label in escaped.figure.data[0].y)
    assert "<b>" not in hits_html(escaped.result) and "&lt;b&gt;" in hits_bars(escaped.result).layout.title.text
    with pytest.raises(BertNbError, match="lacks id, text"):
        hits_bars(expected[["query", "rank", "score"]])
    with pytest.raises(BertNbError, match="searches an Index, not a list"):
        SearchPanel(["a", "b"])
    with pytest.raises(BertNbError, match="it searches an index: build one"):
        bert_nb.panels.panel("search", minilm)

    shell.user_ns["idx"] = built
    live = shell.run_cell("%%bert search --index idx --panel --top-k 2\nboring\na moving film")
    assert isinstance(live, SearchPanel) and live.queries.value == "boring\na moving film" and len(live.result) == 4
    assert "--panel searches an Index" in shell.usage_error("%%bert search --corpus idx --panel\na query")


def test_a_path_that_starts_with_a_tilde_is_in_the_home_folder(minilm, corpus, tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)  # a folder literally named "~" was made here before
    (home / "corpus.txt").write_text("\n".join(corpus[:12]), encoding="utf-8")
    idx = bert_nb.index(minilm, "~/corpus.txt", store="~/idx", progress=False)  # "No file" before
    assert len(idx) == 12 and idx.folder == home / "idx"
    assert len(bert_nb.Index.load("~/idx")) == 12 and idx.save("~/copy").folder == home / "copy"
    assert idx.export_script("~/jobs") == str(home / "jobs" / "embed_index.py")
    assert minilm.save("~/model") == str(home / "model") and (home / "model" / "config.json").is_file()
    assert list(elsewhere.iterdir()) == []
