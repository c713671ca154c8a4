"""bert_nb: a notebook workbench for BERT-family encoders.

``%load_ext bert_nb`` adds the ``%bert`` / ``%%bert`` magics; the same work is
available from plain Python::

    import bert_nb
    engine = bert_nb.load()                 # packaged all-MiniLM-L6-v2
    bert_nb.tokenize(engine, "Tokenization isn't magic.").to_frame()

Importing this package does not import torch or transformers; they load
with the first model. Where a function takes a model first, a name or a saved
folder does too (``bert_nb.embed("default", texts)``): loaded, and cached, as
``bert_nb.load(name)`` loads it.
"""

from importlib import import_module as _import_module

__version__ = "0.1.0"

_EXPORTS = {
    "load": "engine", "Engine": "engine", "EngineInfo": "engine", "clear_cache": "engine",
    "loaded": "engine", "packaged_models": "engine",
    "tokenize": "tokens", "Tokens": "tokens", "TokensBatch": "tokens",
    "fill_mask": "mask", "MaskPredictions": "mask", "MaskCandidate": "mask", "JointFilling": "mask",
    "corrupt": "mask", "Corruption": "mask", "next_sentence": "mask", "NextSentence": "mask",
    "Batch": "batch",
    "embed": "embeddings", "Embeddings": "embeddings", "similarity": "embeddings", "Similarity": "embeddings",
    "project": "embeddings", "Projection": "embeddings", "search": "embeddings",
    "evaluate_sts": "embeddings", "StsScore": "embeddings",
    "dashboard": "panels",
    "finetune": "training", "finetune_mlm": "training", "FineTuned": "training", "classify": "training",
    "attention": "attentions", "Attention": "attentions", "recompute": "attentions", "focus": "attentions",
    "explain": "explanations", "Explanation": "explanations", "Explanations": "explanations",
    "faithfulness": "explanations", "Faithfulness": "explanations",
    "embedding_parts": "internals", "EmbeddingParts": "internals", "positions": "internals",
    "Positions": "internals", "layers": "internals", "LayerStates": "internals", "logit_lens": "internals",
    "LogitLens": "internals", "probe": "internals", "Probe": "internals",
    "quantize": "compress", "head_importance": "compress", "HeadImportance": "compress", "prune": "compress",
    "prune_curve": "compress", "PruneCurve": "compress", "distill": "compress", "compare": "compress",
    "Comparison": "compress",
    "tag": "tasks.tagging", "Tagger": "tasks.tagging", "Entities": "tasks.tagging", "PairModel": "tasks.pairs",
    "answer": "tasks.qa", "Answers": "tasks.qa", "QAModel": "tasks.qa",
    "pretrain": "pretraining", "Pretrained": "pretraining", "index": "indexes", "Index": "indexes", "rerank": "reranking",
    "save_figure": "figures", "export_html": "notebook_html",
    "BertNbError": "errors", "MissingHeadError": "errors", "ModelLoadError": "errors",
}

__all__ = sorted(_EXPORTS) + ["load_ipython_extension", "unload_ipython_extension"]


# modules are nouns, API functions verbs: `bert_nb.embed` is the function, `bert_nb.embeddings` its module
_SUBMODULES = ("engine", "tokens", "mask", "batch", "embeddings", "attentions", "training", "explanations", "internals", "compress", "surgery", "export", "datasets", "plots", "render", "figures", "notebook_html", "pretraining", "indexes", "reranking",
               "panels", "widgets", "magics", "errors")


def __getattr__(name):
    if name in _SUBMODULES:
        return _import_module(f".{name}", __name__)
    if name in _EXPORTS:
        value = _named(getattr(_import_module(f".{_EXPORTS[name]}", __name__), name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bert_nb' has no attribute {name!r}")


_MODEL_FIRST = ("engine", "model", "teacher")  # the first parameter of a function that runs a model


def _named(value):
    """``value`` itself; for a function that takes a model first, one that also takes its name or saved folder."""
    import functools
    import inspect
    import os

    if not inspect.isfunction(value):
        return value
    params = inspect.signature(value).parameters
    if not params or next(iter(params)) not in _MODEL_FIRST:
        return value
    first = next(iter(params))
    optional = params[first].default is not inspect.Parameter.empty

    @functools.wraps(value)
    def call(*args, **kwargs):
        given = args[0] if args else kwargs.get(first)
        if not (given is None and optional or isinstance(given, (str, os.PathLike))
                or hasattr(given, "tokenizer")):
            from .errors import BertNbError

            raise BertNbError(f"{value.__name__} takes a model first: an engine from bert_nb.load(...), or a model "
                              f"name or folder such as 'default'; got {type(given).__name__}.")
        if isinstance(given, (str, os.PathLike)):
            from .engine import load

            if args:
                args = (load(given), *args[1:])
            else:
                kwargs[first] = load(given)
        return value(*args, **kwargs)

    return call


def __dir__():
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython):
    """Register the %bert magics and the rich display of bert_nb results."""
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython):
    """Remove what load_ipython_extension added."""
    from .magics import unregister

    unregister(ipython)
