# Two commands do all the set-up on a fresh machine (Python 3.10+ with venv):
#   make run    segment and measure the built-in example micrograph (writes ./out/)
#   make test   run the test suite
# Both create or reuse the virtual environment in $(VENV).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The CPU build of PyTorch; set TORCH_SPEC= (empty) to keep a torch you installed yourself.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.bpartis-nb-installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_SPEC),$(PY) -m pip install --disable-pip-version-check -q "$(TORCH_SPEC)")
	$(PY) -m pip install --disable-pip-version-check -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/bpartis-nb segment --out out

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache
