"""Inference copies of a model whose linear layers keep their weights in oneDNN's own layout (CPU).

``torch.nn.functional.linear`` on a CPU hands each call's weight to MKL (fp32) or oneDNN (bf16),
which lays it out again for its kernels every time. Laid out once (``mkldnn._reorder_linear_weight``)
and multiplied by ``mkldnn._linear_pointwise``, the encoder's matrix multiplies of a MiniLM
ran 20-50% faster in fp32 on 2 threads of an AMD Zen 4 (on Intel Sapphire Rapids MKL's were as
fast), and the exact GELU after the intermediate layer runs inside the same call. The copy
shares every other tensor and the config with the model; only the laid-out weights are new (as
much memory as the linear layers' weights), and a copy is made again when the model's linear
layers or hooks change (training, pruning, loading weights).
"""

from __future__ import annotations

import copy
import functools
import itertools
import logging

log = logging.getLogger(__name__)
_ROW_HINT = 1024  # rows the layout is chosen for (a batch of 64 sentences of 16 pieces); others run as fast


def supported(model, device: str) -> bool:
    """Whether this torch has the operators and ``model`` runs on a CPU in fp32 or bf16."""
    import torch

    if device != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    if not all(hasattr(torch.ops.mkldnn, op) for op in ("_reorder_linear_weight", "_linear_pointwise")):
        return False
    dtypes = {p.dtype for p in model.parameters()}
    if torch.bfloat16 in dtypes and not torch.ops.mkldnn._is_mkldnn_bf16_supported():  # oneDNN refuses bf16
        return False  # on CPUs without AVX-512 (BW, VL, DQ) or AVX-NE-CONVERT; torch's own kernels run it there
    return bool(dtypes) and dtypes <= {torch.float32, torch.bfloat16}


def applies(engine, model) -> bool:
    """Whether ``engine`` runs ``model`` prepacked for inference: on a CPU in fp32 or bf16, not int8."""
    return not getattr(engine, "quantize", None) and supported(model, engine.device)


def for_inference(engine, model):
    """``model``'s prepacked copy (kept on ``engine``) where :func:`applies`, else ``model`` itself."""
    return cached(engine, model) if applies(engine, model) else model


def cached(owner, model):
    """The prepacked copy of ``model`` kept on ``owner`` (an engine, one copy per model); made again when the
    model's linear layers or hooks change."""
    key = _key(model)
    copies = owner.__dict__.setdefault("_prepacked", {})
    held = copies.get(id(model))
    if held is None or held[0] != key or held[1] is not model:
        try:
            clone = packed_copy(model)
        except RuntimeError as err:  # a layout oneDNN refuses on this CPU: the model itself, as before
            log.info("running %s without prepacked weights: %s", type(model).__name__, err)
            clone = model
        held = copies[id(model)] = (key, model, clone)
    return held[2]


def packed_copy(model):
    """A copy of ``model`` sharing its tensors and config, each ``nn.Linear`` a packed one (:func:`_packed_linear`).

    An exact GELU right after a linear layer (BERT's intermediate layer: ``dense`` then
    ``intermediate_act_fn``) runs inside that layer's call. Hooks on the model's modules are copied with them.
    """
    import torch

    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    shared.update({id(m.config): m.config for m in model.modules() if hasattr(m, "config")})
    clone = copy.deepcopy(model, memo=shared)
    for module in list(clone.modules()):
        for name, child in list(module.named_children()):
            if type(child) is not torch.nn.Linear:
                continue
            gelu = name == "dense" and _exact_gelu(getattr(module, "intermediate_act_fn", None))
            setattr(module, name, _packed_linear()(child, gelu=gelu))
            if gelu:
                module.intermediate_act_fn = torch.nn.Identity()
    return clone.eval()


@functools.lru_cache(maxsize=None)
def _packed_linear():
    """The module class (made on first use: importing this module does not import torch)."""
    import torch

    class _PackedLinear(torch.nn.Module):
        """``nn.Linear`` for inference with its weight laid out once for oneDNN; ``gelu``: exact GELU after it."""

        def __init__(self, linear: torch.nn.Linear, gelu: bool = False):
            super().__init__()
            weight = linear.weight.detach()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, _ROW_HINT)
            self.bias = None if linear.bias is None else linear.bias.detach()
            self.attr, self.algorithm = ("gelu", "none") if gelu else ("none", "")

        def forward(self, x):  # (..., in_features) -> (..., out_features)
            flat = x.reshape(-1, self.in_features)
            out = torch.ops.mkldnn._linear_pointwise(flat, self.packed, self.bias, self.attr, [], self.algorithm)
            return out.reshape(*x.shape[:-1], self.out_features)

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, gelu={self.attr == 'gelu'}"

    return _PackedLinear


def _exact_gelu(act) -> bool:
    """Whether ``act`` is the erf GELU (transformers' ``GELUActivation`` over ``torch.nn.functional.gelu``)."""
    import torch

    return type(act).__name__ == "GELUActivation" and getattr(act, "act", None) is torch.nn.functional.gelu


def _key(model) -> tuple:
    """What a prepacked copy depends on: each linear layer, its weight's and bias's storage and version, and
    the hooks on every module (a hook added or removed later is not in the copy)."""
    import torch

    linear, hooks = [], []
    for m in model.modules():
        if m._forward_hooks or m._forward_pre_hooks:
            hooks.append((id(m), tuple(m._forward_hooks), tuple(m._forward_pre_hooks)))
        if type(m) is torch.nn.Linear:
            bias = m.bias
            linear.append((id(m), id(m.weight), m.weight.data_ptr(), m.weight._version,
                           None if bias is None else (bias.data_ptr(), bias._version)))
    return tuple(linear), tuple(hooks)
