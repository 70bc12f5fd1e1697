"""Typed records shared by the indexer and the service: measures and passages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Status = Literal["実施中", "実施済み", "検討中"]
Field = Literal["target", "explanation", "note"]
FIELDS: tuple[Field, ...] = get_args(Field)

STATUSES: tuple[Status, ...] = get_args(Status)  # the one list of statuses

# The one table of English status names: accepted wherever a status is given (CLI --status,
# the API's status), and shown beside the Japanese one ("in progress").
StatusAlias = Literal["in-progress", "implemented", "under-consideration"]
STATUS_ALIASES: dict[StatusAlias, Status] = {
    "in-progress": "実施中",
    "implemented": "実施済み",
    "under-consideration": "検討中",
}
STATUS_EN: dict[str, str] = {
    status: alias.replace("-", " ") for alias, status in STATUS_ALIASES.items()
}
StatusName = Literal[Status, StatusAlias]  # every spelling a status is accepted in
STATUS_NAMES: tuple[str, ...] = get_args(StatusName)


def parse_status(name: object) -> Status | None:
    """The status ``name`` stands for: a Japanese status or its English name (any case, with
    hyphens, spaces or underscores: "in-progress", "In progress"); None when it is neither."""
    if not isinstance(name, str):
        return None
    name = name.strip()
    if name in STATUSES:
        return name
    key = "-".join(name.lower().replace("_", " ").replace("-", " ").split())
    return STATUS_ALIASES.get(key)  # type: ignore[call-overload]


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
    report: str = ""  # the id of the report it comes from (indexer.reports); "" when unknown

    @property
    def key(self) -> tuple[str, int]:
        """What identifies a measure across reports: (report id, number)."""
        return (self.report, self.number)

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
    report: str = ""  # the report of its measure

    @property
    def measure_key(self) -> tuple[str, int]:
        """The key of its measure: (report id, number)."""
        return (self.report, self.measure)
