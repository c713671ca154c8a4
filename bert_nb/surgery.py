"""Model surgery: where each layout keeps its attention heads and layers, and how to remove some.

A low-level module beside :mod:`bert_nb.engine`: it knows the module layouts of BERT-style
models (BERT, MiniLM, RoBERTa, ELECTRA: ``encoder.layer[i].attention.self``) and DistilBERT
(``transformer.layer[i].attention``), nothing about tasks. Pruned heads are recorded in the
config as ``bert_nb_pruned_heads`` (layer -> original head numbers), so a saved pruned model
reloads with the same shapes (:func:`rebuild_pruned`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BertNbError

__all__ = ["AttentionParts", "attention_parts", "pruned_heads", "remaining_heads", "heads_per_layer", "prune_heads", "keep_layers",
           "rebuild_pruned", "PRUNED_KEY"]

PRUNED_KEY = "bert_nb_pruned_heads"


@dataclass(frozen=True)
class AttentionParts:
    """One layer's attention: the module that counts heads, its q/k/v projections and its output projection."""

    owner: object  # the module with the head count attribute
    count_attr: str  # "num_attention_heads" (BERT) or "n_heads" (DistilBERT)
    query: object
    key: object
    value: object
    output: object  # its input is the heads' concatenated outputs (B, T, heads * head_size)
    head_size: int

    @property
    def heads(self) -> int:
        """Heads this layer has now."""
        return int(getattr(self.owner, self.count_attr))


def _layer_list(model):
    """(the ModuleList of transformer layers, the config field with their count, layout name), or Nones."""
    base = getattr(model, "base_model", model)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if layers is not None and all(hasattr(l, "attention") and hasattr(l.attention, "self") for l in layers):
        return layers, "num_hidden_layers", "bert"
    layers = getattr(getattr(base, "transformer", None), "layer", None)
    if layers is not None and all(hasattr(l.attention, "q_lin") for l in layers):
        return layers, "n_layers", "distilbert"
    return None, None, None


def attention_parts(model) -> list[AttentionParts]:
    """Every layer's attention parts, in order; a clear error for a layout bert_nb does not know."""
    layers, _, layout = _layer_list(model)
    if layers is None:
        raise BertNbError(f"bert_nb does not know where the attention heads of a {type(model).__name__} are; "
                          "head importance, pruning and distillation work for BERT, MiniLM, RoBERTa, ELECTRA "
                          "and DistilBERT.")
    parts = []
    for layer in layers:
        if layout == "bert":
            a = layer.attention.self
            parts.append(AttentionParts(a, "num_attention_heads", a.query, a.key, a.value,
                                        layer.attention.output.dense, int(a.attention_head_size)))
        else:
            a = layer.attention
            parts.append(AttentionParts(a, "n_heads", a.q_lin, a.k_lin, a.v_lin, a.out_lin,
                                        int(a.attention_head_size)))
    return parts


def pruned_heads(config) -> dict[int, list[int]]:
    """Heads already removed, by layer, in the original numbering (0-based)."""
    raw = getattr(config, PRUNED_KEY, None) or {}
    return {int(layer): sorted(int(h) for h in heads) for layer, heads in raw.items() if heads}


def heads_per_layer(config) -> int:
    """Heads each layer had before any pruning."""
    return int(getattr(config, "num_attention_heads", 0) or getattr(config, "n_heads", 0))


def remaining_heads(config) -> list[list[int]]:
    """Per layer, the original numbers of the heads it still has."""
    gone = pruned_heads(config)
    layers = int(getattr(config, "num_hidden_layers", 0) or getattr(config, "n_layers", 0))
    return [[h for h in range(heads_per_layer(config)) if h not in gone.get(l, ())] for l in range(layers)]


def prune_heads(model, heads: dict[int, list[int]]) -> None:
    """Remove ``heads`` ({layer: [original head numbers]}) from ``model`` in place, and record them in its config.

    The q/k/v projections lose those heads' output rows and the output projection their
    input columns, so the model has fewer parameters and does less work.
    """
    import torch
    from transformers.pytorch_utils import prune_linear_layer

    parts = attention_parts(model)
    left = remaining_heads(model.config)
    record = pruned_heads(model.config)
    for layer, drop in heads.items():
        drop = sorted(set(int(h) for h in drop))
        if not drop:
            continue
        current = left[layer]
        gone = [h for h in drop if h not in current]
        if gone:
            raise BertNbError(f"Layer {layer} has no head {gone[0]} (any more); its heads are {current}.")
        keep_positions = [i for i, h in enumerate(current) if h not in drop]
        p = parts[layer]
        index = torch.cat([torch.arange(i * p.head_size, (i + 1) * p.head_size) for i in keep_positions])
        for name in ("query", "key", "value"):
            _replace(p.owner, getattr(p, name), prune_linear_layer(getattr(p, name), index, dim=0))
        parent, attr = _parent_of(model, p.output)
        setattr(parent, attr, prune_linear_layer(p.output, index, dim=1))
        setattr(p.owner, p.count_attr, len(keep_positions))
        if hasattr(p.owner, "all_head_size"):
            p.owner.all_head_size = len(keep_positions) * p.head_size
        record[layer] = sorted(set(record.get(layer, [])) | set(drop))
    setattr(model.config, PRUNED_KEY, {str(l): h for l, h in sorted(record.items())})


def _replace(owner, old, new) -> None:
    for name, child in owner.named_children():
        if child is old:
            setattr(owner, name, new)
            return
    raise RuntimeError("projection not found in its attention module")


def _parent_of(model, target):
    for _, module in model.named_modules():
        for name, child in module.named_children():
            if child is target:
                return module, name
    raise RuntimeError("module not found in the model")


def keep_layers(model, keep: list[int]) -> None:
    """Keep only the transformer layers numbered ``keep`` (0-based, in order), in place; pruned heads follow."""
    import torch

    layers, count_field, _ = _layer_list(model)
    if layers is None:
        attention_parts(model)  # raises the layout error
    owner = getattr(model, "base_model", model)
    container = owner.encoder if hasattr(owner, "encoder") else owner.transformer
    container.layer = torch.nn.ModuleList([layers[i] for i in keep])
    setattr(model.config, count_field, len(keep))
    gone = pruned_heads(model.config)
    setattr(model.config, PRUNED_KEY, {str(new): gone[old] for new, old in enumerate(keep) if old in gone})


def rebuild_pruned(model_cls, source: str, config):
    """A saved pruned model: built at full size from its config, pruned to the recorded shapes, then its weights loaded."""
    from pathlib import Path

    from safetensors.torch import load_file

    gone = pruned_heads(config)
    setattr(config, PRUNED_KEY, {})
    model = model_cls._from_config(config) if hasattr(model_cls, "_from_config") else model_cls(config)
    prune_heads(model, gone)
    files = sorted(Path(source).glob("*.safetensors"))
    if not files:
        raise BertNbError(f"'{source}' holds no safetensors weights for its pruned heads; save it with bert_nb again.")
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [k for k in missing if k not in tied and not k.endswith("position_ids")]
    if missing or unexpected:
        raise BertNbError(f"The weights in '{source}' do not fit its pruned shapes ({(missing or unexpected)[0]}); "
                          "save the model with bert_nb again.")
    return model
