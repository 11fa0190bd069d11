# Two commands set everything up on a fresh machine: `make demo` (train a VAE, write metrics and
# pictures) and `make test` (run the test suite). Both create .venv and install tfpvae into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(wildcard ../shared/data)

.PHONY: install demo test benchmarks clean

$(BIN)/tfpvae: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/tfpvae

# Burda et al. (2015) 784-200-200-50 tanh VAE on statically binarized MNIST, 10 epochs. Reads
# ../shared/data when present; otherwise tensorflow-datasets, then the embedded MNIST sample.
demo: install
	$(BIN)/tfpvae train --dataset binarized_mnist $(if $(DATA_DIR),--data-dir $(DATA_DIR)) --epochs 10 --output runs/demo

test: install
	$(BIN)/python -m pytest -q

benchmarks: install
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs build *.egg-info
