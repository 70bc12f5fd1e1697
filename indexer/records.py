"""Typed records shared by the indexer and the service: measures and passages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Status = Literal["実施中", "実施済み", "検討中"]
Field = Literal["target", "explanation", "note"]
FIELDS: tuple[Field, ...] = get_args(Field)

STATUSES: tuple[Status, ...] = get_args(Status)  # the one list of statuses
STATUS_EN: dict[str, str] = {
    "実施中": "in progress",
    "実施済み": "implemented",
    "検討中": "under consideration",
}


@dataclass(frozen=True)
class Measure:
    """One recommended measure of a report, with its implementation status.

    Texts keep the report's original characters (full-width digits etc.); paragraphs
    are separated by "\\n". ``notes`` holds footnotes such as （注１）, "" when none.
    """

    number: int
    status: Status
    target: str
    explanation: str
    notes: str = ""

    @property
    def status_en(self) -> str:
        return STATUS_EN[self.status]

    def field_text(self, field: Field) -> str:
        return {"target": self.target, "explanation": self.explanation, "note": self.notes}[field]


@dataclass(frozen=True)
class Passage:
    """A sentence-bounded slice of one field of one measure.

    Invariant: ``measure.field_text(field)[start:end] == text``.
    """

    id: int
    measure: int
    field: Field
    start: int
    end: int
    text: str
