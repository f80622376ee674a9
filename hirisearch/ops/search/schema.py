"""The search-space file's schema: pydantic models of what a space file may say, before its base
spec is read (:func:`hirisearch.ops.search.space.parse_space` checks the rest against it).

Every problem becomes one :class:`SpecError` naming the file and the field path
(:func:`space_error`). An axis, a budget and an objective are named by their entry
(``axes.depths.3``, ``budgets.gmacs``, ``objectives[0]``): what is wrong inside one is said in the
message (```low` must be a finite number, but got 'a'``). Scalars are checked strictly (no
``true`` for a count, no ``"64"`` for a width, no NaN), each type with its own words.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from hirisearch.errors import FieldError, SpecError
from hirisearch.ops.search.metrics import budget_metric
from hirisearch.ops.search.objectives import check_objective
from hirisearch.ops.search.pruners import PrunerFile
from hirisearch.ops.search.strategies import STRATEGIES
from hirisearch.ops.search.types import (
    Axis,
    BudgetSpec,
    ExactMethod,
    ObjectiveSpec,
    ProxySettings,
)
from hirisearch.spec.load import _loc, _short, _split_path
from hirisearch.train.config import TrainConfig

#: Devices a space's predicted latency may be for (the calibration's device).
DEVICES = ("cpu", "cuda")


# ---------------------------------------------------------------------------------- scalars
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any, info: ValidationInfo) -> float:
    if not _is_number(v) or not math.isfinite(v):
        raise FieldError("", f"`{info.field_name}` must be a finite number, but got {_short(v)}")
    return v  # an int stays an int: integer ranges are told from float ranges by it


def _flag(v: Any, info: ValidationInfo) -> bool:
    if not isinstance(v, bool):
        raise FieldError("", f"`{info.field_name}` must be true or false, but got {_short(v)}")
    return v


def _int_in(low: int, high: int | None, words: str) -> Any:
    def check(v: Any) -> int:
        if not _is_number(v) or not isinstance(v, int) or v < low or (high and v > high):
            raise FieldError("", f"must be {words}, but got {_short(v)}")
        return v

    return PlainValidator(check)


def _choices(v: Any) -> tuple[Any, ...]:
    if not isinstance(v, list) or not v:
        raise FieldError("", f"`choices` must be a non-empty list, but got {_short(v)}")
    for c in v:
        if not isinstance(c, (bool, int, float, str)) or (isinstance(c, float) and math.isnan(c)):
            raise FieldError(
                "", f"choices must be numbers, strings or booleans, but got {_short(c)}"
            )
    if len({(type(c), c) for c in v}) != len(v):
        raise FieldError("", f"`choices` has duplicates: {_short(v)}")
    return tuple(v)


def _axis_path(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise FieldError("", f"axis names must be dotted paths, but got {_short(v)}")
    return v


def _metric(v: Any) -> str:
    try:
        budget_metric(v if isinstance(v, str) else "")
    except SpecError as e:
        raise FieldError("", e.message) from None
    return v


def _objective(v: Any) -> str:
    if not isinstance(v, str):
        raise FieldError("", f"expected an objective name, but got {_short(v)}")
    try:
        check_objective(v)
    except SpecError as e:
        raise FieldError("", e.message) from None
    return v


def _strategy(v: Any) -> str:
    if not isinstance(v, str) or v not in STRATEGIES:
        raise FieldError("", f"unknown strategy {_short(v)}; valid: {', '.join(STRATEGIES)}")
    return v


def _device(v: Any) -> str:
    if v not in DEVICES:
        raise FieldError("", f"expected one of {', '.join(DEVICES)}, but got {_short(v)}")
    return v


def _method(v: Any) -> str:
    if v not in typing.get_args(ExactMethod):
        raise FieldError(
            "", f"expected one of {', '.join(typing.get_args(ExactMethod))}, but got {_short(v)}"
        )
    return v


def _base(v: Any) -> str | dict[str, Any]:
    if not isinstance(v, (str, dict)):
        raise FieldError("", f"expected a spec path or mapping, but got {_short(v)}")
    return v


def _container(kind: type, words: str, *, empty: Any = None) -> BeforeValidator:
    """A non-empty mapping or list (``kind``); with ``empty``, a missing one (null, ``[]``, ...)
    stands for it."""

    def check(v: Any) -> Any:
        if not v and empty is not None:
            return empty
        if not isinstance(v, kind) or (empty is None and not v):
            raise FieldError("", f"expected {words}, but got {_short(v)}")
        return v

    return BeforeValidator(check)


#: A number written in the file (None: not written; a written null is refused).
FiniteNumber = Annotated[float | None, PlainValidator(_finite)]
POSITIVE = _int_in(1, None, "a positive integer")


# ---------------------------------------------------------------------------------- records
class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: What the entry looks like, for the error when it is not a mapping at all.
    expected: ClassVar[str] = "a mapping"


class AxisEntry(_Record):
    """``{choices: [...]}`` (or the list alone) or ``{low, high}`` with ``step`` and ``log``."""

    expected: ClassVar[str] = "a mapping with `choices` or `low`/`high`"
    choices: Annotated[tuple[Any, ...] | None, PlainValidator(_choices)] = None
    low: FiniteNumber = None
    high: FiniteNumber = None
    step: FiniteNumber | None = None  # a written null is no step
    log: Annotated[bool, PlainValidator(_flag)] = False

    @model_validator(mode="before")
    @classmethod
    def _list_is_choices(cls, data: Any) -> Any:
        return {"choices": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _range(self) -> AxisEntry:
        low, high, step = self.low, self.high, self.step
        if self.choices is not None:
            if self.model_fields_set - {"choices"}:
                raise FieldError("", "`choices` cannot be combined with low/high/step/log")
            return self
        if low is None or high is None:
            raise FieldError("", "expected `choices` or both `low` and `high`")
        if step is not None and step <= 0:
            raise FieldError("", f"`step > 0` must hold, but got step={step}")
        if not low <= high:
            raise FieldError(
                "", f"empty range: `low <= high` must hold, but got low={low}, high={high}"
            )
        if self.log and low <= 0:
            raise FieldError("", f"a log range needs `low > 0`, but got low={low}")
        if self.log and step is not None and not self.is_int:
            raise FieldError("", "a float range cannot have both `step` and `log`")
        if not self.is_int and step is not None and (high - low) / step > 1e6:
            raise FieldError("", f"range has more than 1e6 steps (step={step})")
        return self

    @property
    def is_int(self) -> bool:
        ints = isinstance(self.low, int) and isinstance(self.high, int)
        return ints and (self.step is None or isinstance(self.step, int))

    def axis(self, path: str) -> Axis:
        if self.choices is not None:
            return Axis(path, choices=self.choices)
        return Axis(path, self.choices, self.low, self.high, self.step, self.log, self.is_int)


class BudgetEntry(_Record):
    """``{max: X}``, ``{min: X}`` or both, in the metric's unit."""

    expected: ClassVar[str] = "a mapping with `max` and/or `min`"
    max: FiniteNumber = None
    min: FiniteNumber = None

    @model_validator(mode="after")
    def _bounds(self) -> BudgetEntry:
        if self.max is None and self.min is None:
            raise FieldError("", f"expected {self.expected}, but got {{}}")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise FieldError(
                "", f"empty budget: `min <= max` must hold, but got min={self.min}, max={self.max}"
            )
        return self


ObjectiveName = Annotated[str | None, PlainValidator(_objective)]


class ObjectiveEntry(_Record):
    """``minimize: NAME`` or ``maximize: NAME``."""

    expected: ClassVar[str] = "one `minimize: NAME` or `maximize: NAME`"
    minimize: ObjectiveName = None
    maximize: ObjectiveName = None

    @model_validator(mode="before")
    @classmethod
    def _one(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) != 1:
            raise FieldError("", f"expected {cls.expected}, but got {_short(data)}")
        return data

    def objective(self) -> ObjectiveSpec:
        if self.minimize is not None:
            return ObjectiveSpec(self.minimize, "minimize")
        return ObjectiveSpec(str(self.maximize), "maximize")


PROXY_INT = _int_in(1, 4096, "an integer in 1..4096")


class ProxyEntry(_Record):
    """The training-free proxies' random batch."""

    expected: ClassVar[str] = "a mapping with `img_size` and/or `batch`"
    img_size: Annotated[int | None, PROXY_INT] = ProxySettings.img_size
    batch: Annotated[int, PROXY_INT] = ProxySettings.batch


class ExactEntry(_Record):
    """``strategy: exact``'s options."""

    expected: ClassVar[str] = "a mapping with `method`"
    method: Annotated[ExactMethod, PlainValidator(_method)] = "auto"


class TrainEntry(_Record):
    """The training step the ``train_gmacs`` and ``train_mem_gb`` metrics cost."""

    expected: ClassVar[str] = "a mapping with `batch`, `dtype`, `optimizer`, `checkpoint`, `shard`"
    batch: Annotated[int, PROXY_INT] = 1
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    optimizer: Literal["adamw", "sgd", "none"] = "adamw"
    checkpoint: Literal["none", "stages", "blocks"] = "none"
    shard: Annotated[int, PROXY_INT] = 1

    def config(self) -> TrainConfig:
        return TrainConfig(self.batch, self.dtype, self.optimizer, self.checkpoint, self.shard)


def _task(v: Any) -> str:
    from hirisearch.tasks.presets import PRESETS

    if not isinstance(v, str) or v not in PRESETS:
        raise FieldError(
            "", f"must be a task preset ({', '.join(sorted(PRESETS))}), but got {_short(v)}"
        )
    return v


class SpaceFile(_Record):
    """A search-space file (see :mod:`hirisearch.ops.search.space` for an example)."""

    base: Annotated[str | dict[str, Any], PlainValidator(_base)] = Field(
        description="a spec path or mapping"
    )
    img_size: Annotated[int | None, POSITIVE] = None
    axes: Annotated[
        dict[Annotated[str, PlainValidator(_axis_path)], AxisEntry],
        _container(dict, "a non-empty mapping of dotted paths"),
    ] = Field(None, validate_default=True)  # missing: "expected ..., but got None"
    budgets: Annotated[
        dict[Annotated[str, PlainValidator(_metric)], BudgetEntry],
        _container(dict, "a mapping", empty={}),
    ] = {}
    objectives: Annotated[
        list[ObjectiveEntry],
        _container(list, "a non-empty list like [{minimize: params}]"),
    ] = Field(
        default_factory=lambda: [
            ObjectiveEntry(minimize="params"),
            ObjectiveEntry(minimize="gmacs"),
        ]
    )
    strategy: Annotated[str, PlainValidator(_strategy)] = "tpe"
    trials: Annotated[int, POSITIVE] = 100
    seed: Annotated[int, _int_in(0, None, "an integer >= 0")] = 0
    proxy: ProxyEntry | None = None
    device: Annotated[Literal["cpu", "cuda"], PlainValidator(_device)] = "cpu"
    pruner: PrunerFile | None = None
    exact: ExactEntry | None = None
    train: TrainEntry | None = None
    #: A task preset (``ade-upernet``): candidates are the base backbone under its neck and head.
    task: Annotated[str | None, PlainValidator(_task)] = None
    description: Any = None

    @model_validator(mode="after")
    def _objectives(self) -> SpaceFile:
        names = [o.objective().name for o in self.objectives]
        if len(set(names)) != len(names):
            raise FieldError("objectives", "an objective is listed twice")
        if self.exact is not None and self.strategy != "exact":
            raise FieldError(
                "exact", f"applies to `strategy: exact`, but the strategy is {self.strategy}"
            )
        if self.pruner is not None and self.pruner.name != "none" and len(self.objectives) != 1:
            raise FieldError(
                "pruner",
                f"pruner {self.pruner.name} needs exactly one objective (Optuna prunes "
                f"single-objective studies only), but the space has {len(self.objectives)}",
            )
        return self

    def budget_specs(self) -> tuple[BudgetSpec, ...]:
        return tuple(BudgetSpec(m, b.max, b.min) for m, b in self.budgets.items())

    def proxy_settings(self) -> ProxySettings:
        p = self.proxy or ProxyEntry()
        return ProxySettings(p.img_size, p.batch)


# ----------------------------------------------------------------------------------- errors
#: Collections whose entries are named by their key (what is wrong inside one is in the message).
_ENTRIES = ("axes", "budgets", "objectives")


def space_error(err: ValidationError, *, file: str) -> SpecError:
    """One line for the first problem of a space file: the file, the field path, the message."""
    first = err.errors(include_url=False)[0]
    loc: list[Any] = list(first["loc"])
    kind, value = first["type"], first.get("input")
    if loc[-1:] == ["[key]"]:  # a mapping's key is wrong: it names the field if it is text
        loc.pop()
        if not (isinstance(loc[-1], str) and loc[-1]):
            loc.pop()
    inner: list[Any] = []
    if loc and loc[0] in _ENTRIES and len(loc) > 2:
        loc, inner = loc[:2], loc[2:]
    ctx_err = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_err, FieldError):
        loc += _split_path(ctx_err.field) if ctx_err.field else []
        message = ctx_err.message
    elif kind in ("extra_forbidden", "invalid_key"):  # an entry's key is named in the message
        valid = ", ".join(_fields(_model_at(SpaceFile, loc if inner else loc[:-1])))
        named = f" {_short(inner[0])}" if inner else ""
        message = f"unknown key{named}; valid: {valid}"
        if not inner:
            loc[-1] = str(loc[-1])
    elif kind == "missing":
        info = _fields(_model_at(SpaceFile, loc[:-1])).get(str(loc[-1]))
        hint = f" ({info.description})" if info is not None and info.description else ""
        message = f"required field is missing{hint}"
    elif kind == "model_type":
        model = _model_at(SpaceFile, loc + inner)
        message = f"expected {getattr(model, 'expected', 'a mapping')}, but got {_short(value)}"
    else:  # not expected: every field above has its own words
        message = f"{first['msg']}, but got {_short(value)}"
    return SpecError(message, file=file, field=_loc(tuple(loc)) or None)


def _unwrap(annotation: Any) -> Any:
    """The type under ``Annotated[...]`` and ``X | None``."""
    while typing.get_origin(annotation) in (Annotated, Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _model_at(root: type[BaseModel], loc: list[Any]) -> Any:
    """The type at ``loc`` (fields, mapping keys, list indices) below ``root``."""
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin in (list, tuple):
            annotation = typing.get_args(annotation)[0]
        else:
            info = _fields(annotation).get(part)
            annotation = None if info is None else info.annotation
    return _unwrap(annotation)


def _fields(model: Any) -> dict[str, Any]:
    """The fields of a pydantic model (none of anything else)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return dict(model.model_fields)
    return {}
