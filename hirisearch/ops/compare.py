"""Several models at several resolutions, side by side: the data behind ``hirisearch compare``.

Each cell is a full :class:`~hirisearch.ops.profile.ProfileResult`; a row adds the ratio of its GFLOPs to
the first model's at the same resolution and the grid of the last stage's output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hirisearch.ops.profile import ProfileResult, profile_sized
from hirisearch.targets import Size, SizedTarget, Target, resolve_all

if TYPE_CHECKING:
    from hirisearch.report.plots import ScalingSeries
    from hirisearch.train.config import TrainConfig


@dataclass(frozen=True)
class CompareRow:
    """One model at one resolution."""

    profile: ProfileResult
    ratio: float | None  # GFLOPs / the first model's GFLOPs at the same resolution
    out_grid: tuple[int, int] | None  # grid of the last stage's output


@dataclass(frozen=True)
class CompareResult:
    """Rows ordered model by model, each model's resolutions in the order asked."""

    kind: ClassVar[str] = "compare"

    rows: tuple[CompareRow, ...]

    def to_json(self) -> list[dict[str, Any]]:
        """The profile documents of every row (what ``compare --json`` prints)."""
        return [r.profile.to_json() for r in self.rows]

    @classmethod
    def run_document(cls, results: Sequence[CompareResult]) -> dict[str, Any]:
        """A ``compare`` run folder's fields: the profile document of every row."""
        return {"results": [row for c in results for row in c.to_json()]}

    @classmethod
    def run_name(cls, results: Sequence[CompareResult]) -> str:
        return "+".join(dict.fromkeys(r.profile.name for c in results for r in c.rows))

    def table(self) -> Any:
        """The comparison as the command line prints it: a view Jupyter shows as a table
        (``_repr_html_``), Rich renders (``__rich__``) and ``str()`` gives as text."""
        from hirisearch.report.terminal.notebook import compare_view

        return compare_view(self)

    def __rich__(self) -> Any:
        return self.table().__rich__()

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()  # type: ignore[no-any-return]

    def series(self) -> list[ScalingSeries]:
        """GFLOPs against resolution, one series per model (for the scaling plot)."""
        from hirisearch.report.plots import ScalingSeries

        by_model: dict[str, list[ProfileResult]] = {}
        for r in self.rows:
            by_model.setdefault(r.profile.spec, []).append(r.profile)
        return [
            ScalingSeries(
                name=ps[0].name,
                family=ps[0].family,
                img_sizes=tuple(p.img_size for p in ps),
                gmacs=tuple(p.gmacs for p in ps),
                params_m=tuple(p.params / 1e6 for p in ps),
            )
            for ps in by_model.values()
        ]


def compare(
    refs: Sequence[str],
    img_sizes: Sequence[int],
    *,
    traced: bool = True,
    convention: str = "ours",
    kwargs: Mapping[str, Any] | None = None,
    input_shape: Any = None,
    mode: str = "eval",
    train: TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
    task: str | None = None,
) -> CompareResult:
    """Profile every model in ``refs`` at every size in ``img_sizes`` (each model's own size when
    empty). Every model and size is checked before any is counted, so a bad input fails fast.

    ``convention`` is passed to :func:`~hirisearch.ops.profile.profile_sized` (``"fvcore"``: as
    fvcore counts); ``kwargs`` and ``input_shape`` go to the code targets among ``refs``
    (:func:`hirisearch.targets.resolve_all`); ``mode`` is the module mode of the count;
    ``train``: also cost a training step of every row (``profile.train``), its largest batch per
    memory in ``memories``; ``task``: every spec's backbone under that task preset's neck and
    head (:func:`hirisearch.targets.task.with_task`).
    """
    targets = resolve_all(refs, kwargs=kwargs, input_shape=input_shape)
    if task is not None:
        from hirisearch.targets.task import with_task

        targets = [with_task(t, task) for t in targets]
    return compare_targets(
        targets,
        img_sizes,
        traced=traced,
        convention=convention,
        mode=mode,
        train=train,
        memories=memories,
    )


def compare_targets(
    targets: Sequence[Target],
    img_sizes: Sequence[Size],
    *,
    traced: bool = True,
    convention: str = "ours",
    mode: str = "eval",
    custom_ops: Mapping[Any, Callable[..., int]] | None = None,
    train: TrainConfig | None = None,
    memories: Sequence[str | int] | None = None,
) -> CompareResult:
    """:func:`compare` over resolved targets (``custom_ops``: counts for operators the counter
    does not know, as :func:`~hirisearch.ops.profile.profile_sized` takes them)."""
    # every model and size is checked before any is counted
    sizes: Sequence[Size | None] = img_sizes or [None]  # none: each model's own
    sized: list[SizedTarget] = [t.at(size) for t in targets for size in sizes]
    options: dict[str, Any] = {
        "traced": traced,
        "convention": convention,
        "mode": mode,
        "custom_ops": custom_ops,
        "train": train,
        "memories": memories,
    }
    profiles = [profile_sized(s, **options) for s in sized]
    first = {p.img_size: p.macs for p in profiles if p.spec == targets[0].ref}
    rows = []
    for s, p in zip(sized, profiles, strict=True):
        base = first.get(p.img_size)
        ratio = p.macs / base if base else None
        rows.append(CompareRow(profile=p, ratio=ratio, out_grid=s.out_grid))
    return CompareResult(tuple(rows))
