"""Files users give us — potentials, structures, model files — are untrusted: a bad one is
refused with its name and the reason, by the config check before any job and by the job that
reads it, and never leaves a half-made output."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from ase.io import write

from harness import REPO, campaign, snapshot
from hopformer import config as C
from hopformer.physics.clusters import build_cluster, read_cluster
from hopformer.physics.eam import PotentialFileError, read_potential, setfl_text
from hopformer.physics.zhou2004 import zhou_table
from hopformer.reference.cluster import make_potential


def _setfl(tmp_path, edit) -> str:
    """A Zhou Pt setfl file with ``edit(lines)`` applied, its path."""
    lines = setfl_text(zhou_table("Pt", nr=200, nrho=200)).splitlines()
    edit(lines)
    path = tmp_path / "user.eam.alloy"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _zero_rows(first, last):
    def edit(lines):
        for k in range(first, last):
            lines[k] = " ".join(["0.0"] * len(lines[k].split()))

    return edit


def _set_element_line(text):
    def edit(lines):
        lines[5] = text

    return edit


# 200-point tables, 5 values a line: F at lines 6..45, rho 46..85, r*phi 86..125 (0-based)
POTENTIALS = [
    (
        "element block of another element",
        _set_element_line("29 63.546 3.615 fcc"),
        r":6: .*Pt.*Z = 29",
    ),
    ("mass of another element", _set_element_line("78 63.546 3.92 fcc"), r":6: Pt has mass 63\.5"),
    ("every table zero", _zero_rows(6, 126), r"every table is zero"),
    ("zero pair term", _zero_rows(86, 126), r"pair term of Pt-Pt is zero everywhere"),
    ("zero density", _zero_rows(46, 86), r"rho\(r\) of Pt is zero everywhere"),
    ("truncated", lambda lines: lines.__delitem__(slice(100, None)), r"file ends at line 100"),
    (
        "a word in a table",
        lambda lines: lines.__setitem__(50, "1.0 2.0 oops 4.0 5.0"),
        r":51: .*'oops'",
    ),
    (
        "header lies about elements",
        lambda lines: lines.__setitem__(3, "2 Pt"),
        r":4: header announces 2",
    ),
    ("extra data", lambda lines: lines.append("1.0 2.0"), r"unexpected extra data"),
]


@pytest.mark.parametrize(
    "edit, message", [c[1:] for c in POTENTIALS], ids=[c[0] for c in POTENTIALS]
)
def test_a_bad_potential_file_is_refused_before_any_job_and_by_its_job(tmp_path, edit, message):
    path = _setfl(tmp_path, edit)
    with pytest.raises(C.ConfigError, match=r"potential\.source: .*user\.eam\.alloy") as err:
        C.prepare(campaign(potential__source=path), REPO)
    assert re.search(message, str(err.value)), str(err.value)
    out = tmp_path / "out.eam.alloy"
    with pytest.raises(PotentialFileError, match=message):
        make_potential(out, source=path, element="Pt")
    assert not out.exists() and list(tmp_path.glob(".out*")) == []


def test_the_untouched_table_is_accepted(tmp_path):
    path = _setfl(tmp_path, lambda lines: None)
    C.prepare(campaign(potential__source=path), REPO)
    assert read_potential(path).elements == ["Pt"]


def test_a_binary_file_as_potential_is_named(tmp_path):
    path = tmp_path / "garbage.eam.alloy"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(C.ConfigError, match=r"garbage\.eam\.alloy: not a text file"):
        C.prepare(campaign(potential__source=str(path)), REPO)


def test_a_potential_of_another_element_is_named(tmp_path):
    path = tmp_path / "cu.eam.alloy"
    path.write_text(setfl_text(zhou_table("Cu", nr=200, nrho=200)))
    with pytest.raises(C.ConfigError, match=r"cu\.eam\.alloy' holds Cu, not potential\.element"):
        C.prepare(campaign(potential__source=str(path)), REPO)


def test_a_garbage_model_file_as_potential_is_named(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"not a model" * 100)
    with pytest.raises(
        C.ConfigError, match=r"potential\.source: .*model\.pt: not a hopformer model"
    ):
        C.prepare(campaign(potential__source=str(path)), REPO)


STRUCTURES = [
    (
        "unreadable",
        lambda p: p.write_text("55\nnot xyz\nPt 0 0\n"),
        r"not a structure ASE can read",
    ),
    ("no atoms", lambda p: p.write_text("0\n\n"), r"no atoms|not a structure"),
    (
        "non-finite position",
        lambda p: p.write_text("2\n\nPt 0 0 0\nPt nan 0 2.7\n"),
        r"non-finite positions",
    ),
]


@pytest.mark.parametrize(
    "make, message", [c[1:] for c in STRUCTURES], ids=[c[0] for c in STRUCTURES]
)
def test_a_bad_structure_file_is_named(tmp_path, make, message):
    path = tmp_path / "c.xyz"
    make(path)
    with pytest.raises(ValueError, match=message):
        read_cluster(path)
    with pytest.raises(C.ConfigError, match=r"cluster\.file .*c\.xyz"):
        C.prepare(campaign(cluster__file=str(path)), REPO)


def _generate(tmp_path, model) -> subprocess.CompletedProcess:
    initial = tmp_path / "initial.xyz"
    cmd = [sys.executable, "-m", "hopformer", "generate", "--model", str(model)]
    cmd += ["--initial", str(initial), "--potential", "asap:EMT", "--out", str(tmp_path / "o.xyz")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


PAYLOAD = Path(tempfile.gettempdir()) / "hopformer-fault-suite-payload-ran"


class _Payload:
    def __reduce__(self):
        return (open, (str(PAYLOAD), "w"))


MODELS = [
    ("garbage", lambda p: p.write_bytes(b"\x00garbage" * 64), r"not a hopformer model file"),
    (
        "pickle payload",
        lambda p: p.write_bytes(pickle.dumps(_Payload(), protocol=2)),
        r"not a safe one",
    ),
    (
        "another kind",
        lambda p: torch.save(
            {
                "format": "hopformer-model/1",
                "kind": "mlip",
                "config": {},
                "weights": {},
                "summary": {},
            },
            p,
        ),
        r"a 'mlip' model file, expected a 'transformer'",
    ),
    ("truncated", None, r"not a hopformer model file"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in MODELS], ids=[c[0] for c in MODELS])
def test_a_bad_model_file_for_generate_is_one_line_naming_it(tmp_path, make, message, _completed):
    model = tmp_path / "model.pt"
    if make is None:  # the first half of a real model file
        blob = (_completed.results / "model/transformer.pt").read_bytes()
        model.write_bytes(blob[: len(blob) // 2])
    else:
        make(model)
    write(tmp_path / "initial.xyz", build_cluster("Pt", "icosahedron", shells=3))
    before = snapshot(tmp_path)
    proc = _generate(tmp_path, model)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "model.pt" in proc.stderr and re.search(message, proc.stderr), proc.stderr
    assert not PAYLOAD.exists(), "the payload never runs"
    assert snapshot(tmp_path) == before, "nothing written"
    assert not (tmp_path / "o.xyz").exists()
