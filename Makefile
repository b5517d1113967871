# Two entry points for a fresh machine (see README "Quick start"):
#   make demo   install dicomaudit into .venv and run `dicomaudit demo`
#   make test   install the real DICOM peers (Orthanc, DCMTK) and the test
#               dependencies, lint and type-check (ruff, mypy), then run the
#               whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint peers install clean example-acceptance

$(BIN)/dicomaudit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	@touch $@

install: $(BIN)/dicomaudit

demo: install
	$(BIN)/dicomaudit demo

# The committed acceptance record (README "Accepting a new device") of the locked lab as an archive
example-acceptance: install
	$(BIN)/python scripts/make_example_acceptance.py

peers:
	bash scripts/install-peers.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: peers install lint
	$(BIN)/python -m pytest -rs

clean:
	rm -rf $(VENV) reports/demo .pytest_cache
