"""%bert and %%bert through a real IPython shell."""

import pytest
from IPython.core.error import UsageError

import bert_nb
from bert_nb.magics import SUBCOMMANDS, BertMagics
from bert_nb.tokens import Tokens, TokensBatch


@pytest.fixture()
def sh(shell, tiny_path):
    """The shared shell, pointed at the tiny model on the CPU for each test."""
    magics = next(c for c in shell.configurables if isinstance(c, BertMagics))
    saved = (magics.model, magics.device, magics.dtype)
    shell.run_cell(f"%config BertMagics.model = {tiny_path!r}")
    shell.run_cell("%config BertMagics.device = 'cpu'")
    yield shell
    magics.model, magics.device, magics.dtype = saved


def test_help_lists_every_subcommand(sh, capsys):
    assert sh.run_cell("%bert --help") is None
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"  {name} " in out
    assert "status" in out


def test_subcommand_help(sh, capsys):
    sh.run_cell("%%bert tokenize --help\nignored")
    out = capsys.readouterr().out
    assert "--pair" in out and "-o VAR" in out


def test_status_before_and_after_load(sh, capsys, tiny_path):
    bert_nb.clear_cache()
    assert sh.run_cell("%bert") is None
    assert "No model loaded yet" in capsys.readouterr().out
    engine = sh.run_cell("%bert load " + tiny_path + " --device cpu")
    assert isinstance(engine, bert_nb.Engine)
    assert sh.run_cell("%bert") is engine
    assert sh.ip.user_ns["_"] is engine


def test_status_display_shows_device_dtype_and_memory(sh):
    engine = sh.run_cell("%bert load default --device cpu --dtype fp32")
    text = sh.ip.display_formatter.format(engine)[0]["text/plain"]
    for part in ("model      default", "6 layers x 12 heads", "device     cpu  dtype fp32", "memory"):
        assert part in text


def test_load_sets_what_later_commands_use(sh):
    sh.run_cell("%bert load default --device cpu")
    toks = sh.run_cell("%%bert tokenize\nunaffable")
    assert toks.model == "default" and toks.tokens[1:-1] == ("una", "##ffa", "##ble")


def test_tokenize_one_line_returns_tokens(sh):
    toks = sh.run_cell("%%bert tokenize\nthe cat sat")
    assert isinstance(toks, Tokens) and toks.tokens == ("[CLS]", "the", "cat", "sat", "[SEP]")
    assert sh.ip.user_ns["_"] is toks


def test_tokenize_lines_pair_and_out_variable(sh):
    batch = sh.run_cell("%%bert tokenize --pair -o pairs\nthe cat ||| it purred\n\na dog ||| ran fast\n")
    assert isinstance(batch, TokensBatch) and len(batch) == 2
    assert sh.ip.user_ns["pairs"] is batch
    assert batch[0].pair == "it purred" and batch[1].text == "a dog"
    assert 1 in batch[0].segment


def test_tokenize_max_length(sh):
    toks = sh.run_cell("%%bert tokenize --max-length 4\nthe cat sat on the mat")
    assert len(toks) == 4 and toks.truncated == 4


def test_results_display_as_escaped_html_and_text(sh):
    toks = sh.run_cell("%%bert tokenize\n<script>alert(1)</script> cat")
    bundle = sh.ip.display_formatter.format(toks)[0]
    assert "&lt;script&gt;" in bundle["text/html"] and "<script>" not in bundle["text/html"]
    assert bundle["text/plain"].startswith("[CLS] | < | s ##c ##r ##i ##p ##t | >")


@pytest.mark.parametrize("source, phrase", [
    ("%bert tokenise", "Unknown subcommand 'tokenise'; did you mean 'tokenize'?"),
    ("%bert frobnicate", "Unknown subcommand 'frobnicate'; `%bert --help`"),
    ("%%bert tokenize --bogus\nx", "Unrecognized arguments: --bogus"),
    ("%%bert tokenize --max-length many\nx", "invalid int value"),
    ("%%bert tokenize\n   \n", "The cell is empty"),
    ("%bert tokenize", "reads text from the cell body"),
    ("%%bert tokenize --pair\nno separator", "Line 1 has no '|||'"),
    ("%%bert tokenize -o 1x\nhi", "'1x' is not a valid variable name"),
    ("%%bert tokenize --max-length 2\nhi", "at least 3"),
    ("%bert load", "Name the model to load, for example `%bert load default`"),
    ("%bert load ./no/such/folder", "No folder './no/such/folder'"),
    ("%bert load default --dtype fp7", "Unknown dtype 'fp7'"),
    ("%bert load default --quantize int4", "invalid choice"),
    ("%bert load 'unclosed", "check the quotes"),
    ("%%bert\ntext", "Name a subcommand"),
])
def test_mistakes_are_one_sentence_usage_errors(sh, source, phrase):
    message = sh.usage_error(source)
    assert phrase in message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("source", [
    "%%bert explain --model not_a_model\na text", "%%bert predict --model not_a_model\na text",
    "%%bert ner --model not_a_model\na text", "%%bert answer --model not_a_model\nwho? ||| a text",
    "%bert quantize not_a_model", "%bert heads --model not_a_model --data not_a_model",
])
def test_a_variable_that_holds_no_model_is_named_in_one_sentence(sh, source):
    sh.run_cell("not_a_model = [1, 2]")
    message = sh.usage_error(source)
    assert "'not_a_model' holds a list, not a model" in message and "\n" not in message


def test_pretraining_data_that_holds_no_texts_is_one_sentence(sh):
    sh.run_cell("not_texts = 3")
    assert "The corpus is texts" in sh.usage_error("%bert pretrain --data not_texts --steps 1")


def test_missing_model_is_a_usage_error_and_kernel_lives(sh):
    message = sh.usage_error("%bert load some-org/not-cached-bert")
    assert "'default', 'default-mlm', 'chinese-tiny' or 'chinese'" in message
    assert sh.run_cell("1 + 1") == 2


def test_user_error_reaches_notebook_without_traceback(shell, capsys):
    result = shell.ip.run_cell("%bert tokenise")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError: Unknown subcommand" in err and "Traceback" not in err


def test_config_traits_are_defaults(sh, tiny_path):
    sh.run_cell("%config BertMagics.model = 'default'")
    toks = sh.run_cell("%%bert tokenize\nhello")
    assert toks.model == "default"
    magics = next(c for c in sh.configurables if isinstance(c, BertMagics))
    assert magics.device == "cpu"
    assert {"model", "device", "dtype"} <= set(magics.class_own_traits(config=True))


def test_subcommands_tab_complete(sh):
    _, matches = sh.ip.complete("tok", "%bert tok")
    assert "tokenize" in matches
    _, matches = sh.ip.complete("lo", "%bert lo")
    assert matches == ["load"]
    _, matches = sh.ip.complete("--p", "%%bert tokenize --p")
    assert "--pair" in matches
