# Two commands do all the set-up on a fresh machine (Python 3.10+ with venv):
#   make run    serve the dashboard with Voila at http://localhost:$(PORT)/
#   make test   run the test suite
# Both create or reuse the virtual environment in $(VENV).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The CPU build of PyTorch; set TORCH_SPEC= (empty) to keep a torch you installed yourself.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.bpartis-nb-installed
PORT ?= 8866

.PHONY: run test install clean example

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_SPEC),$(PY) -m pip install --disable-pip-version-check -q "$(TORCH_SPEC)")
	$(PY) -m pip install --disable-pip-version-check -q -e ".[test,dashboard,scalebar,formats]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -c "import bpartis_nb; bpartis_nb.load_model(pretrained=True)"
	@echo "bpartis_nb dashboard: open http://localhost:$(PORT)/ (another port: make run PORT=9000; stop: Ctrl-C)"
	$(VENV)/bin/voila notebooks/dashboard.ipynb --no-browser --port=$(PORT) --Voila.ip=127.0.0.1 \
		--VoilaExecutor.timeout=180 --preheat_kernel=True --pool_size=1

example: $(STAMP)
	$(VENV)/bin/bpartis-nb segment --out out

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache
