"""The search vocabulary: every number a budget, an objective, the exact mode or the terminal
report names, defined once, in the unit its name states.

A :class:`Metric` has two forms of one definition:

- ``scalar(candidate, ctx)``: of one analytically evaluated candidate (trial strategies, budget
  checks, objective values, the base spec's row);
- ``vector(totals)``: of a candidate's summed totals (``params``, ``macs``, ``acts`` and
  ``latency_ms``): NumPy arrays of a chunk of configurations in exact mode
  (:meth:`hirisearch.ops.search.exact.Model.metrics`), plain numbers for a baseline. A metric
  without one (``img_size``, the slow ones) is refused by the exact strategy.

``tests/search/test_metrics.py`` checks that both forms agree on real candidates of several
families. A scaled name is a view of one quantity (``params_m`` is ``params`` in millions, as
budgets are usually written), computed from that quantity's definition.

The training metrics ``train_gmacs`` (forward + backward + recomputation, whole batch) and
``train_mem_gb`` (the analytic peak of one device, 10^9 bytes) cost the step the space file's
``train:`` block sets (batch, dtype, optimizer, checkpoint, shard; defaults: batch 1, fp32,
adamw, none, 1) with :mod:`hirisearch.train`, torch-free. Their vector forms read
``train_macs`` and ``train_peak``, which exact mode fills per configuration from the same
scalar model (:meth:`hirisearch.ops.search.exact.Model.metrics`). A task space's candidate (a
:class:`~hirisearch.tasks.model.TaskPlan`) trains as ``profile --task --train`` prices it: the
task model's training twin over its training tree (UperNet's auxiliary head runs);
:func:`check_train_twin` refuses a space whose model has no twin when it loads.

``latency_upper_ms`` is the upper end of the predicted latency's interval
(:mod:`hirisearch.latency.interval`) at the space's confidence (a ``latency_ms`` budget's
``confidence``, default 0.9): the prediction times the factor the calibration's error model of
the space's family gives at that coverage. The factor is one number per space, so the vector
form is the summed ``latency_ms`` times it (``latency_upper_factor``, which exact mode puts
beside the totals): the upper end of a sum over sections is the sum's prediction times the
factor, as the scalar form computes it for the whole candidate.

Slow metrics build the model and are computed for feasible candidates only: the training-free
proxies and ``latency_measured_ms``, the forward pass timed on the space's device. They may be
objectives, never budgets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hirisearch.errors import ObjectiveError, SpecError
from hirisearch.latency.interval import DEFAULT_COVERAGE
from hirisearch.models import get_family
from hirisearch.models.resolution import size_label, size_side
from hirisearch.ops.search.candidate import Candidate, evaluate
from hirisearch.ops.search.types import ProxySettings, SearchSpace
from hirisearch.tasks.family import family_of
from hirisearch.tasks.model import TaskPlan
from hirisearch.tasks.train import missing_twin, train_family, train_tree
from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainCost, TrainModel

#: The totals exact mode computes for the training metrics (not section sums: per configuration).
TRAIN_TOTALS = ("train_macs", "train_peak")
#: The metrics that read them.
TRAIN_METRICS = ("train_gmacs", "train_mem_gb")

#: A candidate's summed totals: ``params``, ``macs``, ``acts`` (integers) and ``latency_ms``
#: (with ``latency_upper_factor``, the space's interval factor, where latency is predicted).
Totals = Mapping[str, Any]
#: The metric a ``latency_ms`` budget with a ``confidence`` bounds.
LATENCY_UPPER = "latency_upper_ms"


@dataclass(frozen=True)
class EvalContext:
    """What metrics need beyond the candidate: the latency calibration (``latency_ms``), the
    proxies' input and seed, the device ``latency_measured_ms`` times on, the coverage of the
    predicted latency's interval (``latency_upper_ms``)."""

    calibration: Any = None  # a hirisearch.latency.predict.Calibration
    proxy: ProxySettings = field(default_factory=ProxySettings)
    seed: int = 0
    device: str = "cpu"
    train: TrainConfig = field(default_factory=TrainConfig)
    confidence: float = DEFAULT_COVERAGE

    @classmethod
    def of(cls, space: SearchSpace, calibration: Any = None) -> EvalContext:
        """The context of ``space`` (its proxy settings, seed, device, training step and
        latency confidence)."""
        return cls(
            calibration, space.proxy, space.seed, space.device, space.train, confidence_of(space)
        )


def confidence_of(space: SearchSpace) -> float:
    """The coverage of the space's latency intervals: its ``latency_upper_ms`` budget's
    confidence, else the default (0.9)."""
    return next((b.confidence for b in space.budgets if b.confidence is not None), DEFAULT_COVERAGE)


@dataclass(frozen=True)
class Metric:
    """A named number of a candidate (see the module docstring)."""

    name: str
    unit: str  # "" for a count
    title: str  # a table column's header, unit included
    scalar: Callable[[Candidate, EvalContext], float]
    vector: Callable[[Totals], Any] | None = None
    #: Builds the model (objectives of feasible candidates only; never a budget).
    slow: bool = False
    #: Reads the latency calibration of the space's device (``hirisearch calibrate``).
    needs_calibration: bool = False
    #: The quantity measured: this metric's own name, or the one it is a scaled view of.
    quantity: str = ""
    #: The summed total (``params``, ``macs``, ``acts``, ``latency_ms``) the vector form is a
    #: strictly increasing function of, which lets the section-wise front prune partial sums
    #: (:mod:`hirisearch.ops.search.sections`); None when it is not one.
    total: str | None = None

    def __post_init__(self) -> None:
        if not self.quantity:
            object.__setattr__(self, "quantity", self.name)

    def scaled(self, name: str, per: float, unit: str, title: str) -> Metric:
        """This quantity divided by ``per`` (the same operation in both forms)."""
        scalar, vector = self.scalar, self.vector
        return Metric(
            name,
            unit,
            title,
            lambda c, ctx: scalar(c, ctx) / per,
            None if vector is None else (lambda t: vector(t) / per),
            self.slow,
            self.needs_calibration,
            self.quantity,
            self.total,
        )


def _latency_ms(c: Candidate, ctx: EvalContext) -> float:
    from hirisearch.latency.predict import predict_latency_ms

    if ctx.calibration is None:  # the run loads it when a budget or objective reads latency
        raise SpecError("predicted latency needs a calibration; run `hirisearch calibrate`")
    if c.tree is None:
        raise SpecError("predicted latency of an invalid candidate")
    hit = c.memo.get("latency_ms")
    if hit is not None and hit[0] is ctx.calibration:
        return hit[1]
    family = c.spec.family if c.spec is not None else None
    value = predict_latency_ms(c.tree, ctx.calibration, family=family)
    c.memo["latency_ms"] = (ctx.calibration, value)
    return value


def latency_prediction(c: Candidate, ctx: EvalContext) -> Any:
    """The candidate's predicted latency with its interval at ``ctx.confidence`` (a
    :class:`hirisearch.latency.interval.Prediction`)."""
    from hirisearch.latency.predict import interval_of

    family = c.spec.family if c.spec is not None else None
    return interval_of(_latency_ms(c, ctx), ctx.calibration, family=family, coverage=ctx.confidence)


def latency_fields(
    cand: Candidate, ctx: EvalContext
) -> tuple[float | None, tuple[float, float] | None]:
    """A valid candidate's predicted latency and its interval at ``ctx.confidence`` (None, None
    without a calibration)."""
    if ctx.calibration is None:
        return None, None
    p = latency_prediction(cand, ctx)
    return p.ms, (p.low_ms, p.high_ms)


def upper_factor(calibration: Any, family: str | None, confidence: float) -> float:
    """The upper end of a prediction's interval as a factor of the prediction (1 without a
    calibration): the vector form's ``latency_upper_factor``."""
    if calibration is None:
        return 1.0
    from hirisearch.latency.predict import interval_of

    return interval_of(1.0, calibration, family=family, coverage=confidence).high_ms


#: How long ``latency_measured_ms`` times each candidate (seconds), after a short warm-up.
MEASURE_S = 0.5


def _measured_ms(c: Candidate, ctx: EvalContext) -> float:
    """Median forward latency (ms, batch 1, fp32) on the space's device, timed after a warm-up."""
    import torch

    from hirisearch.cost.memory import estimate_memory
    from hirisearch.latency.device import ensure_fits
    from hirisearch.latency.measure import BenchOptions, measure_forward, prepare_model

    if c.spec is None or c.plan is None or c.tree is None:
        raise ObjectiveError("latency_measured_ms of an invalid candidate")
    family = family_of(c.plan)
    device = torch.device(ctx.device)
    est = estimate_memory(c.tree, c.plan.input_shape, batch=1, dtype="fp32")
    what = f"timing {c.plan.name} at {size_label(c.plan.img_size)}"
    ensure_fits(est.total_bytes, ctx.device, what=what)
    opts = BenchOptions(device=device, warmup_s=0.1, min_time_s=MEASURE_S, min_runs=3)
    model, _ = prepare_model(family.build(c.plan), opts)
    x = torch.randn(1, *c.plan.input_shape, device=device)
    summary, _, _ = measure_forward(model, x, opts)
    return float(summary.median_ms)


def missing_train_twin(plan: Any) -> str | None:
    """What of the model ``plan`` has no training twin (``"the head toy-head"``), None when the
    training metrics can be computed: a task model's backbone dense form and parts
    (:func:`hirisearch.tasks.train.missing_twin`), a bare model's family."""
    if isinstance(plan, TaskPlan):
        return missing_twin(plan)
    return None if family_of(plan).train is not None else f"the {plan.family} family"


def train_cost_of(c: Candidate, config: TrainConfig) -> TrainCost:
    """The analytic training cost of ``c`` under ``config`` (kept in the candidate's memo): a
    task model's as ``profile --task --train`` gives it (its twin over its training tree)."""
    hit = c.memo.get("train")
    if hit is not None and hit[0] == config:
        return hit[1]
    if c.spec is None or c.plan is None or c.tree is None:
        raise ObjectiveError("training cost of an invalid candidate")
    missing = missing_train_twin(c.plan)
    if missing is not None:
        raise ObjectiveError(f"{missing} has no training twin: no training metrics")
    if isinstance(c.plan, TaskPlan):
        model = TrainModel.of(train_family(c.plan), c.plan, train_tree(c.plan))
    else:
        model = TrainModel.of(family_of(c.plan), c.plan, c.tree)
    cost = model.cost(config)
    c.memo["train"] = (config, cost)
    return cost


def check_train_twin(space: SearchSpace) -> None:
    """Refuse ``space`` when a budget or objective reads a training metric and its model (the
    base spec's, under the space's task) has no training twin: a :class:`SpecError` naming the
    first such field and what lacks the twin."""
    named = [(f"budgets.{b.metric}", b.metric) for b in space.budgets]
    named += [(f"objectives[{i}]", o.name) for i, o in enumerate(space.objectives)]
    where = next((w for w, name in named if name in TRAIN_METRICS), None)
    if where is None:
        return
    base = evaluate(space, {})
    missing = None if base.plan is None else missing_train_twin(base.plan)
    if missing is not None:
        model = space.family.title
        raise SpecError(
            f"{model}: {missing} has no training twin, so train_gmacs and train_mem_gb cannot be "
            "computed; drop them from the budgets and objectives",
            file=space.file,
            field=where,
        )


def train_totals(c: Candidate, config: TrainConfig) -> tuple[int, int]:
    """``train_macs`` and ``train_peak`` of ``c``: the totals the vector forms read."""
    cost = train_cost_of(c, config)
    return cost.macs.total, cost.memory.peak


def _proxy(name: str) -> Callable[[Candidate, EvalContext], float]:
    def value(c: Candidate, ctx: EvalContext) -> float:
        from hirisearch.ops.search import proxies  # torch: only when a proxy is computed

        if c.spec is None:
            raise ObjectiveError(f"proxy {name} of an invalid candidate")
        fn = getattr(proxies, name)
        family = family_of(c.plan) if c.plan is not None else get_family(c.spec.family)
        return float(fn(family, c.spec, ctx.proxy, seed=ctx.seed))

    return value


def _registry(*metrics: Metric) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for m in metrics:
        if m.name in out:
            raise ValueError(f"metric {m.name!r} is registered twice")
        out[m.name] = m
    return out


_PARAMS = Metric(
    "params", "", "params", lambda c, ctx: float(c.cost.params), lambda t: t["params"],
    total="params",
)  # fmt: skip
_ACTS = Metric(
    "activations", "", "activations", lambda c, ctx: float(c.cost.acts), lambda t: t["acts"],
    total="acts",
)  # fmt: skip

METRICS: dict[str, Metric] = _registry(
    _PARAMS,
    _PARAMS.scaled("params_m", 1e6, "M", "params (M)"),
    Metric(
        "gmacs",
        "GMACs",
        "GFLOPs",
        lambda c, ctx: c.cost.macs / 1e9,
        lambda t: t["macs"] / 1e9,
        total="macs",
    ),  # fmt: skip
    _ACTS,
    _ACTS.scaled("activations_m", 1e6, "M", "activations (M)"),
    Metric(
        "latency_ms",
        "ms",
        "predicted latency (ms)",
        _latency_ms,
        lambda t: t["latency_ms"],
        needs_calibration=True,
        total="latency_ms",
    ),
    Metric(
        LATENCY_UPPER,
        "ms",
        "latency upper end (ms)",
        lambda c, ctx: latency_prediction(c, ctx).high_ms,
        lambda t: t["latency_ms"] * t["latency_upper_factor"],
        needs_calibration=True,
        total="latency_ms",
    ),
    Metric(
        "train_gmacs",
        "GMACs",
        "training GFLOPs",
        lambda c, ctx: train_totals(c, ctx.train)[0] / 1e9,
        lambda t: t["train_macs"] / 1e9,
    ),
    Metric(
        "train_mem_gb",
        "GB",
        "training peak (GB)",
        lambda c, ctx: train_totals(c, ctx.train)[1] / 1e9,
        lambda t: t["train_peak"] / 1e9,
    ),
    # a non-square size counts as the side of the square of its area
    Metric("img_size", "px", "img_size", lambda c, ctx: float(size_side(c.plan.img_size))),
    Metric("latency_measured_ms", "ms", "measured latency (ms)", _measured_ms, slow=True),
    Metric("naswot", "", "NASWOT", _proxy("naswot"), slow=True),
    Metric("synflow", "log10", "SynFlow (log10)", _proxy("synflow"), slow=True),
)
#: The metrics a budget may bound: the analytic ones (a budget is checked on every candidate).
BUDGET_METRICS = tuple(name for name, m in METRICS.items() if not m.slow)


def budget_metric(name: str) -> Metric:
    """The metric a budget bounds; a :class:`SpecError` lists the valid names."""
    m = METRICS.get(name)
    if m is None:
        raise SpecError(f"unknown metric; valid: {', '.join(BUDGET_METRICS)}")
    if m.slow:
        raise SpecError(
            f"{name} builds the model, so it can be an objective but not a budget; budgets: "
            f"{', '.join(BUDGET_METRICS)}"
        )
    return m


def needs_calibration(space: SearchSpace) -> bool:
    """Whether a budget or objective of ``space`` is the predicted latency."""
    names = [b.metric for b in space.budgets] + [o.name for o in space.objectives]
    return any(n in METRICS and METRICS[n].needs_calibration for n in names)


def load_space_calibration(space: SearchSpace, path: Any = None) -> Any:
    """The calibration of the space's device (or the file ``path``); None when nothing needs it.

    Raises:
        CalibrationError: none stored; the message names the ``hirisearch calibrate`` command.
    """
    if path is None and not needs_calibration(space):
        return None
    from hirisearch.latency.predict import load_calibration

    return load_calibration(space.device, path)
