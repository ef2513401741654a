# One task file for every verb. `make demo` and `make test` work on a fresh machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FOCUS_VENV := .venv-focus
FOCUS_STAMP := $(FOCUS_VENV)/.installed-stamp
export UV_PYTHON_DOWNLOADS := never
# The suite starts many Python processes (gateway, provider, Locust, Streamlit): let them cache bytecode.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install demo test test-long lint pytest browser redis bench screenshot clean

install: $(STAMP) $(FOCUS_STAMP)
	@echo "aigw is installed in $(VENV): run 'source $(VENV)/bin/activate' to put aigw on the PATH (or call $(BIN)/aigw)"

# The FinOps Foundation's focus-validator (FOCUS 1.0 on Python 3.11) pins numpy<2 and pandas<3 through
# pandera 0.17: in the project's venv it would downgrade both for everything else. It gets its own
# venv, used only by the FOCUS export test (tests/analytics/test_focus_export.py).
$(FOCUS_STAMP): $(STAMP)
	test -x $(FOCUS_VENV)/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(FOCUS_VENV)
	$(BIN)/uv pip install --quiet --python $(FOCUS_VENV)/bin/python 'focus-validator==1.0.0' 'multimethod<2'
	touch $(FOCUS_STAMP)

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

# Debian's redis-server: the shared-state tests start private instances of it; installed once if missing.
redis:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# Coverage of every Python process the suite starts (settings in pyproject.toml): the total is printed
# last, the per-file table is kept in test-artifacts/coverage.txt. Two workers, a test file each at a
# time: most tests wait on the servers they start. The long tier (`long` marker) is `make test-long`.
PYTEST_WORKERS ?= 2
pytest: install browser redis
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -m "not long" -n $(PYTEST_WORKERS) --dist loadfile
	@$(BIN)/coverage combine --quiet
	@mkdir -p test-artifacts
	@$(BIN)/coverage report > test-artifacts/coverage.txt
	@echo "coverage: $$($(BIN)/coverage report --format=total)% of lines in aigw, gateway_shim, pipelines, analytics, dashboards, loadtests (all processes; per file: test-artifacts/coverage.txt)"

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

# The long tier: documented long jobs run as printed (demo, pipelines, simulations, load tests, the
# Dagster UI) and the fleet load tests; about 11 minutes, no coverage.
test-long: install browser redis
	$(BIN)/pytest -m long

bench: install
	$(BIN)/python benchmarks/sink.py

# The README's docs/img/review.png from the real app: demo + a brief run of each playbook (~10 min).
screenshot: install browser
	$(BIN)/python scripts/review_screenshot.py --out docs/img/review.png

clean:
	rm -rf $(VENV) $(FOCUS_VENV) .aigw .pytest_cache .mypy_cache .ruff_cache test-artifacts .coverage .coverage.*
