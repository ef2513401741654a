# One task file for every verb. `make demo` and `make test` work on a fresh machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export UV_PYTHON_DOWNLOADS := never
# The suite starts many Python processes (gateway, provider, Locust, Streamlit): let them cache bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install demo test lint pytest browser bench screenshot clean

install: $(STAMP)
	@echo "aigw is installed in $(VENV): run 'source $(VENV)/bin/activate' to put aigw on the PATH (or call $(BIN)/aigw)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check uv; }
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/aigw demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Debian's chromium drives the dashboard's browser test; installed once if missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

pytest: install browser
	$(BIN)/pytest

# `make test` leaves the checkout as it found it: whatever the suite writes goes to temporary or ignored
# folders (.aigw/, test-artifacts/). Any file it adds, changes or removes fails the target, named.
test: lint
	@before=$$(git status --porcelain --untracked-files=all 2>/dev/null); \
	$(MAKE) --no-print-directory pytest || exit $$?; \
	after=$$(git status --porcelain --untracked-files=all 2>/dev/null); \
	if [ "$$before" != "$$after" ]; then \
		echo "make test changed the checkout (git status before -> after):"; \
		diff <(echo "$$before") <(echo "$$after"); exit 1; \
	fi

bench: install
	$(BIN)/python benchmarks/sink.py

# The README's docs/img/review.png from the real app: demo + a brief run of each playbook (~10 min).
screenshot: install browser
	$(BIN)/python scripts/review_screenshot.py --out docs/img/review.png

clean:
	rm -rf $(VENV) .aigw .pytest_cache .mypy_cache .ruff_cache test-artifacts
