"""Which measure a number means, with and without a report: one rule for the engine and the
model-free commands (service.index.pick_measure)."""

from __future__ import annotations

import pytest

from indexer.records import Measure
from service.errors import InvalidRequest, NotFound
from service.index import Catalogue, pick_measure

# Two editions of one series (old-2024, new-2025) and a second series (other-2025).
MEASURES = (
    Measure(3, "検討中", "t", "old", report="old-2024"),
    Measure(3, "実施中", "t", "new", report="new-2025"),
    Measure(4, "実施中", "t", "only in the old edition", report="old-2024"),
    Measure(9, "実施済み", "t", "other series", report="other-2025"),
    Measure(3, "実施済み", "t", "other series", report="other-2025"),
)
REPORTS = {"old-2024": None, "new-2025": None, "other-2025": None}
HELD = {m.key: row for row, m in enumerate(MEASURES)}


def pick(number: int, report: str | None = None, latest: frozenset[str] | None = None) -> Measure:
    latest = frozenset({"new-2025"}) if latest is None else latest
    return pick_measure(MEASURES, HELD, REPORTS, latest, number, report)


def test_a_number_alone_means_the_latest_edition_that_has_it() -> None:
    assert pick(3).explanation == "new"
    assert pick(4).explanation == "only in the old edition"  # an older edition, if only it has it


def test_a_named_report_is_taken_as_given() -> None:
    assert pick(3, "old-2024").explanation == "old"


def test_a_number_in_several_series_asks_for_the_report() -> None:
    with pytest.raises(InvalidRequest, match=r"several reports \(new-2025, other-2025\)"):
        pick(3, latest=frozenset({"new-2025", "other-2025"}))


def test_unknown_numbers_and_reports_are_named() -> None:
    with pytest.raises(NotFound, match="no measure 99; measures are numbered 3–9"):
        pick(99)
    with pytest.raises(
        NotFound, match="no measure 9 in report old-2024; measures are numbered 3–4"
    ):
        pick(9, "old-2024")
    with pytest.raises(NotFound, match="unknown report 'nope'"):
        pick(3, "nope")


def test_the_catalogue_picks_as_the_engine_does() -> None:
    catalogue = Catalogue(MEASURES, REPORTS, frozenset({"new-2025", "other-2025"}))  # type: ignore[arg-type]
    assert catalogue.get_measure(3, "new-2025").explanation == "new"
    with pytest.raises(InvalidRequest):
        catalogue.get_measure(3)
