"""The Python API: what the command line does, as functions that return typed results.

Every function takes a *target*: a spec file path or shipped name, a mapping with the spec's
fields, a loaded spec (:func:`load_spec`), ``"timm:<name>"``, ``"torchvision:<name>"``, a factory
(``"module:callable"``, ``"file.py:callable"``), or an ``nn.Module`` object with the inputs it is
called with (``inputs=`` a tensor, a tuple of them or a dict of keyword arguments, or
``input_shape=``). Errors are :class:`~hirisearch.errors.HirisearchError` subclasses with a
one-line message (``e.one_line()``); nothing here prints or exits.

    >>> import hirisearch
    >>> r = hirisearch.profile("specs/s.yaml", img_size=448, trace=False)
    >>> round(r.gmacs, 3), r.params
    (4.965, 20684264)

torch is imported only by what needs a model: :func:`build`, a traced count (``trace=True``),
and targets without an analytic cost (``timm:``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hirisearch.cost.custom_ops import register_op_count, unregister_op_count
from hirisearch.errors import HirisearchError
from hirisearch.limits import TRACED_MODULE_LIMIT
from hirisearch.models.base import SpecBase
from hirisearch.spec import load_spec as _load_spec_file
from hirisearch.spec import parse_spec
from hirisearch.targets import KINDS, Size, Target, resolve
from hirisearch.targets.spec import target_from_spec
from hirisearch.train.config import TrainConfig

if TYPE_CHECKING:
    from torch import nn

    from hirisearch.latency.result import BenchResult
    from hirisearch.ops import Result
    from hirisearch.ops.compare import CompareResult
    from hirisearch.ops.profile import ProfileResult
    from hirisearch.ops.search.results import SearchResult
    from hirisearch.ops.sweep import SweepResult

#: What the functions take as a model (an ``nn.Module`` object too, with its inputs).
TargetLike = str | os.PathLike[str] | Mapping[str, Any] | SpecBase | Target | Any
#: A count for an operator the counter does not know: ``fn(*shapes, out_shape=...) -> MACs``.
OpCount = Callable[..., int]

#: Every form of target, as a refusal lists them.
ACCEPTED = (
    "a spec path or shipped name, a mapping of a spec's fields, a loaded spec, 'timm:<name>', "
    "'torchvision:<name>', 'module:callable', 'file.py:callable', a Target, or a torch.nn.Module "
    "with inputs= or input_shape="
)

__all__ = [
    "ACCEPTED",
    "TargetLike",
    "as_target",
    "bench",
    "build",
    "compare",
    "load_spec",
    "profile",
    "register_op_count",
    "save_run",
    "search",
    "sweep",
    "unregister_op_count",
]


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> SpecBase:
    """A validated, frozen spec from a YAML file or from a mapping of its fields.

    Raises:
        SpecError: naming the file (or ``<mapping>``) and the field that is wrong.
    """
    if isinstance(source, Mapping):
        return parse_spec(dict(source), file="<mapping>")
    return _load_spec_file(source)


def _is_module(obj: Any) -> bool:
    """Whether ``obj`` is an ``nn.Module`` (without importing torch: one cannot exist before)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def as_target(target: TargetLike, *, inputs: Any = None, input_shape: Any = None) -> Target:
    """The :class:`~hirisearch.targets.Target` behind any accepted form of target.

    Args:
        inputs: what a model object (or a factory's model) is called with: a tensor, a tuple of
            positional arguments or a dict of keyword arguments; their batch is the first
            tensor's leading size.
        input_shape: instead of ``inputs``, one sample's shape of any rank (``(3, 224, 224)``,
            ``(77,)``) or one per positional input (``[(3, 224, 224), "int64:77"]``).

    Raises:
        HirisearchError: anything else, in one line listing what is accepted.
    """
    if _is_module(target):
        src = KINDS["module"].source(target, inputs=inputs, input_shape=input_shape)
        return Target(src.ref, src)  # type: ignore[attr-defined]
    if inputs is not None or input_shape is not None:
        if not isinstance(target, (str, os.PathLike)):
            raise HirisearchError(
                "inputs and input_shape apply to nn.Module objects and code targets, "
                f"but the target is {type(target).__name__}"
            )
        from hirisearch.targets.inputs import from_example

        spec = from_example(inputs) if inputs is not None else input_shape
        return resolve(os.fspath(target), input_shape=spec)
    if isinstance(target, Target):
        return target
    if isinstance(target, SpecBase):
        return target_from_spec(target, target.name)
    if isinstance(target, Mapping):
        spec = load_spec(target)
        return target_from_spec(spec, spec.name)
    if isinstance(target, (str, os.PathLike)):
        return resolve(os.fspath(target))
    raise HirisearchError(f"a target is {ACCEPTED}, but got {type(target).__name__}")


def profile(
    target: TargetLike,
    img_size: Size | None = None,
    *,
    inputs: Any = None,
    input_shape: Any = None,
    batch: int = 1,
    trace: bool = True,
    depth: int = 1,
    counters: Sequence[str] = (),
    convention: str = "ours",
    mode: str = "eval",
    custom_ops: Mapping[Any, OpCount] | None = None,
    trace_limit: int | None = TRACED_MODULE_LIMIT,
    train: bool | Mapping[str, Any] | TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
    measure: bool = False,
    task: str | None = None,
) -> ProfileResult:
    """Params, GMACs and the per-stage breakdown of ``target`` at ``img_size`` (default: its own;
    an int ``R`` is ``R x R``, a pair ``(height, width)``).

    ``result.to_dict()`` is exactly the document ``hirisearch profile --json`` prints;
    ``result.table(depth=2)`` is the table it prints, with modules down to ``depth`` (Jupyter
    shows a result as that table).

    Args:
        inputs: for an ``nn.Module`` (or a factory): what it is called with (see
            :func:`as_target`); counts are for them, batch included.
        input_shape: instead of ``inputs``, one sample's shape (or one per input).
        batch: batch size; counts are for the whole batch (inputs given as shapes).
        trace: also run the meta-device traced count and check it against the analytic cost.
        depth: 1 gives the stages; larger values add module rows down to that depth.
        counters: external cross-checks run eagerly (``fvcore``, ``thop``, ``ptflops``).
        convention: ``"ours"``, ``"fvcore"`` or a family's own counting path (``"piip"``).
        mode: ``"eval"`` (inference) or ``"train"``: the module mode the model is counted in
            (BatchNorm on batch statistics, as fvcore counts it); the model keeps its own.
        custom_ops: counts for operators the counter does not know, ``{op: fn}`` (see
            :func:`register_op_count`).
        trace_limit: skip the traced count above this many modules (``None``: no limit).
        train: also cost a training step (``result.train``, as ``profile --train``): ``True``
            for the defaults at ``batch``, a :class:`~hirisearch.train.TrainConfig`, or a
            mapping of its fields (``{"dtype": "bf16", "checkpoint": "blocks"}``; ``batch``
            defaults to ``batch``).
        memories: device names or sizes for the largest-batch table (None: the default devices).
        measure: with ``train``, also measure a real step's peak memory (imports torch).
        task: a task preset (``"ade-upernet"``): the spec's backbone in dense form under the
            preset's neck and head, at the preset's size unless ``img_size`` is given;
            ``result.task`` splits the cost into backbone / neck / head.
    """
    from hirisearch.ops.profile import profile_sized

    resolved = as_target(target, inputs=inputs, input_shape=input_shape)
    if task is not None:
        from hirisearch.targets.task import with_task

        resolved = with_task(resolved, task)
    return profile_sized(
        resolved.at(img_size),
        batch=batch,
        depth=depth,
        traced=trace,
        counters=counters,
        convention=convention,
        trace_limit=trace_limit,
        mode=mode,
        custom_ops=custom_ops,
        train=_train_config(train, batch),
        memories=memories,
        measure=measure,
    )


def _train_config(
    train: bool | Mapping[str, Any] | TrainConfig | None, batch: int
) -> TrainConfig | None:
    if train is None or train is False:
        return None
    if isinstance(train, TrainConfig):
        return train
    if train is True:
        return TrainConfig(batch=batch)
    if isinstance(train, Mapping):
        unknown = sorted(set(train) - set(TrainConfig.__dataclass_fields__))
        if unknown:
            raise HirisearchError(
                f"unknown training fields {unknown}; valid: {', '.join(TrainConfig.__dataclass_fields__)}"
            )
        return TrainConfig(**{"batch": batch, **train})
    raise HirisearchError(
        f"train is True, a TrainConfig or a mapping of its fields, but got {type(train).__name__}"
    )


def compare(
    targets: Sequence[TargetLike],
    img_sizes: Sequence[int] = (),
    *,
    inputs: Any = None,
    input_shape: Any = None,
    trace: bool = True,
    convention: str = "ours",
    mode: str = "eval",
    custom_ops: Mapping[Any, OpCount] | None = None,
) -> CompareResult:
    """Every target at every size (each target's own size when ``img_sizes`` is empty), with the
    ratio of each row's GMACs to the first target's at the same size. ``inputs`` and
    ``input_shape`` go to the model objects and factories among ``targets``; the other options
    are :func:`profile`'s."""
    from hirisearch.ops.compare import compare_targets

    resolved = [_target_among(t, inputs, input_shape) for t in targets]
    return compare_targets(
        resolved,
        img_sizes,
        traced=trace,
        convention=convention,
        mode=mode,
        custom_ops=custom_ops,
    )


def bench(
    targets: TargetLike | Sequence[TargetLike],
    img_sizes: Sequence[int] = (),
    *,
    inputs: Any = None,
    input_shape: Any = None,
    batches: Sequence[int] | None = None,
    device: str = "auto",
    dtype: str = "fp32",
    min_time_s: float = 2.0,
    warmup_s: float = 0.5,
    threads: int | None = None,
    fuse: bool = True,
    force: bool = False,
) -> tuple[BenchResult, ...]:
    """Measured latency of every target at every size (its own when ``img_sizes`` is empty) for
    every batch, as ``hirisearch bench`` measures it: one ``BenchResult`` each (``save_run``
    writes their run folder).

    Args:
        inputs, input_shape: as :func:`profile` takes them (model objects and factories).
        batches: batch sizes (default ``(1,)``; example inputs are measured at their own batch).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:i]``.
        dtype: ``fp32``, or ``bf16`` / ``fp16`` autocast.
        fuse: fold inference BatchNorm into the preceding convolution (on a copy of the model).
        force: run configurations the memory estimate refuses.
    """
    from hirisearch.latency.device import resolve_device
    from hirisearch.latency.measure import BenchOptions
    from hirisearch.ops.bench import bench_targets

    items: list[Any] = (
        list(targets)
        if isinstance(targets, Sequence) and not isinstance(targets, str)
        else [targets]
    )
    resolved = [_target_among(t, inputs, input_shape) for t in items]
    sizes: list[int | None] = [*img_sizes] or [None]
    if batches is None:  # example inputs are measured at their own batch
        own = {t.at(s).input_spec.own_batch for t in resolved for s in sizes}
        batches = [b for b in own if b is not None] if len(own) == 1 else []
        batches = batches or [1]
    opts = BenchOptions(
        device=resolve_device(device), dtype=dtype, threads=threads, fuse=fuse,
        warmup_s=warmup_s, min_time_s=min_time_s,
    )  # fmt: skip
    return tuple(bench_targets(resolved, sizes, list(batches), opts, force=force))


def _target_among(target: TargetLike, inputs: Any, input_shape: Any) -> Target:
    """``target``, with ``inputs``/``input_shape`` where it takes them (model objects and code
    targets; the others are resolved without them)."""
    if inputs is None and input_shape is None:
        return as_target(target)
    if _is_module(target):
        return as_target(target, inputs=inputs, input_shape=input_shape)
    if isinstance(target, (str, os.PathLike)) and KINDS.kind_of(os.fspath(target)).takes_options:
        return as_target(target, inputs=inputs, input_shape=input_shape)
    return as_target(target)


def sweep(
    targets: Sequence[TargetLike], img_sizes: Sequence[int], *, batch: int = 1
) -> SweepResult:
    """Params and MACs of every target at every size it takes (``result.to_json()`` is the
    ``sweep --json`` document)."""
    from hirisearch.ops.sweep import sweep_targets

    return sweep_targets([as_target(t) for t in targets], img_sizes, batch=batch)


def save_run(
    results: Result | Sequence[Result],
    folder: str | os.PathLike[str] | None = None,
    *,
    figures: bool = True,
) -> Path:
    """Write the run folder of what :func:`profile`, :func:`compare`, :func:`sweep` or
    :func:`search` returned (or of several profiles), as the command line writes it:
    ``results.json``, ``results.csv``, ``report.md`` and, with ``figures``, the plots and
    ``report.html``. Returns the folder (default: a new ``reports/<timestamp>-<name>``)."""
    from hirisearch.report.run.save import save_run as save

    return save(results, folder, figures=figures).dir


def build(
    target: TargetLike,
    img_size: Size | None = None,
    *,
    device: Any = None,
    dtype: Any = None,
) -> nn.Module:
    """The ``nn.Module`` of ``target`` at ``img_size``, randomly initialised (``device="meta"``
    builds it without memory)."""
    return as_target(target).at(img_size).build(device=device, dtype=dtype)


def search(
    space: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    trials: int | None = None,
    resume: bool = False,
    storage: str | None = None,
    workers: int | None = None,
    verify: bool = True,
    allow_code: bool = False,
    gpus: Sequence[str | int] = (),
    calibration: str | os.PathLike[str] | None = None,
) -> SearchResult:
    """Run (or, with ``resume``, continue) the search a space file describes; its run folder
    holds the study, ``results.json`` and the reports, as ``hirisearch search`` writes them
    (:func:`save_run`; ``result.report`` is the report's page).

    Args:
        out: the run folder (default: a new ``reports/<space name>-<timestamp>``, also with
            ``resume``).
        trials: override the space file's trial count.
        storage: an Optuna storage URL shared by several machines (default: a file in ``out``).
        workers: worker processes on this machine (default: 1, or one per ``gpus`` device).
        verify: re-count the Pareto configurations with the traced counter (imports torch).
        allow_code: import and run the code the space's ``module:function`` objectives name
            (refused otherwise, before anything is imported).
        gpus: device ids: one worker process per device, with ``CUDA_VISIBLE_DEVICES`` set.
        calibration: the latency calibration file for ``latency_ms`` budgets and objectives
            (default: the one ``hirisearch calibrate`` stored for the space's device).
    """
    from hirisearch.ops.search.launch import default_run_dir, search_options
    from hirisearch.ops.search.run import run_search
    from hirisearch.ops.search.space import load_space
    from hirisearch.report.run.save import save_run as save_run_files

    sp = load_space(space)
    opts = search_options(
        sp,
        os.fspath(space),
        out=out if out is not None else default_run_dir(os.fspath(space)),
        trials=trials,
        storage=storage,
        resume=resume,
        workers=workers,
        gpus=gpus,
        calibration=calibration,
        verify=verify,
        allow_code=allow_code,
    )
    result = run_search(sp, opts)
    files = save_run_files(result, result.run_dir)
    return replace(result, report=str(files.html))
