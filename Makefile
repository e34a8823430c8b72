# The two set-up commands of the README: `make demo` and `make test`.
# Both build their own virtual environment from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# apt-get needs root: a CI runner that is not root goes through sudo; root needs no sudo installed.
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: venv test lint typecheck pytest demo clean

$(STAMP): requirements.txt requirements-dev.txt
	command -v chromium >/dev/null || ($(APT) update && $(APT) install -y chromium)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

# The main job on the embedded demo model: two regions, red circle left, blue square right.
demo: $(STAMP)
	$(PY) -m lib_couple generate --prompt "a red circle\na blue square" --mode basic \
		--direction horizontal --seed 1 --out out/demo.png
	@echo "The image is out/demo.png"


clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
