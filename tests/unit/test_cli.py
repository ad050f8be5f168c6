"""The reference-stage CLI: outputs, energies, and errors that name the bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import read

from hopformer.cli import COMMANDS, main
from hopformer.physics.eam import read_setfl, setfl_text
from hopformer.physics.zhou2004 import zhou_table


def test_make_potential_and_relax_cluster(tmp_path, capsys):
    pot = tmp_path / "ref" / "Pt.eam.alloy"
    assert main(["make-potential", "--element", "Pt", "--out", str(pot)]) == 0
    assert read_setfl(pot).elements == ["Pt"]
    out, js = tmp_path / "ref" / "c.extxyz", tmp_path / "ref" / "c.json"
    code = main(
        [
            "relax-cluster",
            "--potential",
            str(pot),
            "--shape",
            "truncated_octahedron",
            "--length",
            "4",
            "--cutoff",
            "1",
            "--out",
            str(out),
            "--summary",
            str(js),
        ]
    )
    assert code == 0
    summary = json.loads(js.read_text())
    atoms = read(out)
    assert summary["natoms"] == len(atoms) == 38
    assert summary["fmax_eV_per_A"] <= 1e-3
    assert atoms.get_potential_energy() == pytest.approx(summary["energy_eV"])
    assert abs(atoms.get_forces()).max() <= 1e-3
    # bound, but less than bulk Pt (5.77 eV/atom)
    assert -5.77 < summary["energy_per_atom_eV"] < -4.0
    assert not list(tmp_path.glob("ref/.*.tmp"))  # no temporary files left behind


def test_user_potential_is_checked_and_copied(tmp_path):
    good = tmp_path / "user.eam.alloy"
    good.write_text(setfl_text(zhou_table("Pt", nr=300, nrho=300)))
    out = tmp_path / "copy.eam.alloy"
    assert main(["make-potential", "--source", str(good), "--out", str(out)]) == 0
    assert out.read_text() == good.read_text()


def test_malformed_user_potential_fails_naming_file_and_line(tmp_path, capsys):
    lines = setfl_text(zhou_table("Pt", nr=300, nrho=300)).splitlines()
    lines[20] = "1.0 2.0 oops 4.0 5.0"
    bad = tmp_path / "bad.eam.alloy"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "never.eam.alloy"
    assert main(["make-potential", "--source", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:21: expected a number" in err and "'oops'" in err
    assert not out.exists()


def test_unknown_element_fails_cleanly(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # refused by the flag's declared choices
        main(["make-potential", "--element", "Unobtainium", "--out", str(tmp_path / "x")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--element: invalid choice: 'Unobtainium'" in err and "'Pt'" in err
    assert not (tmp_path / "x").exists()


def test_melted_cluster_is_disordered_and_seeded(tmp_path):
    pot = tmp_path / "Pt.eam.alloy"
    assert main(["make-potential", "--out", str(pot)]) == 0

    def relax(name, *extra):
        js = tmp_path / f"{name}.json"
        args = [
            "relax-cluster",
            "--potential",
            str(pot),
            "--shells",
            "3",
            "--out",
            str(tmp_path / f"{name}.extxyz"),
            "--summary",
            str(js),
            *extra,
        ]
        assert main(args) == 0
        return json.loads(js.read_text())

    ordered = relax("ico")
    melt = ["--melt-temperature", "1600", "--melt-ps", "5"]
    a = relax("a", *melt, "--seed", "3")
    b = relax("b", *melt, "--seed", "3")
    c = relax("c", *melt, "--seed", "4")
    assert a["energy_eV"] == b["energy_eV"]  # same seed, same cluster
    assert a["energy_eV"] != c["energy_eV"]
    assert a["energy_eV"] > ordered["energy_eV"] + 0.5  # Pt55 icosahedron lies deeper
    assert a["melted_at_K"] == 1600


def test_every_command_prints_its_help(capsys):
    """``--help`` of every command renders (argparse reads % in a help text as a format)."""
    for name, _ in COMMANDS:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0, name
        assert name in capsys.readouterr().out


def test_each_trajectory_start_is_its_own_melt_of_the_reference_build(pt_potential, tmp_path):
    def start(trajectory, name):
        out, js = tmp_path / f"{name}.extxyz", tmp_path / f"{name}.json"
        argv = ["relax-cluster", "--potential", str(pt_potential), "--melt-temperature", "1600"]
        argv += ["--melt-ps", "5", "--seed", "9", "--out", str(out), "--summary", str(js)]
        assert main([*argv, "--trajectory", str(trajectory)]) == 0
        return read(out), json.loads(js.read_text())

    (ref, ref_js), (again, _) = start(0, "ref"), start(0, "again")
    (one, one_js), (one_again, _) = start(1, "one"), start(1, "one-again")
    (two, two_js) = start(2, "two")
    assert ref_js["melt_seed"] == 9 and ref_js["trajectory"] == 0, "trajectory 0: campaign seed"
    assert one_js["trajectory"] == 1 and one_js["melt_seed"] not in (9, two_js["melt_seed"])
    # Seeded: the same trajectory is the same minimum; each trajectory is a different one.
    assert np.array_equal(ref.positions, again.positions)
    assert np.array_equal(one.positions, one_again.positions)
    energies = [a.get_potential_energy() for a in (ref, one, two)]
    assert len({round(e, 6) for e in energies}) == 3, energies
    for atoms in (one, two):
        assert abs(atoms.get_forces()).max() <= 1e-3
