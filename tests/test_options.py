"""Options declared once, checked one way: the bad-value tests are generated from the declarations.

For every registered options class (:data:`seqvae.options.OPTIONS_CLASSES`) and every declared
constraint, each value the constraint itself says it rejects must raise a ``ConfigError``
naming ``section.field``; the defaults round-trip through dicts, JSON and YAML; an unknown key
says "did you mean"; and ``seqvae train --set section.key=BAD`` fails in one line naming the key.
The config's top level (``RunConfig``: ``seed``, ``preset`` and its sections) has an empty
section, so its fields are named bare (``--set seed=-1`` → ``seed: must be …``).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import typing
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer
import yaml

from builders import fails_cleanly, write_family
from seqvae.cli.common import flag_of
from seqvae.errors import ConfigError
from seqvae.options import (
    OPTIONS_CLASSES,
    Boolean,
    Check,
    Integer,
    Interval,
    ListOf,
    OneOf,
    Optional,
    Options,
    Text,
    check_options,
)

SRC = Path(__file__).resolve().parents[1] / "src"
# import every module that registers an options class, so that the table below lists them all
for _path in sorted(SRC.rglob("*.py")):
    if "@register\n@dataclass" in _path.read_text(encoding="utf-8"):
        importlib.import_module(".".join(_path.relative_to(SRC).with_suffix("").parts))
CLASSES = sorted(OPTIONS_CLASSES.items())


def _key(cls: type[Options], name: str) -> str:
    """The field's name in errors: ``section.name``, or ``name`` at the config's top level."""
    return f"{cls.section}.{name}" if cls.section else name


BAD_VALUES = [
    pytest.param(cls, name, bad, id=f"{_key(cls, name)}={bad!r}")
    for _, cls in CLASSES
    for name, constraint in cls.constraints.items()
    for bad in constraint.bad_values()
]
# the sections `seqvae train --set` takes ("": the top level, seed and preset)
TRAIN_SECTIONS = ("", "data", "model", "training")
TOP_LEVEL = "seqvae.training.config.RunConfig"
CLI_BAD_VALUES = [case for case in BAD_VALUES if case.values[0].section in TRAIN_SECTIONS]


def test_the_run_config_sections_are_registered():
    assert {cls.section for _, cls in CLASSES} >= set(TRAIN_SECTIONS)
    assert [key for key, cls in CLASSES if not cls.section] == [TOP_LEVEL]
    top = OPTIONS_CLASSES[TOP_LEVEL]
    assert {"seed", "preset"} <= set(top.constraints)
    assert {
        f"{name}={bad!r}" for name in ("seed", "preset") for bad in top.constraints[name].bad_values()
    } <= {case.id for case in CLI_BAD_VALUES}
    assert len(BAD_VALUES) > 3 * len(CLASSES)


@pytest.mark.parametrize(("key", "cls"), CLASSES, ids=[key for key, _ in CLASSES])
def test_every_field_is_declared_and_the_example_passes(key, cls):
    assert issubclass(cls, Options) and dataclasses.is_dataclass(cls)
    assert cls.section or key == TOP_LEVEL, f"{key} has no section"
    undeclared = sorted(set(cls.field_names()) - set(cls.constraints))
    assert not undeclared, f"{key}: fields without a constraint: {undeclared}"
    stray = sorted(set(cls.constraints) - set(cls.field_names()))
    assert not stray, f"{key}: constraints for no field: {stray}"
    example = cls.example()
    assert example.check() is example


@pytest.mark.parametrize(("cls", "name", "bad"), BAD_VALUES)
def test_a_bad_value_names_its_field(cls, name, bad):
    constraint = cls.constraints[name]
    assert constraint.reason(bad) is not None, f"{constraint} accepts its own bad value {bad!r}"
    options = dataclasses.replace(cls.example(), **{name: bad})
    key = _key(cls, name)
    with pytest.raises(ConfigError) as err:
        options.check()
    assert err.value.field == key, (err.value.field, str(err.value))
    assert str(err.value).startswith(f"{key}: ") and "must" in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("key", "cls"), CLASSES, ids=[key for key, _ in CLASSES])
def test_the_example_round_trips_through_dict_json_and_yaml(key, cls):
    example = cls.example().check()
    assert cls.from_dict(example.to_dict()).check() == example
    assert cls.from_dict(json.loads(json.dumps(example.to_dict()))).check() == example
    assert cls.from_dict(yaml.safe_load(yaml.safe_dump(example.to_dict()))).check() == example
    assert cls.from_json(example.to_json()).check() == example
    assert cls.from_yaml(example.to_yaml()).check() == example


@pytest.mark.parametrize(("key", "cls"), CLASSES, ids=[key for key, _ in CLASSES])
def test_an_unknown_key_says_did_you_mean(key, cls):
    for name in cls.field_names():
        typo = name + "x"
        with pytest.raises(ConfigError) as err:
            cls.from_dict({typo: 1})
        assert err.value.field == _key(cls, typo)
        assert re.search(rf"unknown (config )?key {re.escape(repr(typo))}", str(err.value)), str(err.value)
        assert "did you mean" in str(err.value), str(err.value)
    with pytest.raises(ConfigError, match="must be a mapping"):
        cls.from_dict([1, 2])


@pytest.mark.parametrize(("cls", "name", "bad"), CLI_BAD_VALUES)
def test_train_set_with_a_bad_value_fails_in_one_line(tmp_path, capsys, cls, name, bad):
    aln = write_family(tmp_path / "family.fasta")
    out = tmp_path / "run"
    key = _key(cls, name)
    args = ["train", aln, "--set", f"{key}={json.dumps(bad)}", "--out", out, "--no-progress"]
    fails_cleanly(capsys, args, f"--set {key}: {key}: ", folder=tmp_path)


# -- the constraints themselves ------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "good", "bad", "text"),
    [
        (
            Interval(0.0, 1.0, closed="left"),
            [0, 0.5],
            [1.0, -0.1, float("nan"), "x", True],
            "must be in [0, 1)",
        ),
        (Interval(0.0, 1.0, closed="neither"), [0.5], [0.0, 1.0], "must be in (0, 1)"),
        (Interval(0.0), [0, 1e9], [-1e-9, float("inf")], "must be >= 0"),
        (Interval(0.0, closed="neither"), [1e-9], [0.0], "must be > 0"),
        (Interval(high=2.0, closed="neither"), [1.0], [2.0], "must be < 2"),
        (Integer(1), [1, 7], [0, 1.5, True], "must be an integer >= 1"),
        (Integer(0, 3), [0, 3], [-1, 4], "must be an integer in [0, 3]"),
        (OneOf(("a", "b")), ["a"], ["c", [1]], "must be one of ('a', 'b')"),
        (Boolean(), [True, False], [1, "yes"], "must be true or false"),
        (Text(), ["x"], [1], "must be a string"),
        (Optional(Integer(1), note="auto"), [None, 2], [0], "must be an integer >= 1 or null (auto)"),
        (ListOf(Integer(1), min_length=1), [[1], (2, 3)], [[], [0], "1"], "must be a non-empty list"),
        (
            ListOf(OneOf(("a", "b")), distinct=True),
            [[], ["a", "b"]],
            [["a", "a"], ["c"]],
            "must be a list of distinct values, each one of ('a', 'b')",
        ),
    ],
)
def test_constraints_accept_reject_and_describe(constraint, good, bad, text):
    assert all(constraint.accepts(v) for v in good)
    assert not any(constraint.accepts(v) for v in bad)
    assert constraint.describe().startswith(text), constraint.describe()
    assert not any(constraint.accepts(v) for v in constraint.bad_values())


def test_the_escape_hatch_and_the_prefix():
    @dataclasses.dataclass
    class Small(Options):
        section: ClassVar[str] = "small"
        constraints: ClassVar[dict] = {
            "even": Check(lambda v: None if v % 2 == 0 else "must be even", "must be even", (3,)),
            "size": Integer(1),
        }
        even: int = 2
        size: int = 1

    assert Small().check() == Small()
    with pytest.raises(ConfigError, match=r"^small\.even: must be even$") as err:
        Small(even=3).check()
    assert err.value.field == "small.even"
    with pytest.raises(ConfigError, match=r"^outer\.size: must be an integer >= 1 \(got 0\)$"):
        check_options(Small(size=0), "outer")
    with pytest.raises(ConfigError, match=r"did you mean 'size'"):
        Small.from_dict({"sise": 2})
    assert Small.from_yaml("even: 4\nsize: '3'\n").check() == Small(even=4, size=3)


# -- every command's flags come from the same declarations ---------------------------------

OPTION_COMMANDS = {  # command → (its CLI module, the options class its flags fill)
    "score": ("seqvae.cli.score", "seqvae.analysis.scorers.ScoringOptions"),
    "generate": ("seqvae.cli.generate", "seqvae.analysis.generation_options.GenerationOptions"),
    "evaluate-samples": (
        "seqvae.cli.evaluate_samples",
        "seqvae.analysis.sample_evaluation.EvaluationOptions",
    ),
    "couplings": ("seqvae.cli.couplings", "seqvae.analysis.couplings.CouplingOptions"),
    "sca": ("seqvae.cli.sca", "seqvae.analysis.sca.SCAOptions"),
    "latent": ("seqvae.cli.latent", "seqvae.analysis.latent_report.LatentOptions"),
    "baseline fit": ("seqvae.cli.baseline", "seqvae.training.baselines.PottsSettings"),
    "design": ("seqvae.cli.design", "seqvae.analysis.latent_design.DesignOptions"),
}


def _command(command: str):
    """The click command of ``seqvae COMMAND`` (``baseline fit``: a subcommand of a group)."""
    from seqvae.cli.main import app

    found = typer.main.get_command(app)
    for word in command.split():
        found = found.commands[word]
    return found


def _click_params(command: str) -> dict[str, Any]:
    """The command's options by every spelling (``--include-gaps`` and ``--exclude-gaps``)."""
    params = _command(command).params
    return {opt: p for p in params for opt in (*p.opts, *p.secondary_opts)}


_UNSPELLABLE = object()


def _hints(command: str) -> dict[str, Any]:
    callback = inspect.unwrap(_command(command).callback)
    return typing.get_type_hints(callback)


def _spelt(hint: Any, bad: Any) -> Any:
    """``bad`` as the command line reads it into a parameter of type ``hint``, or _UNSPELLABLE."""
    kinds = [t for t in typing.get_args(hint) or (hint,) if t is not type(None)]
    kind = kinds[0] if len(kinds) == 1 else str
    if kind is bool or isinstance(bad, bool):
        return _UNSPELLABLE
    try:
        value = kind(str(bad)) if kind in (int, float, str) else str(bad)
    except ValueError:
        return _UNSPELLABLE
    return value


def _flag_cases():
    cases = []
    for command, (module_name, key) in OPTION_COMMANDS.items():
        module = importlib.import_module(module_name)
        cls = OPTIONS_CLASSES[key]
        assert module.OPTIONS_SECTION == cls.section
        params = _click_params(command)
        hints = _hints(command)
        for name, constraint in cls.constraints.items():
            flag = flag_of(f"{cls.section}.{name}", module.OPTION_FLAGS)
            if flag is None:  # declared as a library-only field
                continue
            param = params.get(flag)
            assert param is not None, f"seqvae {command}: {cls.section}.{name} has no flag {flag}"
            if param.nargs != 1 or getattr(param, "is_flag", False):
                continue
            for bad in constraint.bad_values():
                if isinstance(bad, list | tuple):
                    continue
                value = _spelt(hints[param.name], bad)
                if value is _UNSPELLABLE:  # the command line's own types turn it away
                    continue
                if constraint.reason(value) is None:
                    continue
                cases.append(
                    pytest.param(
                        command, flag, f"{cls.section}.{name}", str(bad), id=f"{command} {flag} {bad}"
                    )
                )
    return cases


FLAG_CASES = _flag_cases()


def test_every_command_field_has_its_flag_and_some_are_tried():
    assert {case.values[0] for case in FLAG_CASES} == set(OPTION_COMMANDS)


@pytest.mark.parametrize(("command", "flag", "key", "bad"), FLAG_CASES)
def test_a_bad_flag_value_fails_in_one_line_naming_flag_and_field(
    tmp_path, capsys, tiny_run, command, flag, key, bad
):
    fasta = tmp_path / "designs.fasta"
    inputs = {
        "score": [tiny_run.run, "--all-singles", "--out", tmp_path / "scores.csv"],
        "generate": [tiny_run.run, "-n", "3", "--out", fasta],
        "evaluate-samples": [fasta, "--reference", fasta, "--out", tmp_path / "evaluation"],
        "couplings": [tiny_run.run, "--out", tmp_path / "couplings"],
        "sca": [tiny_run.alignment, "--out", tmp_path / "sca"],
        "latent": [tiny_run.run, "--out", tmp_path / "latent"],
        "baseline fit": [tiny_run.alignment, "--model", "potts", "--out", tmp_path / "potts"],
        "design": [tiny_run.run, "-n", "3", "--labels", tmp_path / "labels.csv", "--out", tmp_path / "d"],
    }[command]
    if flag == "-n":
        inputs = inputs[:1] + inputs[3:]
    fails_cleanly(capsys, [*command.split(), *inputs, flag, bad], f"{flag}: {key}: ", folder=tmp_path)


# -- rules across fields: the library names fields, the command line its flags ------------------
CROSS_FIELD = [
    (
        {"n": 3, "argmax": True, "temperature": 0.5},
        ["-n", "3", "--argmax", "--temperature", "0.5"],
        "generation.temperature",
        "generation.argmax and generation.temperature exclude each other",
        "--temperature: --argmax and --temperature exclude each other",
    ),
    (
        {"n": 3, "region_ids": "a,b", "region_coords": "0,0"},
        ["-n", "3", "--region-ids", "a,b", "--region-coords", "0,0"],
        "generation.region_coords",
        "choose one of generation.region_ids, generation.region_coords",
        "--region-coords: choose one of --region-ids, --region-coords",
    ),
    (
        {"n": 3, "interpolate": ("a", "b")},
        ["-n", "3", "--interpolate", "a", "b"],
        "generation.n",
        "generation.interpolate makes generation.steps designs; leave out generation.n",
        "-n: --interpolate makes --steps designs; leave out -n",
    ),
    (
        {"n": 3, "radius": 1.0},
        ["-n", "3", "--radius", "1"],
        "generation.radius",
        "generation.radius goes with generation.region_ball or generation.region_coords",
        "--radius: --radius goes with --region-ball or --region-coords",
    ),
    (
        {},
        [],
        "generation.n",
        "give the number of designs with generation.n N",
        "-n: give the number of designs with -n N",
    ),
    (
        {"n": 3, "region_coords": "0.1,x"},
        ["-n", "3", "--region-coords", "0.1,x"],
        "generation.region_coords",
        "coordinates must be comma-separated numbers, got '0.1,x'",
        "--region-coords: coordinates must be comma-separated numbers, got '0.1,x'",
    ),
]


@pytest.mark.parametrize(("values", "flags", "field", "message", "line"), CROSS_FIELD)
def test_a_cross_field_rule_names_fields_and_the_command_its_flags(
    tmp_path, capsys, tiny_run, values, flags, field, message, line
):
    from seqvae.analysis.generation import GenerationOptions

    with pytest.raises(ConfigError) as err:
        GenerationOptions(**values).validate()
    assert (err.value.field, err.value.message, err.value.source) == (field, message, None)
    fails_cleanly(capsys, ["generate", tiny_run.run, *flags, "--out", tmp_path / "d.fasta"], f"error: {line}")


# -- generation's helpers: library errors name fields, the command shows the same line as before -----
HELPER_ERRORS = [
    (
        lambda gen, run: gen.region_from_sequences(run, ["s0"]),
        ["-n", "3", "--region-ids", "s0"],
        "generation.region_ids",
        "a Gaussian region needs at least two sequences; for one sequence use a ball "
        "(generation.region_ball ID generation.radius R)",
        "--region-ids: a Gaussian region needs at least two sequences; for one sequence use a ball "
        "(--region-ball ID --radius R)",
    ),
    (
        lambda gen, run: gen.interpolate(run, "s0", "nope"),
        ["--interpolate", "s0", "nope"],
        "generation.interpolate",
        "the region selection matches no training sequence: 'nope'",
        "--interpolate: the region selection matches no training sequence: 'nope'",
    ),
    (
        lambda gen, run: gen.region_ball(run, "nope", 1.0),
        ["-n", "3", "--region-ball", "nope", "--radius", "1"],
        "generation.region_ball",
        "the region selection matches no training sequence: 'nope'",
        "--region-ball: the region selection matches no training sequence: 'nope'",
    ),
    (
        lambda gen, run: gen.region_coordinates([0.1], run.config.model.latent_dim),
        ["-n", "3", "--region-coords", "0.1"],
        "generation.region_coords",
        "1 coordinates given but the run's latent space has 2 dimensions",
        "--region-coords: 1 coordinates given but the run's latent space has 2 dimensions",
    ),
    (
        lambda gen, run: gen.parse_phenotype_threshold("score >= q200"),
        ["-n", "3", "--region-phenotype", "score >= q200", "--phenotypes", "table.csv"],
        "generation.region_phenotype",
        "quantile 'q200' in 'score >= q200' must lie between q0 and q100",
        "--region-phenotype: quantile 'q200' in 'score >= q200' must lie between q0 and q100",
    ),
]


@pytest.mark.parametrize(
    ("call", "flags", "field", "message", "line"),
    HELPER_ERRORS,
    ids=[case[2] for case in HELPER_ERRORS],
)
def test_generation_helpers_name_fields_and_the_command_its_flags(
    tmp_path, capsys, tiny_run, call, flags, field, message, line
):
    from seqvae import load
    from seqvae.analysis import generation as gen

    with pytest.raises(ConfigError) as err:
        call(gen, load(tiny_run.run))
    assert (err.value.field, err.value.message, err.value.source) == (field, message, None)
    out = tmp_path / "d.fasta"
    fails_cleanly(capsys, ["generate", tiny_run.run, *flags, "--out", out], f"error: {line}", folder=tmp_path)


def test_generation_value_checks_use_the_declared_constraints(tmp_path, capsys, tiny_run):
    from seqvae import load
    from seqvae.analysis import generation as gen

    run = load(tiny_run.run)
    calls = [
        (lambda: gen.generate(run, 0), "generation.n", 0),
        (lambda: gen.generate(run, 2, temperature=0.0), "generation.temperature", 0.0),
        (lambda: gen.interpolate(run, "s0", "s1", steps=1), "generation.steps", 1),
        (lambda: gen.region_from_sequences(run, ["s0", "s1"], scale=-1.0), "generation.region_scale", -1.0),
        (lambda: gen.region_ball(run, "s0", -1.0), "generation.radius", -1.0),
    ]
    for call, field, bad in calls:
        constraint = gen.GenerationOptions.constraints[field.split(".")[1]]
        rule = constraint.inner if isinstance(constraint, Optional) else constraint
        with pytest.raises(ConfigError) as err:
            call()
        assert (err.value.field, err.value.message) == (field, f"{field}: {rule.reason(bad)}")
    with pytest.raises(ConfigError) as err:
        gen.GenerationOptions(n=3).validate(tmp_path / "d.csv")
    assert (err.value.field, err.value.source) == ("generation.out", str(tmp_path / "d.csv"))
    assert err.value.message == "generation.out is the FASTA file; the CSV and JSON are written beside it"
    line = f"{tmp_path / 'd.csv'}: --out is the FASTA file; the CSV and JSON are written beside it"
    fails_cleanly(
        capsys, ["generate", tiny_run.run, "-n", "3", "--out", tmp_path / "d.csv"], f"error: {line}"
    )


def test_baseline_rules_name_fields_too(tmp_path, capsys, tiny_run):
    from seqvae.analysis.generation import GenerationOptions

    with pytest.raises(ConfigError) as err:
        GenerationOptions(n=3, region_ids="a", radius=2.0).validate_for_baseline(vae_only=["--figure"])
    assert err.value.field == "generation.region_ids"
    assert err.value.message.startswith("generation.region_ids, generation.radius, --figure need a VAE run")
    with pytest.raises(ConfigError, match=r"^give the number of samples with generation\.n N$"):
        GenerationOptions().validate_for_baseline()


def test_options_come_from_the_parameters_their_flags_name():
    from seqvae.analysis.latent_report import LatentOptions
    from seqvae.cli.common import options_from_arguments
    from seqvae.cli.latent import OPTION_FLAGS

    names = {"threshold", "pcs", "folds", "neighbours", "seed", "top_fraction", "permutations"}
    arguments = {name: 7 for name in names} | {"statistic": "knn", "null": "uniform", "clusters": 0}
    arguments |= {"min_group_size": 9, "strength_delta": 0.5, "max_categories": 3, "pca_gaps": False}
    options = options_from_arguments(LatentOptions, arguments, OPTION_FLAGS)
    assert (options.n_pcs, options.n_permutations, options.null_sampling, options.include_gaps) == (
        7,
        7,
        "uniform",
        False,
    )
    assert options.alpha == LatentOptions().alpha  # a field without a flag keeps its default
    with pytest.raises(KeyError, match="pcs"):
        options_from_arguments(
            LatentOptions, {k: v for k, v in arguments.items() if k != "pcs"}, OPTION_FLAGS
        )


# -- the experiments' knobs: the same rules, the same generated bad values -----------------


def _knob_cases():
    from seqvae.experiments.registry import EXPERIMENTS, get_experiment

    return [
        pytest.param(knob, f"{name}.{section}.{key}", bad, id=f"{name}.{section}.{key}={bad!r}")
        for name in sorted(EXPERIMENTS)
        for spec in (get_experiment(name),)
        for section, knobs in (("family", spec.family_knobs), ("analysis", spec.analysis_knobs))
        for key, knob in knobs.items()
        for bad in knob.constraint.bad_values()
    ]


KNOB_CASES = _knob_cases()


def test_every_knob_default_passes_its_constraint():
    assert KNOB_CASES
    for case in KNOB_CASES:
        knob, key, _ = case.values
        assert knob.constraint.reason(knob.check(key, knob.default)) is None, key


def test_a_knob_checks_with_its_constraint_and_normalises():
    from seqvae.experiments.knobs import Knob

    assert Knob(2, "int", 1).check("k", 3.0) == 3 and isinstance(Knob(1.0, "float").check("k", 2), float)
    assert Knob([], "motifs").check("k", None) == [] and Knob([], "motifs").check("k", ((1, 2),)) == [[1, 2]]
    assert Knob([1.0], "floats").check("k", (1, 2)) == [1.0, 2.0]
    for knob, bad in ((Knob(2, "int", 1, 8), 0), (Knob("a", "choice", choices=("a", "b")), "c")):
        with pytest.raises(ConfigError) as err:
            knob.check("family.k", bad)
        assert str(err.value) == f"family.k: {knob.constraint.reason(bad)}"


@pytest.mark.parametrize(("knob", "key", "bad"), KNOB_CASES)
def test_a_bad_knob_value_names_its_key(knob, key, bad):
    assert knob.constraint.reason(bad) is not None
    with pytest.raises(ConfigError) as err:
        knob.check(key, bad)
    assert err.value.field == key
    assert str(err.value).startswith(f"{key}: ")
