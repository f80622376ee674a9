"""Typed errors. The library raises these; only :mod:`hirisearch.cli` prints them and exits."""

from __future__ import annotations


class HirisearchError(Exception):
    """Base class of every error hirisearch reports to the user as one line."""

    exit_code = 1

    def one_line(self) -> str:
        return " ".join(str(self).split())


class SpecError(HirisearchError):
    """A spec (or search space) file is missing, unreadable or invalid.

    Args:
        message: what was expected and what was received.
        file: the file the error is in, when known.
        field: the field path inside the file (``"depths[2]"``), when known.
    """

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        return ": ".join([*parts, self.message])

    def located(self, file: str) -> SpecError:
        """The same error, attributed to ``file``."""
        return type(self)(self.message, file=file, field=self.field)


class FieldError(ValueError):
    """Raised inside spec validators to name the offending field path (pydantic keeps the exception)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


class ResolutionError(SpecError):
    """An input resolution the model cannot take."""


class UnknownModelError(HirisearchError):
    """A model name (family, spec or timm model) that does not exist."""

    exit_code = 2


class FactoryError(HirisearchError):
    """User code named as a target (``module:callable``, ``file.py:callable``, ``torchvision:``)
    failed to import or build, or built something that is not a module."""

    exit_code = 2


class CountingError(HirisearchError):
    """A counter failed on a model."""


class DeviceError(HirisearchError):
    """A requested device is not available."""

    exit_code = 2


class MemoryBudgetError(HirisearchError):
    """A configuration's estimated memory exceeds what the device has (refused before allocating)."""

    exit_code = 2


class CalibrationError(HirisearchError):
    """No calibration for a device, or an unreadable calibration file."""

    exit_code = 2


class RunDirBusyError(HirisearchError):
    """Another hirisearch process is writing to the same run folder."""

    exit_code = 3


class SearchError(HirisearchError):
    """A search cannot start or continue (storage, run folder, resume)."""

    exit_code = 2


class ExactError(HirisearchError):
    """The exact mode cannot evaluate this space."""

    exit_code = 2


class ObjectiveError(HirisearchError):
    """A user objective failed or returned something that is not a finite number."""


class ProxyError(HirisearchError):
    """A proxy could not be computed on a model."""


class ResultsError(HirisearchError):
    """A ``results.json`` that is missing, not JSON, or not of the documented schema."""

    exit_code = 2


class Pruned(Exception):  # noqa: N818 - named as the user raises it: ``raise hirisearch.Pruned``
    """Raised by a search objective to stop its trial early (typically once ``should_prune()``
    answered true); the trial is recorded as pruned with its last reported value.

    Not a :class:`HirisearchError`: it reports no problem, it ends a trial.
    """


class TrainError(HirisearchError):
    """A training configuration that is not valid (batch, dtype, optimizer, checkpointing, shard,
    memory size) or a training step that cannot be costed."""
