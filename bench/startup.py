"""Start-up cost: `%load_ext bert_nb` in a fresh IPython process, side by side with the alternatives.

Each case runs in its own fresh interpreter (so nothing is cached in memory), `--repeat`
times; the median is reported, with ratios against `import sentence_transformers`.

    python bench/startup.py [--repeat 5] [--json bench/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

SHELL = "from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance()"
CASES = {
    "%load_ext bert_nb": (SHELL, "ip.run_line_magic('load_ext', 'bert_nb')"),
    "import bert_nb": ("", "import bert_nb"),
    "import sentence_transformers": ("", "import sentence_transformers"),
    "import transformers": ("", "import transformers"),
    "import torch": ("", "import torch"),
}
PROBE = """
import time, sys, json
{setup}
t0 = time.perf_counter()
{stmt}
dt = time.perf_counter() - t0
print(json.dumps({{"seconds": dt, "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}}))
"""


def run_case(setup: str, stmt: str) -> dict:
    code = PROBE.format(setup=setup, stmt=stmt)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default="bench/results/startup.json")
    args = ap.parse_args(argv)
    for setup, stmt in CASES.values():  # one warm-up each: .pyc files, disk cache
        run_case(setup, stmt)
    results = {}
    for name, (setup, stmt) in CASES.items():
        runs = [run_case(setup, stmt) for _ in range(args.repeat)]
        results[name] = {
            "median_s": statistics.median(r["seconds"] for r in runs),
            "imports_torch": runs[0]["torch"], "imports_transformers": runs[0]["transformers"],
        }
    base = results["import sentence_transformers"]["median_s"]
    for row in results.values():
        row["ratio_to_sentence_transformers"] = row["median_s"] / base
    report = {"machine": f"{platform.machine()}, {platform.python_version()}", "repeat": args.repeat,
              "goal": "%load_ext bert_nb under 0.3 s, without torch or transformers", "results": results}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'case':<32}{'median s':>10}{'x sentence-transformers':>26}  torch?")
    for name, row in results.items():
        print(f"{name:<32}{row['median_s']:>10.3f}{row['ratio_to_sentence_transformers']:>26.3f}  "
              f"{'yes' if row['imports_torch'] else 'no'}")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
