# Helpers shared by the rules: paths of the campaign and command-line arguments built from
# config sections (rules pass these as params, so editing a section reruns its rules only).
import os
import shlex
import shutil
import sys

# Rules call the `hopformer` CLI. When it is not on PATH (Snakemake started as
# .venv/bin/snakemake without activating the venv), use the one beside Snakemake's Python.
if not shutil.which("hopformer"):
    search_path = os.environ.get("PATH", os.defpath)
    os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), search_path]))

CAMPAIGN = config["campaign"]
RESULTS = f"results/{CAMPAIGN}"


def result(path):
    return f"{RESULTS}/{path}"


def log_of(path):
    return f"{RESULTS}/logs/{path}.log"


def benchmark_of(path):
    return f"{RESULTS}/benchmarks/{path}.tsv"


def cli_args(section, keys):
    """`--key value` flags for the given keys of a config section (None values left out)."""
    out = []
    for key in keys:
        value = section.get(key)
        if value is not None:
            out += [f"--{key.replace('_', '-')}", str(value)]
    return " ".join(shlex.quote(x) for x in out)


def reference_outputs():
    return [
        result("reference/potential.eam.alloy"),
        result("reference/cluster.extxyz"),
        result("reference/cluster.json"),
    ]
