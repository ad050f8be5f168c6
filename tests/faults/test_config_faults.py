"""Bad campaign configs: each fails in hopformer.config.prepare — what the Snakefile runs
before the first job — with one message naming the key, the value and what was expected
(the Snakemake side, and that nothing is run or changed, is test_workflow_faults.py)."""

from __future__ import annotations

import re
import shlex

import pytest
from ase.build import bulk
from ase.io import write

from harness import REPO, campaign
from hopformer import config as C
from hopformer.cli import main
from hopformer.physics.clusters import build_cluster

# (case, overrides, what the message must say)
CASES = [
    ("unknown section", {"splicng": {}}, r"splicng: not a key of the config.*'splicing'"),
    ("misspelt key", {"training__stepz": 3}, r"training\.stepz: not a key of training.*'steps'"),
    ("renamed key", {"mlip__training__batch": 4}, r"mlip\.training\.batch: .*'batch_size'"),
    ("string for integer", {"splicing__workers": "four"}, r"splicing\.workers = 'four'.*integer"),
    ("zero steps", {"training__steps": 0}, r"training\.steps = 0: expected ≥ 1"),
    ("negative temperature", {"splicing__temperature": -5.0}, r"splicing\.temperature = -5"),
    ("device not a choice", {"training__device": "gpu0"}, r"'gpu0': expected one of auto, cpu"),
    ("unknown shape", {"cluster__shape": "cube"}, r"cluster\.shape = 'cube'.*icosahedron"),
    ("element not tabulated", {"potential__element": "Fe"}, r"potential\.element = 'Fe'"),
    ("unknown finder", {"kinetics__finders": ["monte"]}, r"kinetics\.finders\.0 = 'monte'"),
    ("null for a number", {"splicing__rounds": None}, r"splicing\.rounds = None: expected int"),
    ("section as a scalar", {"training": 5}, r"training = 5: expected object"),
    ("negative hint size", {"validation__hint_sizes": [1, -2]}, r"hint_sizes\.1 = -2: expected ≥"),
    ("campaign '..'", {"campaign": ".."}, r"campaign = '\.\.': expected a folder name"),
    ("campaign '-x'", {"campaign": "-x"}, r"campaign = '-x': expected a folder name"),
    ("campaign with a slash", {"campaign": "a/b"}, r"campaign = 'a/b'"),
    ("heads ∤ d_model", {"transformer__heads": 3}, r"d_model \(64\).*heads \(3\)"),
    ("mlip heads ∤ width", {"mlip__model__heads": 5}, r"mlip\.model\.width .*heads \(5\)"),
    (
        "split fractions ≥ 1",
        {"dataset__val_fraction": 0.5, "dataset__test_fraction": 0.6},
        r"val_fraction \+ dataset\.test_fraction = 1\.1 leaves 0%",
    ),
    (
        "train split of 5 %",
        {"dataset__val_fraction": 0.45, "dataset__test_fraction": 0.5},
        r"= 0\.95 leaves 5% of the states to train on",
    ),
    ("cluster over max_atoms", {"cluster__shells": 5}, r"309 atoms, more than .*max_atoms \(256"),
    ("hint over the atoms", {"evaluation__hint_sizes": [1, 60]}, r"hint_sizes \[60\].*55 atoms"),
    ("validation hint too big", {"validation__hint_sizes": [56]}, r"validation\.hint_sizes \[56\]"),
    ("learning hint too big", {"learning_curve__hint_sizes": [0, 99]}, r"learning_curve\.hint_s"),
    ("learning share twice", {"learning_curve__fractions": [0.5, 0.50]}, r"share given twice"),
    (
        "learning share > 1",
        {"learning_curve__fractions": [1.5]},
        r"fractions\.0 = 1\.5: expected ≤ 1",
    ),
    ("stride vs timestep", {"trajectory__stride_fs": 9.0}, r"stride_fs \(9 fs\).*timestep_fs"),
    (
        "leapfrog and its tie",
        {"trajectory__predictor__leapfrog": True, "trajectory__predictor__tie_corrections": True},
        r"predictor\.leapfrog and tie_corrections are both true",
    ),
    (
        "long step off the stride",
        {"trajectory__predictor__long_step_fs": 45.0},
        r"predictor\.long_step_fs \(45 fs\) must be a multiple of trajectory\.stride_fs \(10 fs\)",
    ),
    (
        "long step past the horizon",
        {"trajectory__predictor__long_step_fs": 200.0},
        r"long_step_fs \(200 fs\).*up to trajectory\.predictor\.horizon_fs \(100 fs\)",
    ),
    (
        "no cluster file",
        {"cluster__file": "nowhere.xyz"},
        r"cluster\.file 'nowhere\.xyz'.*not found",
    ),
    ("no potential file", {"potential__source": "nowhere.eam"}, r"potential\.source 'nowhere"),
]


@pytest.mark.parametrize("overrides, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_value_is_named_before_any_job(overrides, message):
    with pytest.raises(C.ConfigError, match=message):
        C.prepare(campaign(**overrides), REPO)


def test_a_compiled_chain_without_a_compiler_is_named_before_any_job(monkeypatch):
    """torch.compile builds C++ kernels: with no compiler on PATH the config is refused, not
    the evaluation job after hours of training."""
    config = campaign(trajectory__enabled=True, trajectory__predictor__long_compile=True)
    C.prepare(config, REPO)  # this machine has one
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(C.ConfigError, match=r"long_compile is true, but no C\+\+ compiler"):
        C.prepare(config, REPO)


def test_every_problem_of_a_config_is_named_at_once():
    config = campaign(training__steps=0, splicing__workers="x", campaign="..")
    with pytest.raises(C.ConfigError) as err:
        C.prepare(config, REPO)
    assert len(re.findall(r"\n  ", str(err.value))) == 3, str(err.value)


def test_a_periodic_cluster_file_is_refused_with_how_to_override(tmp_path):
    write(tmp_path / "bulk.extxyz", bulk("Pt", "fcc", a=3.92, cubic=True).repeat(3))
    with pytest.raises(C.ConfigError, match=r"bulk\.extxyz: periodic along xyz.*pbc=False"):
        C.prepare(campaign(cluster__file=str(tmp_path / "bulk.extxyz")), REPO)
    free = bulk("Pt", "fcc", a=3.92, cubic=True).repeat(3)
    free.pbc = False  # the override the message names
    write(tmp_path / "cut.extxyz", free)
    C.prepare(campaign(cluster__file=str(tmp_path / "cut.extxyz")), REPO)


def test_a_cluster_file_with_a_detached_atom_is_refused(tmp_path):
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    out = atoms.positions[54] - atoms.positions.mean(0)
    atoms.positions[54] += 8.0 * out / (out**2).sum() ** 0.5  # a surface atom 8 Å out into vacuum
    write(tmp_path / "c.xyz", atoms)
    with pytest.raises(C.ConfigError, match=r"c\.xyz: 1 atom\(s\) detached.*atoms 54"):
        C.prepare(campaign(cluster__file=str(tmp_path / "c.xyz")), REPO)


def test_a_cluster_file_with_overlapping_atoms_is_refused(tmp_path):
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    atoms.positions[1] = atoms.positions[0] + 0.1
    write(tmp_path / "c.xyz", atoms)
    with pytest.raises(C.ConfigError, match=r"atoms 0 and 1 .* closer than"):
        C.prepare(campaign(cluster__file=str(tmp_path / "c.xyz")), REPO)


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "campaign.yaml"
    path.write_text("campaign: x\nsplicing:\n  rounds: [1, 2\n  workers: 3\n")
    with pytest.raises(C.ConfigError, match=r"campaign\.yaml:4:\d+: YAML syntax error"):
        C.read_yaml(path)


def test_a_config_file_that_is_not_a_mapping_is_named(tmp_path):
    path = tmp_path / "campaign.yaml"
    path.write_text("- campaign\n- x\n")
    with pytest.raises(C.ConfigError, match=r"campaign\.yaml: a config file is a mapping.*list"):
        C.read_yaml(path)


def test_check_config_names_the_line_of_an_extra_configfile(tmp_path, capsys):
    extra = tmp_path / "mine.yaml"
    extra.write_text("splicing:\n  rounds: [2\n")
    assert main(["check-config", "--root", str(REPO), "--configfile", str(extra)]) == 2
    assert re.search(r"mine\.yaml:\d+:\d+: YAML syntax error", capsys.readouterr().err)


def test_check_config_accepts_the_shipped_campaigns(capsys):
    for path in sorted((REPO / "config/campaigns").glob("*.yaml")):
        source = C.read_yaml(path).get("potential", {}).get("source", "zhou2004")
        status = main(["check-config", "--root", str(REPO), "--configfile", str(path)])
        if source != "zhou2004" and not (REPO / source).exists():
            # a campaign on another campaign's MLIP: refused until that one has run
            assert status == 2 and "run that campaign first" in capsys.readouterr().err, path
        else:
            assert status == 0, (path, capsys.readouterr().err)


def test_a_config_string_with_shell_characters_reaches_its_command_intact():
    name = "my cluster; touch pwned $(id).xyz"
    flags = C.rule_flags(campaign(cluster__file=name), "relax-cluster")
    argv = shlex.split(flags)
    assert argv[argv.index("--file") + 1] == name
