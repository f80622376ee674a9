"""The operations behind the commands and the API: :mod:`.profile`, :mod:`.compare`,
:mod:`.sweep`, :mod:`.bench`, :mod:`.catalog` (validate, list) and :mod:`.search`.

Every operation returns a frozen result (:class:`Result`): its ``kind``, ``to_json()`` (the
document ``--json`` prints), and, for the kinds that have a run folder, ``run_document`` and
``run_name``, from which :func:`hirisearch.report.run.save.save_run` writes the folder. The
dataclass of a result is the one source of its fields: the run folder's schema, its CSV columns
and the tests' synthetic documents are derived from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import Field

#: A count (parameters, MACs): a non-negative integer.
Count = Annotated[int, Field(ge=0)]
#: A size or batch: a positive integer.
Positive = Annotated[int, Field(gt=0)]
#: An input size as results hold it: the side of a square, else ``(height, width)`` (``[h, w]`` in
#: JSON; :func:`hirisearch.models.resolution.size_value`).
ImgSize = Positive | tuple[Positive, Positive]
#: A time or rate: a non-negative float.
NonNegative = Annotated[float, Field(ge=0)]

__all__ = ["Count", "ImgSize", "NonNegative", "Positive", "Result"]


class Result(Protocol):
    """What an operation returns (a frozen dataclass)."""

    #: The results document's ``kind`` (:mod:`hirisearch.report.run`).
    kind: ClassVar[str]

    def to_json(self) -> Any:
        """The JSON document ``--json`` prints."""
        ...

    @classmethod
    def run_document(cls, results: Sequence[Any]) -> dict[str, Any]:
        """The fields of the ``results.json`` of a run made of ``results`` (of this type)."""
        ...

    @classmethod
    def run_name(cls, results: Sequence[Any]) -> str:
        """The suffix of the run's default folder, ``reports/<timestamp>-<name>``."""
        ...
