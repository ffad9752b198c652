# The two commands a newcomer needs: `make run` and `make test`. Everything else is set-up they call.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= dense,scale,dev
# `make run PORT=8001` (or HUB_PORT=8001 in the environment) serves on another port.
PORT ?= $(or $(HUB_PORT),8000)
# A port that is not one stops `make run` before it installs anything, naming where it came from.
ifneq ($(filter run,$(MAKECMDGOALS)),)
ifneq ($(shell p='$(subst ',,$(PORT))'; case "$$p" in (''|*[!0-9]*) ;; (*) [ "$$p" -ge 1 ] 2>/dev/null && [ "$$p" -le 65535 ] && echo ok;; esac),ok)
$(error $(if $(filter file,$(origin PORT)),HUB_PORT,PORT) is '$(PORT)': make run needs a port number from 1 to 65535, e.g. make run PORT=8001)
endif
endif
export OPENBLAS_NUM_THREADS ?= 1
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: run test install migrate kb bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/hub db upgrade

kb: migrate
	$(BIN)/hub kb import config/sample_kb

run: kb
	$(BIN)/hub serve --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache
