"""Property-based tests (hypothesis) of `tfpvae train`'s configuration (issue 13): every flag, any value.

For arbitrary values of each flag (ints negative, zero and beyond int64; floats NaN, inf, negative,
beyond float32; empty, unknown and non-ASCII strings), alone and combined, parsing (:mod:`tfpvae.cli`)
then validation (:class:`tfpvae.runs.RunConfig`) ends in exactly one of:

- argparse's usage error: ``SystemExit(2)`` whose last stderr line is ``tfpvae train: error: argument
  --flag: ...`` (the lines before it are the usage text);
- the config's refusal: a one-line ``ValueError("RunConfig: ...")``, which ``main`` prints as one line
  ``tfpvae train: error: RunConfig: ...`` and exits 2 (checked through ``main`` itself: a refused config
  fails before TensorFlow or the data load);
- a :class:`RunConfig` whose every field is in its documented range (ints fit int32, floats are finite
  and non-zero in float32 where they must be positive, choices are known, paths are non-empty).

Never another exception, never a config holding a NaN, an inf or an out-of-range value. Nothing is
trained and TensorFlow is not imported (Keras is, once, to check activation names), so the file runs in
seconds.

The cases these properties found (ints beyond int32, floats beyond float32, empty paths, unknown
activations, wrong Python types, a damaged config.json) are pinned by the tests at the end.
"""

import contextlib
import dataclasses
import functools
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpvae.cli import _parser, config_from_args, main
from tfpvae.runs.config import CHOICES, RunConfig, load_config

FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

INT32_MAX = 2**31 - 1
FLOAT32_TINY, FLOAT32_MAX = 1.1754943508222875e-38, 3.4028234663852886e38

# Every flag of `tfpvae train`, by the kind of value it takes (test_every_flag_is_covered keeps this complete).
POSITIVE_INTS = ("latent_dim", "epochs", "batch_size", "num_samples", "prior_components", "flow_steps", "max_examples")
NON_NEGATIVE_INTS = ("warmup_epochs", "context_dim", "patience", "cpu_replicas", "seed")
INT_LISTS = ("hidden", "flow_hidden")
POSITIVE_FLOATS = ("learning_rate", "clip_norm")
NON_NEGATIVE_FLOATS = ("beta",)
PATHS = ("data_dir", "output", "tensorboard")
SWITCHES = ("jit", "gif", "quiet")  # --jit alone means --jit on
CHOICE_FIELDS = tuple(CHOICES)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


# ----------------------------------------------------------------------------- the values tried

_no_nul = st.characters(exclude_characters="\x00")  # a real argv cannot hold NUL
_text = st.text(alphabet=_no_nul, max_size=12)
_int_text = st.one_of(
    st.integers(-3, 300).map(str), st.integers(-2**70, 2**70).map(str),
    st.sampled_from(["", " ", "0", "-0", "00", "+3", " 7 ", "1_000", "\u0663", "1.5", "1e3", "0x10", "nan", "inf",
                     str(INT32_MAX), str(INT32_MAX + 1), str(2**32), str(2**63), "9" * 40, "9" * 5000]),
    _text)
_float_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e300", "1e-300", "5e-324", "1e400",
                     "-1e-3", "-0.0", "0", "1_0.5", " 2 ", "0x1p3", "1e38", "3.5e38", "1e-38", "1e-3"]),
    _text)
_int_list_text = st.one_of(st.lists(_int_text, min_size=1, max_size=3).map(",".join),
                           st.sampled_from(["", ",", "200,", ",,5", "200,200", "0,5", "-1", str(2**63)]), _text)
_path_text = st.one_of(st.sampled_from(["", " ", "runs/x", "/nonexistent/deep/x", "-x", "é/ü", "a b"]), _text)
_name_text = st.one_of(st.sampled_from(["", "tanh", "relu", "TANH", "foo", " relu", "linear", "softplus"]), _text)


def _choice_text(field: str):
    return st.one_of(st.sampled_from(CHOICES[field]), st.sampled_from(["", " ", "NONE", CHOICES[field][0] + " "]),
                     _text)


def _values(field: str):
    if field in POSITIVE_INTS + NON_NEGATIVE_INTS:
        return _int_text
    if field in INT_LISTS:
        return _int_list_text
    if field in POSITIVE_FLOATS + NON_NEGATIVE_FLOATS:
        return _float_text
    if field in PATHS:
        return _path_text
    if field == "activation":
        return st.one_of(_name_text, _choice_text(field))
    return _choice_text(field)


VALUED = POSITIVE_INTS + NON_NEGATIVE_INTS + INT_LISTS + POSITIVE_FLOATS + NON_NEGATIVE_FLOATS + PATHS + CHOICE_FIELDS


@st.composite
def _argv_for(draw, field: str):
    """``--flag value`` or ``--flag=value`` (the first form lets a value starting with '-' read as a flag)."""
    value = draw(_values(field))
    return [f"{_flag(field)}={value}"] if draw(st.booleans()) else [_flag(field), value]


def _plausible(field: str):
    """Values a user would type, so that combinations reach RunConfig's refusals and valid configs."""
    if field in POSITIVE_INTS + NON_NEGATIVE_INTS:
        return st.integers(0, 4).map(str)
    if field in INT_LISTS:
        return st.sampled_from(["16", "8,8"])
    if field in POSITIVE_FLOATS + NON_NEGATIVE_FLOATS:
        return st.sampled_from(["0", "0.5", "1", "1e-3"])
    if field in PATHS:
        return st.just("runs/x")
    return st.sampled_from(CHOICES[field])


@st.composite
def _argv(draw, max_flags: int = 4):
    """Up to ``max_flags`` flags, most with plausible values and some with arbitrary ones, plus switches."""
    fields = draw(st.lists(st.sampled_from(VALUED), min_size=1, max_size=max_flags, unique=True))
    argv = []
    for field in fields:
        value = draw(st.one_of(_plausible(field), _plausible(field), _values(field)))
        argv += [f"{_flag(field)}={value}"] if draw(st.booleans()) else [_flag(field), value]
    return argv + [_flag(s) for s in draw(st.lists(st.sampled_from(SWITCHES), unique=True, max_size=2))]


# ----------------------------------------------------------------------------- parse, validate, check


def _parse(argv: list[str]):
    """``("usage", stderr lines)``, ``("refused", message)`` or ``("config", RunConfig)``; any other
    exception propagates and fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            args = _parser().parse_args(["train", *argv])
        except SystemExit as exit_:
            assert exit_.code == 2, (argv, exit_.code)
            return "usage", err.getvalue().rstrip("\n").split("\n")
    try:
        return "config", config_from_args(args)
    except ValueError as refusal:
        return "refused", str(refusal)


def _check_outcome(argv: list[str]):
    kind, result = _parse(argv)
    if kind == "usage":
        *usage, last = result
        assert last.startswith("tfpvae train: error: "), result  # argparse's: argument --x: ..., ambiguous option...
        flag = re.match(r"tfpvae train: error: argument (--[a-z-]+)", last)
        assert flag is None or flag.group(1) in argv or any(a.startswith(flag.group(1) + "=") for a in argv), result
        assert all(line.startswith(("usage:", " ")) for line in usage), result  # usage text, then the one line
    elif kind == "refused":
        assert result.startswith("RunConfig: ") and "\n" not in result, result
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["train", *argv]) == 2  # refused before TensorFlow loads: nothing runs
        assert err.getvalue() == f"tfpvae train: error: {result}\n", err.getvalue()
    else:
        _assert_in_range(result)
    return kind, result


@functools.lru_cache(maxsize=None)
def _keras_activation(name: str) -> bool:
    import keras  # once; the config itself does not import it

    try:
        keras.activations.get(name)
    except ValueError:
        return False
    return True


def _assert_in_range(config: RunConfig) -> None:
    """Every field of an accepted config within its documented range."""
    for name in POSITIVE_INTS + NON_NEGATIVE_INTS:
        value, low = getattr(config, name), 1 if name in POSITIVE_INTS and name != "epochs" else 0
        if name == "max_examples" and value is None:  # all of each split
            continue
        assert type(value) is int and low <= value <= INT32_MAX, (name, value)
    for name in INT_LISTS:
        sizes = getattr(config, name)
        assert isinstance(sizes, tuple) and sizes and all(type(h) is int and 1 <= h <= INT32_MAX for h in sizes), \
            (name, sizes)
    for name in POSITIVE_FLOATS + NON_NEGATIVE_FLOATS:
        value = getattr(config, name)
        if name == "clip_norm" and value is None:
            continue
        assert type(value) in (int, float) and value <= FLOAT32_MAX, (name, value)  # finite in float32 (NaN fails)
        assert value >= FLOAT32_TINY if name in POSITIVE_FLOATS else value >= 0.0, (name, value)
    for name, allowed in CHOICES.items():
        assert getattr(config, name) in allowed, (name, getattr(config, name))
    for name in ("data_dir", "tensorboard", "output"):
        value = getattr(config, name)
        assert (value is None and name != "output") or (isinstance(value, str) and value.strip()), (name, value)
    assert isinstance(config.activation, str) and _keras_activation(config.activation), config.activation
    assert type(config.gif) is bool and config.event_shape == ()


# ----------------------------------------------------------------------------- the properties


def test_every_flag_is_covered():
    train = _parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions} - {"help"}
    assert dests == set(VALUED) | set(SWITCHES), dests ^ (set(VALUED) | set(SWITCHES))
    assert {f.name for f in dataclasses.fields(RunConfig)} == dests - {"quiet"} | {"event_shape"}


@pytest.mark.parametrize("field", VALUED)
@settings(FAST, max_examples=30)
@given(data=st.data())
def test_each_flag_alone_parses_to_a_valid_config_or_a_one_line_error(field, data):
    argv = data.draw(_argv_for(field))
    kind, result = _check_outcome(argv)
    if kind == "config" and field in POSITIVE_INTS + NON_NEGATIVE_INTS + POSITIVE_FLOATS + NON_NEGATIVE_FLOATS:
        text = argv[0].split("=", 1)[1] if len(argv) == 1 else argv[1]
        parse = int if field in POSITIVE_INTS + NON_NEGATIVE_INTS else float
        assert getattr(result, field) == parse(text), (argv, getattr(result, field))  # the value given, as given


@settings(FAST, max_examples=120)
@given(argv=_argv())
def test_flag_combinations_parse_to_a_valid_config_or_a_one_line_error(argv):
    _check_outcome(argv)


@settings(FAST, max_examples=30)
@given(argv=_argv())
def test_an_accepted_config_survives_its_config_json(argv, tmp_path_factory):
    """config.json round trip: what a run records is what resuming or `evaluate` rebuilds."""
    kind, config = _parse(argv)
    if kind != "config":
        return
    run = tmp_path_factory.mktemp("run")
    (run / "config.json").write_text(json.dumps(config.to_dict()))
    assert load_config(run) == config


def test_documented_bounds_are_accepted_and_their_neighbours_refused():
    for field in POSITIVE_INTS:  # the CLI asks for at least one epoch, RunConfig allows 0 (a resume that only reports)
        assert _parse([_flag(field), "1"])[0] == "config"
        assert _parse([_flag(field), "0"])[0] == "usage"
    for field in NON_NEGATIVE_INTS:
        assert _parse([_flag(field), "0"])[0] == "config"
        assert _parse([_flag(field), "-1"])[0] == "usage"
    for field in POSITIVE_FLOATS:
        assert _parse([_flag(field), "1e-6"])[0] == "config"
        assert _parse([_flag(field), "0"])[0] == "usage"
        assert _parse([_flag(field), "nan"])[0] == "usage"
        assert _parse([_flag(field), "inf"])[0] == "refused"
    assert _parse(["--beta", "0"])[0] == "config" and _parse(["--beta", "-1e-9"])[0] == "usage"
    assert _parse(["--beta", "inf"])[0] == "refused"


@settings(FAST, max_examples=80)
@given(field=st.sampled_from([f.name for f in dataclasses.fields(RunConfig) if f.name != "event_shape"]),
       value=st.one_of(st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                       st.none(), st.sampled_from(CHOICES["model"] + CHOICES["dataset"] + ("", "x")),
                       st.tuples(st.integers(-1, 300))))
def test_python_api_runconfig_is_valid_or_refused_with_one_line(field, value):
    """RunConfig(**{field: value}) as the Python API and benchmarks build it: a valid config or a
    one-line ValueError, for values of the field's own type and of others."""
    try:
        config = RunConfig(**{field: value})
    except ValueError as refusal:
        assert str(refusal).startswith("RunConfig: ") and "\n" not in str(refusal)
        return
    _assert_in_range(config)


# ----------------------------------------------------------------------------- refusals found by these properties


def _accepted(argv):
    kind, result = _parse(argv)
    return kind == "config"


@pytest.mark.parametrize("argv", [["--seed", str(2**32)], ["--seed", str(2**31)], ["--latent-dim", str(2**63)],
                                  ["--hidden", str(2**63)], ["--batch-size", str(2**40)]], ids=str)
def test_ints_beyond_int32_are_refused(argv):
    assert not _accepted(argv)


@pytest.mark.parametrize("argv", [["--beta", "1e300"], ["--learning-rate", "1e-300"], ["--learning-rate", "1e300"],
                                  ["--clip-norm", "1e-300"], ["--clip-norm", "1e300"]], ids=str)
def test_floats_beyond_float32_are_refused(argv):
    assert not _accepted(argv)


@pytest.mark.parametrize("argv", [["--data-dir="], ["--output="], ["--tensorboard="], ["--output", "  "]], ids=str)
def test_empty_paths_are_refused(argv):
    assert not _accepted(argv)


@pytest.mark.parametrize("argv", [["--activation", "foo"], ["--activation="], ["--activation", "TANH"]], ids=str)
def test_unknown_activations_are_refused(argv):
    assert not _accepted(argv)


@pytest.mark.parametrize("kwargs", [dict(learning_rate="0.1"), dict(beta=None), dict(clip_norm="1"), dict(hidden=5),
                                    dict(jit="no"), dict(gif="no"), dict(output=5), dict(activation=None)], ids=str)
def test_python_api_wrong_types_are_refused(kwargs):
    with pytest.raises(ValueError, match="^RunConfig: "):
        RunConfig(**kwargs)


@pytest.mark.parametrize("content", ['[]', 'null', '{"model": "vae", "learning_rate": "x"}',
                                     '{"model": "vae", "latent_dim": -1}'], ids=str)
def test_damaged_config_json_names_the_file(content, tmp_path):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "config.json"))):
        load_config(tmp_path)
