"""When has a state been searched enough? A statistical stopping rule (docs/design.md §9).

Every search that ends in a validated process of a state is a *hit* on that process. Only
processes within a **thermal window** of the lowest barrier count — a process ``window_kT``·kT
above the lowest one is e^{window_kT} times slower and cannot change the KMC — and only hits on
them: the rule asks whether the *relevant* catalogue is complete.

The rule treats the searches as draws from M equally likely processes (the coupon collector)
and estimates M from the hits. After n hits, of which u are distinct, the expected number of
distinct processes is u = M (1 − e^{−n/M}); with r = n/u and x = n/M this is
e^{−x} = 1 − x/r, solved by x = r + W₀(−r e^{−r}) (W₀ the principal Lambert W branch).
The **confidence** is u/M̂ = x/r: the estimated fraction of the window's processes found. It
is 0 while every hit is new (nothing repeats: M is unbounded) and rises towards 1 as repeats
accumulate; a state is done when it reaches ``confidence`` (eOn's default 0.99). Processes
that are found less often than others (a narrow basin of attraction) make M̂ an
underestimate — the rule is then optimistic, which is why the window matters and why the
test below the module checks it against a state with a known catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import lambertw


def coverage(hits: Sequence[int]) -> float:
    """Estimated fraction u/M̂ of the catalogue found, from each found process's hit count."""
    counts = np.asarray([h for h in hits if h > 0], dtype=float)
    unique, total = len(counts), float(counts.sum())
    if unique == 0 or total <= unique:
        return 0.0
    r = total / unique
    x = r + float(np.real(lambertw(-r * math.exp(-r), 0)))
    return min(1.0, max(0.0, x / r))


def in_window(barriers: Sequence[float], kT: float, window_kT: float) -> np.ndarray:
    """Mask of the processes within ``window_kT``·kT of the lowest barrier."""
    b = np.asarray(barriers, dtype=float)
    if b.size == 0:
        return np.zeros(0, dtype=bool)
    return b <= b.min() + window_kT * kT


def state_confidence(
    barriers: Sequence[float], hits: Sequence[int], kT: float, window_kT: float
) -> tuple[float, int, int]:
    """(confidence, distinct processes, hits) of one state, counting the window only."""
    mask = in_window(barriers, kT, window_kT)
    h = np.asarray(hits, dtype=int)[mask]
    return coverage(h.tolist()), int(mask.sum()), int(h.sum())
