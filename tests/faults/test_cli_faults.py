"""The ``hopformer`` command line given bad arguments or failing mid-write: one line naming
the flag, file or value and what was expected, exit status 2, no traceback, and no output
changed (outputs are written atomically)."""

from __future__ import annotations

import errno
import pathlib
import re

import pytest
from ase.io import write

from hopformer.cli import main
from hopformer.physics.clusters import build_cluster


def _run(argv, capsys) -> str:
    """stderr of ``hopformer argv``, asserting it failed with status 2 and no traceback."""
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def cluster(tmp_path):
    path = tmp_path / "initial.xyz"
    write(path, build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92))
    return str(path)


def _generate(cluster, tmp_path, *extra):
    return [
        "generate",
        "--model",
        "m.pt",
        "--initial",
        cluster,
        "--out",
        str(tmp_path / "o.xyz"),
        "--potential",
        "asap:EMT",
        *extra,
    ]


CASES = [
    (
        "hint atoms not numbers",
        ["--hint-atoms", "3,x", "--hint-from", "{c}"],
        r"--hint-atoms '3,x': expected comma-separated atom indices",
    ),
    (
        "hint atom out of range",
        ["--hint-atoms", "3,55", "--hint-from", "{c}"],
        r"--hint-atoms 3,55: atoms are numbered 0\.\.54",
    ),
    ("hint atoms without finals", ["--hint-atoms", "3"], r"--hint-atoms needs --hint-from"),
    ("negative samples", ["--samples", "-3"], r"argument --samples: expected ≥ 0, got '-3'"),
    (
        "samples not a number",
        ["--samples", "many"],
        r"argument --samples: expected an integer, got 'many'",
    ),
    ("unknown flag", ["--smaples", "3"], r"unrecognized arguments: --smaples"),
    ("no model file", [], r"transformer model m\.pt: no such file \(train one"),
]


@pytest.mark.parametrize("extra, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generate_with_bad_arguments(cluster, tmp_path, capsys, extra, message):
    extra = [x.replace("{c}", cluster) for x in extra]
    err = _run(_generate(cluster, tmp_path, *extra), capsys)
    assert re.search(message, err), err
    assert not (tmp_path / "o.xyz").exists()


def test_hint_finals_of_another_cluster(cluster, tmp_path, capsys):
    small = tmp_path / "small.xyz"
    write(small, build_cluster("Pt", "icosahedron", shells=2, lattice_constant=3.92))
    err = _run(_generate(cluster, tmp_path, "--hint-atoms", "3", "--hint-from", str(small)), capsys)
    assert "small.xyz has 13 atoms" in err and "has 55" in err


def test_a_list_flag_with_a_bad_item(capsys):
    err = _run(["evaluate-transformer", "--hint-sizes", "1,x"], capsys)
    assert "argument --hint-sizes: expected comma-separated integers, got '1,x'" in err


def test_a_boolean_flag_with_a_bad_value(capsys):
    err = _run(["train-mlip", "--float64", "maybe"], capsys)
    assert "argument --float64: expected true or false, got 'maybe'" in err


def test_an_unknown_command(capsys):
    err = _run(["splice-rounds"], capsys)
    assert "invalid choice: 'splice-rounds'" in err


def test_a_missing_required_flag(capsys):
    err = _run(["make-dataset", "--transitions", "t.parquet"], capsys)
    assert "the following arguments are required: --out-dir" in err


def test_a_missing_input_file(tmp_path, capsys):
    missing = tmp_path / "round-000.parquet"
    err = _run(
        ["make-dataset", "--transitions", str(missing), "--out-dir", str(tmp_path / "d")], capsys
    )
    assert f"shard {missing}: no such file" in err
    assert not (tmp_path / "d").exists()


def test_a_full_disk_names_the_output_and_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "potential.eam.alloy"
    assert main(["make-potential", "--out", str(out), "--nr", "200", "--nrho", "200"]) == 0
    before = out.read_bytes()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    err = _run(["make-potential", "--out", str(out), "--nr", "300", "--nrho", "300"], capsys)
    assert f"{out}: No space left on device" in err and "a previous version is kept" in err
    assert out.read_bytes() == before, "the previous file is intact"
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "no temporary file is left"
