"""The MLIP beside its peer: one table of the workflow's own MLIP and, once
bench/mlip_vs_mace.py has run on the campaign, the bench's MLIP and MACE models trained on the
same data for the same CPU time (docs/design.md §12)."""

from __future__ import annotations

import math

COLUMNS = (
    "model",
    "trained_by",
    "train_seconds",
    "energy_mae_mev_atom",
    "force_mae_mev_a",
    "force_rmse_mev_a",
    "pt55_call_ms_1t",
    "pt55_call_ms_2t",
    "al108_call_ms_1t",
    "al108_call_ms_2t",
    "barriers_within_20_mev",
    "barriers_compared",
)
NAMES = {
    "mlip-short": "hopformer MLIP, equal time (short)",
    "mlip-long": "hopformer MLIP, equal time (long)",
    "mace-short": "MACE, equal time (short)",
    "mace-long": "MACE, equal time (long)",
}


def _row(**values) -> dict:
    return {c: values.get(c, math.nan) for c in COLUMNS}


def peer_rows(evaluation: dict, training: dict, bench: dict | None) -> list[dict]:
    """The workflow's MLIP (``evaluate-mlip``'s summary and ``train-mlip``'s), then each model
    of the bench's summary when given. Empty cells: not measured by that source."""
    test = evaluation["test_errors"]["all"]
    found = evaluation.get("barriers", {})
    rows = [
        _row(
            model=f"hopformer MLIP, workflow ({training['steps']} steps)",
            trained_by="train_mlip",
            train_seconds=training.get("seconds_this_run", math.nan),
            energy_mae_mev_atom=test["energy_mae_mev_atom"],
            force_mae_mev_a=test["force_mae_mev_a"],
            force_rmse_mev_a=test["force_rmse_mev_a"],
            barriers_within_20_mev=found.get("within_20_mev", math.nan),
            barriers_compared=found.get("compared", math.nan),
        )
    ]
    for name, m in (bench or {}).get("models", {}).items():
        a, b = m["test"]["all"], m.get("barriers", {})
        rows.append(
            _row(
                model=NAMES.get(name, name),
                trained_by="bench/mlip_vs_mace.py",
                train_seconds=m["train_seconds"],
                energy_mae_mev_atom=a["energy_mae_mev_atom"],
                force_mae_mev_a=a["force_mae_mev_a"],
                force_rmse_mev_a=a["force_rmse_mev_a"],
                **{
                    f"{s.lower()}_call_ms_{t}t": m[f"call_ms_{s}_{t}t"]
                    for s in ("Pt55", "Al108")
                    for t in (1, 2)
                },
                barriers_within_20_mev=b.get("within_20_mev", math.nan),
                barriers_compared=b.get("compared", math.nan),
            )
        )
    return rows
