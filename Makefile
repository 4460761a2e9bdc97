# One-command setup: every target bootstraps .venv (and the Debian packages below) itself.
# libyang (python) 2.7.x builds its CFFI module against libyang2-dev 2.1.x headers;
# 2.8.1+ would need libyang C >= 2.1.55, which Debian does not ship.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sdqn-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps console-assets test lint typecheck demo grpc clean

setup: $(STAMP) console-assets

# Debian packages: libyang2-dev (the headers libyang's CFFI module builds against) with
# libyang2-tools (yanglint: the tests parse intended's device data with it), prometheus
# for its promtool (the tests lint /metrics with
# `promtool check metrics`; Debian ships promtool only in that package), and netconfd with
# openssh-server (yuma123's NETCONF server reached over sshd: the datastore bench's peer),
# and yangcli (yuma123's client: the interop test for YANG library 1.0 and <get-schema>).
system-deps:
	@missing=""; \
	[ -f /usr/include/libyang/libyang.h ] || missing="$$missing libyang2-dev"; \
	command -v yanglint >/dev/null 2>&1 || missing="$$missing libyang2-tools"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	[ -x /usr/sbin/netconfd ] || missing="$$missing netconfd"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v yangcli >/dev/null 2>&1 || missing="$$missing yangcli"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "sdqn: Debian packages$$missing are missing and apt-get is unavailable;" >&2; \
	    echo "sdqn: install them (libyang 2.1.x development files, promtool, netconfd, sshd) by hand." >&2; \
	    exit 1; \
	  fi; \
	  echo "sdqn: installing Debian$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $$missing >/dev/null; \
	fi

# The web console's browser libraries: npm ci from the committed lock file, then the
# distribution files copied into the package (they ship in the wheel; nothing from a CDN).
CONSOLE := controller/console
console-assets: $(CONSOLE)/static/vendor/.stamp

$(CONSOLE)/static/vendor/.stamp: $(CONSOLE)/package-lock.json
	$(MAKE) system-deps
	cd $(CONSOLE) && npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(CONSOLE)/static/vendor
	cp $(CONSOLE)/node_modules/cytoscape/dist/cytoscape.esm.min.mjs \
	  $(CONSOLE)/static/vendor/cytoscape.esm.min.js
	cp $(CONSOLE)/node_modules/uplot/dist/uPlot.esm.js $(CONSOLE)/static/vendor/uplot.esm.js
	cp $(CONSOLE)/node_modules/uplot/dist/uPlot.min.css $(CONSOLE)/static/vendor/uplot.min.css
	touch $@

$(STAMP): pyproject.toml
	$(MAKE) system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: setup system-deps
	$(PY) -m pytest -q tests

lint: setup
	$(VENV)/bin/ruff check controller southbound adapters qnum simulators tests
	cd controller/grpc_api/proto && $(CURDIR)/$(VENV)/bin/buf lint
	$(VENV)/bin/mypy

typecheck: setup
	$(VENV)/bin/mypy

demo: setup
	$(VENV)/bin/sdqn demo

grpc: setup
	$(PY) -m controller.grpc_api.codegen

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
