# Two commands for everyone: `make run` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("需要 Python 3.11 或更新版本") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/jindianzi run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The whole suite on SQLite (the storage contract suite on SQLite and PostgreSQL, the browser
# tests on headless Chromium), then the people's journeys again with the app on PostgreSQL
# (each skipped in one line where no server or browser runs).
test: lint
	$(BIN)/pytest
	JINDIANZI_TEST_APP_BACKEND=postgresql $(BIN)/pytest tests/test_journeys.py \
		tests/test_case_month.py tests/test_quarterly.py tests/test_finding_loop.py \
		tests/test_group_commit.py

clean:
	rm -rf $(VENV) build *.egg-info
