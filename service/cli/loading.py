"""What every CLI command loads: the settings (with command-line overrides) and the engine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings, load_settings

STATUS_HELP = (
    "only this status (repeatable): 実施中, 実施済み, 検討中, "
    "or in-progress, implemented, under-consideration"
)

if TYPE_CHECKING:
    from service.index import LoadedIndex
    from service.search import SearchEngine


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings, with ``--index-dir`` / ``--corpus`` applied."""
    settings = load_settings()
    updates = {}
    for name in ("index_dir", "corpus"):
        value = getattr(args, name, None)
        if value is not None:
            updates[name] = Path(value)
    return settings.model_copy(update=updates) if updates else settings


def check_search_arguments(args: argparse.Namespace, max_k: int | None = None) -> None:
    """Reject a bad query, k or status at once, with the limits the engine will apply,
    before any model loads."""
    from service.search import validate_k, validate_query, validate_statuses

    settings = settings_from(args)
    for name in ("query", "question", "text"):
        text = getattr(args, name, None)
        if text is not None:
            validate_query(text, settings.max_query_chars)
    validate_k(args.k, max_k or settings.max_k)
    validate_statuses(getattr(args, "status", None))


def engine_from(args: argparse.Namespace) -> SearchEngine:
    """The loaded engine for these arguments (query models and index), not warmed up: a
    one-shot command answers one request. A bad glossary and a missing, damaged or stale
    index stop here, before any model loads."""
    from service.engine import load_engine, preflight

    settings = settings_from(args)
    preflight(settings)
    return load_engine(settings, long_running=False)


def index_from(args: argparse.Namespace) -> LoadedIndex:
    """The index alone, for commands that encode nothing (measures, info, export, map)."""
    from service.index import load_index

    return load_index(Path(settings_from(args).index_dir))


def add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    """--report / --all-editions: which reports a command covers."""
    parser.add_argument(
        "--report",
        action="append",
        metavar="ID",
        help="only this report (repeatable; ids from `shisaku reports`); default: the latest "
        "edition of each report",
    )
    parser.add_argument(
        "--all-editions", action="store_true", help="cover every edition, not only the latest"
    )


def scope_of(args: argparse.Namespace) -> tuple[list[str], str]:
    """(reports, editions) from --report / --all-editions."""
    return list(getattr(args, "report", None) or []), (
        "all" if getattr(args, "all_editions", False) else "latest"
    )
