"""`import bert_nb` and `%load_ext bert_nb` stay light: no torch, no transformers."""

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "sentence_transformers", "plotly", "pandas")


def _modules_after(code: str) -> dict:
    probe = code + f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_is_light():
    loaded = _modules_after("import bert_nb")
    assert not any(loaded.values()), loaded


def test_load_ext_is_light():
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "ip = InteractiveShell.instance()\nip.run_line_magic('load_ext', 'bert_nb')\n"
            "assert 'bert' in ip.magics_manager.magics['line']\n"
            "assert 'bert' in ip.magics_manager.magics['cell']")
    loaded = _modules_after(code)
    assert not any(loaded.values()), loaded


def test_public_names_resolve():
    import bert_nb

    for name in bert_nb.__all__:
        assert getattr(bert_nb, name) is not None
    assert "tokenize" in dir(bert_nb)
