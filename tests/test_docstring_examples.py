"""The runnable examples in the public API's docstrings run and print what they show."""

import doctest
import importlib
import pkgutil

import pytest
import tensorflow as tf

import tfpvae

MODULES = [m.name for m in pkgutil.walk_packages(tfpvae.__path__, "tfpvae.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"tf": tf}, report=False,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed (see output)"


def test_the_examples_are_found():
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for n in MODULES for t in finder.find(importlib.import_module(n)))
    assert examples >= 14  # VAE, Encoder, trainable_variables, vamp_prior, ... (a finder bug would find none)
