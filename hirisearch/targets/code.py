"""Models defined by code the user names: ``module.path:callable`` and
``path/to/file.py:callable`` (:class:`CodeModel` is also the source of ``torchvision:<name>``, see
:mod:`hirisearch.targets.torchvision`).

Naming the code is what runs it: the module (or file) named on the command line is imported when
the target is resolved, and nothing else is. A factory is called with the keyword arguments the
user gave (``--kwargs``), plus ``img_size`` when its signature takes one and the user did not set
it (an int ``R`` for a square size, ``(height, width)`` for another). It returns an ``nn.Module``, or a pair ``(module, example_inputs)`` whose inputs are what the
model is called with: a tensor, a tuple of positional arguments or a dict of keyword arguments
(:func:`hirisearch.targets.inputs.from_example`; the batch is their first tensor's leading size).
Without example inputs the model takes one tensor of ``(batch, *input_shape)``: ``3 x R x R`` at
resolution ``R`` (``3 x H x W`` at ``H x W``), or what ``--input-shape`` says (several inputs, any rank, a dtype each: see
:func:`hirisearch.targets.inputs.parse_input_shape` and :meth:`CodeModel.at`). These targets have
no analytic model: they are counted by the traced counter on the ``meta`` device (eager fallback
announced), and a factory or forward that fails is one line naming the target.

This module imports no torch at import time; building does.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hirisearch.errors import FactoryError, HirisearchError, ResolutionError, UnknownModelError
from hirisearch.models.base import Convention
from hirisearch.models.resolution import Hw, Size, size_label
from hirisearch.targets.core import SizedTarget, Target
from hirisearch.targets.inputs import InputSpec, Instance, from_example, materialise

if TYPE_CHECKING:
    from torch import nn

#: The resolution of a factory target when none is given (``--res``) and no ``--input-shape``.
DEFAULT_IMG_SIZE = 224

#: Exceptions a build on the ``meta`` device may raise because of the device alone; they are left
#: to the traced counter, which retries eagerly on the CPU (and reports that it did).
META_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, NotImplementedError)

_KWARG_START = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_]*\s*=)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def first_line(e: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters)."""
    lines = str(e).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(e).__name__}: {text}"[:200] if text else type(e).__name__


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``"depth=12,act=gelu,dims=[64,128]"`` -> ``{"depth": 12, "act": "gelu", "dims": [64, 128]}``.

    Values are read as YAML (``12`` an int, ``0.5`` a float, ``true`` a bool, ``null`` None,
    ``[1,2]`` a list, anything else a string). A comma starts a new pair only where ``name=``
    follows it, so list values may hold commas.

    Raises:
        HirisearchError: a pair without ``=``, a name that is not an identifier, a repeated name,
            or a value that is not valid YAML.
    """
    if text is None or not text.strip():
        return {}
    import yaml

    out: dict[str, Any] = {}
    for pair in _KWARG_START.split(text.strip()):
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not _IDENTIFIER.fullmatch(name):
            raise HirisearchError(
                f"--kwargs: expected key=value pairs separated by commas, but got {pair!r}"
            )
        if name in out:
            raise HirisearchError(f"--kwargs: {name!r} is given twice")
        try:
            out[name] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or "not valid YAML"
            raise HirisearchError(f"--kwargs: {name}={raw!r}: {problem}") from None
    return out


@dataclass(frozen=True)
class CodeModel:
    """A model built by a callable: the source of factory and ``torchvision:`` targets.

    ``make(img_size, kwargs)`` returns the module (on the current default device), told the
    resolution (an int ``R`` for ``R x R``, else ``(height, width)``) where the callable takes it,
    or a pair ``(module, example inputs)`` where ``example_inputs`` is set (user factories).
    """

    ref: str
    name: str
    family: str
    make: Callable[[Size, dict[str, Any]], Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    inputs: InputSpec | None = None  # --input-shape
    default_size: int = DEFAULT_IMG_SIZE
    #: The factory may return example inputs with the model (asked once per size on ``meta``).
    example_inputs: bool = False
    #: The model takes square sizes only (a non-square one is refused in one line).
    square_only: bool = False
    _probed: dict[Hw, InputSpec | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def conventions(self) -> tuple[Convention, ...]:
        return ()

    def at(self, target: Target, img_size: tuple[int, int] | None) -> SizedTarget:
        """The inputs at ``H x W`` (the default size ``R x R`` without a size): ``3 x H x W``;
        the factory's example inputs for that size when it returns some; with
        ``--input-shape``, those inputs, the first one's last two sizes set to ``H x W`` when
        they differ (so ``--res`` and no ``--res`` agree)."""
        if img_size is not None and self.square_only and img_size[0] != img_size[1]:
            raise ResolutionError(
                f"{self.ref} takes square input sizes only, but got {size_label(img_size)}",
                field="img_size",
            )
        spec = self.inputs
        if spec is not None:
            if img_size is not None and img_size != spec.img_size:
                spec = spec.resized(img_size, what=self.ref)
            return SizedTarget(
                target, img_size=spec.img_size, input_shape=spec.sample_shape, inputs=spec
            )
        hw = img_size if img_size is not None else (self.default_size, self.default_size)
        example = self._example(hw) if self.example_inputs else None
        if example is not None:
            return SizedTarget(
                target, img_size=example.img_size, input_shape=example.sample_shape, inputs=example
            )
        return SizedTarget(target, img_size=hw, input_shape=(3, *hw))

    def out_grid(self, sized: SizedTarget) -> tuple[int, int] | None:
        return None  # unknown without running the model

    def build(self, sized: SizedTarget, *, device: Any = None, dtype: Any = None) -> nn.Module:
        """Call the factory; a failure is one line naming the target.

        On the ``meta`` device a ``RuntimeError`` or ``NotImplementedError`` is left to the traced
        counter, which retries on the CPU (code that reads tensor values cannot run on meta).
        """
        return self._made(sized, device=device, dtype=dtype)[0]

    def instance(self, sized: SizedTarget, *, device: Any = None, batch: int = 1) -> Instance:
        """The model and its inputs on ``device``: the factory's own example inputs when it
        returned them (moved there), else made from the target's input spec."""
        model, example = self._made(sized, device=device)
        spec = sized.input_spec
        if example is not None and spec.batched:
            spec = from_example(example)
        args, kwargs = materialise(spec, device or "cpu", batch=batch)
        return Instance(model, args, kwargs)

    def _made(
        self, sized: SizedTarget, *, device: Any = None, dtype: Any = None
    ) -> tuple[nn.Module, Any]:
        from torch import nn

        try:
            made = self.make(_size_arg(sized.img_size), dict(self.kwargs))
        except META_ERRORS as e:
            if str(device) == "meta":
                raise
            raise FactoryError(f"{self.ref}: building the model failed: {first_line(e)}") from None
        except HirisearchError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's code: any failure is one line
            raise FactoryError(f"{self.ref}: building the model failed: {first_line(e)}") from None
        model, example = _split(made) if self.example_inputs else (made, None)
        if not isinstance(model, nn.Module):
            raise FactoryError(
                f"{self.ref}: the factory returned {type(made).__name__}, not a torch.nn.Module "
                "(or a pair of a module and its example inputs)"
            )
        if device is not None:
            model = model.to(device)
        return (model if dtype is None else model.to(dtype)), example

    def _example(self, hw: Hw) -> InputSpec | None:
        """The spec of the example inputs the factory returns at ``hw`` (``None``: it returns
        a bare module, or it fails, which building reports). Asked on ``meta`` first, then on
        the CPU for code that cannot build there; once per size."""
        side = _size_arg(hw)
        if hw not in self._probed:
            from hirisearch.cost.meta import MetaBuild

            try:
                with MetaBuild():
                    made = self.make(side, dict(self.kwargs))
            except Exception:  # noqa: BLE001 - the user's code; retried on the CPU below
                try:
                    made = self.make(side, dict(self.kwargs))
                except Exception:  # noqa: BLE001 - building reports it, in one line
                    made = None
            _, example = _split(made)
            try:
                self._probed[hw] = None if example is None else from_example(example)
            except HirisearchError as e:
                raise FactoryError(f"{self.ref}: the factory's example inputs: {e}") from None
        return self._probed[hw]


def _size_arg(hw: Hw) -> Size:
    """The size a factory is told: ``R`` for ``R x R``, else ``(height, width)``."""
    return hw[0] if hw[0] == hw[1] else hw


def _split(made: Any) -> tuple[Any, Any]:
    """``(module, example inputs)`` of what a factory returned (``None``: no inputs)."""
    from torch import nn

    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], nn.Module):
        return made[0], made[1]
    return made, None


def call_factory(fn: Callable[..., Any], img_size: Size, kwargs: dict[str, Any]) -> Any:
    """``fn(**kwargs)``, with ``img_size`` added when ``fn`` takes it and the user did not set it."""
    if "img_size" not in kwargs and _takes(fn, "img_size"):
        kwargs = {**kwargs, "img_size": img_size}
    return fn(**kwargs)


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    p = params.get(name)
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


# ------------------------------------------------------------------------- resolution
def source(
    ref: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    input_shape: InputSpec | None = None,
) -> CodeModel:
    """The source of ``module.path:callable`` or ``file.py:callable`` (the registry's entry point
    for this kind): the module or file is imported now.

    Raises:
        UnknownModelError: the module, file or callable does not exist.
        FactoryError: importing the module or file failed.
    """
    head, _, name = ref.rpartition(":")
    fn = load_callable(ref)
    return CodeModel(
        ref=ref,
        name=f"{Path(head).stem}:{name}" if head.endswith(".py") else ref,
        family="factory",
        make=lambda size, kw: call_factory(fn, size, kw),
        kwargs=dict(kwargs or {}),
        inputs=input_shape,
        example_inputs=True,
    )


def load_callable(ref: str) -> Callable[..., Any]:
    """Import the module or file of ``module.path:callable`` / ``file.py:callable`` and return
    the callable (dotted names reach attributes: ``models:Net.small``)."""
    head, _, attr = ref.rpartition(":")
    if head.endswith(".py"):
        module = _import_file(ref, Path(head))
    else:
        module = _import_module(ref, head)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(module).items() if callable(v) and n[0] != "_")
            hint = f"; callables there: {', '.join(found[:8])}" if found else ""
            raise UnknownModelError(f"{ref}: {head} has no attribute {attr!r}{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise FactoryError(f"{ref}: {attr} is a {type(obj).__name__}, not a callable")
    return obj  # type: ignore[no-any-return]


def _import_module(ref: str, name: str) -> Any:
    """Import ``name`` as Python would from the current folder (as ``python -m`` does)."""
    if not all(_IDENTIFIER.fullmatch(p) for p in name.split(".")):
        raise UnknownModelError(
            f"{ref}: expected a spec file, timm:<name>, torchvision:<name>, module.path:callable "
            "or file.py:callable"
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise UnknownModelError(f"{ref}: no module named {e.name!r}") from None
        raise FactoryError(f"{ref}: importing {name} failed: {first_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - the user's module: any failure is one line
        raise FactoryError(f"{ref}: importing {name} failed: {first_line(e)}") from None


def _import_file(ref: str, path: Path) -> Any:
    """Run the file as a module named after it; its folder goes on ``sys.path`` (as for a script),
    so it can import its neighbours."""
    if not path.is_file():
        raise UnknownModelError(f"{ref}: no such file {str(path)!r}")
    resolved = path.resolve()
    stem = re.sub(r"\W", "_", path.stem)
    name = f"hirisearch_user_{abs(hash(str(resolved))):x}_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise FactoryError(f"{ref}: {path} cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - the user's file: any failure is one line
        del sys.modules[name]
        where = f" (line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
        raise FactoryError(f"{ref}: importing {path} failed: {first_line(e)}{where}") from None
    return module
