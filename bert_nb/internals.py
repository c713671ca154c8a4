"""Inside the layers: embedding parts, learned positions, what each sublayer adds, the logit lens, probes.

- :func:`embedding_parts`: token + position + segment embeddings, their sum and the LayerNorm.
- :func:`positions`: the learned position embeddings' cosine matrix beside the sinusoidal one.
- :func:`layers`: every layer's hidden states and, per piece, how much the attention block and
  the feed-forward block change the vector relative to the residual (Kobayashi et al. 2020),
  its cosine to itself in the previous layer and in layer 0, and per layer the anisotropy
  (Ethayarajh 2019).
- :func:`logit_lens`: every layer's hidden state through the model's own masked-LM head.
- :func:`probe`: how well each layer's pooled vectors predict a label (Tenney et al. 2019),
  with scikit-learn's logistic regression, all layers from one pass.

Each runs one forward pass; hooks are removed before it returns. Where a model lacks a part
(no segment embeddings, no masked-LM head, an unknown layer layout), the result says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import BertNbError

__all__ = ["embedding_parts", "EmbeddingParts", "positions", "Positions", "layers", "LayerStates",
           "logit_lens", "LogitLens", "probe", "Probe", "MEASURES"]

MEASURES = {"attention_ratio": "|attention block| / |residual|", "ffn_ratio": "|feed-forward block| / |residual|",
            "cos_previous": "cosine to the previous layer", "cos_first": "cosine to layer 0"}


def _check_text(text, name: str = "text") -> None:
    if not isinstance(text, str) or not text.strip():
        raise BertNbError(f"The {name} is empty; give a sentence to look inside.")


def _encode(engine, text: str, pair: str | None = None):
    _check_text(text)
    if pair is not None:
        _check_text(pair, "pair")
    tok = engine.tokenizer
    enc = tok(text, pair, truncation=True, max_length=engine.max_length, return_tensors="pt")
    cut = len(tok(text, pair, verbose=False)["input_ids"]) - enc["input_ids"].shape[1]
    note = f"Truncated: {cut} pieces cut to fit the limit of {engine.max_length} pieces." if cut > 0 else None
    return enc, tok.convert_ids_to_tokens(enc["input_ids"][0]), note


def _notes(*notes) -> str | None:
    return " ".join(n for n in notes if n) or None


# -- the three embeddings ---------------------------------------------------------
@dataclass(frozen=True)
class EmbeddingParts:
    """Per piece: the norms of the token, position and segment embeddings, their sum and after LayerNorm."""

    text: str
    pair: str | None
    tokens: tuple[str, ...]
    norms: "object"  # DataFrame: piece, token, position, segment, sum, layernorm
    model: str
    note: str | None = None

    def to_frame(self):
        """One row per piece: the norm of each part."""
        return self.norms.copy()

    def to_text(self) -> str:
        """Mean norm of each part, and any note."""
        means = self.norms[["token", "position", "segment", "sum", "layernorm"]].mean()
        parts = ", ".join(f"{k} {v:.2f}" for k, v in means.items() if v == v)
        return (f"embedding parts of {len(self.tokens)} pieces ({self.model}): mean norm {parts}"
                + (f"\nnote: {self.note}" if self.note else ""))

    def __repr__(self) -> str:
        return f"EmbeddingParts({len(self.tokens)} pieces, {self.model})"


def _position_ids(engine, enc):
    """The positions the model itself uses (RoBERTa starts after its padding index)."""
    import torch

    T = enc["input_ids"].shape[1]
    emb = engine.encoder.embeddings
    if getattr(engine.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        start = int(getattr(emb, "padding_idx", engine.config.pad_token_id)) + 1
        return torch.arange(start, start + T).unsqueeze(0)
    return torch.arange(T).unsqueeze(0)


def embedding_parts(engine, text: str, pair: str | None = None) -> EmbeddingParts:
    """Norms of the token, position and segment embeddings of each piece, their sum and after LayerNorm.

    Examples
    --------
    >>> bert_nb.embedding_parts(engine, "The cat sat.", pair="It purred.").to_frame()   # doctest: +SKIP
    """
    import pandas as pd
    import torch

    enc, tokens, note = _encode(engine, text, pair)
    emb = engine.encoder.embeddings
    for part in ("word_embeddings", "position_embeddings", "LayerNorm"):
        if not hasattr(emb, part):
            raise BertNbError(f"'{engine.name}' builds its input differently (no {part}); "
                              "embedding parts work for BERT, RoBERTa, ALBERT, ELECTRA, MiniLM and DistilBERT.")
    with torch.inference_mode():
        ids = engine.to_device({"i": enc["input_ids"]})["i"]
        word = emb.word_embeddings(ids)[0].float()  # (T, E)
        pos = emb.position_embeddings(engine.to_device({"p": _position_ids(engine, enc)})["p"])[0].float()
        segments = getattr(emb, "token_type_embeddings", None)
        seg_note = None
        if segments is not None:
            types = enc.get("token_type_ids", torch.zeros_like(enc["input_ids"]))
            seg = segments(engine.to_device({"t": types})["t"])[0].float()
        else:
            seg = torch.zeros_like(word)
            seg_note = f"'{engine.name}' has no segment embeddings; its input is token + position only."
        total = word + pos + seg
        normed = emb.LayerNorm(total.to(emb.LayerNorm.weight.dtype)).float()
    segment_ids = enc.get("token_type_ids", torch.zeros_like(enc["input_ids"]))[0].tolist()
    norms = pd.DataFrame({
        "piece": tokens, "segment_id": segment_ids, "token": word.norm(dim=-1).cpu().numpy(),
        "position": pos.norm(dim=-1).cpu().numpy(),
        "segment": seg.norm(dim=-1).cpu().numpy() if segments is not None else float("nan"),
        "sum": total.norm(dim=-1).cpu().numpy(), "layernorm": normed.norm(dim=-1).cpu().numpy()})
    return EmbeddingParts(text=text, pair=pair, tokens=tuple(tokens), norms=norms, model=engine.name,
                          note=_notes(note, seg_note))


# -- positions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Positions:
    """Cosine similarity between positions: the model's learned embeddings and the sinusoidal formula."""

    learned: "object"  # (n, n) float array
    sinusoidal: "object"  # (n, n)
    model: str
    note: str | None = None

    def to_frame(self):
        """Mean cosine between positions at distance 1, 2, 4, ... for both encodings."""
        import numpy as np
        import pandas as pd

        n = len(self.learned)
        rows = []
        d = 1
        while d < n:
            rows.append({"distance": d, "learned": float(np.diagonal(self.learned, d).mean()),
                         "sinusoidal": float(np.diagonal(self.sinusoidal, d).mean())})
            d *= 2
        return pd.DataFrame(rows)

    def to_text(self) -> str:
        """The mean cosine at each distance, one line."""
        frame = self.to_frame()
        pairs = ", ".join(f"{r.distance}: {r.learned:.2f} / {r.sinusoidal:.2f}" for r in frame.itertuples())
        return (f"{len(self.learned)} positions ({self.model}); mean cosine at distance d, learned / sinusoidal: {pairs}"
                + (f"\nnote: {self.note}" if self.note else ""))

    def __repr__(self) -> str:
        return f"Positions({len(self.learned)}, {self.model})"


def sinusoidal(n: int, d: int):
    """The Transformer's encoding: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same); (n, d)."""
    import numpy as np

    p = np.arange(n)[:, None]
    i = np.arange(0, d, 2)[None, :]
    angle = p / np.power(10000.0, i / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d // 2])
    return pe


def _cosines(vectors):
    import numpy as np

    unit = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return unit @ unit.T


def positions(engine, n: int | None = None) -> Positions:
    """The learned position embeddings' cosine matrix (n x n, default the model's length) and the sinusoidal one."""

    emb = getattr(engine.encoder.embeddings, "position_embeddings", None)
    if emb is None:
        raise BertNbError(f"'{engine.name}' has no position-embedding table; positions works for BERT-family models.")
    start = 0
    if getattr(engine.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        start = int(engine.config.pad_token_id) + 1
    limit = emb.weight.shape[0] - start
    n = limit if n is None else n
    if not isinstance(n, int) or not 2 <= n <= limit:
        raise BertNbError(f"n must be a whole number from 2 to {limit} (this model's positions); got {n!r}.")
    learned = emb.weight[start:start + n].detach().float().cpu().numpy()
    note = None
    if getattr(engine.config, "sinusoidal_pos_embds", False):
        note = f"'{engine.name}' uses fixed sinusoidal positions, not learned ones: the two matrices match."
    return Positions(learned=_cosines(learned), sinusoidal=_cosines(sinusoidal(n, learned.shape[1])),
                     model=engine.name, note=note)


# -- layer by layer -------------------------------------------------------------------
@dataclass(frozen=True)
class LayerStates:
    """Hidden states (layers + 1, T, H) and per layer and piece what the sublayers changed."""

    text: str
    pair: str | None
    tokens: tuple[str, ...]
    hidden: "object"  # (L + 1, T, H) float32; 0 is the embeddings' output
    attention_ratio: "object"  # (L, T): |attention block output| / |its residual input|
    ffn_ratio: "object"  # (L, T): |feed-forward output| / |its residual input|
    cos_previous: "object"  # (L, T): cosine of layer l to layer l - 1, per piece
    cos_first: "object"  # (L, T): cosine of layer l to layer 0
    anisotropy: "object"  # (L + 1,): mean cosine between different pieces, per layer
    model: str
    note: str | None = None
    layer: int | None = None  # the layer its views show piece by piece; None: all layers, averaged

    def at(self, layer: int | None) -> "LayerStates":
        """The same states, viewed at one layer (1..L) piece by piece, or all layers (None)."""
        import dataclasses

        if layer is not None and not 1 <= layer <= self.layers:
            raise BertNbError(f"Layer {layer} is out of range; this model has layers 1 to {self.layers} (0 is the input).")
        return dataclasses.replace(self, layer=layer)

    @property
    def layers(self) -> int:
        """Number of transformer layers."""
        return self.hidden.shape[0] - 1

    def measure(self, name: str):
        """One of :data:`MEASURES` as a (layers, pieces) array."""
        if name not in MEASURES:
            raise BertNbError(f"Unknown measure '{name}'; choose one of {', '.join(MEASURES)}.")
        return getattr(self, name)

    def to_frame(self):
        """One row per layer (1..L) and piece: the four measures and the layer's anisotropy."""
        import pandas as pd

        L, T = self.attention_ratio.shape
        rows = [{"layer": l + 1, "position": t, "piece": self.tokens[t],
                 **{m: float(getattr(self, m)[l, t]) for m in MEASURES}, "anisotropy": float(self.anisotropy[l + 1])}
                for l in range(L) for t in range(T)]
        return pd.DataFrame(rows)

    def summary(self):
        """One row per layer: the mean of each measure over the pieces, and the anisotropy."""
        return self.to_frame().groupby("layer")[[*MEASURES, "anisotropy"]].mean().reset_index()

    def to_text(self) -> str:
        """Per layer: mean attention and feed-forward ratios, cosine to layer 0, anisotropy (or one layer's pieces)."""
        if self.layer is not None:
            l = self.layer - 1
            lines = [f"layer {self.layer} of {self.layers} ({self.model}), anisotropy {self.anisotropy[self.layer]:.2f}; "
                     "per piece: attention, feed-forward, cos to previous layer, cos to layer 0"]
            lines += [f"  {t} {i}: {self.attention_ratio[l, i]:.2f}, {self.ffn_ratio[l, i]:.2f}, "
                      f"{self.cos_previous[l, i]:.2f}, {self.cos_first[l, i]:.2f}" for i, t in enumerate(self.tokens)]
            return "\n".join(lines + ([f"note: {self.note}"] if self.note else []))
        lines = [f"{self.layers} layers over {len(self.tokens)} pieces ({self.model}); per layer, mean over pieces:"]
        for r in self.summary().itertuples():
            lines.append(f"  layer {r.layer}: attention {r.attention_ratio:.2f}, feed-forward {r.ffn_ratio:.2f}, "
                         f"cos to layer 0 {r.cos_first:.2f}, anisotropy {r.anisotropy:.2f}")
        return "\n".join(lines + ([f"note: {self.note}"] if self.note else []))

    def __repr__(self) -> str:
        return f"LayerStates({self.layers} layers, {len(self.tokens)} pieces, {self.model})"


def _blocks(engine):
    """Per layer: (attention-block module, its residual module or None, feed-forward module, its residual module).

    The residual of the attention block is the layer input; of the feed-forward block, the
    attention sublayer's output. Returns None for a layout it does not know.
    """
    enc = engine.encoder
    layer_list = getattr(getattr(enc, "encoder", None), "layer", None)
    if layer_list is not None and all(hasattr(l, "attention") and hasattr(l, "output") for l in layer_list):
        return [(l.attention.output.dense, l.attention.output, l.output.dense) for l in layer_list], "bert"
    layer_list = getattr(getattr(enc, "transformer", None), "layer", None)
    if layer_list is not None and all(hasattr(l, "sa_layer_norm") for l in layer_list):
        return [(l.attention.out_lin, l.sa_layer_norm, l.ffn.lin2) for l in layer_list], "distilbert"
    return None, None


def layers(engine, text: str, pair: str | None = None) -> LayerStates:
    """Hidden states of every layer and, per piece, what the attention and feed-forward blocks changed.

    One forward pass with hidden states; forward hooks read each block's output before the
    residual is added, and are removed before this returns.

    Examples
    --------
    >>> states = bert_nb.layers(engine, "The cat sat on the mat.")     # doctest: +SKIP
    >>> states.summary()                                                # doctest: +SKIP
    """
    import numpy as np
    import torch

    enc, tokens, note = _encode(engine, text, pair)
    blocks, _ = _blocks(engine)
    seen: dict[tuple[int, str], "torch.Tensor"] = {}
    handles = []

    def keep(l, kind):
        def hook(module, inputs, output):
            seen[(l, kind)] = (output[0] if isinstance(output, tuple) else output)[0].detach().float()
        return hook

    try:
        for l, (attn_out, attn_residual, ffn_out) in enumerate(blocks or []):
            handles += [attn_out.register_forward_hook(keep(l, "attn")),
                        attn_residual.register_forward_hook(keep(l, "mid")),
                        ffn_out.register_forward_hook(keep(l, "ffn"))]
        out = engine.forward(dict(enc), model=engine.encoder, output_hidden_states=True)
    finally:
        for h in handles:
            h.remove()
    hidden = torch.stack([h[0].float() for h in out.hidden_states]).cpu()  # (L + 1, T, H)
    L, T = hidden.shape[0] - 1, hidden.shape[1]
    attn_ratio = np.full((L, T), np.nan)
    ffn_ratio = np.full((L, T), np.nan)
    layout_note = None
    if blocks is None or len(seen) != 3 * L:
        layout_note = (f"'{engine.name}' has a layer layout bert_nb does not know; "
                       "the attention and feed-forward ratios are left empty.")
    else:
        for l in range(L):
            attn_ratio[l] = (seen[(l, "attn")].norm(dim=-1) / hidden[l].norm(dim=-1).to(seen[(l, "attn")].device)).cpu()
            ffn_ratio[l] = (seen[(l, "ffn")].norm(dim=-1) / seen[(l, "mid")].norm(dim=-1)).cpu()
    unit = torch.nn.functional.normalize(hidden, dim=-1)
    cos_prev = (unit[1:] * unit[:-1]).sum(-1).numpy()
    cos_first = (unit[1:] * unit[:1]).sum(-1).numpy()
    gram = unit @ unit.transpose(1, 2)  # (L + 1, T, T)
    off = ~torch.eye(T, dtype=torch.bool)
    anisotropy = (gram[:, off].mean(-1) if T > 1 else torch.ones(L + 1)).numpy()
    return LayerStates(text=text, pair=pair, tokens=tuple(tokens), hidden=hidden.numpy(), attention_ratio=attn_ratio,
                       ffn_ratio=ffn_ratio, cos_previous=cos_prev, cos_first=cos_first, anisotropy=anisotropy,
                       model=engine.name, note=_notes(note, layout_note))


# -- the logit lens -----------------------------------------------------------------------
@dataclass(frozen=True)
class LogitLens:
    """What each layer would predict at each position, through the model's own masked-LM head."""

    text: str
    tokens: tuple[str, ...]
    predictions: "object"  # DataFrame: layer, position, piece, rank, token, probability
    layers: int
    top_k: int
    model: str
    note: str | None = None

    def to_frame(self):
        """layer, position, piece, rank, token, probability: top_k rows per layer and position."""
        return self.predictions.copy()

    def top(self, position: int) -> list[tuple[int, str, float]]:
        """The top-1 token of every layer at ``position``: (layer, token, probability)."""
        rows = self.predictions[(self.predictions.position == position) & (self.predictions["rank"] == 1)]
        return [(int(r.layer), r.token, float(r.probability)) for r in rows.itertuples()]

    def to_text(self) -> str:
        """At each [MASK] (or the middle piece), the top token layer by layer."""
        from .mask import MASK

        masks = [i for i, t in enumerate(self.tokens) if t in (MASK, "<mask>")] or [len(self.tokens) // 2]
        lines = [f"logit lens over {self.layers + 1} layers ({self.model})"]
        for p in masks:
            steps = " → ".join(f"{tok} {prob:.2f}" for _, tok, prob in self.top(p))
            lines.append(f"  {self.tokens[p]} {p}: {steps}")
        return "\n".join(lines + ([f"note: {self.note}"] if self.note else []))

    def __repr__(self) -> str:
        return f"LogitLens({self.layers + 1} layers x {len(self.tokens)} positions, {self.model})"


def _lm_head(engine):
    """The masked-LM head as one function hidden (.., H) -> logits (.., V), or None."""
    from .mask import _mlm_head

    model = engine.head("mlm")
    found = _mlm_head(model)  # BERT's predictions (a pre-training model's heads also take the pooled output)
    if found is not None:
        return found
    if hasattr(model, "vocab_projector"):  # DistilBERT
        return lambda h: model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(h))))
    if hasattr(model, "generator_lm_head"):  # ELECTRA generator
        return lambda h: model.generator_lm_head(model.generator_predictions(h))
    if hasattr(model, "predictions"):  # ALBERT
        return model.predictions
    return None


def logit_lens(engine, text: str, top_k: int = 5) -> LogitLens:
    """Every layer's hidden state through the model's own masked-LM head: the top-k tokens per layer and position.

    The last layer's predictions are what :func:`bert_nb.fill_mask` reports.
    """
    import pandas as pd
    import torch

    from .mask import typed_masks

    if not isinstance(top_k, int) or top_k < 1:
        raise BertNbError(f"top_k must be a positive whole number, not {top_k!r}.")
    head = _lm_head(engine)
    if head is None:
        raise BertNbError(f"bert_nb does not know where the masked-LM head of '{engine.name}' is; "
                          "the logit lens works for BERT, RoBERTa, DistilBERT, ALBERT and ELECTRA generators.")
    _check_text(text)
    enc, tokens, note = _encode(engine, typed_masks(engine.tokenizer, text))
    out = engine.forward(dict(enc), model=engine.encoder, output_hidden_states=True)
    tok = engine.tokenizer
    rows = []
    with torch.inference_mode():
        for layer, hidden in enumerate(out.hidden_states):
            probs = head(hidden[0]).float().softmax(-1)  # (T, V)
            top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
            for pos in range(len(tokens)):
                for rank, (p, i) in enumerate(zip(top.values[pos].tolist(), top.indices[pos].tolist()), 1):
                    rows.append((layer, pos, tokens[pos], rank, tok.convert_ids_to_tokens(i), p))
    frame = pd.DataFrame(rows, columns=["layer", "position", "piece", "rank", "token", "probability"])
    return LogitLens(text=text, tokens=tuple(tokens), predictions=frame, layers=len(out.hidden_states) - 1,
                     top_k=top_k, model=engine.name, note=_notes(note, engine.note))


# -- probing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """Cross-validated accuracy of a logistic-regression probe on each layer's pooled vectors."""

    scores: "object"  # DataFrame: layer, accuracy, std, C (the regularisation the inner CV chose)
    majority: float  # accuracy of always predicting the most common label
    labels: tuple[str, ...]
    texts: int
    pooling: str
    model: str

    def to_frame(self):
        """layer, accuracy (mean over folds), std, C (chosen by inner cross-validation; median over folds)."""
        return self.scores.copy()

    def best(self) -> int:
        """The layer with the highest mean accuracy (the first, on a tie)."""
        return int(self.scores.layer.iloc[int(self.scores.accuracy.to_numpy().argmax())])

    def to_text(self) -> str:
        """Accuracy per layer next to the majority baseline."""
        accs = ", ".join(f"{int(r.layer)}: {r.accuracy:.2f}" for r in self.scores.itertuples())
        text = (f"probe on {self.texts} texts, {len(self.labels)} labels, {self.pooling} pooling ({self.model}); "
                f"accuracy by layer {accs}; majority class {self.majority:.2f}")
        if "C" in self.scores:
            text += "; C chosen by inner CV " + ", ".join(f"{int(r.layer)}: {r.C:g}" for r in self.scores.itertuples())
        return text

    def __repr__(self) -> str:
        return f"Probe({len(self.scores)} layers, {self.texts} texts, {self.model})"


def hidden_pooled(engine, texts: list[str], pooling: str = "mean", batch_size: int = 32, max_length: int | None = None,
                  progress: bool = True):
    """Every layer's pooled vector of every text from one pass: (layers + 1, N, H) float32 (texts cut at max_length)."""
    from .embeddings import _sentence_max_length, pooled_vectors
    from .tokens import checked_limit
    from .windows import stride_for

    if pooling not in ("mean", "cls", "max"):
        raise BertNbError(f"Unknown pooling '{pooling}'; choose mean, cls or max.")
    limit = checked_limit(engine, max_length, default=_sentence_max_length(engine))
    stride = stride_for(None, limit, engine.tokenizer)
    vectors, _, _ = pooled_vectors(engine, list(texts), pooling, None, limit, stride, True, batch_size, progress=progress)
    return vectors


_PROBE_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # inverse regularisation strengths the inner CV chooses from


def probe(engine, data, text: str = "text", label: str = "label", pooling: str = "mean", cv: int = 5,
          seed: int = 0, progress: bool = True, Cs=_PROBE_CS, inner_cv: int = 3) -> Probe:
    """How well each layer's pooled vectors predict ``label``: logistic regression, ``cv``-fold accuracy.

    A probe should measure what a layer holds, not how much a probe with hundreds of weights
    overfits a few hundred texts: in each outer fold, the regularisation strength ``C`` is chosen
    among ``Cs`` by an inner ``inner_cv``-fold cross-validation on that fold's training part only
    (scikit-learn's ``LogisticRegressionCV``), so the held-out fold never informs the choice. The
    result gives the chosen ``C`` per layer (the median over outer folds).

    Parameters
    ----------
    engine : Engine
    data : DataFrame or a CSV path
        With a ``text`` column and a ``label`` column (any labels, at least ``cv`` of each).
    pooling : {"mean", "cls", "max"}
    cv : int
        Stratified folds (shuffled with ``seed``).
    Cs : sequence of float
        Candidate inverse regularisation strengths; one value fixes ``C`` (no inner search).
    inner_cv : int
        Folds of the inner search.

    Examples
    --------
    >>> reviews = bert_nb.datasets.load("rotten_tomatoes", split="train").sample(500, random_state=0)
    >>> bert_nb.probe(engine, reviews).to_frame()                           # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from threadpoolctl import threadpool_limits

    if isinstance(data, (str, os.PathLike)):  # a CSV file, as bert_nb.finetune reads one
        from .training import _frame

        data = _frame(data, text, label)[0]
    if not hasattr(data, "columns"):
        raise BertNbError("probe needs a DataFrame (or a CSV file) with a text and a label column, "
                          "for example bert_nb.datasets.load('rotten_tomatoes', split='train').")
    for column in (text, label):
        if column not in data.columns:
            raise BertNbError(f"The data has no column '{column}'; name the columns with text= and label= "
                              f"({', '.join(map(str, data.columns))}).")
    frame = data[[text, label]].dropna()
    counts = frame[label].astype(str).value_counts()
    if len(counts) < 2:
        raise BertNbError("The labels are all the same; a probe needs at least two labels.")
    if frame[label].dtype.kind == "f" and len(counts) > len(frame) // 2:  # a score: every value its own class
        raise BertNbError(f"Column '{label}' holds {len(counts)} different numbers; a probe predicts classes, so "
                          f"give labels (for example pd.cut(data['{label}'], 3, labels=['low', 'mid', 'high'])).")
    if not isinstance(cv, int) or isinstance(cv, bool) or cv < 2:  # "cv=1 folds need at least that many" before
        raise BertNbError(f"cv is the number of cross-validation folds, a whole number of at least 2; got {cv!r}.")
    if counts.min() < cv:
        raise BertNbError(f"cv={cv!r} folds need at least that many examples of each label (the rarest has "
                          f"{counts.min()}); give more data or fewer folds (cv >= 2).")
    Cs = [float(c) for c in np.atleast_1d(Cs)]
    if not Cs or min(Cs) <= 0:
        raise BertNbError(f"Cs must be positive regularisation strengths, e.g. {list(_PROBE_CS)}; got {Cs}.")
    if not isinstance(inner_cv, int) or inner_cv < 2:
        raise BertNbError(f"inner_cv must be a whole number of folds, at least 2; got {inner_cv!r}.")
    rarest_in_training = int(counts.min() - -(-counts.min() // cv))  # the rarest label, less its largest test fold
    inner_cv = min(inner_cv, rarest_in_training)  # small data: fewer inner folds rather than none
    if len(Cs) > 1 and inner_cv < 2:
        raise BertNbError("Choosing C needs at least 2 examples of each label in every outer training part; "
                          "give more data, fewer folds (cv=), or one C (Cs=[1.0]).")
    texts = [str(t) for t in frame[text]]
    y = frame[label].astype(str).to_numpy()
    vectors = hidden_pooled(engine, texts, pooling=pooling, progress=progress)
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    rows = []
    # one BLAS thread: these fits are small, and threaded OpenBLAS spins on them (30x slower measured on 2 cores)
    with threadpool_limits(1):
        for layer, X in enumerate(vectors):
            fitted = cross_validate(_probe_model(Cs, inner_cv, seed), X, y, cv=folds, scoring="accuracy",
                                    return_estimator=True)
            acc = fitted["test_score"]
            chosen = [_chosen_c(est, Cs) for est in fitted["estimator"]]
            rows.append({"layer": layer, "accuracy": float(np.mean(acc)), "std": float(np.std(acc)),
                         "C": float(np.median(chosen))})
    return Probe(scores=pd.DataFrame(rows), majority=float(counts.iloc[0] / counts.sum()),
                 labels=tuple(sorted(counts.index)), texts=len(texts), pooling=pooling, model=engine.name)


def _probe_model(Cs: list[float], inner_cv: int, seed: int):
    """Standardise, then a logistic regression whose C an inner stratified CV picks among ``Cs``."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(Cs) == 1:
        return make_pipeline(StandardScaler(), LogisticRegression(C=Cs[0], max_iter=1000))
    import inspect

    inner = StratifiedKFold(n_splits=inner_cv, shuffle=True, random_state=seed)
    # scikit-learn >= 1.9 asks for its coming defaults to be named; older ones do not know these arguments
    coming = inspect.signature(LogisticRegressionCV).parameters
    extra = dict(l1_ratios=(0.0,), use_legacy_attributes=False) if "use_legacy_attributes" in coming else {}
    return make_pipeline(StandardScaler(),
                         LogisticRegressionCV(Cs=Cs, cv=inner, max_iter=1000, scoring="accuracy", **extra))


def _chosen_c(pipeline, Cs: list[float]) -> float:
    """The C a fitted probe pipeline ended with."""
    import numpy as np

    last = pipeline[-1]
    return float(np.ravel(last.C_)[0]) if hasattr(last, "C_") else Cs[0]
