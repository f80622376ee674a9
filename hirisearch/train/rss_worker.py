"""Worker process of :func:`hirisearch.train.measure.measure_train_peak` on the CPU: reads the
pickled job from stdin, measures one training step, writes the pickled result to stdout.

Started with ``MALLOC_MMAP_THRESHOLD_`` set (:mod:`hirisearch.train.measure` explains why)."""

from __future__ import annotations

import pickle
import sys

from hirisearch.train.measure import run_measured


def main() -> None:
    build, input_shape, config, units = pickle.loads(sys.stdin.buffer.read())
    result = run_measured(build, input_shape, config, units, "cpu")
    sys.stdout.buffer.write(pickle.dumps(result))


if __name__ == "__main__":
    main()
