"""What a training step of one sized target costs: MACs of the forward and backward passes per
stage (analytic, and traced on the meta device), memory (analytic, simulated on the meta device,
measured with ``measure``) and the largest batch per memory. A target without an analytic training
twin (a timm, torchvision or user's model, a task model over a timm backbone, a spec whose layer
forms no twin models) is priced from the traced and simulated step alone
(:mod:`hirisearch.train.traced_cost`). A thin layer over :mod:`hirisearch.train`; presentation
lives in :mod:`hirisearch.report.terminal.train`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from hirisearch.errors import TrainError
from hirisearch.models import get_family
from hirisearch.targets import SizedTarget
from hirisearch.tasks.family import family_of
from hirisearch.tasks.model import TaskPlan
from hirisearch.tasks.train import missing_twin, train_family, train_tree
from hirisearch.train.config import TrainConfig
from hirisearch.train.cost import TrainCost, TrainModel
from hirisearch.train.devices import CUDA_RESERVE_BYTES, Memory, parse_memory
from hirisearch.train.policy import DeviceKind
from hirisearch.train.types import TrainMacs

if TYPE_CHECKING:
    from hirisearch.tasks.split import TrainSplit

__all__ = [
    "TrainBenchResult",
    "TrainProfile",
    "TrainRow",
    "bench_train",
    "no_twin",
    "train_model_of",
    "train_profile",
]

#: ``--memory`` when none is given: the devices of the "fits on" table.
DEFAULT_MEMORIES = ("l4", "a100-40gb", "l40s", "a100-80gb", "h100-80gb", "h200")
#: Where the figures of each basis come from (``TrainProfile.basis``).
BASES = {
    "analytic": {"macs": "analytic", "memory": "analytic", "max_batch": "analytic"},
    "traced": {"macs": "traced", "memory": "simulated", "max_batch": "simulated"},
}


@dataclass(frozen=True)
class TrainRow:
    """One stage (or module) of the breakdown: MACs of the whole batch, analytic and traced."""

    name: str
    path: str
    depth: int
    macs: TrainMacs
    macs_traced: TrainMacs | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "depth": self.depth,
            "macs": self.macs.to_json(),
            "macs_traced": None if self.macs_traced is None else self.macs_traced.to_json(),
        }


@dataclass(frozen=True)
class TrainProfile:
    """One training configuration of one sized target (what ``profile --train`` shows).

    ``cost``: the figures (whole batch; memory on one device), analytic or, on the ``traced``
    ``basis``, the traced and simulated step's; ``macs_traced``: the traced count of the whole
    batch (None with ``--no-trace``); ``peak_bytes_simulated``: the meta-device step's peak (None
    with ``--no-trace``); ``peak_bytes_measured``: a real step's (None without ``--measure``), by
    ``measure_method``; ``reserve_bytes``: what the largest batch leaves of each memory for the
    CUDA context and workspaces; ``max_batch_fit``: how the traced basis found the largest batch
    (None on the analytic basis, which solves its own lines).
    """

    kind: ClassVar[str] = "train"

    cost: TrainCost
    rows: tuple[TrainRow, ...]
    macs_traced: TrainMacs | None
    peak_bytes_simulated: int | None
    peak_bytes_measured: int | None
    measure_method: str | None
    reserve_bytes: int
    memories: dict[str, int]
    #: ``analytic`` (the training twin; traced and simulated figures check it) or ``traced``
    #: (no twin: MACs traced, memory and the largest batch simulated): :data:`BASES`.
    basis: str = "analytic"
    max_batch_fit: str | None = None

    @property
    def config(self) -> TrainConfig:
        return self.cost.config

    def to_json(self) -> dict[str, Any]:
        """The ``train`` object of ``profile --train --json``."""
        mem = self.cost.memory
        return {
            **self.config.to_json(),
            "basis": dict(BASES[self.basis]),
            "max_batch_fit": self.max_batch_fit,
            "macs": self.cost.macs.to_json(),
            "macs_traced": None if self.macs_traced is None else self.macs_traced.to_json(),
            "memory_bytes": {
                "params": mem.params,
                "grads": mem.grads,
                "optimizer": mem.optimizer,
                "activations": mem.activations,
                "buffers": mem.buffers,
                "input": mem.input,
                "peak": mem.peak,
                "peak_phase": mem.phase,
            },
            "peak_bytes_simulated": self.peak_bytes_simulated,
            "peak_bytes_measured": self.peak_bytes_measured,
            "measure_method": self.measure_method,
            "max_batch": dict(self.cost.max_batch),
            "memory_total_bytes": dict(self.memories),
            "reserve_bytes": self.reserve_bytes,
            "stages": [r.to_json() for r in self.rows],
        }


def train_model_of(sized: SizedTarget) -> TrainModel:
    """The analytic training model of ``sized`` (a spec target with a training twin, or a task
    model whose backbone and parts all have one)."""
    if sized.plan is None or sized.tree is None:
        raise TrainError(
            f"{sized.target.ref}: training cost needs a spec target with an analytic model"
        )
    if isinstance(sized.plan, TaskPlan):
        missing = missing_twin(sized.plan)
        if missing is not None:
            raise TrainError(
                f"{sized.target.ref}: {missing} has no training twin, so the training cost of "
                f"the task model {sized.plan.task} is not computed; drop --task for the backbone's"
            )
        return TrainModel.of(train_family(sized.plan), sized.plan, train_tree(sized.plan))
    return TrainModel.of(get_family(sized.target.family), sized.plan, sized.tree)


def no_twin(sized: SizedTarget) -> str | None:
    """Why ``sized`` has no analytic training twin (``"no analytic model"``, ``"the head fpn has
    no training twin"``, ``"... not modelled: windowed attention"``); None when it has one."""
    if sized.plan is None or sized.tree is None:
        return "no analytic model"
    if isinstance(sized.plan, TaskPlan):
        missing = missing_twin(sized.plan)
        if missing is not None:
            return f"{missing} has no training twin"
    try:
        train_model_of(sized).tape()  # a twin lacking a layer form says so as it runs
    except TrainError as e:
        return e.one_line().removeprefix(f"{sized.target.ref}: ")
    return None


def train_profile(
    sized: SizedTarget,
    config: TrainConfig,
    *,
    sections: Sequence[tuple[str, str, int]] = (),
    memories: Iterable[str | int] = DEFAULT_MEMORIES,
    traced: bool = True,
    measure: bool = False,
) -> TrainProfile:
    """The training cost of ``sized`` under ``config``: analytic where it has a training twin,
    else traced and simulated (:func:`no_twin`; :mod:`hirisearch.train.traced_cost`).

    Args:
        sections: (name, module path, depth) of the breakdown rows (the profile's stages and
            module rows).
        memories: device names or sizes for the largest-batch table (:func:`parse_memory`).
        traced: also trace forward and backward and simulate the step on the meta device (a
            target without a twin is priced by them: ``False`` is refused there).
        measure: also run a real step and measure its peak (imports torch): on the GPU when
            there is one, else on the CPU (then autocast and kernels as on the CPU).
    """
    why = no_twin(sized)
    mems = [parse_memory(m) for m in memories]
    if why is not None:
        return _traced_profile(sized, config, why, sections, mems, traced=traced, measure=measure)
    model = train_model_of(sized)
    cost = model.cost(config, mems)
    analytic = model.macs_per_path(config.checkpoint)
    units = model.units(config.checkpoint)
    traced_paths: dict[str, TrainMacs] | None = None
    simulated = None
    build = partial(family_of(sized.plan).build, sized.plan)
    if traced:
        from hirisearch.train.simulate import simulate_train_peak
        from hirisearch.train.trace import traced_train_macs

        traced_paths = traced_train_macs(build, sized.input_shape, checkpoint_units=units).per_path
        simulated = simulate_train_peak(build, sized.input_shape, config, checkpoint_units=units)
    measured = _measure(build, sized, config, units) if measure else None
    return TrainProfile(
        cost=cost,
        rows=_rows(sections, analytic, traced_paths, config.batch),
        macs_traced=None if traced_paths is None else traced_paths[""].scaled(config.batch),
        peak_bytes_simulated=None if simulated is None else simulated.peak,
        peak_bytes_measured=None if measured is None else measured.peak,
        measure_method=None if measured is None else f"{measured.device}: {measured.method}",
        reserve_bytes=CUDA_RESERVE_BYTES,
        memories={m.label: m.total for m in mems},
    )


def _rows(
    sections: Sequence[tuple[str, str, int]],
    macs: dict[str, TrainMacs],
    traced: dict[str, TrainMacs] | None,
    batch: int,
) -> tuple[TrainRow, ...]:
    """The breakdown rows: MACs per sample at each path (``macs``, ``traced``), of the batch."""
    return tuple(
        TrainRow(
            name,
            path,
            depth,
            macs.get(path, TrainMacs()).scaled(batch),
            None if traced is None else traced.get(path, TrainMacs()).scaled(batch),
        )
        for name, path, depth in sections
    )


def _measure(build: Any, sized: SizedTarget, config: TrainConfig, units: tuple[str, ...]) -> Any:
    """A real step's peak (:func:`~hirisearch.train.measure.measure_train_peak`), on the GPU
    when there is one."""
    import torch

    from hirisearch.train.measure import measure_train_peak

    kind: DeviceKind = "cuda" if torch.cuda.is_available() else "cpu"
    return measure_train_peak(
        build, sized.input_shape, replace(config, device=kind), checkpoint_units=units,
        device=kind,
    )  # fmt: skip


def _traced_profile(
    sized: SizedTarget,
    config: TrainConfig,
    why: str,
    sections: Sequence[tuple[str, str, int]],
    mems: list[Memory],
    *,
    traced: bool,
    measure: bool,
) -> TrainProfile:
    """The profile of a target without a training twin (``why``): the traced and simulated step
    (:func:`~hirisearch.train.traced_cost.simulated_train_cost`). What only a twin models
    (checkpointing, sharding), a step without the traced count and inputs other than one float
    tensor are refused in one line."""
    ref = sized.target.ref
    lead = f"{ref}: {why}, so its training cost is traced and simulated on the meta device"
    if not traced:
        raise TrainError(f"{lead}: drop --no-trace")
    if config.checkpoint != "none":
        raise TrainError(
            f"{lead}, which has no stages or blocks to checkpoint: use checkpoint none"
        )
    if config.shard > 1:
        raise TrainError(f"{lead}, on one device: sharding needs an analytic twin; use shard 1")
    spec = sized.input_spec
    if len(list(spec.tensors())) > 1 or spec.args[:1] != (spec.first,) or not spec.first.floating:
        raise TrainError(
            f"{ref}: a traced training step takes one floating-point input, but the inputs are "
            f"{', '.join(spec.describe())}"
        )
    from hirisearch.train.traced_cost import simulated_train_cost

    build = sized.build
    step = simulated_train_cost(build, sized.input_shape, config, mems, name=ref)
    measured = _measure(build, sized, config, ()) if measure else None
    return TrainProfile(
        cost=step.cost,
        rows=_rows(sections, step.per_path, step.per_path, config.batch),
        macs_traced=step.cost.macs,
        peak_bytes_simulated=step.simulated.peak,
        peak_bytes_measured=None if measured is None else measured.peak,
        measure_method=None if measured is None else f"{measured.device}: {measured.method}",
        reserve_bytes=CUDA_RESERVE_BYTES,
        memories={m.label: m.total for m in mems},
        basis="traced",
        max_batch_fit=step.fit,
    )


@dataclass(frozen=True)
class TrainBenchResult:
    """A timed training step (forward + backward + optimizer step) of one sized target: the
    timing (``bench --train``) and the analytic MACs of the step it timed; for a task model
    (``--task``), their backbone / neck / head split."""

    kind: ClassVar[str] = "train_bench"

    spec: str
    name: str
    img_size: int | tuple[int, int]
    timing: Any  # hirisearch.train.timing.TrainTiming
    macs: int
    task: TrainSplit | None = None

    @property
    def images_per_s(self) -> float:
        return self.timing.config.batch * 1e3 / self.timing.summary.median_ms

    @property
    def gmacs_per_s(self) -> float:
        return self.macs / 1e6 / self.timing.summary.median_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "spec": self.spec,
            "name": self.name,
            "img_size": self.img_size,
            **self.timing.to_json(),
            "train_macs": self.macs,
            "images_per_s": self.images_per_s,
            "gmacs_per_s": self.gmacs_per_s,
            **({} if self.task is None else {"task": self.task.to_json()}),
        }


def bench_train(
    sized: SizedTarget,
    config: TrainConfig,
    *,
    device: Any,
    threads: int | None = None,
    warmup_s: float = 0.5,
    min_time_s: float = 2.0,
    clock: str = "wall",
) -> TrainBenchResult:
    """Time training steps of ``sized`` under ``config`` on ``device`` (a ``torch.device``):
    :func:`hirisearch.train.timing.time_train_step`, checkpointed as ``config`` asks."""
    from hirisearch.train.timing import time_train_step

    model = train_model_of(sized)
    config = replace(config, device="cuda" if device.type == "cuda" else "cpu")
    try:
        timing = time_train_step(
            partial(family_of(sized.plan).build, sized.plan),
            sized.input_shape,
            config,
            device=device,
            checkpoint_units=model.units(config.checkpoint),
            threads=threads,
            warmup_s=warmup_s,
            min_time_s=min_time_s,
            clock=clock,
        )
    except ValueError as e:  # torch refuses the step, e.g. BatchNorm on one value per channel
        raise TrainError(
            f"{sized.target.ref}: torch refused the training step at batch {config.batch}: {e}"
        ) from None
    split = None
    if isinstance(sized.plan, TaskPlan):
        from hirisearch.tasks.split import train_split  # only a task model needs it

        per_path = model.macs_per_path(config.checkpoint)
        split = train_split(sized.plan, model.tree, per_path, batch=config.batch)
    return TrainBenchResult(
        spec=sized.target.ref,
        name=sized.target.name,
        img_size=sized.resolution,
        timing=timing,
        macs=model.cost(config).macs.total,
        task=split,
    )
