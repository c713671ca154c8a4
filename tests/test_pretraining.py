"""Pre-training from random weights: the corruption, NSP pairs, masked-only logits, the run, its views and bad input."""

import numpy as np
import pytest
import torch
import transformers

import bert_nb
from bert_nb.errors import BertNbError
from bert_nb.pretraining import _Corpus, _Examples, _Masker, masked_logits
from tests.conftest import run_script

PROBES = ["中国人[MASK]代表大会。", "经济发[MASK]很快。"]


@pytest.fixture(scope="module")
def chinese_tok():
    return bert_nb.load("chinese").tokenizer


@pytest.fixture(scope="module")
def corpus():
    return bert_nb.datasets.load("peoples_daily_text", split="train").text.head(300).tolist()


@pytest.fixture(scope="module")
def model(corpus):
    return bert_nb.pretrain(corpus, steps=30, batch_size=16, learning_rate=1e-3, eval_every=15, probes=PROBES,
                            eval_texts=corpus[:20], seed=0)


def test_corruption_is_bert_s_15_percent_80_10_10(chinese_tok):
    masker = _Masker(chinese_tok, 0.15, seed=0)
    ids = torch.randint(1000, 20000, (64, 128))
    ids[:, 0], ids[:, -1] = chinese_tok.cls_token_id, chinese_tok.sep_token_id
    shown, labels = masker.corrupt(ids)
    picked = labels != -100
    assert abs(picked.float().mean().item() - 0.15) < 0.01 and not picked[:, [0, -1]].any()  # specials never
    masked = (shown[picked] == chinese_tok.mask_token_id).float().mean().item()
    kept = (shown[picked] == ids[picked]).float().mean().item()
    assert abs(masked - 0.8) < 0.03 and 0.07 < kept < 0.14  # 10% kept (plus random pieces that hit the same one)
    assert torch.equal(shown[~picked], ids[~picked]) and torch.equal(labels[picked], ids[picked])


def test_nsp_pairs_are_half_next_sentences_of_one_document(chinese_tok):
    docs = [[[1000 + d, 2000 + s] for s in range(4)] for d in range(20)]  # ids clear of the specials
    examples = _Examples(_Corpus(docs, np.ones(len(chinese_tok))), chinese_tok, 32, nsp=True, size=400, seed=0)
    rows = [examples[i] for i in range(400)]
    assert rows[7] == examples[7]  # made from the index: reproducible
    labels = [r["next_sentence_label"] for r in rows]
    assert 0.4 < np.mean(labels) < 0.6
    for r in rows:
        ids, types = r["input_ids"], r["token_type_ids"]
        sep = ids.index(chinese_tok.sep_token_id)
        a, b = ids[1:sep], ids[sep + 1:-1]
        assert types == [0] * (sep + 1) + [1] * (len(b) + 1)
        if r["next_sentence_label"] == 0:  # B follows A in the same document
            assert a[0] == b[0] and b[1] == a[1] + 1


def test_masked_only_logits_give_the_models_own_loss(chinese_tok):
    config = transformers.BertConfig(vocab_size=len(chinese_tok), hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(config).eval()
    batch = _Masker(chinese_tok, 0.15, 0)([{"input_ids": [101, *range(2000, 2030), 102], "token_type_ids": [0] * 32,
                                             "next_sentence_label": 1}] * 4)
    mlm, nsp = masked_logits(model, batch)
    assert mlm.shape == (int((batch["labels"] != -100).sum()), len(chinese_tok)) and nsp.shape == (4, 2)
    ours = torch.nn.functional.cross_entropy(mlm, batch["labels"][batch["labels"] != -100]) + \
        torch.nn.functional.cross_entropy(nsp, batch["next_sentence_label"])
    theirs = model(**batch).loss
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_pretraining_learns_and_reports(model):
    assert isinstance(model, bert_nb.Pretrained) and type(model.model).__name__ == "BertForPreTraining"
    assert model.heads == ("mlm", "nsp") and len(model.tokenizer) == 21128
    history = model.history
    losses = history.dropna(subset=["mlm_loss"])
    assert {"mlm_loss", "nsp_loss", "loss"} <= set(history.columns)
    assert losses.mlm_loss.iloc[-1] < losses.mlm_loss.iloc[0] - 1.0  # from ~ln(21128) = 10 down
    metrics = model.metrics
    assert metrics.step.tolist() == [15, 30] and (metrics.masked > 0).all()
    assert {"top1", "top5", "unigram_top5", "seconds"} <= set(metrics.columns)
    assert all(len(p) == 2 and "[" in p[0] for p in metrics.probes)
    assert "held-out masked pieces: top-1" in model.to_text()
    fills = bert_nb.fill_mask(model, "中国人[MASK]代表大会。")
    assert len(fills.masks[0]) >= 1


def test_views_and_save_round_trip(model, tmp_path):
    from bert_nb.plots import pretrained_html, pretraining_curve, probes_html

    fig = pretraining_curve(model)
    assert fig.layout.yaxis2.title.text == "masked top-1 / masked top-5" and fig.layout.title.text == "Pre-training"
    html = pretrained_html(model)
    assert "probe sentences" in html and "step 15 → step 30" in html and probes_html([]) == ""
    loaded = bert_nb.load(model.save(tmp_path / "pt"), device="cpu")
    assert loaded.heads == ("mlm", "nsp")
    enc = model.tokenizer("经济发展很快。", return_tensors="pt")
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model(**enc).prediction_logits, model.model(**enc).prediction_logits)


def test_mlm_only_and_stop_keeps_the_model(corpus):
    from bert_nb.training import TrainingState

    state = TrainingState()
    state.request_stop()  # Stop pressed: ends after the first step, with an evaluation, and keeps the model
    small = bert_nb.pretrain(corpus[:50], config={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                                   "intermediate_size": 64}, objectives=("mlm",), steps=50,
                             batch_size=4, state=state)
    assert type(small.model).__name__ == "BertForMaskedLM" and small.heads == ("mlm",)
    assert small.stopped_early["step"] == 1 and len(small.metrics) == 1 and "stopped early" in small.to_text()


def test_the_trainers_scratch_folder_goes_with_the_pretraining(corpus):
    import gc
    from pathlib import Path

    from transformers import TrainerCallback

    folders = []

    class Look(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            folders.append((Path(args.output_dir), Path(args.output_dir).is_dir()))

    small = bert_nb.pretrain(corpus[:50], config={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                                   "intermediate_size": 64}, objectives=("mlm",), steps=2,
                             batch_size=4, callbacks=[Look()])
    assert [made for _, made in folders] == [True]
    del small
    gc.collect()
    assert not folders[0][0].exists()


def test_a_corpus_file_is_read_as_its_documents(corpus, tmp_path):
    import pandas as pd

    from bert_nb.pretraining import _texts_of

    docs = [" ".join(d.split()) for d in corpus[:30]]  # one line each
    (tmp_path / "c.txt").write_text("\n".join(docs) + "\n\n", encoding="utf-8")
    pd.DataFrame({"text": docs}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"text": docs}).to_parquet(tmp_path / "c.parquet")
    for source in (tmp_path / "c.txt", str(tmp_path / "c.csv"), tmp_path / "c.parquet"):  # one document before
        assert _texts_of(source) == docs
    assert _texts_of("c.txt") == ["c.txt"]  # no such file: a text like any other
    small = bert_nb.pretrain(tmp_path / "c.txt", objectives=("mlm",), steps=2, batch_size=4,
                             config={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                     "intermediate_size": 64})
    assert small.training_config["steps"] == 2
    with pytest.raises(BertNbError, match="No file '.*c.md'"):
        _texts_of(tmp_path / "c.md")
    (tmp_path / "c.md").write_text("# notes")
    with pytest.raises(BertNbError, match="Cannot read .\.md. files; give a .txt"):
        _texts_of(tmp_path / "c.md")


def test_bad_input_says_what_to_do(corpus, chinese_tok):
    with pytest.raises(BertNbError, match="The corpus is empty"):
        bert_nb.pretrain([" ", ""])
    with pytest.raises(BertNbError, match="vocab_size is 30522 but the tokenizer has 21128"):
        bert_nb.pretrain(corpus, config=transformers.BertConfig())
    with pytest.raises(BertNbError, match="Next-sentence prediction needs documents of two sentences"):
        bert_nb.pretrain(["一句话", "另一句"], steps=2)
    with pytest.raises(BertNbError, match="steps must be a whole number of at least 1"):
        bert_nb.pretrain(corpus, steps=0)
    with pytest.raises(BertNbError, match="Each probe needs a \\[MASK\\]"):
        bert_nb.pretrain(corpus, steps=1, probes=["没有空格"])
    with pytest.raises(BertNbError, match="Unknown config 'huge'"):
        bert_nb.pretrain(corpus, config="huge")
    with pytest.raises(BertNbError, match="objectives is"):
        bert_nb.pretrain(corpus, objectives=("nsp",))
    with pytest.raises(BertNbError, match="max_length 600 is longer than the config's 512 positions"):
        bert_nb.pretrain(corpus, config={"max_position_embeddings": 512}, max_length=600)
    with pytest.raises(BertNbError, match=r"The config's hidden_size 65 is not a multiple of its 2 attention heads"):
        bert_nb.pretrain(corpus, config={"hidden_size": 65, "num_attention_heads": 2})  # a ValueError before
    with pytest.raises(BertNbError, match="Next-sentence prediction needs two documents or more"):
        bert_nb.pretrain("经济发展很快。人民生活提高了。", steps=1)  # one document: numpy's "high <= 0" before


def test_magic(shell, corpus):
    shell.user_ns["daily"] = corpus[:40]
    got = shell.run_cell("%bert pretrain --data daily --steps 3 --batch-size 4 --objectives mlm "
                         "--probe 经济发[MASK]很快。 -o pt")
    assert shell.user_ns["pt"] is got and got.state.step == 3 and got.metrics.probes.iloc[-1]
    lines = "\n".join(corpus[:10])
    assert shell.run_cell(f"%%bert pretrain --steps 2 --batch-size 2\n{lines}").heads == ("mlm", "nsp")
    assert "reads text from the cell body" in shell.usage_error("%bert pretrain --steps 2")
    assert "either with --data or in the cell" in shell.usage_error(f"%%bert pretrain --data daily\n{lines}")
    assert "steps must be" in shell.usage_error("%%bert pretrain --steps 0\n" + lines)


def test_live_view_redraws_the_probes(corpus):
    from bert_nb.panels import LivePretraining

    live = LivePretraining()
    bert_nb.pretrain(corpus[:60], steps=4, batch_size=4, eval_every=2, probes=PROBES[:1],
                     callbacks=[live.callback()], state=live.state)
    assert "step 2 → step 4" in live.probes.value and live.figure.data[2].name == "eval top1"
    assert len(live.figure.data[3].y) == 2


def test_the_finetune_panel_has_a_pretrain_mode(minilm):
    from bert_nb.panels import FinetunePanel

    panel = FinetunePanel(minilm, task="pretrain")
    assert panel.epochs.description == "steps" and panel.epochs.value == 300 and len(panel.data) == 300
    panel.epochs.value, panel.batch_size.value = 4, 8
    panel.start()
    result = panel.join(timeout=300)
    assert isinstance(result, bert_nb.Pretrained) and result.state.step == 4 and len(result.tokenizer) == 21128
    assert "probe sentences" in panel.live.probes.value and "the model is in .result" in panel.status.value
    panel.task.value = "classify"
    assert panel.epochs.description == "epochs" and panel.epochs.value == 2


def test_an_export_path_is_a_file_or_a_folder(model, tmp_path):
    assert model.export_script(tmp_path / "jobs") == str(tmp_path / "jobs" / "pretrain.py")
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(BertNbError, match="a-file is a file, not a folder"):
        model.export_script(tmp_path / "a-file" / "pretrain.py")


def test_export_script_reruns_the_pretraining(model, corpus, tmp_path):
    import json

    script = model.export_script(tmp_path / "pretrain.py")
    (tmp_path / "corpus.txt").write_text("\n".join(corpus[:40]), encoding="utf-8")
    # two processes (DistributedDataParallel over gloo), as `accelerate launch` runs it on several GPUs
    done = run_script(script, "--steps", "2", "--batch-size", "4", "--out", tmp_path / "m", processes=2, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1 and reports[0]["steps"] == 2 and reports[0]["processes"] == 2 and "top5" in reports[0]
    assert bert_nb.load(str(tmp_path / "m"), device="cpu").heads == ("mlm", "nsp")
    assert "accelerate launch" in (tmp_path / "pretrain.py").read_text()


def test_init_adapts_an_existing_encoder(tiny):
    texts = ["the cat sat on the mat. the dog ran.", "a dog and a cat. the mat is red."] * 10
    adapted = bert_nb.pretrain(texts, init=tiny, objectives=("mlm",), steps=1, batch_size=2, learning_rate=1e-12,
                               eval_texts=texts[:2])
    ours, theirs = adapted.model.bert.encoder.state_dict(), tiny.encoder.encoder.state_dict()
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in theirs)  # it starts from the given weights
    decoder = adapted.model.cls.predictions.decoder.weight
    assert decoder.data_ptr() == adapted.model.bert.embeddings.word_embeddings.weight.data_ptr()  # tied
    assert len(adapted.tokenizer) == len(tiny.tokenizer)


def test_finetuning_starts_from_the_weights_pre_trained_here(model, tmp_path):
    from bert_nb.training import started_from, starting_model

    start = starting_model(model, transformers.AutoModelForSequenceClassification, num_labels=2)
    ours = model.encoder.state_dict()
    for key, value in start.base_model.state_dict().items():  # not the random weights it began from
        torch.testing.assert_close(value, ours[key].float())
    assert started_from(model) == {"model": model.name, "in_session": True} and not model.loadable
    reviews = bert_nb.datasets.load("chinese_reviews", split="train").sample(48, random_state=0)
    clf = bert_nb.finetune(model, reviews, epochs=1, batch_size=16, max_length=32, eval_fraction=0.25,
                           cache=tmp_path / "kept")
    assert clf.training_config["in_session"] and len(clf.predict(["很好"])) == 1
    assert not any((tmp_path / "kept").rglob("*.safetensors"))  # its name does not say which weights: not kept
    with pytest.raises(BertNbError, match="a model made in this session that a script cannot load; save that model"):
        clf.export_script(tmp_path / "train.py")
    small = bert_nb.quantize(model, "int8")  # no gradients: it starts from the fp32 weights it was quantized from
    assert started_from(small) == started_from(model) and small.unquantized is model
    torch.testing.assert_close(starting_model(small, transformers.AutoModelForSequenceClassification, num_labels=2)
                               .base_model.embeddings.word_embeddings.weight, ours["embeddings.word_embeddings.weight"])
    tuned = bert_nb.finetune(small, reviews, epochs=1, batch_size=16, max_length=32, eval_fraction=0.25)
    assert tuned.quantize is None and tuned.training_config["in_session"]  # an fp32 classifier, to save or quantize
    saved = bert_nb.load(model.save(tmp_path / "pt"), device="cpu")  # loaded from a folder: its checkpoint
    again = starting_model(saved, transformers.AutoModelForSequenceClassification, num_labels=2)
    assert saved.loadable and started_from(saved) == {"model": str(tmp_path / "pt")}
    torch.testing.assert_close(again.base_model.embeddings.word_embeddings.weight,
                               ours["embeddings.word_embeddings.weight"].float())
