# Two commands set everything up on a fresh machine: `make demo` (train a VAE, write metrics and
# pictures) and `make test` (run the test suite). Both create .venv and install tfpvae into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(wildcard ../shared/data)

.PHONY: install demo test lint tutorials gallery benchmarks clean

$(BIN)/tfpvae: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/tfpvae

# Burda et al. (2015) 784-200-200-50 tanh VAE on statically binarized MNIST, 10 epochs. Reads
# ../shared/data when present; otherwise the full statically binarized MNIST shipped inside the
# package (identical data, no network).
demo: install
	$(BIN)/tfpvae train --dataset binarized_mnist $(if $(DATA_DIR),--data-dir $(DATA_DIR)) --epochs 10 --output runs/demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check tfpvae tests benchmarks tutorials
	$(BIN)/mypy

# Every tutorial in full mode, one thread each (~10 min); refreshes tutorials/figures/.
tutorials: install
	$(BIN)/python tutorials/run_all.py $(if $(DATA_DIR),--data-dir $(DATA_DIR))

# The VAE gallery figures of benchmarks/figures/ (one thread, ~45 min; --sections mnist,frey,sprites ~15 min).
gallery: install
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/gallery.py $(if $(DATA_DIR),--data-dir $(DATA_DIR)) --out benchmarks/figures

benchmarks: install
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs build *.egg-info
