"""The ``hopformer`` command line: one subcommand per workflow rule."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hopformer.physics.clusters import SHAPES
from hopformer.physics.eam import PotentialFileError


def _make_potential(args: argparse.Namespace) -> None:
    from hopformer.reference import make_potential

    path = make_potential(args.out, source=args.source, element=args.element, nr=args.nr,
                          nrho=args.nrho, cutoff=args.cutoff)  # fmt: skip
    print(f"wrote {path}")


def _relax_cluster(args: argparse.Namespace) -> None:
    from hopformer.reference import ClusterSpec, relax_cluster

    spec = ClusterSpec(element=args.element, shape=args.shape, shells=args.shells, p=args.p,
                       q=args.q, r=args.r, length=args.length, cutoff=args.cutoff,
                       file=args.file, vacuum=args.vacuum, seed=args.seed,
                       melt_temperature=args.melt_temperature, melt_ps=args.melt_ps)  # fmt: skip
    summary = relax_cluster(spec, args.potential, args.out, args.summary, fmax=args.fmax)
    print(json.dumps(summary, indent=2))


def _run_segments(args: argparse.Namespace) -> None:
    from hopformer.physics.potentials import open_engine, potential_id
    from hopformer.splicing.segments import (
        SegmentSpec,
        Worker,
        WorkerId,
        load_start,
        write_worker_shards,
    )  # fmt: skip

    spec = SegmentSpec(temperature=args.temperature, segments=args.segments_per_worker,
                       segment_ps=args.segment_ps, block_ps=args.block_ps,
                       dephase_ps=args.dephase_ps, correlation_blocks=args.correlation_blocks,
                       timestep_fs=args.timestep_fs, damping_fs=args.damping_fs,
                       quench_fmax=args.quench_fmax, state_tol=args.state_tol)  # fmt: skip
    atoms = load_start(args.start, args.worker)
    engine = open_engine(atoms, args.potential)
    sha = potential_id(args.potential)
    worker = Worker(engine, spec, WorkerId(args.campaign, args.round, args.worker), args.seed, sha,
                    log=lambda m: print(m, flush=True))  # fmt: skip
    segments, transitions = worker.run(atoms.positions)
    engine.close()
    write_worker_shards(segments, transitions, args.segments_out, args.transitions_out)
    print(f"wrote {len(segments)} segments and {len(transitions)} transitions")


def _splice_round(args: argparse.Namespace) -> None:
    from pathlib import Path

    from hopformer.splicing.splice import RoundInputs, splice_round

    if len(args.segments) != len(args.transitions):
        raise ValueError(f"{len(args.segments)} segment shards but {len(args.transitions)} "
                         f"transition shards")  # fmt: skip
    inp = RoundInputs(round=args.round, previous=Path(args.previous) if args.previous else None,
                      cluster=Path(args.cluster),
                      shards=list(zip(map(Path, args.segments), map(Path, args.transitions),
                                      strict=True)))  # fmt: skip
    summary = splice_round(inp, args.out_dir, args.transitions_out, next_workers=args.workers,
                           segments_per_worker=args.segments_per_worker, seed=args.seed,
                           tol=args.state_tol)  # fmt: skip
    print(json.dumps(summary, indent=2))


def _tabulate_rates(args: argparse.Namespace) -> None:
    from hopformer.splicing.rates import tabulate_rates

    summary = tabulate_rates(args.last_round, args.temperature, args.out, args.csv, args.summary,
                             min_count=args.min_count)  # fmt: skip
    print(json.dumps(summary, indent=2))


def _make_dataset(args: argparse.Namespace) -> None:
    from hopformer.data.dataset import SplitSpec, make_dataset

    spec = SplitSpec(val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                     seed=args.seed)  # fmt: skip
    manifest = make_dataset(args.transitions, args.out_dir, spec, args.manifest)
    print(json.dumps(manifest["splits"], indent=2))


def _model_config(args: argparse.Namespace):
    from hopformer.model.network import ModelConfig

    return ModelConfig(max_atoms=args.max_atoms, d_model=args.d_model, heads=args.heads,
                       encoder_layers=args.encoder_layers, decoder_layers=args.decoder_layers,
                       components=args.components, frequencies=args.frequencies,
                       cutoff=args.cutoff, min_sigma=args.min_sigma,
                       wta_weight=args.wta_weight)  # fmt: skip


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("training.device is 'cuda' but torch sees no CUDA device")
    return name


def _train_transformer(args: argparse.Namespace) -> None:
    import torch

    from hopformer.model.examples import read_examples
    from hopformer.model.training import TrainConfig, train, write_summary
    from hopformer.physics.io import sha256_of

    torch.set_num_threads(args.threads)
    model_config = _model_config(args)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
                         zero_hint_fraction=args.zero_hint_fraction,
                         checkpoint_every=args.checkpoint_every, grad_clip=args.grad_clip,
                         seed=args.seed)  # fmt: skip
    train_examples = read_examples(args.train, model_config.max_atoms)
    val_examples = read_examples(args.val, model_config.max_atoms)
    summary = train(train_examples, val_examples, model_config, config, args.out, args.loss_log,
                    args.checkpoint_dir, data_ids=[sha256_of(args.train), sha256_of(args.val)],
                    device=_device(args.device), log=lambda m: print(m, flush=True))  # fmt: skip
    write_summary(args.summary, summary)
    print(json.dumps(summary, indent=2))


def _chosen(items: list, limit: int | None, seed: int, stream: int) -> list:
    """At most ``limit`` of ``items``, a seeded choice kept in the original order."""
    from hopformer.model.training import rng

    if limit is None or len(items) <= limit:
        return items
    picked = rng(seed, stream).choice(len(items), size=limit, replace=False)
    return [items[i] for i in sorted(picked)]


def _evaluate_transformer(args: argparse.Namespace) -> None:
    import torch

    from hopformer.data import schema
    from hopformer.data.shards import write_rows
    from hopformer.model.evaluation import TEST_CHOICE_STREAM, Judge, accuracy
    from hopformer.model.examples import read_examples
    from hopformer.model.training import load_model
    from hopformer.physics.io import write_text_atomic
    from hopformer.report.plots import plot_accuracy

    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    examples = _chosen(read_examples(args.test, model.config.max_atoms), args.max_transitions,
                       args.seed, TEST_CHOICE_STREAM)  # fmt: skip
    if not examples:
        raise ValueError(f"{args.test}: the test split is empty")
    judge = Judge(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
    rows, details = accuracy(model, judge, examples, args.hint_sizes,
                             log=lambda m: print(m, flush=True))  # fmt: skip
    judge.close()
    write_rows(details, args.details, schema.ACCURACY_DETAILS)
    write_rows(rows, args.out, schema.ACCURACY)
    write_text_atomic(args.csv, _csv(rows, schema.ACCURACY.names))
    plot_accuracy(rows, args.plot)
    print(_csv(rows, schema.ACCURACY.names))


def _csv(rows: list[dict], columns: list[str]) -> str:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns).to_csv(index=False, float_format="%.6g")


def _explore_transitions(args: argparse.Namespace) -> None:
    from collections import defaultdict

    import torch

    from hopformer.data import schema
    from hopformer.data.shards import write_rows
    from hopformer.model.evaluation import STATE_CHOICE_STREAM, Judge, explore
    from hopformer.model.examples import read_examples
    from hopformer.model.training import load_model
    from hopformer.physics.io import write_json_atomic, write_text_atomic

    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    groups = defaultdict(list)
    for ex in read_examples(args.test, model.config.max_atoms):
        groups[ex.initial_state].append(ex)
    states = _chosen(sorted(groups), args.max_states, args.seed, STATE_CHOICE_STREAM)
    judge = Judge(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
    rows, summary = explore(model, judge, {s: groups[s] for s in states}, args.samples,
                            args.surface_hints, args.seed,
                            log=lambda m: print(m, flush=True))  # fmt: skip
    judge.close()
    write_rows(rows, args.out, schema.EXPLORATION)
    flat = [c for c in schema.EXPLORATION.names if "positions" not in c and c != "numbers"]
    write_text_atomic(args.csv, _csv(rows, flat))
    write_json_atomic(args.summary, summary)
    print(json.dumps(summary, indent=2))


def _validate_shard(args: argparse.Namespace) -> None:
    import torch

    from hopformer.data import schema
    from hopformer.data.shards import write_rows
    from hopformer.model.evaluation import STATE_CHOICE_STREAM, Judge
    from hopformer.model.examples import read_examples
    from hopformer.model.training import load_model
    from hopformer.physics.io import write_json_atomic
    from hopformer.validation.shard import (
        ValidationConfig,
        assign_shards,
        run_shard,
        shard_groups,
    )

    if not 0 <= args.shard < args.shards:
        raise ValueError(f"--shard {args.shard}: expected 0..{args.shards - 1}")
    config = ValidationConfig(tuple(args.hint_sizes), args.samples, args.surface_hints,
                              args.images, args.neb_fmax, args.neb_steps,
                              args.hessian_delta)  # fmt: skip
    counts = {}
    for split in (args.train, args.val, args.test):
        for row in _rows(split, ["initial_state", "final_state", "count"]):
            counts[(row["initial_state"], row["final_state"])] = row["count"]
    test_states = sorted({r["initial_state"] for r in _rows(args.test, ["initial_state"])})
    held = set(_chosen(test_states, args.max_states, args.seed, STATE_CHOICE_STREAM))
    rows = []  # (example, MD count, held out): held-out states, and frequent MD transitions
    for split, is_test in ((args.train, False), (args.val, False), (args.test, True)):
        for ex in read_examples(split):
            n = counts[(ex.initial_state, ex.final_state)]
            held_out = is_test and ex.initial_state in held
            if held_out or (args.md_min_count is not None and n >= args.md_min_count):
                rows.append((ex, n, held_out))
    groups = shard_groups(rows)
    mine = set(assign_shards(list(groups), args.shards)[args.shard])
    groups = {s: g for s, g in groups.items() if s in mine}
    model = None
    if any(h for _, h in groups.values()):
        torch.set_num_threads(args.threads)
        model = load_model(args.model)
    judge = Judge(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
    print(f"shard {args.shard}/{args.shards}: {len(groups)} states "
          f"({sum(h for _, h in groups.values())} held out)", flush=True)  # fmt: skip
    table, summary = run_shard(groups, judge, config, args.seed, model,
                               log=lambda m: print(m, flush=True))  # fmt: skip
    judge.close()
    write_rows(table, args.out, schema.VALIDATION)
    write_json_atomic(args.summary, summary)
    print(json.dumps(summary, indent=2))


def _rows(path: str, columns: list[str]) -> list[dict]:
    from hopformer.data import schema
    from hopformer.data.shards import read_table

    return read_table(path, schema.DATASET).select(columns).to_pylist()


def _collect_tables(args: argparse.Namespace) -> None:
    from hopformer.validation.tables import collect

    if len(args.summaries) != len(args.shards):
        raise ValueError(f"{len(args.shards)} shards but {len(args.summaries)} summaries")
    summaries = [json.loads(Path(p).read_text()) for p in args.summaries]
    out = {k: getattr(args, k) for k in ("rates", "csv", "compare", "summary", "paths",
                                         "mep_plot", "rate_plot")}  # fmt: skip
    out["top"] = args.top_table
    summary = collect(args.shards, summaries, args.md_rates, args.temperature, args.temperatures,
                      args.compare_min_count, args.top_transitions, out,
                      accuracy=args.accuracy)  # fmt: skip
    print(json.dumps(summary, indent=2))


def _run_reference_md(args: argparse.Namespace) -> None:
    import numpy as np
    from ase.io import read

    from hopformer.data import schema
    from hopformer.data.shards import write_rows
    from hopformer.physics.potentials import open_engine, potential_id
    from hopformer.physics.structure import center_in_vacuum
    from hopformer.surrogates.reference import TrajectorySpec, bulk_cell, frame_rows, run_reference

    melt = args.melt_temperature if args.temperature >= args.melting_point else None
    spec = TrajectorySpec(args.temperature, args.ensemble, args.equilibrate_ps, args.length_ps,
                          args.stride_fs, args.timestep_fs, args.damping_fs, melt,
                          args.melt_ps if melt else 0.0, args.seed)  # fmt: skip
    if args.system == "bulk":
        atoms = bulk_cell(args.element, args.cells, args.lattice_constant)
        cell = atoms.cell.array
    else:
        if not args.structure:
            raise ValueError("--system cluster needs --structure (the relaxed cluster)")
        atoms = center_in_vacuum(read(args.structure), args.vacuum)
        cell = None
    engine = open_engine(atoms, args.potential)
    frames = run_reference(engine, spec)
    engine.close()
    rows = frame_rows(frames, spec, args.system, atoms.numbers, cell, potential_id(args.potential),
                      args.name)  # fmt: skip
    write_rows(rows, args.out, schema.TRAJECTORY_FRAMES)
    total = frames["potential_energy"] + frames["kinetic_energy"]
    print(
        f"{rows[0]['run']}: {len(rows)} frames of {len(atoms)} atoms; total energy drift "
        f"{(total[-1] - total[0]) / len(atoms) * 1e3:.3f} meV/atom; "
        f"mean T {np.mean(frames['kinetic_energy']) / (1.5 * len(atoms) * 8.617333262e-5):.1f} K"
    )


def _train_surrogate(args: argparse.Namespace) -> None:
    """train-integrator and train-predictor: one model file, loss log and summary each."""
    import pandas as pd
    import torch

    from hopformer.physics.io import atomic_path, write_json_atomic, write_text_atomic
    from hopformer.surrogates.integrator import IntegratorConfig
    from hopformer.surrogates.predictor import PredictorConfig
    from hopformer.surrogates.training import read_run, train, train_predictor

    torch.set_num_threads(args.threads)
    periodic = args.surrogate == "integrator"
    runs = [read_run(p, periodic=periodic) for p in args.frames]
    device, log = _device(args.device), lambda m: print(m, flush=True)
    common = dict(steps=args.steps, seed=args.seed, learning_rate=args.learning_rate,
                  batch=args.batch, device=device, log=log)  # fmt: skip
    start = time.perf_counter()
    if periodic:
        config = IntegratorConfig(args.stride_fs, args.cutoff, args.width, args.layers)
        model, history = train(runs, config, **common)
    else:
        config = PredictorConfig(args.horizon_fs, args.cutoff, args.width, args.layers)
        model, history = train_predictor(runs, config, args.stride_fs, **common)
    with atomic_path(args.out) as tmp:
        torch.save({**model.save(), "stride_fs": args.stride_fs}, tmp)
    write_text_atomic(args.loss_log, pd.DataFrame(history).to_csv(index=False,
                                                                  float_format="%.6g"))  # fmt: skip
    summary = {"steps": args.steps, "runs": len(runs), "final_loss": history[-1]["loss"],
               "seconds": time.perf_counter() - start, "device": device}  # fmt: skip
    write_json_atomic(args.summary, summary)
    print(json.dumps(summary, indent=2))


def _evaluate_surrogate(args: argparse.Namespace) -> None:
    """evaluate-integrator and evaluate-predictor: one summary row per held-out run."""
    import pandas as pd
    import torch

    from hopformer.physics.io import write_json_atomic, write_text_atomic
    from hopformer.report.plots import plot_rollout
    from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig
    from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor
    from hopformer.surrogates.training import evaluate, evaluate_predictor, read_run

    torch.set_num_threads(args.threads)
    saved = torch.load(args.model, weights_only=False)
    periodic = args.surrogate == "integrator"
    if periodic:
        model = DisplacementIntegrator(IntegratorConfig(**saved["config"])).double()
    else:
        model = TrajectoryPredictor(PredictorConfig(**saved["config"])).double()
    model.load_state_dict(saved["state"])
    model.eval()
    rows, first = [], None
    for path in args.frames:
        run = read_run(path, periodic=periodic)
        if periodic:
            summary, curves = evaluate(model, run, args.strides, args.potential)
        else:
            summary, curves = evaluate_predictor(model, run, saved["stride_fs"], args.rollout_ps,
                                                 args.potential, args.damping_fs,
                                                 args.seed)  # fmt: skip
        rows.append({"run": Path(path).stem, "temperature": run["temperature"], **summary})
        first = first or (Path(path).stem, curves)
        print(json.dumps(rows[-1]), flush=True)
    write_json_atomic(args.out, rows)
    write_text_atomic(args.csv, pd.DataFrame(rows).to_csv(index=False, float_format="%.6g"))
    plot_rollout(*first, args.plot)


def _make_mlip_data(args: argparse.Namespace) -> None:
    import numpy as np
    from ase.io import read

    from hopformer.data import schema
    from hopformer.data.shards import read_table, read_tables, write_rows
    from hopformer.mlip.data import SamplingSpec, bulk_rows, cluster_rows

    spec = SamplingSpec(args.temperature, tuple(args.hot_temperatures), args.states, args.frames,
                        args.every_fs, args.timestep_fs, tuple(args.bulk_temperatures),
                        args.bulk_cells, tuple(args.bulk_scales), args.lattice_constant,
                        args.bands, args.val_fraction, args.test_fraction,
                        args.seed)  # fmt: skip
    cluster = read(args.cluster)
    n = len(cluster)
    minima = {}
    for r in read_tables(args.dataset, schema.DATASET).to_pylist():
        for key, state in (("initial_positions", r["initial_state"]),
                           ("final_positions", r["final_state"])):  # fmt: skip
            minima.setdefault(state, np.reshape(r[key], (n, 3)))
    bands = []
    for path in args.validation:
        for r in read_table(path, schema.VALIDATION).to_pylist():
            if r["neb_status"] == "ok":
                bands.append((r["transition_id"], np.reshape(r["path_positions"], (-1, n, 3))))
    log = lambda m: print(m, flush=True)  # noqa: E731
    rows = cluster_rows(args.potential, cluster, [minima[k] for k in sorted(minima)], bands,
                        spec, log)  # fmt: skip
    if args.bulk_potential:
        rows += bulk_rows(args.bulk_potential, args.bulk_element, spec, log)
    write_rows(rows, args.out, schema.MLIP_DATA)
    splits = {s: sum(r["split"] == s for r in rows) for s in ("train", "val", "test")}
    print(json.dumps({"configurations": len(rows), **splits}))


def _train_mlip(args: argparse.Namespace) -> None:
    import torch

    from hopformer.mlip.data import read_configs
    from hopformer.mlip.model import MlipConfig
    from hopformer.mlip.training import MlipTrainConfig, train, write_summary

    torch.set_num_threads(args.threads)
    model_config = MlipConfig(args.cutoff, args.radial, args.lmax, args.width, args.layers,
                              args.heads)  # fmt: skip
    config = MlipTrainConfig(args.steps, args.batch, args.learning_rate, args.energy_weight,
                             args.force_weight, args.checkpoint_every, args.eval_every,
                             args.seed, args.float64)  # fmt: skip
    summary = train(read_configs(args.data, "train"), read_configs(args.data, "val"),
                    model_config, config, args.out, args.loss_log, args.checkpoint_dir,
                    _device(args.device))  # fmt: skip
    write_summary(args.summary, summary)
    print(json.dumps(summary, indent=2))


def _evaluate_mlip(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd
    import torch
    from ase.build import bulk
    from ase.io import read

    from hopformer.data import schema
    from hopformer.data.shards import read_table
    from hopformer.mlip.calculator import load_network
    from hopformer.mlip.data import read_configs
    from hopformer.mlip.evaluation import barriers, errors_by_source, nve_stability, speed
    from hopformer.physics.io import write_json_atomic, write_text_atomic

    torch.set_num_threads(args.threads)
    model = load_network(args.model)
    configs = read_configs(args.data)
    summary = {"test_errors": errors_by_source(model, [c for c in configs
                                                       if c["split"] == "test"])}  # fmt: skip
    print(json.dumps(summary["test_errors"]["all"]), flush=True)
    # Barriers of validated transitions whose bands the MLIP never trained on.
    bands = [(c["group"][len("neb-") :], c["split"]) for c in configs if c["source"] == "neb"]
    held_out = {band for band, split in bands if split != "train"}
    trained = {band for band, split in bands if split == "train"}
    rows = [r for path in args.validation for r in read_table(path, schema.VALIDATION).to_pylist()
            if r["neb_status"] == "ok" and r["transition_id"] not in trained]  # fmt: skip
    rows.sort(key=lambda r: (r["transition_id"] not in held_out, r["transition_id"]))
    found = barriers(args.model, args.potential, rows[: args.barriers], fmax=args.neb_fmax,
                     images=args.images, log=lambda m: print(m, flush=True))  # fmt: skip
    table = pd.DataFrame(found).to_csv(index=False, float_format="%.6g")
    write_text_atomic(args.barriers_csv, table)
    errs = [abs(b["barrier_error_mev"]) for b in found if b["barrier_error_mev"] is not None]
    summary["barriers"] = {"transitions": len(found), "compared": len(errs),
                           "mae_mev": float(np.mean(errs)) if errs else None,
                           "max_abs_error_mev": float(max(errs)) if errs else None,
                           "within_20_mev": int(sum(e <= 20 for e in errs))}  # fmt: skip
    cluster = read(args.cluster)
    summary["nve"] = nve_stability(args.model, cluster, args.temperature, args.md_ps)
    summary["nve_reference"] = nve_stability(args.potential, cluster, args.temperature,
                                             args.md_ps)  # fmt: skip
    summary["speed_us_per_atom_step"] = {"mlip": speed(args.model, cluster),
                                         "eam": speed(args.potential, cluster)}  # fmt: skip
    if args.bulk_potential:
        al = bulk(args.bulk_element, "fcc", a=args.lattice_constant, cubic=True).repeat(3)
        summary["speed_us_per_atom_step"]["mlip_bulk"] = speed(args.model, al)
        summary["speed_us_per_atom_step"]["eam_bulk"] = speed(args.bulk_potential, al)
    s = summary["speed_us_per_atom_step"]
    s["mlip_over_eam"] = s["mlip"] / s["eam"]
    write_json_atomic(args.out, summary)
    print(json.dumps(summary, indent=2))


def _generate(args: argparse.Namespace) -> None:
    import numpy as np
    from ase import Atoms
    from ase.io import read, write

    from hopformer.model.evaluation import Judge, model_candidates
    from hopformer.model.examples import Example
    from hopformer.model.training import load_model
    from hopformer.physics.io import atomic_path

    initial = read(args.initial)
    n = len(initial)
    atoms = np.array([int(a) for a in args.hint_atoms.split(",")] if args.hint_atoms else [],
                     dtype=np.int64)  # fmt: skip
    if atoms.size and args.hint_from is None:
        raise ValueError("--hint-atoms needs --hint-from (a structure with their final positions)")
    targets = np.zeros((0, 3))
    if atoms.size:
        final = read(args.hint_from)
        if len(final) != n:
            raise ValueError(f"--hint-from {args.hint_from} has {len(final)} atoms, "
                             f"--initial {args.initial} has {n}")  # fmt: skip
        if atoms.min() < 0 or atoms.max() >= n:
            raise ValueError(f"--hint-atoms {args.hint_atoms}: atoms are numbered 0..{n - 1}")
        targets = final.positions[atoms]
    model = load_model(args.model)
    judge = Judge(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
    start = judge.relax(initial.positions, initial.numbers)  # the model's input is a minimum
    if not start.ok:
        raise ValueError(f"--initial {args.initial}: does not relax to a minimum ({start.detail})")
    ex = Example(initial.numbers, start.positions, start.positions)
    cands = model_candidates(model, ex, atoms, targets, samples=args.samples, seed=args.seed,
                             mode=args.mode)  # fmt: skip
    frames = []
    print("sample  status      energy_eV   delta_eV  same_as_initial")
    for i, cand in enumerate(cands):
        res = judge.relax(cand, initial.numbers)
        frame = Atoms(numbers=initial.numbers, positions=res.positions if res.ok else cand,
                      cell=initial.cell, pbc=initial.pbc)  # fmt: skip
        frame.info.update(sample=i, status=res.status)
        if res.ok:
            back = judge.same(start.positions, res.positions, initial.numbers)
            frame.info.update(relaxed_energy=res.energy, delta_energy=res.energy - start.energy,
                              same_as_initial=back)  # fmt: skip
            print(f"{i:6d}  {res.status:10s} {res.energy:11.4f} {res.energy - start.energy:10.4f}"
                  f"  {back}")  # fmt: skip
        else:
            print(f"{i:6d}  {res.status:10s} {res.detail}")
        frames.append(frame)
    judge.close()
    with atomic_path(args.out) as tmp:
        write(tmp, frames, format="extxyz")
    print(f"wrote {len(frames)} relaxed candidates to {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hopformer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-potential", help="write a Zhou 2004 setfl file or check + copy one")
    p.add_argument("--out", required=True, help="setfl file to write")
    p.add_argument(
        "--source",
        default="zhou2004",
        help="'zhou2004' (generate), a path to a setfl/funcfl file, or a trained MLIP model (.pt)",
    )
    p.add_argument("--element", default="Pt")
    p.add_argument("--nr", type=int, default=2000, help="r grid points")
    p.add_argument("--nrho", type=int, default=2000, help="density grid points")
    p.add_argument("--cutoff", type=float, default=None, help="Å (default √10/2·a0)")
    p.set_defaults(func=_make_potential)

    p = sub.add_parser("relax-cluster", help="build or read a cluster and quench it")
    p.add_argument("--potential", required=True, help="EAM file (setfl/funcfl)")
    p.add_argument("--out", required=True, help="relaxed cluster (extxyz)")
    p.add_argument("--summary", required=True, help="JSON with its energy")
    p.add_argument("--element", default="Pt")
    p.add_argument("--shape", default="icosahedron", choices=SHAPES)
    p.add_argument("--shells", type=int, default=4)
    p.add_argument("--p", type=int, default=3)
    p.add_argument("--q", type=int, default=2)
    p.add_argument("--r", type=int, default=0)
    p.add_argument("--length", type=int, default=4)
    p.add_argument("--cutoff", type=int, default=1)
    p.add_argument("--file", default=None, help="read the cluster from this file instead")
    p.add_argument("--vacuum", type=float, default=10.0, help="Å around the cluster")
    p.add_argument("--fmax", type=float, default=1e-3, help="eV/Å")
    p.add_argument(
        "--melt-temperature",
        type=float,
        default=None,
        help="K: melt with Langevin MD before quenching (a disordered cluster)",
    )
    p.add_argument("--melt-ps", type=float, default=20.0, help="ps of melting")
    p.add_argument("--seed", type=int, default=1, help="seed of the melt")
    p.set_defaults(func=_relax_cluster)

    p = sub.add_parser("run-segments", help="one splicing worker: dephase, MD segments, quenches")
    p.add_argument("--potential", required=True, help="EAM file (setfl/funcfl)")
    p.add_argument(
        "--start",
        required=True,
        help="reference cluster (extxyz) or the previous round's frontier.parquet",
    )
    p.add_argument("--campaign", required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--worker", type=int, required=True)
    p.add_argument("--seed", type=int, required=True, help="campaign seed")
    p.add_argument("--temperature", type=float, required=True, help="K")
    p.add_argument("--segments-per-worker", type=int, default=5)
    p.add_argument("--segment-ps", type=float, default=20.0)
    p.add_argument("--block-ps", type=float, default=1.0, help="ps of MD between quenches")
    p.add_argument("--dephase-ps", type=float, default=1.0)
    p.add_argument(
        "--correlation-blocks",
        type=int,
        default=1,
        help="blocks a segment's final state must be held before it may end",
    )
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--damping-fs", type=float, default=100.0, help="Langevin 1/friction, fs")
    p.add_argument("--quench-fmax", type=float, default=1e-3, help="eV/Å")
    p.add_argument("--state-tol", type=float, default=0.15, help="Å, state-identity threshold")
    p.add_argument("--segments-out", required=True, help="segments shard (Parquet)")
    p.add_argument("--transitions-out", required=True, help="transitions shard (Parquet)")
    p.set_defaults(func=_run_segments)

    p = sub.add_parser("splice-round", help="aggregate a round: states, splicing, next frontier")
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--previous", default=None, help="previous round's folder (none for round 0)")
    p.add_argument("--cluster", required=True, help="reference cluster (extxyz)")
    p.add_argument("--segments", nargs="+", required=True, help="segment shards, worker order")
    p.add_argument("--transitions", nargs="+", required=True, help="transition shards, same order")
    p.add_argument("--out-dir", required=True, help="this round's folder")
    p.add_argument("--transitions-out", required=True, help="this round's transitions Parquet")
    p.add_argument("--workers", type=int, required=True, help="workers of the next round")
    p.add_argument("--segments-per-worker", type=int, default=5)
    p.add_argument("--seed", type=int, required=True, help="campaign seed")
    p.add_argument("--state-tol", type=float, default=0.15, help="Å")
    p.set_defaults(func=_splice_round)

    p = sub.add_parser("tabulate-rates", help="MD-observed rate table and campaign summary")
    p.add_argument("--last-round", required=True, help="the last round's folder")
    p.add_argument("--temperature", type=float, required=True, help="K of the MD")
    p.add_argument("--min-count", type=int, default=1, help="list transitions seen ≥ this often")
    p.add_argument("--out", required=True, help="rate table (Parquet)")
    p.add_argument("--csv", required=True, help="rate table (CSV)")
    p.add_argument("--summary", required=True, help="campaign summary (JSON)")
    p.set_defaults(func=_tabulate_rates)

    p = sub.add_parser("make-dataset", help="deduplicate transitions, split by initial state")
    p.add_argument("--transitions", nargs="+", required=True, help="transitions Parquet files")
    p.add_argument("--out-dir", required=True, help="folder of train/val/test.parquet")
    p.add_argument("--manifest", default=None, help="manifest JSON (default: in --out-dir)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, required=True, help="campaign seed")
    p.set_defaults(func=_make_dataset)

    def model_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--max-atoms", type=int, default=256)
        p.add_argument("--d-model", type=int, default=64)
        p.add_argument("--heads", type=int, default=4)
        p.add_argument("--encoder-layers", type=int, default=2)
        p.add_argument("--decoder-layers", type=int, default=2)
        p.add_argument("--components", type=int, default=4)
        p.add_argument("--frequencies", type=int, default=12)
        p.add_argument("--cutoff", type=float, default=6.0, help="Å")
        p.add_argument("--min-sigma", type=float, default=0.02, help="Å")
        p.add_argument("--wta-weight", type=float, default=10.0, help="per Å² per atom")

    def judge_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--potential", required=True, help="reference EAM file")
        p.add_argument("--quench-fmax", type=float, default=1e-3, help="eV/Å")
        p.add_argument("--state-tol", type=float, default=0.15, help="Å, state identity")
        p.add_argument("--threads", type=int, default=1, help="torch CPU threads")

    p = sub.add_parser("train-transformer", help="train (or resume) the transition transformer")
    p.add_argument("--train", required=True, help="train split (Parquet)")
    p.add_argument("--val", required=True, help="val split (Parquet)")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--loss-log", required=True, help="loss log (CSV)")
    p.add_argument("--summary", required=True, help="training summary (JSON)")
    p.add_argument("--checkpoint-dir", required=True, help="checkpoints; resumed from if there")
    p.add_argument("--seed", type=int, required=True)
    model_arguments(p)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--zero-hint-fraction", type=float, default=0.25)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.set_defaults(func=_train_transformer)

    p = sub.add_parser("evaluate-transformer", help="accuracy(k) beside the model-free baseline")
    p.add_argument("--model", required=True)
    p.add_argument("--test", required=True, help="test split (Parquet)")
    judge_arguments(p)
    p.add_argument("--hint-sizes", type=_int_list, default=None, help="k values, e.g. 0,1,2,4")
    p.add_argument("--max-transitions", type=int, default=None)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="accuracy table (Parquet)")
    p.add_argument("--csv", required=True, help="accuracy table (CSV)")
    p.add_argument("--details", required=True, help="per-transition outcomes (Parquet)")
    p.add_argument("--plot", required=True, help="accuracy vs hint size (PNG)")
    p.set_defaults(func=_evaluate_transformer)

    p = sub.add_parser("explore-transitions", help="transitions from hints made without a final")
    p.add_argument("--model", required=True)
    p.add_argument("--test", required=True, help="test split (Parquet)")
    judge_arguments(p)
    p.add_argument("--samples", type=int, default=8, help="draws with no hint per state")
    p.add_argument("--surface-hints", type=int, default=8, help="one-surface-atom hints per state")
    p.add_argument("--max-states", type=int, default=None)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="distinct transitions found (Parquet)")
    p.add_argument("--csv", required=True, help="the same without positions (CSV)")
    p.add_argument("--summary", required=True, help="counts (JSON)")
    p.set_defaults(func=_explore_transitions)

    p = sub.add_parser("validate-shard", help="generate, relax, NEB and hTST for one shard")
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True, help="train split (Parquet)")
    p.add_argument("--val", required=True, help="val split (Parquet)")
    p.add_argument("--test", required=True, help="test split (Parquet): the held-out states")
    judge_arguments(p)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--shards", type=int, required=True)
    p.add_argument("--hint-sizes", type=_int_list, default=[1, 2, 4])
    p.add_argument("--samples", type=int, default=4, help="draws with no hint per state")
    p.add_argument("--surface-hints", type=int, default=4, help="one-surface-atom hints")
    p.add_argument("--max-states", type=int, default=None, help="held-out states (all shards)")
    p.add_argument(
        "--md-min-count",
        type=int,
        default=None,
        help="also validate MD transitions of other splits seen this often",
    )
    p.add_argument("--images", type=int, default=9)
    p.add_argument("--neb-fmax", type=float, default=0.02, help="eV/Å")
    p.add_argument("--neb-steps", type=int, default=1000)
    p.add_argument("--hessian-delta", type=float, default=5e-3, help="Å")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="validated transitions (Parquet)")
    p.add_argument("--summary", required=True, help="candidate and NEB counts (JSON)")
    p.set_defaults(func=_validate_shard)

    p = sub.add_parser("collect-tables", help="rate/energy tables, plots and paths")
    p.add_argument("--shards", nargs="+", required=True, help="validate-shard outputs")
    p.add_argument("--summaries", nargs="+", required=True, help="their summaries (JSON)")
    p.add_argument("--md-rates", required=True, help="md/rates.parquet")
    p.add_argument("--accuracy", default=None, help="accuracy(k) table (Parquet) to carry over")
    p.add_argument("--temperature", type=float, required=True, help="campaign temperature, K")
    p.add_argument("--temperatures", type=_float_list, default=[], help="more T for k(T), K")
    p.add_argument("--compare-min-count", type=int, default=20)
    p.add_argument("--top-transitions", type=int, default=4, help="rows of the top table")
    for name, what in (("rates", "rate/energy table (Parquet)"), ("csv", "the same as CSV"),
                       ("top-table", "most common transitions (CSV)"),
                       ("compare", "MD vs hTST rates (CSV)"), ("summary", "counts (JSON)"),
                       ("paths", "folder of extxyz paths"), ("mep-plot", "MEP profiles (PNG)"),
                       ("rate-plot", "hTST vs MD rates (PNG)")):  # fmt: skip
        p.add_argument(f"--{name}", required=True, help=what)
    p.set_defaults(func=_collect_tables)

    p = sub.add_parser("run-reference-md", help="reference MD frames for the trajectory models")
    p.add_argument("--system", required=True, choices=["cluster", "bulk"])
    p.add_argument("--potential", required=True, help="EAM file")
    p.add_argument("--structure", default=None, help="relaxed cluster (cluster system)")
    p.add_argument("--vacuum", type=float, default=10.0, help="Å around a free cluster")
    p.add_argument("--element", default="Al", help="bulk element")
    p.add_argument("--cells", type=int, default=4, help="bulk: cubic fcc cells per edge")
    p.add_argument("--lattice-constant", type=float, default=4.05, help="bulk, Å")
    p.add_argument("--temperature", type=float, required=True, help="K")
    p.add_argument("--ensemble", default="nve", choices=["nve", "langevin"])
    p.add_argument("--equilibrate-ps", type=float, default=5.0)
    p.add_argument("--length-ps", type=float, default=20.0)
    p.add_argument("--stride-fs", type=float, default=10.0)
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--damping-fs", type=float, default=100.0)
    p.add_argument(
        "--melting-point",
        type=float,
        default=float("inf"),
        help="K; at or above it the run melts first",
    )
    p.add_argument("--melt-temperature", type=float, default=2000.0, help="K")
    p.add_argument("--melt-ps", type=float, default=5.0)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--name", default=None, help="run name (default: from system, T and seed)")
    p.add_argument("--out", required=True, help="frames (Parquet)")
    p.set_defaults(func=_run_reference_md)

    for name, surrogate, frames in (("integrator", "the GNN displacement integrator",
                                     "periodic reference runs"),
                                    ("predictor", "the direct trajectory predictor",
                                     "free-cluster reference runs")):  # fmt: skip
        p = sub.add_parser(f"train-{name}", help=f"train {surrogate}")
        p.set_defaults(func=_train_surrogate, surrogate=name)
        p.add_argument("--frames", nargs="+", required=True, help=frames)
        p.add_argument(
            "--stride-fs",
            type=float,
            default=10.0,
            help="integrator: time per prediction; predictor: Δt grid",
        )
        if name == "predictor":
            p.add_argument("--horizon-fs", type=float, default=100.0, help="longest Δt")
        p.add_argument("--cutoff", type=float, default=4.5 if name == "integrator" else 4.0,
                       help="Å")  # fmt: skip
        p.add_argument("--width", type=int, default=32)
        p.add_argument("--layers", type=int, default=2 if name == "integrator" else 3)
        p.add_argument("--steps", type=int, default=300)
        p.add_argument("--batch", type=int, default=4)
        p.add_argument("--learning-rate", type=float, default=1e-3)
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--out", required=True, help="model file")
        p.add_argument("--loss-log", required=True, help="loss per step (CSV)")
        p.add_argument("--summary", required=True, help="training summary (JSON)")

        p = sub.add_parser(f"evaluate-{name}", help=f"{surrogate} against reference MD")
        p.set_defaults(func=_evaluate_surrogate, surrogate=name)
        p.add_argument("--model", required=True)
        p.add_argument("--frames", nargs="+", required=True, help=f"held-out {frames}")
        if name == "integrator":
            p.add_argument("--strides", type=int, default=100, help="rollout length in strides")
        else:
            p.add_argument("--rollout-ps", type=float, default=10.0, help="chained rollout, ps")
            p.add_argument(
                "--damping-fs",
                type=float,
                default=100.0,
                help="friction time of the Langevin runs' thermostat",
            )
            p.add_argument("--seed", type=int, default=0, help="Langevin chains' noise")
        p.add_argument(
            "--potential", default=None, help="reference EAM: scores energies, times reference MD"
        )
        p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
        p.add_argument("--out", required=True, help="one summary per run (JSON)")
        p.add_argument("--csv", required=True, help="the same as CSV")
        p.add_argument("--plot", required=True, help="rollout of the first run (PNG)")

    p = sub.add_parser("make-mlip-data", help="sample and label configurations for the MLIP")
    p.add_argument("--potential", required=True, help="the campaign's EAM file")
    p.add_argument("--cluster", required=True, help="the relaxed cluster")
    p.add_argument("--dataset", nargs="+", required=True, help="dataset splits (visited minima)")
    p.add_argument("--validation", nargs="*", default=[], help="validation shards (NEB bands)")
    p.add_argument("--bulk-potential", default=None, help="EAM of the bulk element (optional)")
    p.add_argument("--bulk-element", default="Al")
    p.add_argument("--temperature", type=float, required=True, help="campaign temperature, K")
    p.add_argument("--hot-temperatures", type=_float_list, default=[1000.0, 1400.0])
    p.add_argument("--states", type=int, default=8, help="visited minima heated")
    p.add_argument("--frames", type=int, default=10, help="per MD run")
    p.add_argument("--every-fs", type=float, default=100.0, help="between frames")
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--bulk-temperatures", type=_float_list, default=[300.0, 900.0, 1500.0])
    p.add_argument("--bulk-cells", type=int, default=2, help="cubic fcc cells per edge")
    p.add_argument("--bulk-scales", type=_float_list, default=[0.98, 1.0, 1.02],
                   help="lattice-constant factors")  # fmt: skip
    p.add_argument("--lattice-constant", type=float, default=4.05, help="bulk, Å")
    p.add_argument("--bands", type=int, default=40, help="NEB bands at most")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="labelled configurations (Parquet)")
    p.set_defaults(func=_make_mlip_data)

    p = sub.add_parser("train-mlip", help="train the attention ML interatomic potential")
    p.add_argument("--data", required=True, help="labelled configurations (Parquet)")
    p.add_argument("--cutoff", type=float, default=5.5, help="Å")
    p.add_argument("--radial", type=int, default=8, help="Bessel functions")
    p.add_argument("--lmax", type=int, default=2, help="spherical harmonics, ≤ 3")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--energy-weight", type=float, default=0.1)
    p.add_argument("--force-weight", type=float, default=1.0)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--float64", action="store_true", help="train in double precision")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="model file (.pt)")
    p.add_argument("--loss-log", required=True, help="loss per step (CSV)")
    p.add_argument("--summary", required=True, help="training summary (JSON)")
    p.add_argument("--checkpoint-dir", required=True, help="where last.pt is kept (resume)")
    p.set_defaults(func=_train_mlip)

    p = sub.add_parser("evaluate-mlip", help="the MLIP against the reference potential")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="labelled configurations (test split used)")
    p.add_argument("--potential", required=True, help="the campaign's EAM file")
    p.add_argument("--cluster", required=True, help="the relaxed cluster (MD, speed)")
    p.add_argument("--validation", nargs="*", default=[], help="validation shards (barriers)")
    p.add_argument("--bulk-potential", default=None)
    p.add_argument("--bulk-element", default="Al")
    p.add_argument("--lattice-constant", type=float, default=4.05, help="bulk, Å")
    p.add_argument("--barriers", type=int, default=5, help="transitions compared at most")
    p.add_argument("--images", type=int, default=9)
    p.add_argument("--neb-fmax", type=float, default=0.02)
    p.add_argument("--temperature", type=float, required=True, help="NVE start, K")
    p.add_argument("--md-ps", type=float, default=10.0, help="NVE stability run, ps")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", required=True, help="summary (JSON)")
    p.add_argument("--barriers-csv", required=True, help="barrier per transition (CSV)")
    p.set_defaults(func=_evaluate_mlip)

    p = sub.add_parser("generate", help="candidate final states for one initial state, relaxed")
    p.add_argument("--model", required=True)
    p.add_argument("--initial", required=True, help="initial structure (any ASE format)")
    judge_arguments(p)
    p.add_argument("--hint-atoms", default="", help="comma-separated atom indices (0-based)")
    p.add_argument("--hint-from", default=None, help="structure giving the hint atoms' finals")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", action="store_true", help="the most probable candidate only")
    p.add_argument("--out", required=True, help="relaxed candidates (extxyz)")
    p.set_defaults(func=_generate)
    return parser


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc


def _float_list(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (PotentialFileError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"hopformer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
