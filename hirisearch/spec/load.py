"""Reading spec files safely and turning every problem into one-line :class:`SpecError`\\ s."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hirisearch.errors import FieldError, SpecError
from hirisearch.models import FAMILIES
from hirisearch.models.base import SpecBase

#: Spec files larger than this are refused before they are read (a spec is a few hundred bytes).
MAX_SPEC_BYTES = 1 << 20
#: YAML alias references allowed in one document (refuses "billion laughs" expansion).
MAX_ALIASES = 64
#: Nesting depth allowed in one document.
MAX_DEPTH = 32


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python object construction) with bounded alias use and nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} alias references (alias expansion is bounded)"
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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


def parse_spec(data: Any, *, file: str | None = None) -> SpecBase:
    """Validate a mapping as a spec of the family it names."""
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
    try:
        return FAMILIES[family].spec_type.model_validate(data)
    except ValidationError as e:
        raise spec_error_from(e, file=file) from None


def load_spec(path: str | os.PathLike[str]) -> SpecBase:
    """Read and validate the spec file at ``path``."""
    return parse_spec(read_yaml(path), file=str(path))
