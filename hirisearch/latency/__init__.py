"""Latency: timing (:mod:`.timing`), measuring real forward passes (:mod:`.measure`), statistics
(:mod:`.stats`), devices and environment (:mod:`.device`), BatchNorm folding (:mod:`.fuse`), the
calibrated latency predictor's torch-free model (:mod:`.predict`) and its calibration
(:mod:`.calibration`, with :mod:`.microbench`, :mod:`.networks`, :mod:`.insitu` and :mod:`.fit`;
:mod:`.predictor` gathers their names). The analytic memory estimate lives in
:mod:`hirisearch.cost.memory`; :mod:`.device` refuses what cannot fit.

Names are imported on first use, so ``hirisearch.latency.predict`` loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "BenchOptions": "measure",
    "BenchResult": "result",
    "bench_target": "measure",
    "Calibration": "predict",
    "load_calibration": "predict",
    "predict_latency_ms": "predict",
    "calibrate": "calibration",
    "Summary": "stats",
    "summarize": "stats",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'hirisearch.latency' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hirisearch.latency.{module}"), name)
