"""Search strategies: one Optuna sampler per name, built the same way.

Lifecycle (shared by every strategy): ``make_sampler(space, constraints_func)`` is called once per
worker process; the sampler proposes axis values for each trial; budgets reach constrained samplers
through ``constraints_func`` (values <= 0 are feasible), which reads the constraint values the
search stored on the trial. Samplers without constraint support (random, grid) still see infeasible
trials, which the Pareto front ignores.

``grid`` is also the exhaustive mode: :func:`hirisearch.search.run.run_search` evaluates every
configuration's analytic cost directly (no per-trial Optuna overhead) and records the results.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial

from hirisearch.search.space import Axis, SearchSpace

ConstraintsFunc = Callable[[FrozenTrial], Sequence[float]]


def distribution(axis: Axis) -> BaseDistribution:
    """The Optuna distribution of one axis."""
    if axis.choices is not None:
        return CategoricalDistribution(axis.choices)
    assert axis.low is not None and axis.high is not None
    if axis.is_int:
        step = 1 if axis.log else int(axis.step or 1)
        return IntDistribution(int(axis.low), int(axis.high), log=axis.log, step=step)
    return FloatDistribution(float(axis.low), float(axis.high), log=axis.log, step=axis.step)


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    return {a.path: distribution(a) for a in space.axes}


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    uses_constraints: bool
    make: Callable[[SearchSpace, int, ConstraintsFunc], optuna.samplers.BaseSampler]


def _grid(space: SearchSpace, seed: int, cf: ConstraintsFunc) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler({a.path: list(a.values()) for a in space.axes}, seed=seed)


def _random(space: SearchSpace, seed: int, cf: ConstraintsFunc) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _tpe(space: SearchSpace, seed: int, cf: ConstraintsFunc) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(
        seed=seed, constraints_func=cf, multivariate=True, n_startup_trials=20
    )


def _nsga2(space: SearchSpace, seed: int, cf: ConstraintsFunc) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=cf)


STRATEGIES: dict[str, Strategy] = {
    "grid": Strategy("grid", "every configuration (exhaustive, exact front)", False, _grid),
    "random": Strategy("random", "uniform random sampling", False, _random),
    "tpe": Strategy("tpe", "tree-structured Parzen estimator, constrained", True, _tpe),
    "nsga2": Strategy("nsga2", "NSGA-II genetic search, constrained", True, _nsga2),
}


def make_sampler(
    space: SearchSpace, cf: ConstraintsFunc, *, seed: int | None = None
) -> optuna.samplers.BaseSampler:
    """The sampler of ``space.strategy``; ``seed`` defaults to the space's.

    Optuna 5 deprecates ``constraints_func`` in favour of ``Trial.set_constraint``, which costs a
    storage read and write per constraint per trial; the search keeps ``constraints_func`` (the
    values travel in the trial's one user attribute) and silences that warning.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return STRATEGIES[space.strategy].make(space, space.seed if seed is None else seed, cf)
