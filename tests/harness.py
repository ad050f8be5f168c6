"""Run Snakemake on a copy of the workflow in a temporary directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ["Snakefile", "rules", "config", "envs", "profiles"]

#: A campaign small enough for tests (≈ 1 min on 2 cores): a hot, briefly melted Pt55,
#: 2 rounds × 2 workers × 2 segments of 4 ps; a small transformer trained for 20 steps and
#: judged on 3 held-out transitions and 2 explored states; 2 held-out states validated in 2
#: shards (plus the MD transitions seen twice); 2 kinetics rounds of 2 small searches.
TINY = {
    "cluster": {"melt_ps": 10.0},
    "splicing": {
        "temperature": 900.0,
        "rounds": 2,
        "workers": 2,
        "segments_per_worker": 2,
        "segment_ps": 4.0,
    },
    "transformer": {
        "d_model": 16,
        "heads": 2,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "components": 2,
    },
    "training": {"steps": 20, "batch_size": 4, "warmup_steps": 5, "checkpoint_every": 10},
    "evaluation": {
        "hint_sizes": [0, 1, 4],
        "max_transitions": 3,
        "samples": 2,
        "surface_hints": 2,
        "max_states": 2,
    },
    "validation": {
        "shards": 2,
        "hint_sizes": [1],
        "samples": 1,
        "surface_hints": 1,
        "max_states": 2,
        "md_min_count": 2,
        "neb_steps": 300,
    },
    # Kinetics: 2 rounds of 2 searches with every finder, a fine-tuning between them.
    "kinetics": {
        "rounds": 2,
        "searches": 2,
        "proposals": 2,
        "dimer_steps": 100,
        "retrain_every": 1,
        "finetune_steps": 4,
    },
}
#: The jobs after the last splicing round, one each.
TRANSFORMER_JOBS = {
    "make_dataset": 1,
    "train_transformer": 1,
    "evaluate_transformer": 1,
    "explore_transitions": 1,
}


class Workflow:
    def __init__(self, root: Path, overrides: dict | None = None, copy_from: Path = REPO):
        self.root = root
        if copy_from == REPO:
            for name in WORKFLOW_FILES:
                src = REPO / name
                (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
        else:
            shutil.copytree(copy_from, root, dirs_exist_ok=True, symlinks=True)
        for section, values in (overrides or {}).items():
            for key, value in values.items():
                self.edit_config(section, key, value)

    def copy_to(self, root: Path) -> Workflow:
        """A copy of this workflow with its results and Snakemake's records (mtimes kept)."""
        return Workflow(root, copy_from=self.root)

    @property
    def config_path(self) -> Path:
        return self.root / "config" / "config.yaml"

    @property
    def results(self) -> Path:
        return self.root / "results" / self.config()["campaign"]

    def config(self) -> dict:
        return yaml.safe_load(self.config_path.read_text())

    def edit_config(self, section: str, key: str, value) -> None:
        cfg = self.config()
        cfg[section][key] = value
        self.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def command(self, *args: str, env: dict | None = None) -> tuple[list[str], dict]:
        # Without the venv on PATH: the rules must find the CLI through Snakemake's Python.
        venv_bin = str(Path(sys.executable).parent)
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin]
        env = dict(env or os.environ, PATH=os.pathsep.join(path))
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--show-failed-logs", *args]
        return cmd, env

    def snakemake(
        self, *args: str, check: bool = True, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        cmd, env = self.command(*args, env=env)
        proc = subprocess.run(
            cmd, cwd=self.root, env=env, capture_output=True, text=True, timeout=600
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        cmd, env = self.command(*args)
        return subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def planned(self, *args: str) -> dict[str, int]:
        proc = self.snakemake("-n", *args)
        return planned_jobs(proc.stdout + proc.stderr)

    def planned_after(self, section: str, key: str, value) -> dict[str, int]:
        """The jobs a dry run plans once ``config[section][key]`` is ``value`` (restored after)."""
        old = self.config()[section][key]
        self.edit_config(section, key, value)
        try:
            return self.planned()
        finally:
            self.edit_config(section, key, old)


def planned_jobs(output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a (dry) run; {} if nothing to do."""
    jobs, in_table = {}, False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            parts = line.split()
            if not parts or parts[0] == "total":
                break
            if parts[0].startswith("-"):
                continue
            jobs[parts[0]] = int(parts[1])
    return jobs


def every_job(config: dict) -> dict[str, int]:
    """The jobs of a full run of ``config``: the job count follows from the config alone."""
    s = config["splicing"]
    return {
        "make_potential": 1,
        "relax_cluster": 1,
        **({"start_trajectory": s["trajectories"] - 1} if s.get("trajectories", 1) > 1 else {}),
        "run_segments": s["rounds"] * s["workers"],
        "splice_round": s["rounds"],
        "tabulate_rates": 1,
        **({"kinetics_start": 1} if config["kinetics"]["rounds"] else {}),
        **after_splicing(config),
        **learning_jobs(config),
        "all": 1,
    }


def learning_jobs(config: dict) -> dict[str, int]:
    """The learning curve's jobs: three per point, one to pool them (when enabled)."""
    lc = config.get("learning_curve", {})
    if not lc.get("enabled"):
        return {}
    points = len(lc["fractions"]) * lc["seeds"]
    jobs = ("learning_subset", "learning_train", "judge_transformer")
    return {job: points for job in jobs} | {"learning_curve": 1}


def validation_jobs(config: dict) -> dict[str, int]:
    return {"validate_shard": config["validation"]["shards"], "collect_tables": 1}


def kinetics_jobs(config: dict) -> dict[str, int]:
    """The kinetics jobs that follow the first training (kinetics_start does not)."""
    k = config["kinetics"]
    if not k["rounds"]:
        return {}
    generations = (k["rounds"] - 1) // k["retrain_every"] if k["retrain_every"] else 0
    jobs = {
        "kinetics_search": k["rounds"] * k["searches"],
        "kinetics_round": k["rounds"],
        "kinetics_report": 1,
    }
    return jobs | ({"finetune_transformer": generations} if generations else {})


def after_splicing(config: dict) -> dict[str, int]:
    """The jobs downstream of the splicing stage (all rerun when the MD data change)."""
    return {**TRANSFORMER_JOBS, **validation_jobs(config), **kinetics_jobs(config)}


def processes(*argv: str, under: Path | None = None) -> list[int]:
    """Pids of processes with every one of ``argv`` as an argument of their own (a shell that
    runs them in a ``-c`` string does not count), and, with ``under``, running in that folder
    (so a test never signals another workflow's job on the same machine)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().decode().split("\0")
            cwd = (proc / "cwd").resolve() if under is not None else None
        except OSError:
            continue
        if all(a in args for a in argv) and (
            under is None or cwd == Path(under).resolve() or Path(under).resolve() in cwd.parents
        ):
            pids.append(int(proc.name))
    return pids


def campaign(**overrides) -> dict:
    """The default campaign with dotted-key overrides (``training__steps=3`` sets
    training.steps), not yet checked."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return config


def snapshot(root: Path) -> dict[str, str]:
    """{path relative to ``root``: SHA-256} of every file below ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
