# mlplab: every command a user needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# The torch build this project is tested with; override for another, e.g. make TORCH="torch torchvision".
TORCH ?= torch==2.14.1 torchvision==0.29.1
SYSTEM_DATA := /usr/share/datasets/fashion-mnist
ARGS ?=

.PHONY: help install data train sweep search dashboard summarize test test-full test-slurm slurm-up slurm-down bench lint tensorboard clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv and install the project with its dev tools

data: $(VENV)/.installed ## get Fashion-MNIST: Debian's dataset-fashion-mnist, else torchvision's download into data/
	@if [ -f $(SYSTEM_DATA)/t10k-labels-idx1-ubyte.gz ]; then echo "Fashion-MNIST: $(SYSTEM_DATA)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else $(PY) -c "from mlplab.data.locate import locate; from pathlib import Path; \
		from mlplab.data.locate import DataSource; print(locate(DataSource(), Path('data'), Path('$(SYSTEM_DATA)'), download=True))"; fi

train: data ## train the default model (scratch MLP, 5 epochs); pass overrides as ARGS="model=concise"
	$(PY) src/train.py $(ARGS)

sweep: data ## the activation x model grid, 2 jobs at a time, 1 torch thread each; then its summary
	$(PY) src/train.py -m hydra/launcher=joblib hydra.launcher.n_jobs=2 threads=1 \
		model=scratch,concise activation=relu,sigmoid,tanh $(ARGS)

search: data ## an Optuna search (conf/hparams_search/optuna.yaml), 20 trials; overrides as ARGS=...
	$(PY) src/train.py hparams_search=optuna $(ARGS)

# The newest search's study, unless STORAGE names one (a journal file or a database URL).
STORAGE ?= $(lastword $(sort $(wildcard outputs/multirun/*/optuna.journal)))
DASHBOARD_PORT ?= 8080
dashboard: $(VENV)/.installed ## serve optuna-dashboard for the newest search on 127.0.0.1:8080 (or STORAGE=<journal file or URL>)
	@if [ -z "$(STORAGE)" ]; then echo "error: no search under outputs/multirun/; run make search, or give STORAGE=<journal file or database URL>" >&2; exit 2; fi
	$(VENV)/bin/optuna-dashboard --host 127.0.0.1 --port $(DASHBOARD_PORT) $(STORAGE)

summarize: $(VENV)/.installed ## rebuild a folder's summary table and plot: make summarize DIR=outputs/multirun/<sweep>
	$(PY) src/summarize.py $(DIR)

test: data ## the core tests: unit tests and in-process trainings on synthetic data, about 30 s
	$(PY) -m pytest --timeout=60

test-full: data ## every test but the SLURM ones: the core, then scripts, sweeps, servers and real faults
	$(PY) -m pytest -m "not slurm"

test-slurm: data ## run the SLURM tests on the cluster make slurm-up started (about 10 minutes)
	$(PY) -m pytest -m slurm -n 0 --timeout=900 tests/test_slurm.py

slurm-up: ## as root: install and start a one-node SLURM cluster with accounting on this machine
	scripts/slurm-up

slurm-down: ## stop the cluster make slurm-up started
	scripts/slurm-down

bench: data ## time src/train.py against a plain PyTorch loop, bare Lightning and the chapter's DataLoader; writes benchmarks/results.md and docs/performance.md
	$(PY) benchmarks/bench.py

lint: $(VENV)/.installed ## ruff: lint and format check
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

PORT ?= 6006
tensorboard: $(VENV)/.installed ## compare runs in TensorBoard on 127.0.0.1:6006: every run under outputs/, or one sweep: DIR=<folder>
	$(PY) src/serve_tensorboard.py $(or $(DIR),outputs) --port $(PORT)

clean: ## delete outputs/ (all runs!) and caches
	rm -rf outputs .pytest_cache .ruff_cache
