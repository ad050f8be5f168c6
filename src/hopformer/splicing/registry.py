"""The campaign's distinct minima: each quenched configuration a splicing round sees is looked
up here and given a state id (docs/design.md §3 on state identity)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from hopformer.data import schema
from hopformer.data.shards import to_table
from hopformer.physics.states import (
    SAME_STATE_TOL,
    neighbour_keys,
    radial_fingerprint,
    same_state,
    state_key,
)


class StateRegistry:
    """Distinct minima of a campaign, looked up by energy-bin key and the identity test
    (up to any relabelling of the atoms with ``relabel``: physics.states.match)."""

    def __init__(self, numbers: np.ndarray, tol: float = SAME_STATE_TOL, relabel: bool = True):
        self.numbers = np.asarray(numbers)
        self.tol = tol
        self.relabel = relabel
        self.rows: list[dict] = []
        self._buckets: dict[str, list[int]] = defaultdict(list)
        # per bucket, the radial fingerprint of each of its states (rows in bucket order)
        self._prints: dict[str, np.ndarray] = {}

    @classmethod
    def from_table(
        cls, table: pa.Table, numbers: np.ndarray, tol: float, relabel: bool = True
    ) -> StateRegistry:
        reg = cls(numbers, tol, relabel)
        for row in table.to_pylist():
            if row["state"] != len(reg.rows):
                raise ValueError(
                    f"states table is not numbered 0..n-1 (row {len(reg.rows)} "
                    f"has state {row['state']})"
                )
            row["positions"] = np.reshape(row["positions"], (-1, 3))
            reg._add(row)
        return reg

    def _add(self, row: dict, fingerprint: np.ndarray | None = None) -> int:
        self.rows.append(row)
        key = row["key"]
        self._buckets[key].append(row["state"])
        fp = radial_fingerprint(row["positions"]) if fingerprint is None else fingerprint
        old = self._prints.get(key)
        self._prints[key] = fp[None] if old is None else np.vstack([old, fp])
        return row["state"]

    def identify(self, positions: np.ndarray, energy: float, round_: int) -> int:
        """The id of the minimum at ``positions`` (N, 3); a new id if it is not known yet.
        The known minima of the neighbouring energy bins are tested in the order they were
        found, skipping those whose radial fingerprint alone tells them apart (an exact
        prefilter, physics.states.radial_fingerprint), so a lookup stays cheap as the
        buckets fill."""
        positions = np.reshape(positions, (-1, 3))
        fp = radial_fingerprint(positions)
        for key in neighbour_keys(energy, self.numbers):
            if key not in self._prints:
                continue
            close = np.abs(self._prints[key] - fp).max(1) <= self.tol + 1e-9
            for s in np.asarray(self._buckets[key])[close]:
                x = self.rows[s]["positions"]
                if same_state(x, positions, self.numbers, self.tol, self.relabel):
                    return int(s)
        return self._add(
            {
                "state": len(self.rows),
                "key": state_key(energy, self.numbers),
                "energy": energy,
                "numbers": self.numbers,
                "positions": positions,
                "first_round": round_,
                "residence_ps": 0.0,
            },
            fp,
        )

    def table(self) -> pa.Table:
        return to_table(self.rows, schema.STATES)
