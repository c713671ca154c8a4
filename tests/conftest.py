"""Shared fixtures (a tiny random BERT for fast unit tests, the packaged models for integration) and helpers."""

from __future__ import annotations

import os
import string

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# make test sets it for the notebooks (the browser tests hand it to their kernels); unit tests train what they ask for
NOTEBOOK_CACHE = os.environ.pop("BERT_NB_CACHE", None)

# a good/bad toy task that tiny models learn in a few epochs (fine-tuning, compression)
GOOD = ["the cat is good", "a good dog", "good play", "it was good", "good and fast", "the good mat"]
BAD = ["the cat is bad", "a bad dog", "bad play", "it was bad", "bad and slow", "the bad mat"]

WORDS = ("the cat sat on mat dog ran fast it purred a an and is was hello world play "
         "##ing ##ed ##s ##er un ##believ ##able token ##ization bert model").split()


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")
    parser.addoption("--browser", action="store_true", default=False,
                     help="also run the notebooks in JupyterLab in headless Chromium (tests marked browser)")
    parser.addoption("--notebooks", default=None,
                     help="the browser tests of these notebooks only, by name or number: --notebooks 00,05 "
                          "(make test shares the notebooks out between two browsers this way)")


def selected_notebooks(config, names: list[str]) -> list[str]:
    """The notebooks among ``names`` that ``--notebooks`` asks for (all of them without it), in its order."""
    wanted = config.getoption("--notebooks")
    if not wanted:
        return list(names)
    picks = [w.strip() for w in wanted.split(",") if w.strip()]

    def named(notebook: str, pick: str) -> bool:  # "05", "05_finetuning" or "05_finetuning.ipynb"
        return notebook == pick or notebook.startswith(pick.removesuffix(".ipynb") + "_")

    chosen = [n for w in picks for n in names if named(n, w)]
    missing = [w for w in picks if not any(named(n, w) for n in names)]
    if missing:
        raise pytest.UsageError(f"--notebooks: no notebook named {', '.join(missing)} in notebooks/")
    return chosen


def _deselect_notebooks(config, items):
    """Leave out the browser tests of the notebooks that ``--notebooks`` does not name."""
    if not config.getoption("--notebooks"):
        return
    from .test_browser import NOTEBOOKS

    chosen = set(selected_notebooks(config, NOTEBOOKS))
    keep, drop = [], []
    for item in items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("name")
        tour_only = item.name == "test_dashboard_tabs_all_draw" and "00_tour.ipynb" not in chosen
        (drop if (name and name not in chosen) or tour_only else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_modifyitems(config, items):
    import importlib.util

    _deselect_notebooks(config, items)

    has_cuda = False
    if importlib.util.find_spec("torch") is not None:
        import torch

        has_cuda = torch.cuda.is_available()
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU; none on this machine"))
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(pytest.mark.skip(reason="slow; run with --runslow"))
        if "browser" in item.keywords and not config.getoption("--browser"):
            item.add_marker(pytest.mark.skip(reason="real browser; run with --browser (make test does)"))


def run_script(script, *args, processes: int = 1, cwd=None, timeout: int = 300):
    """Run an exported script: plainly, or under ``accelerate launch`` with ``processes`` processes sharing
    gradients over gloo, as on several GPUs (torchrun's launcher with ACCELERATE_USE_CPU; accelerate's
    ``--cpu`` launch would run a single process without MPI). One thread each, no hub."""
    import subprocess
    import sys

    launch = [sys.executable, str(script)] if processes == 1 else [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        str(script)]
    return subprocess.run(launch + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "true",
                               "OMP_NUM_THREADS": "1"})


def _vocab(words=()) -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = [f"##{c}" for c in string.ascii_lowercase + string.digits]
    seen, out = set(), []
    for tok in specials + chars + pieces + list(WORDS) + list(words):
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def build_tiny_bert(folder, head: str = "pretraining", seed: int = 0, layers: int = 2, heads: int = 2,
                    words=()) -> str:
    """Write a randomly initialised BERT (2 layers x 2 heads, hidden 32) and its WordPiece tokenizer."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(_vocab(words)) + "\n")
    try:  # transformers 5 takes the vocabulary itself, 4.x its file
        tok = transformers.BertTokenizerFast(vocab={t: i for i, t in enumerate(_vocab(words))},
                                             do_lower_case=True, model_max_length=64)
    except TypeError:
        tok = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True, model_max_length=64)
    tok.save_pretrained(folder)
    cfg = transformers.BertConfig(
        vocab_size=len(_vocab(words)), hidden_size=32, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
    )
    torch.manual_seed(seed)
    cls = {"pretraining": transformers.BertForPreTraining, "base": transformers.BertModel,
           "mlm": transformers.BertForMaskedLM}[head]
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    cls(cfg).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def toy():
    """24 'good' texts labelled pos and 24 'bad' ones labelled neg."""
    import pandas as pd

    rows = [(t, "pos") for t in GOOD * 4] + [(t, "neg") for t in BAD * 4]
    return pd.DataFrame(rows, columns=["text", "label"])


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory):
    """Folder of a tiny random BertForPreTraining (masked-LM and NSP heads)."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_base_path(tmp_path_factory):
    """Folder of a tiny random BertModel (no heads)."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-base"), head="base")


@pytest.fixture(scope="session")
def tiny(tiny_path):
    import bert_nb

    return bert_nb.load(tiny_path, device="cpu")


@pytest.fixture(scope="session")
def minilm():
    """The packaged default model (all-MiniLM-L6-v2) on the CPU."""
    import bert_nb

    return bert_nb.load("default", device="cpu")


@pytest.fixture(scope="session")
def mini_mlm():
    """The packaged tiny masked-LM on the CPU."""
    import bert_nb

    return bert_nb.load("default-mlm", device="cpu")


class TestingShell:
    """A real IPython shell whose run_cell re-raises, with bert_nb loaded."""

    def __init__(self):
        from IPython.core.interactiveshell import InteractiveShell

        self.ip = InteractiveShell.instance()
        self.ip.run_line_magic("load_ext", "bert_nb")

    def run_cell(self, source: str):
        result = self.ip.run_cell(source)
        result.raise_error()
        return result.result

    def usage_error(self, source: str) -> str:
        """Run a cell that must fail with a UsageError; its message."""
        from IPython.core.error import UsageError

        with pytest.raises(UsageError) as err:
            self.run_cell(source)
        return str(err.value)

    def __getattr__(self, name):
        return getattr(self.ip, name)


@pytest.fixture(scope="session")
def shell():
    return TestingShell()


def head_scale_gradients(model, loss, layers: int, heads: int):
    """|d loss / d scale| of each head's output, by central differences on a float64 copy of ``model``
    (``loss(copy)`` a scalar tensor), normalised per layer: what head importance should equal."""
    import copy

    import numpy as np
    import torch

    from bert_nb import surgery

    double = copy.deepcopy(model).double()
    parts = surgery.attention_parts(double)

    def loss_with(layer, head, scale):
        p = parts[layer]

        def hook(module, inputs):
            x = inputs[0].clone()
            x[..., head * p.head_size:(head + 1) * p.head_size] *= scale
            return (x,)
        handle = p.output.register_forward_pre_hook(hook)
        try:
            with torch.no_grad():
                return float(loss(double))
        finally:
            handle.remove()

    raw = np.array([[abs(loss_with(l, h, 1 + 1e-5) - loss_with(l, h, 1 - 1e-5)) / 2e-5 for h in range(heads)]
                    for l in range(layers)])
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)
