r"""Search strategies: one base class, one small class per strategy, one registry.

Lifecycle of every strategy (:func:`hirisearch.ops.search.run.run_search` drives it):

1. ``check(space)`` when the space file is read: refuse what the strategy cannot search (an
   infinite axis for ``grid`` and ``exact``, a metric without a vector form for ``exact``) with a
   :class:`SpecError` naming the field.
2. ``trials(space, requested)``: how many trials the run holds (``grid``: every configuration).
3. ``run(space, opts, ctx, progress)``: the run path, holding the run folder; returns the result
   and its records, which the engine writes. Trial strategies share one
   (:mod:`hirisearch.ops.search.study_run`): ``sampler(space, seed)`` is called once per worker
   process and returns a public Optuna sampler; the engine (:mod:`hirisearch.ops.search.engine`)
   asks it for a trial, evaluates the configuration and tells the result, with the budgets
   recorded by ``Trial.set_constraint`` (values <= 0 are feasible), which the constrained
   samplers (TPE, NSGA-II, GP) read back. Samplers without constraint support (random, grid)
   still record them, so ``study.best_trials`` is the constrained front for every strategy.
   ``exact`` has its own (:mod:`hirisearch.ops.search.exact_run`): no sampler, the whole space
   as arrays (:mod:`hirisearch.ops.search.exact`), and the front.

Nothing here imports Optuna at module level: reading a space must not. The run paths are
:class:`~hirisearch.lazy.LazyCallable`\ s, imported when a run starts.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from hirisearch.errors import SpecError
from hirisearch.lazy import LazyCallable
from hirisearch.ops.search.types import Axis, SearchSpace

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler

    from hirisearch.ops.search.metrics import EvalContext
    from hirisearch.ops.search.options import ProgressFn, SearchOptions
    from hirisearch.ops.search.results import SearchResult, TrialRecord

#: The run paths: an Optuna study of trials, and exact mode's sweep.
RUN_STUDY = LazyCallable("hirisearch.ops.search.study_run", "run_study")
RUN_EXACT = LazyCallable("hirisearch.ops.search.exact_run", "run_exact")

#: ``grid`` runs one trial per configuration; above this many, ``exact`` is the way.
GRID_MAX = 200_000


def distribution(axis: Axis) -> BaseDistribution:
    """The Optuna distribution of one axis."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if axis.choices is not None:
        return CategoricalDistribution(axis.choices)
    if axis.low is None or axis.high is None:  # cannot happen: an axis without choices is a range
        raise SpecError("a range needs both `low` and `high`", field=axis.field)
    if axis.is_int:
        step = 1 if axis.log else int(axis.step or 1)
        return IntDistribution(int(axis.low), int(axis.high), log=axis.log, step=step)
    return FloatDistribution(float(axis.low), float(axis.high), log=axis.log, step=axis.step)


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    return {a.path: distribution(a) for a in space.axes}


class Strategy:
    """A way of choosing configurations (see the module docstring for the lifecycle)."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: Whether every configuration is evaluated (the run's front is then the exact front).
    exhaustive: ClassVar[bool] = False
    #: Whether every axis must have finitely many values.
    finite_axes: ClassVar[bool] = False

    def check(self, space: SearchSpace) -> None:
        """Refuse a space this strategy cannot search (a :class:`SpecError` naming the field)."""
        if self.finite_axes:
            for a in space.axes:
                if not a.finite:
                    raise SpecError(
                        f"strategy {self.name} needs finite axes: give `step` or `choices`",
                        file=space.file,
                        field=a.field,
                    )

    def trials(self, space: SearchSpace, requested: int) -> int:
        """The number of finished trials the run holds."""
        return requested

    def sampler(self, space: SearchSpace, seed: int) -> BaseSampler:
        """A fresh Optuna sampler (trial strategies only)."""
        raise NotImplementedError(f"strategy {self.name} has no sampler")

    def run(
        self,
        space: SearchSpace,
        opts: SearchOptions,
        ctx: EvalContext,
        progress: ProgressFn | None = None,
    ) -> tuple[SearchResult, list[TrialRecord]]:
        """Run (or resume) a search of ``space`` in ``opts.out``: an Optuna study of trials."""
        return RUN_STUDY(space, opts, ctx, progress)


class Grid(Strategy):
    name = "grid"
    description = "every configuration as a trial (small spaces; see exact for large ones)"
    finite_axes = True
    exhaustive = True

    def check(self, space: SearchSpace) -> None:
        super().check(space)
        if space.size > GRID_MAX:
            raise SpecError(
                f"grid runs one trial per configuration and this space has {int(space.size):,} "
                f"(more than {GRID_MAX:,}); use `strategy: exact`, which evaluates the whole "
                "space as arrays",
                file=space.file,
                field="strategy",
            )

    def trials(self, space: SearchSpace, requested: int) -> int:
        return int(space.size)

    def sampler(self, space: SearchSpace, seed: int) -> BaseSampler:
        import optuna

        grid = {a.path: list(a.values()) for a in space.axes}
        return optuna.samplers.GridSampler(grid, seed=seed)


class Random(Strategy):
    name = "random"
    description = "uniform random sampling"

    def sampler(self, space: SearchSpace, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.RandomSampler(seed=seed)


class TPE(Strategy):
    name = "tpe"
    description = "tree-structured Parzen estimator, constrained"

    def sampler(self, space: SearchSpace, seed: int) -> BaseSampler:
        import optuna

        with warnings.catch_warnings():  # ``multivariate`` is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=20)


class NSGA2(Strategy):
    name = "nsga2"
    description = "NSGA-II genetic search, constrained"

    def sampler(self, space: SearchSpace, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.NSGAIISampler(seed=seed)


class GP(Strategy):
    name = "gp"
    description = "Gaussian-process Bayesian optimisation, constrained (slow per trial)"

    def sampler(self, space: SearchSpace, seed: int) -> BaseSampler:
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.GPSampler(seed=seed)


class Exact(Strategy):
    name = "exact"
    description = "the whole space as arrays: the exact constrained front (analytic metrics)"
    exhaustive = True
    finite_axes = True

    def trials(self, space: SearchSpace, requested: int) -> int:
        return int(space.size)

    def run(
        self,
        space: SearchSpace,
        opts: SearchOptions,
        ctx: EvalContext,
        progress: ProgressFn | None = None,
    ) -> tuple[SearchResult, list[TrialRecord]]:
        """Sweep the whole space: its exact constrained front, with the counts."""
        return RUN_EXACT(space, opts, ctx, progress)

    def check(self, space: SearchSpace) -> None:
        super().check(space)
        from hirisearch.ops.search.metrics import METRICS

        swept = ", ".join(n for n, m in METRICS.items() if m.vector is not None)
        named = [(f"objectives[{i}]", o.name) for i, o in enumerate(space.objectives)]
        named += [(f"budgets.{b.metric}", b.metric) for b in space.budgets]
        for where, name in named:
            metric = METRICS.get(name)
            if metric is None or metric.vector is None:
                raise SpecError(
                    f"strategy exact evaluates analytic metrics only ({swept}), but got "
                    f"{name!r}; use tpe or nsga2 for slow objectives",
                    file=space.file,
                    field=where,
                )


def _registry(*strategies: type[Strategy]) -> dict[str, Strategy]:
    out: dict[str, Strategy] = {}
    for cls in strategies:
        if cls.name in out:
            raise ValueError(f"strategy {cls.name!r} is registered twice")
        out[cls.name] = cls()
    return out


STRATEGIES: dict[str, Strategy] = _registry(Grid, Random, TPE, NSGA2, GP, Exact)


def make_sampler(space: SearchSpace, *, seed: int | None = None) -> Any:
    """The sampler of ``space.strategy``; ``seed`` defaults to the space's."""
    return STRATEGIES[space.strategy].sampler(space, space.seed if seed is None else seed)
