"""Pre-training a small BERT from nothing: masked-language modelling and next-sentence prediction.

``pretrain(texts)`` builds a randomly initialised BERT for a tokenizer's vocabulary and
trains it with transformers' Trainer on unlabelled text, the way BERT was: 15% of the
pieces picked (80% shown as [MASK], 10% as a random piece, 10% unchanged) and, with
NSP, pairs of consecutive sentences of one document against random pairs (half each).
The masked-LM output layer is applied at the masked positions only: for a small model
the full-vocabulary projection of every position would cost more than the encoder.

Every evaluation measures masked-piece accuracy (top-1, top-5) on held-out text, next
to what always guessing the most frequent pieces gets, and fills the probe sentences'
[MASK]s, so a live view can show the model go from frequent pieces to words.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from .engine import Engine
from .errors import BertNbError, listed
from .files import is_dir, is_file
from .mask import vocabulary_logits
from .training import Recorded, TrainingState, _callback_class, _quiet, _train, arguments

__all__ = ["pretrain", "Pretrained", "CONFIGS", "masked_accuracy"]

# sizes: "tiny" is the measured recipe of bench/pretrain.py (2 layers, hidden 128: a few minutes on 2 cores)
CONFIGS = {
    "tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
    "mini": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
}
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.!?])\s+")


@dataclass(frozen=True)
class _Corpus:
    """Documents as lists of sentences, each a list of piece ids (no specials)."""

    documents: list
    counts: "object"  # numpy (vocab,) how often each piece occurs in the training text


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _corpus(tokenizer, texts, max_length: int) -> _Corpus:
    import numpy as np

    room = max_length - 3  # [CLS] A [SEP] B [SEP]
    documents = []
    for text in texts:
        sentences = _sentences(text)
        ids = tokenizer(sentences, add_special_tokens=False, verbose=False)["input_ids"] if sentences else []
        documents.append([s[:room] for s in ids if s])
    counts = np.bincount([i for d in documents for s in d for i in s], minlength=len(tokenizer))
    return _Corpus([d for d in documents if d], counts)


class _Examples:
    """Training inputs made on demand from a seeded generator per index: reproducible, never all in memory."""

    def __init__(self, corpus: _Corpus, tokenizer, max_length: int, nsp: bool, size: int, seed: int):
        self.docs, self.tok, self.max_length, self.nsp = corpus.documents, tokenizer, max_length, nsp
        self.size, self.seed = size, seed
        self.multi = [i for i, d in enumerate(self.docs) if len(d) > 1]  # documents with a next sentence

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        import numpy as np

        rng = np.random.default_rng([self.seed, index])
        if not self.nsp:
            return self._single(rng)
        d = self.docs[self.multi[rng.integers(len(self.multi))]]
        cut = int(rng.integers(1, len(d)))
        is_next = bool(rng.random() < 0.5)
        if is_next:
            b = d[cut]
        else:  # a sentence of another document
            other = int(rng.integers(len(self.docs) - 1))
            other_doc = self.docs[other if self.docs[other] is not d else -1]
            b = other_doc[int(rng.integers(len(other_doc)))]
        a, room = d[cut - 1], self.max_length - 3
        while len(a) + len(b) > room:  # shorten the longer sentence from its end
            a, b = (a[:-1], b) if len(a) >= len(b) else (a, b[:-1])
        ids = [self.tok.cls_token_id, *a, self.tok.sep_token_id, *b, self.tok.sep_token_id]
        return {"input_ids": ids, "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                "next_sentence_label": 0 if is_next else 1}  # transformers: 0 means B follows A

    def _single(self, rng) -> dict:
        d = self.docs[int(rng.integers(len(self.docs)))]
        start = int(rng.integers(len(d)))
        ids = []
        for sentence in d[start:]:
            if ids and len(ids) + len(sentence) > self.max_length - 2:
                break
            ids += sentence
        ids = ids[: self.max_length - 2]
        return {"input_ids": [self.tok.cls_token_id, *ids, self.tok.sep_token_id], "token_type_ids": [0] * (len(ids) + 2)}


class _Masker:
    """Pads a batch and corrupts it as BERT's pre-training does: 15% picked, 80/10/10."""

    def __init__(self, tokenizer, probability: float, seed: int):
        import torch

        self.tok, self.p = tokenizer, probability
        self.generator = torch.Generator().manual_seed(seed)
        self.special = sorted(set(tokenizer.all_special_ids))

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        longest = max(len(e["input_ids"]) for e in examples)
        ids = torch.full((len(examples), longest), self.tok.pad_token_id, dtype=torch.long)
        types = torch.zeros_like(ids)
        for b, e in enumerate(examples):
            ids[b, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
            types[b, : len(e["token_type_ids"])] = torch.tensor(e["token_type_ids"])
        batch = {"attention_mask": (ids != self.tok.pad_token_id).long(), "token_type_ids": types}
        batch["input_ids"], batch["labels"] = self.corrupt(ids)
        if "next_sentence_label" in examples[0]:
            batch["next_sentence_label"] = torch.tensor([e["next_sentence_label"] for e in examples])
        return batch

    def corrupt(self, ids):
        """(corrupted ids, labels with -100 where nothing is to be predicted)."""
        import torch

        g = self.generator
        can = ~torch.isin(ids, torch.tensor(self.special))
        picked = (torch.rand(ids.shape, generator=g) < self.p) & can
        labels = torch.where(picked, ids, torch.full_like(ids, -100))
        roll = torch.rand(ids.shape, generator=g)
        shown = ids.clone()
        shown[picked & (roll < 0.8)] = self.tok.mask_token_id
        swap = picked & (roll >= 0.8) & (roll < 0.9)
        shown[swap] = torch.randint(len(self.tok), ids.shape, generator=g)[swap]
        return shown, labels


def _heads(model):
    """(the encoder, the masked-LM projection, the NSP classifier or None) of BertForPreTraining/ForMaskedLM."""
    return model.bert, model.cls.predictions, getattr(model.cls, "seq_relationship", None)


def masked_logits(model, batch):
    """Masked-LM logits at the masked positions only (M, V), and the NSP logits (B, 2) or None.

    A model wrapped for several processes (DistributedDataParallel) runs its own forward, which
    shares the gradients, and projects every position; the masked ones are picked after.
    """
    if hasattr(model, "module"):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"])
        logits = vocabulary_logits(out)
        nsp = getattr(out, "seq_relationship_logits", None)
        return logits[batch["labels"] != -100], (nsp if nsp is not None and "next_sentence_label" in batch else None)
    encoder, predictions, nsp = _heads(model)
    out = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  token_type_ids=batch["token_type_ids"])
    picked = batch["labels"] != -100
    mlm = predictions(out.last_hidden_state[picked])  # (M, V): the vocabulary projection where it is needed
    return mlm, (nsp(out.pooler_output) if nsp is not None and "next_sentence_label" in batch else None)


def _trainer_class(transformers):
    import torch

    class _PretrainTrainer(transformers.Trainer):
        """The Trainer with BERT's two losses, the masked-LM one at masked positions only."""

        parts: dict = {}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            mlm, nsp = masked_logits(model, inputs)
            labels = inputs["labels"][inputs["labels"] != -100]
            loss = torch.nn.functional.cross_entropy(mlm.float(), labels)
            self._add("mlm_loss", loss)
            if nsp is not None:
                nsp_loss = torch.nn.functional.cross_entropy(nsp.float(), inputs["next_sentence_label"])
                self._add("nsp_loss", nsp_loss)
                loss = loss + nsp_loss
            return (loss, {"logits": mlm}) if return_outputs else loss

        def _add(self, key, value):
            total, n = self.parts.get(key, (0.0, 0))
            self.parts[key] = (total + float(value.detach()), n + 1)

        def log(self, logs, *args, **kwargs):
            if "loss" in logs:  # each objective's mean since the last log
                logs.update({k: round(t / max(n, 1), 4) for k, (t, n) in self.parts.items()})
                self.parts = {}
            super().log(logs, *args, **kwargs)

    return _PretrainTrainer


def masked_accuracy(model, tokenizer, texts, max_length: int = 64, probability: float = 0.15, seed: int = 0,
                    counts=None, batch_size: int = 64) -> dict:
    """Top-1 and top-5 accuracy of a masked-LM on ``texts`` with a fixed, seeded 15% corruption.

    ``counts`` (how often each piece occurs in the training text) adds the baseline that always
    guesses the most frequent pieces (``unigram_top1``, ``unigram_top5``).
    """
    import torch

    masker = _Masker(tokenizer, probability, seed)
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    hits1 = hits5 = total = 0
    freq1 = freq5 = 0
    top = torch.as_tensor(counts).topk(5).indices if counts is not None else None
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(enc), batch_size):
            rows = [{"input_ids": ids, "token_type_ids": [0] * len(ids)} for ids in enc[start:start + batch_size]]
            batch = masker(rows)
            if not (batch["labels"] != -100).any():
                continue
            batch = {k: v.to(device) for k, v in batch.items()}
            mlm, _ = masked_logits(model, batch)
            labels = batch["labels"][batch["labels"] != -100]
            best = mlm.float().topk(5, dim=-1).indices
            hits1 += int((best[:, 0] == labels).sum())
            hits5 += int((best == labels[:, None]).any(-1).sum())
            total += len(labels)
            if top is not None:
                freq1 += int((labels.cpu() == top[0]).sum())
                freq5 += int(torch.isin(labels.cpu(), top).sum())
    out = {"top1": hits1 / max(total, 1), "top5": hits5 / max(total, 1), "masked": total}
    if top is not None:
        out.update(unigram_top1=freq1 / max(total, 1), unigram_top5=freq5 / max(total, 1))
    return out


def _probe_fills(model, tokenizer, probes, device) -> list[str]:
    """Each probe sentence with its [MASK]s filled by the model's top guess."""
    import torch

    filled = []
    with torch.inference_mode():
        for text in probes:
            enc = tokenizer(text, return_tensors="pt").to(device)
            out = model.bert(**enc).last_hidden_state[0]
            where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
            guesses = model.cls.predictions(out[where]).argmax(-1).tolist()
            pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
            for pos, guess in zip(where.tolist(), guesses):
                pieces[pos] = f"[{tokenizer.convert_ids_to_tokens(guess)}]"
            filled.append(_joined_text(tokenizer.convert_tokens_to_string(pieces[1:-1])))
    return filled


_CJK_GAP = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef\]]) (?=[\u3000-\u9fff\uff00-\uffef\[])")


def _joined_text(text: str) -> str:
    """Pieces joined back into text: no spaces between Chinese characters (the decoder puts them there)."""
    return _CJK_GAP.sub("", text)


def _evaluator(transformers, held, tokenizer, max_length, counts, probes, every, state):
    class _Evaluate(transformers.TrainerCallback):
        """Every ``every`` steps (and at the end): masked accuracy on held-out text, the probes filled."""

        started = None

        def on_train_begin(self, args, state_, control, **kw):
            self.started = time.perf_counter()

        def _run(self, state_, model):
            row = {"step": state_.global_step, "epoch": round(float(state_.epoch or 0), 4),
                   "seconds": round(time.perf_counter() - (self.started or time.perf_counter()), 1),
                   **masked_accuracy(model, tokenizer, held, max_length, counts=counts)}
            if probes:
                row["probes"] = _probe_fills(model, tokenizer, probes, next(model.parameters()).device)
            model.train()
            state.epochs.append(row)

        def on_step_end(self, args, state_, control, model=None, **kw):
            if state_.global_step % every == 0 or state_.global_step == state_.max_steps or state.stop_requested:
                self._run(state_, model)

    return _Evaluate()


class Pretrained(Recorded, Engine):
    """A BERT pre-trained by :func:`pretrain`: a masked-LM engine (NSP too when trained with it).

    ``state.history`` holds the losses per log (``mlm_loss``, ``nsp_loss``), ``metrics`` the
    evaluations: masked-piece top-1/top-5 accuracy on held-out text next to the unigram
    baseline, and the probe sentences as the model filled them.
    """

    def __init__(self, name, tokenizer, model, device, dtype, state, config: dict):
        super().__init__(name, "", tokenizer, model, device, dtype)
        self.state, self.training_config = state, config

    def save(self, path) -> str:
        """A save_pretrained folder (safetensors, tokenizer); ``bert_nb.load(path)`` gives the masked-LM back."""
        import json
        from pathlib import Path

        path = Path(super().save(path))
        (path / "bert_nb_pretraining.json").write_text(json.dumps(
            {"config": self.training_config, "history": self.state.history,
             "evaluations": self.state.epochs}, indent=1, default=str))
        return str(path)

    def export_script(self, path, corpus: str = "corpus.txt") -> str:
        """Write a script that reruns this pre-training on a real corpus, on one machine or under ``accelerate launch``.

        The script reads ``corpus`` (one document per line; give another with ``--corpus``),
        takes the recipe used here as its defaults (``--steps`` and the others override them) and
        saves the model. ``accelerate launch --num_processes 8 pretrain.py --corpus big.txt`` runs
        it on eight GPUs (the Trainer spreads the batches); ``python pretrain.py`` on one device.
        """
        from .export import LEAVE, script_path, write_script_file

        path = script_path(path, "pretrain.py")
        c = self.training_config
        recipe = {k: c[k] for k in ("objectives", "steps", "batch_size", "learning_rate", "max_length", "seed")}
        config = {k: v for k, v in c["config"].items() if k not in ("transformers_version", "model_type")}
        write_script_file(path, _SCRIPT.format(recipe=repr(recipe), config=repr(config),
                                               tokenizer=repr(getattr(self.tokenizer, "name_or_path", "") or "chinese"),
                                               corpus=repr(corpus), leave=LEAVE))
        return str(path)

    def to_text(self) -> str:
        """What was trained and how well it fills blanks now."""
        lines = [f"{self.name}: {self.training_config['objectives']} for {self.state.step} steps"]
        if self.state.epochs:
            last = self.state.epochs[-1]
            lines.append(f"held-out masked pieces: top-1 {last['top1']:.3f}, top-5 {last['top5']:.3f} "
                         f"(always guessing the most frequent pieces: top-5 {last.get('unigram_top5', float('nan')):.3f})")
        if self.state.stopped_at:
            lines.append(f"stopped early at step {self.state.stopped_at['step']}; the model so far is kept")
        return "\n".join(lines)


def _tokenizer_of(tokenizer):
    if isinstance(tokenizer, Engine) or hasattr(tokenizer, "tokenizer"):
        return tokenizer.tokenizer
    if isinstance(tokenizer, str):
        if is_dir(tokenizer):
            import transformers

            return transformers.AutoTokenizer.from_pretrained(tokenizer)
        from .engine import load

        return load(tokenizer).tokenizer
    if hasattr(tokenizer, "convert_tokens_to_ids"):
        return tokenizer
    raise BertNbError("tokenizer is 'chinese', another bert_nb name, an engine, or a tokenizer folder.")


def _config_of(config, tokenizer, max_length):
    import transformers

    if isinstance(config, str):
        if config not in CONFIGS:
            raise BertNbError(f"Unknown config {config!r}; choose one of {', '.join(CONFIGS)}, or give a dict or a "
                              "BertConfig.")
        config = dict(CONFIGS[config])
    if isinstance(config, dict):
        config = transformers.BertConfig(**{"vocab_size": len(tokenizer), "max_position_embeddings":
                                            max(128, max_length), **config})
    if not isinstance(config, transformers.PretrainedConfig):
        raise BertNbError("config is 'tiny', 'mini', a dict of BertConfig fields, or a BertConfig.")
    heads = getattr(config, "num_attention_heads", 0)
    if not heads or getattr(config, "hidden_size", 0) % heads:  # a ValueError from inside the model before
        raise BertNbError(f"The config's hidden_size {getattr(config, 'hidden_size', None)} is not a multiple of its "
                          f"{heads} attention heads; make it one (each head takes an equal share).")
    if config.vocab_size != len(tokenizer):
        raise BertNbError(f"The config's vocab_size is {config.vocab_size} but the tokenizer has {len(tokenizer)} "
                          "pieces; leave vocab_size out of the config (it is taken from the tokenizer) or match them.")
    if config.max_position_embeddings < max_length:
        raise BertNbError(f"max_length {max_length} is longer than the config's {config.max_position_embeddings} "
                          "positions; lower max_length or raise max_position_embeddings.")
    return config


_FILES = (".txt", ".csv", ".parquet")  # a corpus file, read as bert_nb.index reads one


def _texts_of(texts) -> list[str]:
    """The documents: a text, a list, a Series, a frame's text column, or a .txt (one per line), .csv or .parquet file."""
    import os
    from pathlib import Path

    if isinstance(texts, os.PathLike) or isinstance(texts, str) and texts.lower().endswith(_FILES) and \
            is_file(texts):
        from .indexes import _stream

        texts = list(_stream(Path(texts), None))  # read as the index reads a corpus
    if isinstance(texts, str):
        texts = [texts]
    elif hasattr(texts, "columns"):
        if "text" not in texts.columns:
            raise BertNbError(f"The frame has no 'text' column; its columns are {', '.join(map(str, texts.columns))}.")
        texts = texts["text"]
    if not hasattr(texts, "tolist"):
        texts = listed(texts, "The corpus is texts: a list, a Series, a frame with a 'text' column or a file's path")
    texts = [t for t in (texts.tolist() if hasattr(texts, "tolist") else texts) if isinstance(t, str) and t.strip()]
    if not texts:
        raise BertNbError("The corpus is empty; give texts to learn from (one document per item).")
    return texts


def pretrain(texts, config="tiny", tokenizer="chinese", objectives=("mlm", "nsp"), steps: int = 1000,
             batch_size: int = 64, learning_rate: float = 5e-4, max_length: int = 64, mlm_probability: float = 0.15,
             warmup_ratio: float = 0.05, eval_every: int | None = None, eval_texts=None, probes=(),
             seed: int = 0, device: str = "auto", callbacks=None, state: TrainingState | None = None,
             name: str = "pretrained", init=None) -> Pretrained:
    """Pre-train a BERT from random weights on unlabelled text (masked-LM, and next-sentence prediction).

    Parameters
    ----------
    texts : list of str, a Series, a DataFrame with a ``text`` column, or a file
        One document per item (a .txt file: per line; .csv or .parquet: its ``text`` column); NSP pairs are consecutive sentences of one document (half of
        them), or a sentence and one from another document.
    config : "tiny", "mini", dict or BertConfig
        The model's size; ``vocab_size`` comes from the tokenizer.
    tokenizer : "chinese", another bert_nb name, an Engine, or a tokenizer folder
    objectives : ("mlm",) or ("mlm", "nsp")
    steps, batch_size, learning_rate, max_length, warmup_ratio
        The recipe measured in ``bench/pretrain.py``: 2 layers, hidden 128, batch 64, 5e-4.
    eval_every : int, optional
        Steps between evaluations (default: about 10 in all).
    eval_texts : list of str, optional
        Held-out text for masked-piece accuracy; default 2% of the documents, kept out of training.
    probes : list of str
        Sentences with ``[MASK]`` that each evaluation fills, to watch the model learn.
    init : Engine, optional
        Start from this encoder's weights instead of random ones (masked-LM adaptation: a new
        masked-LM head, its output layer tied to the word embeddings); ``config`` and
        ``tokenizer`` are then the engine's.

    Returns
    -------
    Pretrained
        A masked-LM engine: ``fill_mask``, ``attention``, ``explain``, ``finetune`` and ``save`` work on it.

    Examples
    --------
    >>> corpus = bert_nb.datasets.load("peoples_daily_text").text                          # doctest: +SKIP
    >>> model = bert_nb.pretrain(corpus, steps=300, probes=["中国[MASK]民"])                # doctest: +SKIP
    >>> bert_nb.fill_mask(model, "我爱北[MASK]。")                                          # doctest: +SKIP
    """
    import numpy as np
    import torch
    import transformers

    from .engine import _pick_device

    objectives = (objectives,) if isinstance(objectives, str) else tuple(objectives)
    if "mlm" not in objectives or not set(objectives) <= {"mlm", "nsp"}:
        raise BertNbError(f"objectives is ('mlm',) or ('mlm', 'nsp'); got {objectives!r}.")
    if not isinstance(steps, int) or steps < 1:
        raise BertNbError(f"steps must be a whole number of at least 1; got {steps!r}.")
    if not isinstance(batch_size, int) or batch_size < 1 or not 0 < mlm_probability < 1 or learning_rate <= 0:
        raise BertNbError("batch_size is a whole number of at least 1, learning_rate above 0, mlm_probability "
                          "between 0 and 1.")
    texts = _texts_of(texts)
    tok = _tokenizer_of(init if init is not None else tokenizer)
    model_config = _config_of(init.config if init is not None else config, tok, max_length)
    if eval_texts is None:
        order = np.random.default_rng(seed).permutation(len(texts))
        cut = max(1, len(texts) // 50) if len(texts) > 1 else 0
        eval_texts = [s for i in order[:cut] for s in _sentences(texts[i])][:500] if cut else _sentences(texts[0])[:50]
        texts = [texts[i] for i in np.sort(order[cut:])] if cut else texts
    corpus = _corpus(tok, texts, max_length)
    nsp = "nsp" in objectives
    if nsp and not any(len(d) > 1 for d in corpus.documents):
        raise BertNbError("Next-sentence prediction needs documents of two sentences or more; give longer texts "
                          "(sentences end with 。！？ or . ! ?) or objectives=('mlm',).")
    if nsp and len(corpus.documents) < 2:  # "high <= 0" from numpy before
        raise BertNbError("Next-sentence prediction needs two documents or more (a wrong next sentence comes from "
                          "another document); give more texts, one document each, or objectives=('mlm',).")
    if not corpus.documents:
        raise BertNbError("The tokenizer found no pieces in the texts; check the tokenizer matches their language.")
    for probe in probes:
        if tok.mask_token not in probe:
            raise BertNbError(f"Each probe needs a {tok.mask_token}; '{probe}' has none.")
    transformers.set_seed(seed)
    model_class = transformers.BertForPreTraining if nsp else transformers.BertForMaskedLM
    model = model_class(model_config)
    if init is not None:  # the encoder's own weights; the new head's output layer is tied to its embeddings
        model.bert.load_state_dict(init.encoder.state_dict(), strict=False)
        model.tie_weights()
    state = state or TrainingState()
    every = eval_every or max(1, steps // 10)
    dev = _pick_device(device)
    args = arguments(
        transformers, max_steps=steps, learning_rate=learning_rate,
        per_device_train_batch_size=batch_size, warmup_steps=int(round(warmup_ratio * steps)),
        lr_scheduler_type="linear", weight_decay=0.01, seed=seed, save_strategy="no", eval_strategy="no",
        logging_strategy="steps", logging_steps=max(1, min(every, math.ceil(steps / 50))), report_to=[],
        disable_tqdm=True, use_cpu=not dev.startswith("cuda"), bf16=dev.startswith("cuda"),
        remove_unused_columns=False, dataloader_pin_memory=dev.startswith("cuda"))
    examples = _Examples(corpus, tok, max_length, nsp, steps * batch_size, seed)
    evaluate = _evaluator(transformers, eval_texts, tok, max_length, corpus.counts, list(probes), every, state)
    trainer = _trainer_class(transformers)(
        model=model, args=args, train_dataset=examples, data_collator=_Masker(tok, mlm_probability, seed),
        callbacks=[_callback_class()(state), evaluate, *(callbacks or [])])
    _quiet(transformers, trainer)
    _train(trainer, state)
    settings = dict(config=model_config.to_diff_dict(), objectives=list(objectives), steps=steps,
                    batch_size=batch_size, learning_rate=learning_rate, max_length=max_length, seed=seed,
                    documents=len(corpus.documents))
    model = trainer.model.eval().to(dev)
    return Pretrained(name, tok, model, dev, torch.float32, state, settings)


_SCRIPT = '''"""Pre-train a BERT from random weights with bert_nb's recipe (masked-LM logits at masked positions, NSP).

Written by bert_nb's Pretrained.export_script. One document per line in the corpus file.

    python pretrain.py --corpus corpus.txt --out model
    accelerate launch --num_processes 8 pretrain.py --corpus big.txt --steps 100000 --out model
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 4 pretrain.py ...   # CPU processes
"""

import argparse
import json
import os
import sys

import bert_nb
from accelerate import PartialState


{leave}

RECIPE = {recipe}
CONFIG = {config}
TOKENIZER = {tokenizer}

parser = argparse.ArgumentParser()
parser.add_argument("--corpus", default={corpus})
parser.add_argument("--out", default="pretrained-model")
parser.add_argument("--tokenizer", default=TOKENIZER, help="a bert_nb name such as chinese, or a tokenizer folder")
for key in ("steps", "batch_size", "learning_rate", "max_length", "seed"):
    parser.add_argument("--" + key.replace("_", "-"), type=type(RECIPE[key]), default=RECIPE[key])
args = parser.parse_args()

with open(args.corpus, encoding="utf-8") as f:
    texts = [line.strip() for line in f if line.strip()]
model = bert_nb.pretrain(texts, config=CONFIG, tokenizer=args.tokenizer, objectives=tuple(RECIPE["objectives"]),
                         steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                         max_length=args.max_length, seed=args.seed, callbacks=[bert_nb.training.text_progress()])
state = PartialState()  # the Trainer's: one process saves and reports
if state.is_main_process:
    model.save(args.out)
    print(json.dumps({{"saved": args.out, "steps": model.state.step, "processes": state.num_processes,
                      **{{k: v for k, v in model.state.epochs[-1].items() if k != "probes"}}}}))
if state.num_processes > 1:
    leave()
'''
