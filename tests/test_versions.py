"""The pinned versions: constraints.txt is well formed, the README states it, and make installed it."""

import os
import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"


def _pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and " " not in line, f"constraints.txt: '{line}' is not NAME==VERSION"
            pins[_norm(name)] = version
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _readme_versions() -> dict[str, str]:
    """The 'Tested versions' table of the README: | package | version |."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Tested versions", 1)[1].split("\n#", 1)[0]
    return {_norm(n): v for n, v in re.findall(r"^\| `([^`]+)` \| ([^ |]+) \|", section, flags=re.M)}


def test_constraints_pin_every_package_once_without_local_builds():
    pins = _pins()
    assert {"torch", "transformers", "plotly", "pandas", "ipywidgets", "nbval", "accelerate"} <= set(pins)
    assert not [v for v in pins.values() if "+" in v], "local labels (+cpu) would refuse the CUDA build of a version"
    makefile = (ROOT / "Makefile").read_text()
    assert f"TORCH := torch=={pins['torch']}" in makefile, "the Makefile's torch pin and constraints.txt disagree"


def test_readme_states_the_pinned_versions():
    stated, pins = _readme_versions(), _pins()
    assert len(stated) >= 10, "the README's 'Tested versions' table is missing or unreadable"
    wrong = {name: (version, pins.get(name)) for name, version in stated.items() if pins.get(name) != version}
    assert not wrong, f"README version != constraints.txt (README, pinned): {wrong}"


def test_installed_versions_are_the_pinned_ones():
    used = os.environ.get("BERT_NB_CONSTRAINTS")
    if not used:
        pytest.skip("not installed through make with constraints.txt (BERT_NB_CONSTRAINTS unset): other versions may be installed")
    pins = _pins(Path(used))
    installed = {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {n: (installed[n], v) for n, v in pins.items() if n in installed and installed[n].split("+")[0] != v}
    assert not differ, f"installed != pinned (installed, pinned); run `make setup` again: {differ}"
    for name in ("torch", "transformers", "pandas", "plotly", "nbval"):
        assert name in installed, f"{name} is pinned but not installed"
