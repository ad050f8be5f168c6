"""Zhou 2004 EAM tables against published bulk properties, and potential-file parsing."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from hopformer.physics.eam import (
    PotentialFileError,
    read_funcfl,
    read_potential,
    read_setfl,
    setfl_text,
    write_setfl,
)
from hopformer.physics.lammps_engine import LammpsEngine
from hopformer.physics.zhou2004 import zhou_embedding, zhou_parameters, zhou_table


def energy_volume_scan(element, potential, a_guess):
    """Fit E(V) per atom of a 3×3×3 cubic fcc supercell; return a0 (Å) and Ecoh (eV)."""
    lattice = np.linspace(0.985 * a_guess, 1.015 * a_guess, 13)
    energies = []
    for a in lattice:
        atoms = bulk(element, "fcc", a=a, cubic=True).repeat(3)
        engine = LammpsEngine(atoms, potential)
        energies.append(engine.energy() / len(atoms))
        engine.close()
    volumes = lattice**3 / 4
    coeff = np.polyfit(volumes, energies, 4)
    v = np.linspace(volumes[0], volumes[-1], 200001)
    e = np.polyval(coeff, v)
    k = int(np.argmin(e))
    assert 0 < k < len(v) - 1, "minimum of the scan at its edge"
    return (4 * v[k]) ** (1 / 3), -e[k]


@pytest.mark.parametrize("element, a0, ecoh", [("Pt", 3.920, 5.77), ("Al", 4.050, 3.58)])
def test_fcc_lattice_constant_and_cohesive_energy(tmp_path, element, a0, ecoh):
    """Zhou et al. (2004): Pt a0 = 3.920 Å, Ecoh = 5.77 eV; Al 4.050 Å, 3.58 eV."""
    potential = write_setfl(zhou_table(element), tmp_path / f"{element}.eam.alloy")
    a, e = energy_volume_scan(element, potential, a0)
    assert a == pytest.approx(a0, abs=0.002)
    assert e == pytest.approx(ecoh, abs=0.01)


def test_pt_embedding_is_continuous_only_with_published_rhon():
    p = zhou_parameters("Pt")
    rhon = p.rhon_ratio * p.rhoe
    jump = zhou_embedding(p, [rhon * (1 - 1e-9), rhon * (1 + 1e-9)])
    assert abs(jump[1] - jump[0]) < 0.01
    from dataclasses import replace

    q = replace(p, rhon_ratio=0.85)
    rhon = q.rhon_ratio * q.rhoe
    jump = zhou_embedding(q, [rhon * (1 - 1e-9), rhon * (1 + 1e-9)])
    assert abs(jump[1] - jump[0]) == pytest.approx(2.64, abs=0.01)


def test_table_parameters_are_honoured(tmp_path):
    t = zhou_table("Pt", nr=500, nrho=700, cutoff=5.5)
    assert (t.nr, t.nrho, t.cutoff) == (500, 700, 5.5)
    assert t.dr == pytest.approx(5.5 / 499)
    back = read_setfl(write_setfl(t, tmp_path / "pt.set"))
    assert back.elements == ["Pt"] and back.numbers == [78]
    np.testing.assert_allclose(back.embedding, t.embedding, rtol=1e-14)
    np.testing.assert_allclose(back.rphi, t.rphi, rtol=1e-14)
    assert back.cutoff == pytest.approx(5.5)


def test_alloy_table_uses_mixing_rule(tmp_path):
    t = zhou_table(["Pt", "Al"])
    assert t.elements == ["Pt", "Al"]
    np.testing.assert_allclose(t.rphi[0, 1], t.rphi[1, 0])
    back = read_setfl(write_setfl(t, tmp_path / "ptal.set"))
    np.testing.assert_allclose(back.rphi, t.rphi, rtol=1e-14)


def test_unknown_element_is_named():
    with pytest.raises(ValueError, match=r"unknown element 'Xx'.*Pt"):
        zhou_table("Xx")


def _toy_funcfl(path, nrho=400, nr=400, cutoff=5.0):
    drho, dr = 0.05, cutoff / (nr - 1)
    rho = np.arange(nrho) * drho
    r = np.arange(nr) * dr
    f_rho = -np.sqrt(rho + 0.01)
    z = 2.0 * np.exp(-1.2 * r) * (1 - r / cutoff) ** 2
    dens = 8.0 * np.exp(-1.5 * (r - 2.5)) * (1 - r / cutoff) ** 3
    lines = ["toy funcfl for tests", "78 195.08 3.92 fcc", f"{nrho} {drho} {nr} {dr} {cutoff}"]
    for block in (f_rho, z, dens):
        lines += [" ".join(f"{x:.16e}" for x in block[i : i + 5]) for i in range(0, len(block), 5)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_funcfl_converted_to_setfl_gives_lammps_eam_energy(tmp_path):
    from hopformer.physics.clusters import build_cluster

    funcfl = _toy_funcfl(tmp_path / "toy.eam")
    table = read_potential(funcfl)
    assert table.source_format == "funcfl" and table.elements == ["Pt"]
    setfl = write_setfl(table, tmp_path / "toy.eam.alloy")
    atoms = build_cluster("Pt", "icosahedron", shells=2, lattice_constant=3.92)
    e_funcfl = LammpsEngine(atoms, funcfl).energy()  # LAMMPS pair_style eam
    e_setfl = LammpsEngine(atoms, setfl).energy()  # LAMMPS pair_style eam/alloy
    assert e_setfl == pytest.approx(e_funcfl, abs=1e-8)
    assert abs(e_funcfl) > 1.0


def test_malformed_number_names_file_and_line(tmp_path):
    text = setfl_text(zhou_table("Pt", nr=100, nrho=100)).splitlines()
    text[10] = text[10].replace("e", "x", 1)
    bad = tmp_path / "bad.eam.alloy"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(PotentialFileError, match=rf"{bad}:11: expected a number in F\(rho\) of Pt"):
        read_setfl(bad)


def test_truncated_file_names_what_is_missing(tmp_path):
    text = setfl_text(zhou_table("Pt", nr=100, nrho=100)).splitlines()
    bad = tmp_path / "short.eam.alloy"
    bad.write_text("\n".join(text[:-5]) + "\n")
    with pytest.raises(PotentialFileError, match=r"short.eam.alloy: file ends at line \d+ .*phi"):
        read_setfl(bad)


def test_bad_header_and_element(tmp_path):
    text = setfl_text(zhou_table("Pt", nr=100, nrho=100)).splitlines()
    bad = tmp_path / "hdr.eam.alloy"
    bad.write_text("\n".join(text[:3] + ["1 Qq"] + text[4:]) + "\n")
    with pytest.raises(PotentialFileError, match=r"hdr.eam.alloy:4: unknown element symbol 'Qq'"):
        read_setfl(bad)
    bad.write_text("\n".join(text[:4] + ["100 0.1 abc 0.01 5.0"] + text[5:]) + "\n")
    with pytest.raises(PotentialFileError, match=r"hdr.eam.alloy:5: expected 'Nrho drho Nr dr"):
        read_setfl(bad)
    with pytest.raises(PotentialFileError, match=r"nothere.eam: potential file not found"):
        read_funcfl(tmp_path / "nothere.eam")
