# The whole set-up on a fresh machine is `make run` or `make test`; each creates .venv when missing,
# installs what it needs (Python packages, Debian packages, database migrations) and goes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Debian packages: a CJK font for chart labels (run and test), Chromium for the browser tests.
RUN_DEBS  := fonts-noto-cjk
TEST_DEBS := fonts-noto-cjk chromium

.PHONY: run test test-fast lint check-config clean bench system-run system-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall when pyproject.toml changes; the stamp files record the last install.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# Install missing Debian packages when we may (root with apt-get); otherwise say what to install.
define debian_packages
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null 2>&1 \
	           && apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; \
	  else \
	    echo "note: please install the Debian packages$$missing (sudo apt-get install$$missing)"; \
	  fi; \
	fi
endef

system-run:
	$(call debian_packages,$(RUN_DEBS))

system-test:
	$(call debian_packages,$(TEST_DEBS))

run: $(VENV)/.installed system-run
	$(BIN)/python -m bot migrate
	$(BIN)/python -m bot serve

test: $(VENV)/.installed-dev system-test
	$(BIN)/python -m pytest

# Everything but the browser and soak-style tests, for a quick loop while editing.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not e2e" -x -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check bot storage tests bench
	$(BIN)/ruff format --check bot storage tests bench

check-config: $(VENV)/.installed
	$(BIN)/python -m bot check-config config/example.yaml

bench: $(VENV)/.installed-dev system-test
	@echo "benchmarks live in bench/; see bench/README.md for each command and its figures"

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm .pytest_cache test-artifacts
