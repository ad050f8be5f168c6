"""Residence-time kinetic Monte Carlo over a catalogue of processes (docs/design.md §9).

Pure bookkeeping, no physics engine: the aggregator builds a :class:`Catalogue` from the
validated process tables and calls :func:`run_kmc` and :func:`search_targets`.

* **BKL step** — from state i with processes of rates k_p, pick p with probability k_p / Σk and
  advance the clock by −ln(u) / Σk (u uniform in (0, 1]).
* **Superbasins** — states joined by *flickers* (processes whose forward and reverse barriers
  are both below ``flicker_barrier``) form a superbasin when every member has been searched
  enough. Inside one the KMC would spend its steps hopping back and forth; instead the exit is
  drawn from the absorbing Markov chain of the basin (Novotny's MCAMC, as eOn uses it): with
  P the jump matrix among members, τ_i = 1 / R_i the mean residence of one visit and N =
  (I − P)⁻¹ the fundamental matrix, the mean time to leave from start s is (N τ)_s and the
  probability to leave through process p of member i is N_si k_ip / R_i. The clock advances
  by an exponential draw with that mean — exact for the mean exit time, the quantity the
  flicker test checks; the distribution is the phase-type one only approximately.
* The KMC advances only while it is in a **searched** state (``Catalogue.done``); it stops at
  the first state whose catalogue is not complete enough: that is where searches are needed.
* **Search targets** — each next-round search job runs a short virtual walk from the current
  state over the known rates and searches the first incompletely searched state it reaches
  (the splicing scheduler's virtual trajectory), so jobs go where the KMC will need them.

Times are in ps and rates in 1/ps (hTST from THz prefactors), as everywhere in the project.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Process:
    """One validated escape from a state: rate (1/ps), product state, barriers (eV)."""

    process: int
    product: int
    rate: float
    barrier: float
    reverse_barrier: float


@dataclass
class Catalogue:
    """The processes of every known state and which states are searched enough to step on."""

    processes: dict[int, list[Process]] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)

    def total_rate(self, state: int) -> float:
        return sum(p.rate for p in self.processes.get(state, ()))

    def steppable(self, state: int) -> bool:
        return state in self.done and self.total_rate(state) > 0


@dataclass(frozen=True)
class Step:
    """One KMC move: from ``state`` through ``process`` to ``product`` after ``dt`` ps.
    ``basin`` is the number of states of the superbasin left (1 for a plain BKL step);
    ``exit_state`` the member the exit process belongs to."""

    state: int
    exit_state: int
    process: int
    product: int
    dt: float
    basin: int


def bkl_step(cat: Catalogue, state: int, generator: np.random.Generator) -> Step:
    """One residence-time step out of ``state`` (it must have processes)."""
    procs = cat.processes[state]
    rates = np.array([p.rate for p in procs])
    total = rates.sum()
    i = int(np.searchsorted(np.cumsum(rates) / total, generator.random(), side="right"))
    p = procs[min(i, len(procs) - 1)]
    dt = -math.log(1.0 - generator.random()) / total
    return Step(state, state, p.process, p.product, dt, 1)


def superbasin(cat: Catalogue, state: int, flicker_barrier: float) -> list[int]:
    """The searched states reachable from ``state`` through flickers (``state`` first)."""
    if flicker_barrier <= 0 or not cat.steppable(state):
        return [state]
    members, todo = [state], [state]
    while todo:
        i = todo.pop()
        for p in cat.processes[i]:
            flicker = p.barrier < flicker_barrier and p.reverse_barrier < flicker_barrier
            if flicker and p.product not in members and cat.steppable(p.product):
                members.append(p.product)
                todo.append(p.product)
    return members


def basin_exits(
    cat: Catalogue, members: list[int], start: int
) -> tuple[float, list[tuple[int, Process, float]]]:
    """Mean time (ps) to leave the basin ``members`` from ``start`` and the exits as (member,
    process, probability) — the absorbing Markov chain of the module doc."""
    index = {s: i for i, s in enumerate(members)}
    n = len(members)
    jump = np.zeros((n, n))
    tau = np.zeros(n)
    exits: list[tuple[int, int, Process]] = []
    for s, i in index.items():
        total = cat.total_rate(s)
        tau[i] = 1.0 / total
        for p in cat.processes[s]:
            if p.product in index:
                jump[i, index[p.product]] += p.rate / total
            else:
                exits.append((s, i, p))
    fundamental = np.linalg.inv(np.eye(n) - jump)
    row = fundamental[index[start]]
    mean = float(row @ tau)
    out = [(s, p, float(row[i] * p.rate * tau[i])) for s, i, p in exits]
    return mean, out


def basin_step(
    cat: Catalogue, members: list[int], start: int, generator: np.random.Generator
) -> Step:
    """Leave the superbasin ``members`` in one step (module doc)."""
    mean, exits = basin_exits(cat, members, start)
    if not exits:  # a closed basin: nothing known leads out, so the KMC cannot leave it
        raise ValueError(f"superbasin {members} has no exit")
    probs = np.array([q for _, _, q in exits])
    i = int(np.searchsorted(np.cumsum(probs) / probs.sum(), generator.random(), side="right"))
    s, p, _ = exits[min(i, len(exits) - 1)]
    dt = -math.log(1.0 - generator.random()) * mean
    return Step(start, s, p.process, p.product, dt, len(members))


def run_kmc(
    cat: Catalogue,
    start: int,
    generator: np.random.Generator,
    max_steps: int,
    flicker_barrier: float = 0.0,
) -> list[Step]:
    """KMC steps from ``start`` while the current state is searched enough, at most
    ``max_steps``; superbasins of flickers are left in one step each."""
    steps: list[Step] = []
    state = start
    while len(steps) < max_steps and cat.steppable(state):
        members = superbasin(cat, state, flicker_barrier)
        exits = basin_exits(cat, members, state)[1] if len(members) > 1 else []
        if len(members) > 1 and exits:
            step = basin_step(cat, members, state, generator)
        else:
            step = bkl_step(cat, state, generator)
        steps.append(step)
        state = step.product
    return steps


def search_targets(
    cat: Catalogue,
    start: int,
    generators: Iterable[np.random.Generator],
    max_steps: int = 50,
) -> list[int]:
    """One target state per generator: where a virtual walk from ``start`` over the known
    rates first meets a state not searched enough (``start`` itself when it is such a state;
    the walk's last state if it meets none in ``max_steps``)."""
    targets = []
    for generator in generators:
        state = start
        for _ in range(max_steps):
            if not cat.steppable(state):
                break
            state = bkl_step(cat, state, generator).product
        targets.append(state)
    return targets
