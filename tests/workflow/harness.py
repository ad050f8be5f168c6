"""Run Snakemake on a copy of the workflow in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = ["Snakefile", "rules", "config", "envs", "profiles"]


class Workflow:
    def __init__(self, root: Path):
        self.root = root
        for name in WORKFLOW_FILES:
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)

    @property
    def config_path(self) -> Path:
        return self.root / "config" / "config.yaml"

    def config(self) -> dict:
        return yaml.safe_load(self.config_path.read_text())

    def edit_config(self, section: str, key: str, value) -> None:
        cfg = self.config()
        cfg[section][key] = value
        self.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def snakemake(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # Without the venv on PATH: the rules must find the CLI through Snakemake's Python.
        venv_bin = str(Path(sys.executable).parent)
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin]
        env = dict(os.environ, PATH=os.pathsep.join(path))
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


def planned_jobs(output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a (dry) run."""
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
