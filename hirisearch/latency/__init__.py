"""Latency: measuring real forward passes (:mod:`.measure`), statistics (:mod:`.stats`), devices and
environment (:mod:`.device`), BatchNorm folding (:mod:`.fuse`) and the calibrated latency predictor
(:mod:`.predictor`). Memory estimates live in :mod:`hirisearch.memory`."""

from hirisearch.latency.measure import BenchOptions, BenchResult, bench_target
from hirisearch.latency.predictor import (
    Calibration,
    calibrate,
    load_calibration,
    predict_latency_ms,
)
from hirisearch.latency.stats import Summary, summarize

__all__ = [
    "BenchOptions",
    "BenchResult",
    "bench_target",
    "Calibration",
    "calibrate",
    "load_calibration",
    "predict_latency_ms",
    "Summary",
    "summarize",
]
