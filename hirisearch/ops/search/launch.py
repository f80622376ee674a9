"""From the words of a search request (``hirisearch search`` or :func:`hirisearch.ops.search`) to a
run: the space with its overrides, the run folder (given, new, or the latest one to resume), the
options and the baselines' rows; and the dry run's document (the space's size and its corners).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hirisearch.models.resolution import size_label, size_side
from hirisearch.ops.search.options import SearchOptions
from hirisearch.ops.search.types import SearchError, SearchSpace


def load_search_space(
    files: Sequence[str],
    sizes: Sequence[int | tuple[int, int]] = (),
    *,
    max_gmacs: float | None = None,
) -> tuple[str, SearchSpace]:
    """The one space file among ``files`` and its space, with ``--max-gflops`` and ``--res``.

    A search runs at one input resolution (its study, run folder and front are those of that
    size), so more than one ``--res`` is refused rather than run one after another.
    """
    from hirisearch.ops.search.space import load_space

    if len(files) != 1:
        raise SearchError(
            f"expected one search-space file, but got {len(files)}: {', '.join(files)}"
        )
    if len(sizes) > 1:
        raise SearchError(
            f"--res: a search runs at one input resolution, but got {len(sizes)} "
            f"({', '.join(size_label(s) for s in sizes)}); run one search per resolution"
        )
    space = load_space(files[0]).with_overrides(
        max_gmacs=max_gmacs, img_size=sizes[0] if sizes else None
    )
    return files[0], space


def dry_run(space: SearchSpace, space_file: str) -> dict[str, Any]:
    """The space's size and its cheapest and most expensive corners (analytic cost only)."""
    from hirisearch.ops.search.results import corner

    return {
        "space": space_file,
        "size": space.size,
        "axes": len(space.axes),
        "cheapest": _corner_doc(corner(space, "low")),
        "most_expensive": _corner_doc(corner(space, "high")),
    }


def _corner_doc(c: Any) -> dict[str, Any]:
    return {
        "values": dict(c.values),
        "valid": c.valid,
        "error": c.error,
        "params": c.cost.params if c.valid else None,
        "macs": c.cost.macs if c.valid else None,
    }


def default_run_dir(space_file: str, root: str | Path = "reports") -> Path:
    """A new run folder: ``reports/<space>-<timestamp>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{Path(space_file).stem}-{stamp}"


def latest_run_dir(space_file: str, root: str | Path = "reports") -> Path | None:
    """The newest run folder of ``space_file`` that holds a study, if any."""
    runs = sorted(Path(root).glob(f"{Path(space_file).stem}-*"), key=lambda p: p.name)
    runs = [r for r in runs if (r / "study.journal").exists() or (r / "study.db").exists()]
    return runs[-1] if runs else None


def run_dir_for(
    space_file: str, *, out: str | os.PathLike[str] | None, resume: bool, storage: str | None
) -> Path:
    """``out`` if given; to resume, the latest run of the space (a shared ``storage`` may resume
    into a new folder); otherwise a new folder."""
    if out is not None:
        return Path(out)
    if not resume:
        return default_run_dir(space_file)
    found = latest_run_dir(space_file)
    if found is None and storage is None:
        raise SearchError(f"--resume: no earlier run of {space_file} under reports/; give --out")
    return found or default_run_dir(space_file)


def parse_gpus(raw: str | None) -> tuple[str, ...]:
    """``--gpus 0,1`` -> ("0", "1"): non-empty, distinct ids."""
    if raw is None:
        return ()
    ids = tuple(part.strip() for part in raw.split(","))
    if not all(ids) or len(set(ids)) != len(ids) or any(" " in i for i in ids):
        raise SearchError(
            f"--gpus must list distinct device ids separated by commas (e.g. 0,1,2,3), but got "
            f"{raw!r}"
        )
    return ids


def baseline_row(ref: str, space: SearchSpace) -> dict[str, Any]:
    """A baseline's cost at the space's input size (or its own, if it cannot take that size);
    in a task space, of the baseline under the space's task, as the candidates are."""
    from hirisearch.errors import ResolutionError, TrainError
    from hirisearch.ops.profile import profile_sized
    from hirisearch.ops.search.metrics import METRICS, TRAIN_METRICS
    from hirisearch.ops.train import train_model_of
    from hirisearch.targets import resolve

    target = resolve(ref)
    size = space.base.get("img_size")
    if space.task is not None:
        from hirisearch.targets.task import with_task

        target, size = with_task(target, space.task), space.task.img_size
    try:
        sized = target.at(size)
    except ResolutionError:
        sized = target.at()
    p = profile_sized(sized, traced=False)
    # A baseline is priced, not evaluated as a candidate: its metrics are the vector forms of its
    # totals (the predicted latency needs the space's calibration and is not computed).
    totals = {"params": p.params, "macs": p.macs, "acts": p.acts}
    try:  # the training metrics, where the baseline has a training twin
        cost = train_model_of(sized).cost(space.train)
        totals.update(train_macs=cost.macs.total, train_peak=cost.memory.peak)
    except TrainError:
        pass
    values = {
        name: m.vector(totals)
        for name, m in METRICS.items()
        if m.vector is not None
        and not m.needs_calibration
        and (name not in TRAIN_METRICS or "train_macs" in totals)
    }
    values["img_size"] = float(size_side(p.img_size))
    return {
        "name": p.name,
        "spec": ref,
        "img_size": p.img_size,
        "params": p.params,
        "macs": p.macs,
        "objectives": {o.name: values.get(o.name) for o in space.objectives},
    }


def search_options(
    space: SearchSpace,
    space_file: str,
    *,
    out: str | os.PathLike[str] | None = None,
    trials: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    resume: bool = False,
    workers: int | None = None,
    gpus: str | Sequence[str | int] | None = None,
    calibration: str | os.PathLike[str] | None = None,
    verify: bool = True,
    baselines: Sequence[str] = (),
    allow_code: bool = False,
    heartbeat_s: int | None = None,
) -> SearchOptions:
    """The options of a run, defaults filled: the run folder of :func:`run_dir_for`, the space's
    trial count, the space file's name as the study's, one worker per device in ``gpus`` (ids, or
    the text of ``--gpus``: "0,1"; no devices: one worker) and the baselines' rows
    (:func:`baseline_row`)."""
    run_dir = run_dir_for(space_file, out=out, resume=resume, storage=storage)
    devices = parse_gpus(gpus) if gpus is None or isinstance(gpus, str) else tuple(map(str, gpus))
    return SearchOptions(
        out=run_dir,
        trials=trials or space.trials,
        storage=storage,
        study=study or Path(space_file).stem,
        resume=resume,
        workers=workers or max(len(devices), 1),
        calibration=calibration,
        verify=verify,
        baselines=[baseline_row(ref, space) for ref in baselines],
        allow_code=allow_code,
        gpus=devices,
        heartbeat_s=heartbeat_s,
    )
