"""CLI commands for the corpus of reports: `shisaku add|reports|diff|history`."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

from rich.text import Text

from indexer.records import Measure
from service.cli.console import console, print_table, status_text, table
from service.cli.loading import settings_from
from service.errors import InvalidRequest, ShisakuError
from service.text import CHANGE_MARKS

AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
logger = logging.getLogger(__name__)


def cmd_add(args: argparse.Namespace) -> int:
    from indexer.reports import add_report, remove_report_folder
    from service.cli.indexing import rebuild_index

    settings = settings_from(args)
    corpus = Path(settings.corpus)
    if corpus.is_file():
        raise ShisakuError(
            f"SHISAKU_CORPUS is the single file {corpus}; `add` needs a folder of reports "
            "(the default data/reports)"
        )
    meta = add_report(
        corpus,
        Path(args.file),
        title=args.title,
        date=args.date,
        issuer=args.issuer or "",
        edition=args.edition,
        series=args.series,
        source_url=args.url,
        licence=args.licence or "",
        report_id=args.id,
    )
    print(f"added report {meta.id} ({meta.title}, {meta.date}, edition {meta.edition})")
    if args.no_index:
        print("run `shisaku index` to index it")
        return 0
    try:
        manifest = rebuild_index(settings, quiet=args.quiet)
    except BaseException:
        remove_report_folder(corpus, meta.id)  # nothing half-added; the old index still serves
        print(f"removed report {meta.id} again: the index could not be rebuilt")
        raise
    assert manifest is not None
    print(
        f"index rebuilt at {settings.index_dir}: {len(manifest['reports'])} report(s), "
        f"{manifest['counts']['measures']} measures in {manifest['build_seconds']:.1f} s. "
        "A running server switches to it on SIGHUP or POST /admin/reload."
    )
    return 0


def cmd_reports(args: argparse.Namespace) -> int:
    from service.index import read_catalogue
    from service.schemas import ReportsResponse

    catalogue = read_catalogue(Path(settings_from(args).index_dir))
    response = ReportsResponse.of(catalogue.reports, catalogue.latest)
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    grid = table("id", "date", "ed.", "measures", "title", right=("ed.", "measures"), rest="title")
    for r in response.reports:
        mark = "" if r.latest else " (older edition)"
        grid.add_row(r.id, r.date, str(r.edition), str(r.measures), r.title + mark)
    print_table(grid)
    return 0


def _measures_of(name: str, index_dir: Path) -> tuple[str, list[Measure]]:
    """A report's measures: a report id of the index, or a report file (.txt / .pdf)."""
    from indexer.reports import read_corpus, read_measures
    from service.index import read_catalogue

    path = Path(name)
    if path.is_file():
        return path.name, read_measures(read_corpus(path)[0])
    if not index_dir.exists():
        raise InvalidRequest(
            f"{name!r} is not a file, and there is no index at {index_dir} to look up report "
            "ids in; give two report files or build the index with `shisaku index`"
        )
    catalogue = read_catalogue(index_dir)
    if name not in catalogue.reports:
        raise InvalidRequest(
            f"{name!r} is neither a file nor a report of the index ({', '.join(catalogue.reports)})"
        )
    return name, [m for m in catalogue.measures if m.report == name]


def cmd_diff(args: argparse.Namespace) -> int:
    from service.history import diff_reports

    index_dir = Path(settings_from(args).index_dir)
    old_name, old = _measures_of(args.old, index_dir)
    new_name, new = _measures_of(args.new, index_dir)
    diff = diff_reports(old_name, old, new_name, new)
    if args.json:
        print(
            json.dumps(
                {
                    "old": diff.old,
                    "new": diff.new,
                    "status_changed": [
                        {
                            "number": b.number,
                            "old_number": a.number,
                            "from": a.status,
                            "to": b.status,
                        }
                        for a, b in diff.status_changed
                    ],
                    "text_changed": [b.number for _, b in diff.text_changed],
                    "added": [m.number for m in diff.added],
                    "removed": [m.number for m in diff.removed],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    out = console()
    out.print(Text(f"{old_name} → {new_name}", style="bold"))
    if not (diff.status_changed or diff.added or diff.removed or diff.text_changed):
        out.print("no measure changed")
        return 0
    if diff.status_changed:
        grid = table(
            "No.", "was", "now", "recommended measure", right=("No.",), rest="recommended measure"
        )
        for a, b in diff.status_changed:
            number = str(b.number) if a.number == b.number else f"{b.number} (was {a.number})"
            grid.add_row(
                number, status_text(a.status), status_text(b.status), " ".join(b.target.split())
            )
        out.print(f"\nstatus changed: {len(diff.status_changed)}")
        print_table(grid)
    for label, items in (("added", diff.added), ("removed", diff.removed)):
        if items:
            out.print(f"\n{label}: {len(items)}")
            for m in items:
                out.print(
                    Text(f"  施策{m.number} ").append_text(status_text(m.status))
                    + Text("  " + " ".join(m.target.split())[:80])
                )
    if diff.text_changed:
        numbers = ", ".join(str(b.number) for _, b in diff.text_changed)
        out.print(f"\nexplanation reworded, same status: {numbers}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from service.history import measure_history
    from service.index import read_catalogue
    from service.schemas import HistoryResponse

    catalogue = read_catalogue(Path(settings_from(args).index_dir))
    measure = catalogue.get_measure(args.number, args.report)
    history = measure_history(catalogue.measures, catalogue.reports, measure)
    response = HistoryResponse.of(history, catalogue.reports)
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    out = console()
    out.print(Text(f"施策{args.number}: {len(response.history)} edition(s)", style="bold"))
    for entry in response.history:
        line = Text(f"\n{entry.report.date}  {entry.report.id}  ")
        out.print(line.append_text(status_text(entry.status, entry.status_en)))
        for change in entry.changes:
            mark = CHANGE_MARKS[change.kind]
            style = {"added": "green", "removed": "red"}.get(change.kind, "bold")
            out.print(Text(f"  {mark} {change.text}", style=style), soft_wrap=True)
    return 0


def register_report_commands(add: AddCommand) -> None:
    p = add("add", cmd_add, "add a report (text or PDF) to the corpus and rebuild the index")
    p.add_argument("file", help="the report: a .txt dump or a .pdf")
    p.add_argument("--title", help="its title (default: read from its page header)")
    p.add_argument("--date", help="its date: YYYY, YYYY-MM or YYYY-MM-DD (default: today)")
    p.add_argument("--issuer", help="who published it")
    p.add_argument("--edition", type=int, help="edition number (default: the next one)")
    p.add_argument(
        "--series",
        help="the report series it is an edition of (default: the series of a report with "
        "the same title, else a new one)",
    )
    p.add_argument("--url", help="where it was published")
    p.add_argument("--licence", help="its licence or terms of use")
    p.add_argument("--id", help="the report id (default: SERIES-DATE)")
    p.add_argument("--corpus", help="folder of reports (default: SHISAKU_CORPUS)")
    p.add_argument("--no-index", action="store_true", help="only add; do not rebuild the index")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("reports", cmd_reports, "list the reports of the index")
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("diff", cmd_diff, "measures whose status changed between two reports")
    p.add_argument("old", help="the older report: an id from `shisaku reports`, or a file")
    p.add_argument("new", help="the newer report: an id, or a file")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("history", cmd_history, "a measure's status in every edition of its report")
    p.add_argument("number", type=int, help="the measure number")
    p.add_argument("--report", help="the report the number refers to (default: the latest)")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
