# Helpers shared by the rules: paths of the campaign, and the command-line flags of a rule's
# command. A rule's params carry exactly the config keys its command takes (declared under
# x-commands in config/schema.yaml), so editing a key reruns the rules that read it, and only
# those.
import os
import shutil
import sys
import zlib

from hopformer.config import lookup, rule_flags
from hopformer.streams import LAMMPS_SEEDS, LEARNING_TRAIN, seed_of

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


def flags(command, section=None, only=None):
    """`--key value` flags of every config key `command` takes (those of one `section`, or
    `only` some keys, when given); null values are left out."""
    return rule_flags(config, command, section, only)


def user_file(key):
    """The user's file named by config `key` ([] when none): a rule input, so editing the file
    reruns the rules that read it and what depends on them."""
    value = lookup(config, key)
    return [] if value in (None, "", "zhou2004") else [value]


# The campaign's potential: an EAM file, or a trained MLIP's model file (potential.source *.pt).
POTENTIAL_FILE = result("reference/potential.mlip.pt"
                        if str(config["potential"]["source"]).endswith(".pt")
                        else "reference/potential.eam.alloy")


def reference_outputs():
    return [
        POTENTIAL_FILE,
        result("reference/cluster.extxyz"),
        result("reference/cluster.json"),
    ]


# -- splicing ----------------------------------------------------------------------------------
SPLICING = config["splicing"]
ROUNDS = range(SPLICING["rounds"])
WORKERS = range(SPLICING["workers"])
TRAJECTORIES = range(SPLICING["trajectories"])


def round_dir(r):
    return result(f"splice/round-{int(r):03d}")


def round_files(r):
    d = round_dir(r)
    return {name: f"{d}/{name}.parquet" for name in ["states", "segments", "edges", "frontier"]}


def worker_shards(r, kind):
    return [f"{round_dir(r)}/worker-{w:03d}/{kind}.parquet" for w in WORKERS]


def trajectory_start(t):
    """Where trajectory t starts: the reference cluster, or its own melt of it (t > 0)."""
    if t == 0:
        return rules.relax_cluster.output.structure
    return result(f"reference/start-{t:03d}.extxyz")


def segment_start(wildcards):
    r, w = int(wildcards.round), int(wildcards.worker)
    if r > 0:
        return round_files(r - 1)["frontier"]
    return trajectory_start(w // (SPLICING["workers"] // SPLICING["trajectories"]))


def splice_inputs(wildcards):
    r = int(wildcards.round)
    inputs = {
        "cluster": rules.relax_cluster.output.structure,
        "starts": [trajectory_start(t) for t in TRAJECTORIES if t > 0],
        "segments": worker_shards(r, "segments"),
        "transitions": worker_shards(r, "transitions"),
    }
    if r > 0:
        inputs |= {f"previous_{k}": v for k, v in round_files(r - 1).items() if k != "frontier"}
    return inputs


def splice_outputs():
    last = SPLICING["rounds"] - 1
    return [
        *(result(f"transitions/round-{r:03d}.parquet") for r in ROUNDS),
        f"{round_dir(last)}/summary.json",
        result("md/rates.parquet"),
        result("md/rates.csv"),
        result("md/summary.json"),
    ]


def folder_of(files, name):
    """The folder of the named input/output file ('' when the rule has no such file)."""
    return os.path.dirname(files[name]) if name in files.keys() else ""


# -- dataset, transformer, evaluation ------------------------------------------------------------
SPLITS = ["train", "val", "test"]


def dataset_files():
    return {name: result(f"dataset/{name}.parquet") for name in SPLITS}


def transformer_outputs():
    return [
        *dataset_files().values(),
        result("dataset/manifest.json"),
        result("model/transformer.pt"),
        result("model/loss.csv"),
        result("model/training.json"),
        result("evaluation/accuracy.parquet"),
        result("evaluation/accuracy.csv"),
        result("evaluation/accuracy.png"),
        result("evaluation/accuracy_details.parquet"),
        result("evaluation/exploration.parquet"),
        result("evaluation/exploration.csv"),
        result("evaluation/exploration.json"),
        result("evaluation/exploration_methods.csv"),
    ]


# -- the learning curve ----------------------------------------------------------------------
LEARNING = config["learning_curve"]


def learning_points():
    """The point files of every (fraction, seed): `f{fraction:g}-s{replica}`."""
    return [result(f"learning/f{f:g}-s{r}/point.json")
            for f in LEARNING["fractions"] for r in range(LEARNING["seeds"])]


def learning_dir(wildcards):
    return result(f"learning/f{wildcards.fraction}-s{wildcards.replica}")


def learning_seed(replica):
    """The training seed of a replica's points (weights, batches, hints)."""
    return seed_of(config["seed"], LEARNING_TRAIN, int(replica))


def learning_outputs():
    if not LEARNING["enabled"]:
        return []
    return [result(f"learning/{name}") for name in ("points.csv", "curve.csv", "curve.json", "curve.png")]


# -- validation ----------------------------------------------------------------------------------
VALIDATION = config["validation"]


def shard_files(ext):
    return [result(f"validation/shards/shard-{s:03d}.{ext}") for s in range(VALIDATION["shards"])]


def validation_outputs():
    return [
        *shard_files("parquet"),
        result("validation/rates.parquet"),
        result("validation/rates.csv"),
        result("validation/top_transitions.csv"),
        result("validation/md_vs_htst.csv"),
        result("validation/summary.json"),
        result("validation/paths"),
        result("validation/mep.png"),
        result("validation/md_vs_htst.png"),
    ]


# -- trajectory surrogates -------------------------------------------------------------------
TRAJECTORY = config["trajectory"]


def reference_md_runs():
    """(system, ensemble, temperature, seed index) of every reference run."""
    runs = []
    for system in ("cluster", "bulk"):
        section = TRAJECTORY[system]
        for ensemble in section["ensembles"]:
            for temperature in section["temperatures"]:
                for s in range(TRAJECTORY["seeds"]):
                    runs.append((system, ensemble, f"{temperature:g}", s))
    return runs


def reference_md_seed(wildcards):
    """A run's seed: a function of the campaign seed and the run's identity, so no two runs
    share a noise stream."""
    name = f"{config['seed']}-{wildcards.system}-{wildcards.ensemble}-{wildcards.temperature}"
    return zlib.crc32(f"{name}-{wildcards.seed}".encode()) % (LAMMPS_SEEDS - 1)


def reference_md_inputs(wildcards):
    if wildcards.system == "bulk":
        return {"potential": result("trajectory/bulk.eam.alloy")}
    return {"potential": rules.make_potential.output.potential,
            "structure": rules.relax_cluster.output.structure}


def reference_md_args(wildcards):
    if wildcards.system == "bulk":
        return flags("run-reference-md", "trajectory.bulk")
    cluster = flags("run-reference-md", "cluster")
    return f"--structure {rules.relax_cluster.output.structure} {cluster}"


INTEGRATOR = TRAJECTORY["integrator"]


PREDICTOR = TRAJECTORY["predictor"]


def surrogate_runs(system, held_out):
    """The reference runs of ``system`` a surrogate trains on (all but the last seed) or is
    judged on (the last seed's): the integrator on bulk, the predictor on the cluster."""
    last = TRAJECTORY["seeds"] - 1
    return [result(f"trajectory/reference/{s}-{e}-T{t}-s{i}.parquet")
            for s, e, t, i in reference_md_runs() if s == system and (i == last) == held_out]


def surrogate_hold(surrogate, reference):
    """The potential file a surrogate's NVE rollouts hold their energy on
    (trajectory.<surrogate>.hold; []: none, or the predictor's learned energy)."""
    hold = TRAJECTORY[surrogate]["hold"]
    return {"reference": [reference], "mlip": [result("mlip/model.pt")]}.get(hold, [])


def trajectory_outputs():
    if not TRAJECTORY["enabled"]:
        return []
    outputs = [result(f"trajectory/reference/{s}-{e}-T{t}-s{i}.parquet")
               for s, e, t, i in reference_md_runs()]
    for system, surrogate in (("bulk", "integrator"), ("cluster", "predictor")):
        if surrogate_runs(system, held_out=True):
            outputs += [result(f"trajectory/{surrogate}/{name}") for name in
                        ("model.pt", "evaluation.json", "evaluation.csv", "rollout.png")]
    return outputs


# -- ML interatomic potential ---------------------------------------------------------
MLIP = config["mlip"]
MLIP_BENCH = result("benchmarks/mlip_vs_mace.json")  # written by bench/mlip_vs_mace.py


def mlip_bulk_inputs():
    return [result("trajectory/bulk.eam.alloy")] if MLIP["data"]["bulk"] else []


def mlip_bulk_args():
    if not MLIP["data"]["bulk"]:
        return ""
    bulk = TRAJECTORY["bulk"]
    return (f"--bulk-potential {result('trajectory/bulk.eam.alloy')} --bulk-element "
            f"{bulk['element']} --lattice-constant {bulk['lattice_constant']}")


def mlip_outputs():
    if not MLIP["enabled"]:
        return []
    return [result(f"mlip/{name}") for name in ("data.parquet", "model.pt", "training.json",
                                                "loss.csv", "evaluation.json", "barriers.csv",
                                                "peers.csv")]


# -- kinetics (adaptive KMC) ---------------------------------------------------------------
KINETICS = config["kinetics"]
KINETIC_TABLES = ["states", "processes", "trajectory", "targets"]
SEARCH_JOBS = range(KINETICS["searches"])


def kinetics_dir(r):
    """The folder of round r's tables; round -1 is the start (state 0 only)."""
    return result("kinetics/start" if int(r) < 0 else f"kinetics/round-{int(r):03d}")


def kinetics_tables(r):
    return {name: f"{kinetics_dir(r)}/{name}.parquet" for name in KINETIC_TABLES}


def search_shards(r, kind):
    return [f"{kinetics_dir(r)}/search-{j:03d}.{kind}.parquet" for j in SEARCH_JOBS]


def model_generation(r):
    """The transformer generation that round r searches with: 0 is the first training; with
    retrain_every M, generation g is fine-tuned after round g·M − 1."""
    every = KINETICS["retrain_every"]
    return int(r) // every if every else 0


def model_of(generation):
    g = int(generation)
    return result("model/transformer.pt") if g == 0 else result(f"kinetics/model-g{g:02d}/transformer.pt")


def search_inputs(wildcards):
    r = int(wildcards.kround)
    inputs = {"potential": POTENTIAL_FILE, **kinetics_tables(r - 1)}
    if "transformer" in KINETICS["finders"]:
        inputs["model"] = model_of(model_generation(r))
    return inputs


def kinetics_outputs():
    if KINETICS["rounds"] == 0:
        return []
    last = KINETICS["rounds"] - 1
    return [
        *kinetics_tables(last).values(),
        f"{kinetics_dir(last)}/summary.json",
        result("kinetics/kinetics.png"),
        result("kinetics/finders.csv"),
        result("kinetics/summary.json"),
    ]
