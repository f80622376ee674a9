"""Running a search: the engine asks the space's strategy to run it, then writes the results.

A run folder holds one ``results.json`` and one ``results.csv`` (regenerated at the end of every
run, also after Ctrl-C), the reports, and ``pareto/*.yaml``, a ready spec per front
configuration. Each strategy owns its run path (:meth:`Strategy.run
<hirisearch.ops.search.strategies.Strategy.run>`): the trial strategies keep an Optuna study
(:mod:`hirisearch.ops.search.study_run`); ``strategy: exact`` sweeps the whole space and stores
no study (:mod:`hirisearch.ops.search.exact_run`).
"""

from __future__ import annotations

from pathlib import Path

from hirisearch.ops.search.metrics import EvalContext, load_space_calibration
from hirisearch.ops.search.options import Progress, ProgressFn, SearchOptions
from hirisearch.ops.search.results import SearchResult, finished
from hirisearch.ops.search.strategies import STRATEGIES
from hirisearch.ops.search.types import SearchError, SearchSpace

__all__ = ["Progress", "SearchError", "SearchOptions", "SearchResult", "run_search"]


def run_search(
    space: SearchSpace, opts: SearchOptions, *, progress: ProgressFn | None = None
) -> SearchResult:
    """Run (or resume) a search; the run folder is held exclusively while it runs. The result
    is not yet saved: :func:`hirisearch.report.run.save.save_run` writes its documents."""
    if opts.workers < 1:
        raise SearchError(f"--workers must be >= 1, but got {opts.workers}")
    if opts.gpus and len(opts.gpus) != opts.workers:
        raise SearchError(
            f"--gpus {','.join(opts.gpus)} starts one worker per listed device, but --workers is "
            f"{opts.workers}; leave --workers out or give --workers {len(opts.gpus)}"
        )
    check_code(space, opts.allow_code)
    ctx = EvalContext.of(space, load_space_calibration(space, opts.calibration))
    result, records = STRATEGIES[space.strategy].run(space, opts, ctx, progress)
    return finished(space, result, records, opts.baselines)


def check_code(space: SearchSpace, allow_code: bool) -> None:
    """Refuse a space whose objectives name code to import unless ``allow_code``; with it,
    import them now (one-line errors before any worker starts). Nothing is imported before."""
    code = space.code_objectives
    if not code:
        return
    if not allow_code:
        raise SearchError(
            f"{space.file}: the objectives name code to import ({', '.join(code)}); hirisearch "
            "runs code only when asked: add --allow-code if you trust it"
        )
    from hirisearch.errors import SpecError
    from hirisearch.ops.search.objectives import get_objective

    where = str(Path(space.file).resolve().parent)
    for i, o in enumerate(space.objectives):
        if o.name in code:
            try:
                get_objective(o.name, search_dir=where)
            except SpecError as e:
                raise SpecError(e.message, file=space.file, field=f"objectives[{i}]") from None
