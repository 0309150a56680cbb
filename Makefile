# Two commands: `make demo` and `make test`. Each sets up its own virtual environment.
# `make test` also type-checks src/ (mypy, configured in pyproject.toml) and builds the documentation
# site (mkdocs.yml, docs/) with --strict into site/, before pytest so that pytest's summary is the
# last line CI reads.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest workers (pytest-xdist; one torch thread each, tests/conftest.py): the suite's budget is 2 cores
WORKERS ?= 2

.PHONY: demo test lint format bench clean setup

setup: $(STAMP)

# torch is pinned and installed first so pip never resolves a CUDA build from the registry.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,interactive,parquet,align,scale,cells]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seqvae demo --out demo_output

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python -m pytest -q --timeout=600 -n $(WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) demo_output .pytest_cache .mypy_cache site
