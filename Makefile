# Customer segmentation: `make report` builds everything, `make test` runs the tests. `make help` lists targets.
PYTHON ?= python3
PARAMS ?= params/default.yaml
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEV    := $(VENV)/.dev-$(shell cat requirements-dev.lock | cksum | cut -d' ' -f1)
# the input a params file reads is generated only when the params point at the project's synthetic files
# (data/raw/synthetic_customers.csv, or data/raw/orders with data/raw/tx_customers.csv) and they are missing
INPUTS  = $(PY) -m segmentation data --params $(PARAMS)

.DEFAULT_GOAL := help
.PHONY: help setup data data-orders mart report rules validate test test-fast test-spark lint screenshots bench dashboard serve clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*; touch $@

$(DEV): requirements-dev.lock | $(STAMP)
	$(PY) -m pip install --quiet -r requirements-dev.lock
	@rm -f $(VENV)/.dev-*; touch $@

setup: $(STAMP)  ## create or update .venv from requirements.lock (test and lint add requirements-dev.lock)

data: $(STAMP)  ## generate the synthetic data the params read, if missing (default: 100,000 customers, seed 42)
	$(INPUTS)

data-orders: $(STAMP)  ## generate customers with unique ids and their orders log (for params/transactions.yaml)
	$(PY) -m segmentation data --params params/transactions.yaml

validate: $(STAMP)  ## run the data-quality review only
	$(INPUTS)
	$(PY) -m segmentation validate --params $(PARAMS)

rules: $(STAMP)  ## lint the segment rules and show which rule wins each score cell
	$(PY) -m segmentation rules $(PARAMS)

mart: $(STAMP)  ## build the mart (skipped when input, params and code are unchanged)
	$(INPUTS)
	$(PY) -m segmentation run --params $(PARAMS)

report: $(STAMP)  ## build the mart, the report site and the PDF (PARAMS=params/rfm11.yaml for another)
	$(INPUTS)
	$(PY) -m segmentation report --params $(PARAMS)

dashboard: $(STAMP)  ## serve the analyst dashboard on http://127.0.0.1:8050
	$(INPUTS)
	$(PY) -m segmentation run --params $(PARAMS)
	$(PY) -m segmentation dashboard --params $(PARAMS)

screenshots: $(STAMP) $(DEV)  ## refresh the README's pictures (docs/img) with the browser tests (a small report, dashboard)
	$(PY) -m pytest tests -m browser -k "site_in_a_real_browser or dashboard_in_browser" --screenshots docs/img

serve: $(STAMP)  ## preview the built report site on http://127.0.0.1:8000
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory build/report/$(basename $(notdir $(PARAMS)))/site

test: $(STAMP) $(DEV)  ## run the whole test suite
	$(PY) -m pytest

test-fast: $(STAMP) $(DEV)  ## the tests without whole-report builds, browsers and benchmark runs
	$(PY) -m pytest -m "not slow and not browser and not bench"

test-spark: $(STAMP) $(DEV)  ## the Spark parity tests (installs pyspark)
	$(PY) -m pip install --quiet -r requirements-spark.lock
	SPARK_TESTS=required $(PY) -m pytest -m spark

lint: $(STAMP) $(DEV)  ## check style and common mistakes with ruff (settings in pyproject.toml)
	$(PY) -m ruff check .

bench: $(STAMP)  ## time the mart (1e5, 1e6, 1e7 beside the DuckDB floor, bare SQL, pandas), dashboard, report, 1e8 orders, mapping
	$(PY) -m benchmarks.mart
	$(PY) -m benchmarks.report
	$(PY) -m benchmarks.transactions
	$(PY) -m benchmarks.mapping --orders 1e8

clean:  ## remove generated data, builds and figures (keeps .venv)
	rm -rf data build figures bench-out
