"""The Python API: what the command line does, as functions that return typed results.

Every function takes a *target*: a spec file path, a mapping with the spec's fields, a loaded spec
(:func:`load_spec`), or ``"timm:<name>"``. Errors are :class:`~hirisearch.errors.HirisearchError`
subclasses with a one-line message (``e.one_line()``); nothing here prints or exits.

    >>> import hirisearch
    >>> r = hirisearch.profile("specs/s.yaml", img_size=448, trace=False)
    >>> round(r.gmacs, 3), r.params
    (4.965, 20684264)

torch is imported only by what needs a model: :func:`build`, a traced count (``trace=True``),
and targets without an analytic cost (``timm:``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hirisearch.errors import HirisearchError
from hirisearch.limits import TRACED_MODULE_LIMIT
from hirisearch.models.base import SpecBase
from hirisearch.spec import load_spec as _load_spec_file
from hirisearch.spec import parse_spec
from hirisearch.targets import Size, Target, resolve
from hirisearch.targets.spec import target_from_spec
from hirisearch.train.config import TrainConfig

if TYPE_CHECKING:
    from torch import nn

    from hirisearch.ops import Result
    from hirisearch.ops.compare import CompareResult
    from hirisearch.ops.profile import ProfileResult
    from hirisearch.ops.search.results import SearchResult
    from hirisearch.ops.sweep import SweepResult

TargetLike = str | os.PathLike[str] | Mapping[str, Any] | SpecBase | Target

__all__ = [
    "TargetLike",
    "as_target",
    "build",
    "compare",
    "load_spec",
    "profile",
    "save_run",
    "search",
    "sweep",
]


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> SpecBase:
    """A validated, frozen spec from a YAML file or from a mapping of its fields.

    Raises:
        SpecError: naming the file (or ``<mapping>``) and the field that is wrong.
    """
    if isinstance(source, Mapping):
        return parse_spec(dict(source), file="<mapping>")
    return _load_spec_file(source)


def as_target(target: TargetLike) -> Target:
    """The :class:`~hirisearch.targets.Target` behind any accepted form of target."""
    if isinstance(target, Target):
        return target
    if isinstance(target, SpecBase):
        return target_from_spec(target, target.name)
    if isinstance(target, Mapping):
        spec = load_spec(target)
        return target_from_spec(spec, spec.name)
    if isinstance(target, (str, os.PathLike)):
        return resolve(os.fspath(target))
    raise HirisearchError(
        "a target is a spec path, a mapping, a loaded spec or 'timm:<name>', "
        f"but got {type(target).__name__}"
    )


def profile(
    target: TargetLike,
    img_size: Size | None = None,
    *,
    batch: int = 1,
    trace: bool = True,
    depth: int = 1,
    counters: Sequence[str] = (),
    convention: str = "ours",
    trace_limit: int | None = TRACED_MODULE_LIMIT,
    train: bool | Mapping[str, Any] | TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
    measure: bool = False,
) -> ProfileResult:
    """Params, GMACs and the per-stage breakdown of ``target`` at ``img_size`` (default: its own;
    an int ``R`` is ``R x R``, a pair ``(height, width)``).

    ``result.to_dict()`` is exactly the document ``hirisearch profile --json`` prints.

    Args:
        batch: batch size; counts are for the whole batch.
        trace: also run the meta-device traced count and check it against the analytic cost.
        depth: 1 gives the stages; larger values add module rows down to that depth.
        counters: external cross-checks run eagerly (``fvcore``, ``thop``, ``ptflops``).
        convention: ``"ours"`` or a family's own counting path (``"piip"``).
        trace_limit: skip the traced count above this many modules (``None``: no limit).
        train: also cost a training step (``result.train``, as ``profile --train``): ``True``
            for the defaults at ``batch``, a :class:`~hirisearch.train.TrainConfig`, or a
            mapping of its fields (``{"dtype": "bf16", "checkpoint": "blocks"}``; ``batch``
            defaults to ``batch``).
        memories: device names or sizes for the largest-batch table (None: the default devices).
        measure: with ``train``, also measure a real step's peak memory (imports torch).
    """
    from hirisearch.ops.profile import profile_sized

    return profile_sized(
        as_target(target).at(img_size),
        batch=batch,
        depth=depth,
        traced=trace,
        counters=counters,
        convention=convention,
        trace_limit=trace_limit,
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
    targets: Sequence[TargetLike], img_sizes: Sequence[int] = (), *, trace: bool = True
) -> CompareResult:
    """Every target at every size (each target's own size when ``img_sizes`` is empty), with the
    ratio of each row's GMACs to the first target's at the same size."""
    from hirisearch.ops.compare import compare_targets

    return compare_targets([as_target(t) for t in targets], img_sizes, traced=trace)


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
