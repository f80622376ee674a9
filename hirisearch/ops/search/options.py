"""The options of a search run besides its space, and the progress it reports.

:mod:`hirisearch.ops.search.launch` fills them from a request; :mod:`hirisearch.ops.search.run`
and the strategies' run paths (:mod:`~hirisearch.ops.search.study_run`,
:mod:`~hirisearch.ops.search.exact_run`) read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SearchOptions:
    """Everything about a run besides the space."""

    out: Path
    trials: int
    storage: str | None = None  # None: the run folder's journal file
    study: str = "search"
    resume: bool = False
    workers: int = 1
    calibration: Any = None  # a calibration file (default: the space's device's)
    verify: bool = True  # re-count the Pareto configurations with the traced counter
    baselines: list[dict[str, Any]] = field(default_factory=list)  # rows for the report
    #: Whether the space's ``module:function`` objectives may be imported (``--allow-code``).
    allow_code: bool = False
    #: One worker per device id, each with ``CUDA_VISIBLE_DEVICES`` set to it (``--gpus``).
    gpus: tuple[str, ...] = ()
    #: Heartbeat interval (seconds) on a shared database (``--heartbeat``; None: the default).
    heartbeat_s: int | None = None


@dataclass(frozen=True)
class Progress:
    """What the progress bar shows."""

    done: int
    total: int
    feasible: int
    best: str


ProgressFn = Callable[[Progress], None]
