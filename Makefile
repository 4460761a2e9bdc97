# One-command setup: every target bootstraps .venv (and Debian's libyang2-dev) itself.
# libyang (python) 2.7.x builds its CFFI module against libyang2-dev 2.1.x headers;
# 2.8.1+ would need libyang C >= 2.1.55, which Debian does not ship.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sdqn-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps test lint typecheck demo grpc clean

setup: $(STAMP)

system-deps:
	@if [ ! -f /usr/include/libyang/libyang.h ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "sdqn: libyang2-dev headers are missing and apt-get is unavailable;" >&2; \
	    echo "sdqn: install libyang 2.1.x development files by hand, then re-run." >&2; \
	    exit 1; \
	  fi; \
	  echo "sdqn: installing Debian libyang2-dev and libyang2-tools"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libyang2-dev libyang2-tools >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(MAKE) system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q tests

lint: setup
	$(VENV)/bin/ruff check controller southbound adapters qnum simulators tests
	$(VENV)/bin/mypy

typecheck: setup
	$(VENV)/bin/mypy

demo: setup
	$(VENV)/bin/sdqn demo

grpc: setup
	$(PY) -m controller.grpc_api.codegen

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
