"""Reading spec files safely and turning every problem into one-line :class:`SpecError`\\ s."""

from __future__ import annotations

import functools
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ValidationError

from hirisearch.errors import FieldError, SpecError
from hirisearch.limits import MAX_WIDTH
from hirisearch.models import FAMILIES
from hirisearch.models.base import SpecBase
from hirisearch.specs import locate

#: Spec files larger than this are refused before they are read (a spec is a few hundred bytes).
MAX_SPEC_BYTES = 256 * 1024
#: YAML alias references allowed in one document (refuses "billion laughs" expansion).
MAX_ALIASES = 64
#: Nesting depth allowed in one document.
MAX_DEPTH = 32
#: YAML nodes (scalars, lists, mappings, alias uses) allowed in one document. A spec has a few
#: hundred; with aliases bounded too, the constructed document is at most this many values.
MAX_NODES = 5_000
#: Characters allowed in one scalar (a spec's longest value is its description).
MAX_SCALAR_CHARS = 10_000


class _Refused(yaml.MarkedYAMLError):
    """A well-formed document the loader refuses (a bound or a duplicate key)."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python object construction) with bounded alias use, nesting, node
    count and scalar length, and duplicate mapping keys refused (plain PyYAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise yaml.YAMLError(f"more than {MAX_NODES} YAML nodes (a spec has a few hundred)")
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} alias references (alias expansion is bounded)"
                )
        elif self.check_event(yaml.ScalarEvent):
            event = self.peek_event()
            if len(event.value) > MAX_SCALAR_CHARS:
                raise _Refused(
                    problem=f"a value of {len(event.value)} characters, more than the "
                    f"{MAX_SCALAR_CHARS}-character limit",
                    problem_mark=event.start_mark,
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"nesting deeper than {MAX_DEPTH} levels",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # ``<<: *base`` then overriding a merged key is fine
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key; the base class reports it
                    continue
                if first is not key_node:
                    raise _Refused(
                        problem=f"duplicate key {_short(key)} (first at line "
                        f"{first.start_mark.line + 1})",
                        problem_mark=key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike[str], *, max_bytes: int = MAX_SPEC_BYTES) -> Any:
    """Read one YAML document from ``path`` with the bounds above; errors name the file."""
    name = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise SpecError("file not found", file=name) from None
    except OSError as e:
        raise SpecError(f"cannot read file ({e.strerror})", file=name) from None
    if p.is_dir():
        raise SpecError("is a directory, expected a YAML file", file=name)
    if size > max_bytes:
        raise SpecError(
            f"file is {size} bytes, larger than the {max_bytes}-byte limit for specs", file=name
        )
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read file ({e.strerror})", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(
            f"not UTF-8 text (byte {e.start}), expected a YAML file", file=name
        ) from None
    if not text.strip():
        raise SpecError("file is empty, expected a YAML mapping", file=name)
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        if isinstance(e, _Refused):
            raise SpecError(f"{where}{e.problem}", file=name) from None
        if isinstance(e, yaml.constructor.ConstructorError) and "tag" in str(e.problem):
            raise SpecError(
                f"{where}YAML tag not allowed ({e.problem}); a spec is plain data: mappings, "
                "lists, strings, numbers and booleans",
                file=name,
            ) from None
        raise SpecError(f"YAML syntax error: {where}{e.problem or e}", file=name) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML error: {e}", file=name) from None
    except RecursionError:
        raise SpecError(f"nesting deeper than {MAX_DEPTH} levels", file=name) from None


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def spec_error_from(
    err: ValidationError, *, file: str | None, prefix: tuple[Any, ...] = ()
) -> SpecError:
    """One line for the first problem in a pydantic ``ValidationError`` (and how many more)."""
    errors = err.errors(include_url=False)
    first = errors[0]
    ctx_err = (first.get("ctx") or {}).get("error")
    loc = tuple(first["loc"])
    field: str | None
    if isinstance(ctx_err, FieldError):
        field = _loc(prefix + loc + tuple(_split_path(ctx_err.field)))
        message = ctx_err.message
    else:
        field = _loc(prefix + loc) or None
        kind = first["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required field is missing"
        else:
            message = first["msg"]
            if "input" in first and kind not in ("union_tag_invalid",):
                message += f", but got {_short(first['input'])}"
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more)"
    return SpecError(message, file=file, field=field)


def _split_path(path: str) -> list[Any]:
    parts: list[Any] = []
    for chunk in path.replace("]", "").split("."):
        name, *idx = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in idx)
    return parts


_NUMBER_WORDS = {int: "an integer", float: "a number"}


def _kind(annotation: Any) -> Any:
    """What the strict pre-check expects for a field annotation: ``int``, ``float``, ``bool``,
    ``("seq", kind)``, ``("model", cls)``, ``("either", kind, seq)`` (one value or a list of
    them: per-block values), or None (left to pydantic alone)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 2 and typing.get_origin(args[1]) is tuple:  # one value, or a list
            return ("either", _kind(args[0]), _kind(args[1]))
        return _kind(args[0]) if len(args) == 1 else None
    if annotation in (bool, int, float):
        return annotation
    if origin in (tuple, list, frozenset, set):
        items = typing.get_args(annotation)
        if origin is tuple and not (len(items) == 2 and items[1] is Ellipsis):
            return None
        return ("seq", _kind(items[0])) if items else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    if origin is Literal:
        return None
    return None


def _check_values(value: Any, kind: Any, loc: tuple[Any, ...], file: str | None) -> None:
    """Refuse what pydantic's lax mode would quietly coerce or accept: ``true`` for a count,
    ``"64"`` for a width, ``1`` for a flag, and NaN or infinity anywhere."""
    if type(kind) is tuple and kind[0] == "either":
        kind = kind[2] if isinstance(value, (list, tuple)) else kind[1]
    t = type(value)
    # Plain leaves first (exact types: this runs for every value of every spec validated).
    if t is int:
        if -MAX_WIDTH <= value <= MAX_WIDTH and kind is not bool:
            return
    elif t is float:
        if math.isfinite(value) and kind is not bool:
            return
    elif t is str or t is bool:
        if kind is not int and kind is not float and (kind is not bool or t is bool):
            return
    elif isinstance(value, (int, float, str)):  # subclasses (numpy scalars, enums)
        pass
    else:
        if kind is bool:
            _refuse_leaf(value, kind, loc, file)
        if type(kind) is tuple:
            if kind[0] == "seq" and isinstance(value, (list, tuple)):
                item = kind[1]
                for i, v in enumerate(value):
                    _check_values(v, item, (*loc, i), file)
                return
            if kind[0] == "model" and isinstance(value, dict):
                _check_mapping(value, kind[1], loc, file)
                return
        if isinstance(value, dict):
            for k, v in value.items():
                _check_values(v, None, (*loc, k), file)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                _check_values(v, None, (*loc, i), file)
        return
    _refuse_leaf(value, kind, loc, file)


def _refuse_leaf(value: Any, kind: Any, loc: tuple[Any, ...], file: str | None) -> None:
    """Raise for a scalar leaf the pre-check refuses (returns when it is acceptable)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"must be a finite number, but got {value}", file=file, field=_loc(loc))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        # Every count in a spec is far below this; larger ones overflow float conversions.
        raise SpecError(
            f"must be <= {MAX_WIDTH} (and >= -{MAX_WIDTH}), but got {_short(value)}",
            file=file,
            field=_loc(loc),
        )
    if kind in (int, float) and isinstance(value, (bool, str)):
        what = "a boolean" if isinstance(value, bool) else "a string"
        raise SpecError(
            f"expected {_NUMBER_WORDS[kind]}, but got {what} {_short(value)}",
            file=file,
            field=_loc(loc),
        )
    if kind is bool and not isinstance(value, bool):
        raise SpecError(
            f"expected true or false, but got {_short(value)}", file=file, field=_loc(loc)
        )


@functools.cache
def _field_kinds(model: type[BaseModel]) -> dict[str, Any]:
    return {name: _kind(info.annotation) for name, info in model.model_fields.items()}


def _check_mapping(
    data: dict[Any, Any], model: type[BaseModel], loc: tuple[Any, ...], file: str | None
) -> None:
    kinds = _field_kinds(model)
    for key, value in data.items():
        kind = kinds.get(key) if isinstance(key, str) else None
        _check_values(value, kind, (*loc, key), file)


def parse_spec(data: Any, *, file: str | None = None) -> SpecBase:
    """Validate a mapping as a spec of the family it names."""
    if data is None:
        raise SpecError("file has no YAML content (only comments?), expected a mapping", file=file)
    if not isinstance(data, dict):
        raise SpecError(
            f"expected a YAML mapping at the top level, but got a {type(data).__name__}", file=file
        )
    family = data.get("family")
    if family is None:
        raise SpecError(
            f"required field is missing; valid families: {', '.join(sorted(FAMILIES))}",
            file=file,
            field="family",
        )
    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError(
            f"unknown family {_short(family)}; valid: {', '.join(sorted(FAMILIES))}",
            file=file,
            field="family",
        )
    spec_type = FAMILIES[family].spec_type
    _check_mapping(data, spec_type, (), file)
    try:
        return spec_type.model_validate(data)
    except ValidationError as e:
        raise spec_error_from(e, file=file) from None


def load_spec(path: str | os.PathLike[str]) -> SpecBase:
    """Read and validate the spec file at ``path``, or the shipped spec it names (``swin/t``)."""
    located = locate(path)
    if not located.exists() and not Path(path).suffix:
        raise SpecError(
            "no such file, and no shipped spec of that name (`hirisearch list` shows them)",
            file=str(path),
        )
    return parse_spec(read_yaml(located), file=str(path))
