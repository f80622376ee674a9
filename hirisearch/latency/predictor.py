"""The calibrated latency predictor, in one namespace: latency from the analytic cost tree, without
running the model.

The parts live by role:

- :mod:`hirisearch.latency.predict` -- the torch-free model: operators read from the cost tree,
  the :class:`Calibration`, the prediction and its storage (all a search needs);
- :mod:`hirisearch.latency.microbench` -- the operator micro-benchmark tables;
- :mod:`hirisearch.latency.networks` -- whole calibration networks, contributed by each family;
- :mod:`hirisearch.latency.insitu` -- every module of a network timed where it runs;
- :mod:`hirisearch.latency.fit` -- the robust non-negative least-squares fits;
- :mod:`hirisearch.latency.calibration` -- timing it all on a device and fitting;
- :mod:`hirisearch.latency.timing` -- the timer every measurement uses.

The operator category is derived from the tree alone: a conv whose MACs per output element
(``(in_chs / groups) x k x k``) is at most :data:`DW_MAX_INTENSITY` is a low-intensity conv
(depth-wise 3x3 and 5x5), any other conv is dense.
"""

from __future__ import annotations

from hirisearch.latency.calibration import calibrate, default_micro_benchmarks
from hirisearch.latency.fit import (
    fit,
    fit_family_categories,
    fit_insitu,
    fit_network_scales,
    nnls,
    robust_nnls,
)
from hirisearch.latency.microbench import MicroBench, operator_benchmarks
from hirisearch.latency.networks import network_benchmarks
from hirisearch.latency.predict import (
    CACHE_ENV,
    CATEGORIES,
    DW_MAX_INTENSITY,
    Calibration,
    CalibrationError,
    Op,
    Sample,
    calibration_path,
    load_calibration,
    operator_count,
    predict_latency_ms,
    save_calibration,
    tree_ops,
)

__all__ = [
    "CACHE_ENV",
    "CATEGORIES",
    "DW_MAX_INTENSITY",
    "Calibration",
    "CalibrationError",
    "MicroBench",
    "Op",
    "Sample",
    "calibrate",
    "calibration_path",
    "default_micro_benchmarks",
    "fit",
    "fit_family_categories",
    "fit_insitu",
    "fit_network_scales",
    "load_calibration",
    "network_benchmarks",
    "nnls",
    "operator_benchmarks",
    "operator_count",
    "predict_latency_ms",
    "robust_nnls",
    "save_calibration",
    "tree_ops",
]
