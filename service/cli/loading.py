"""What every CLI command loads: the settings (with command-line overrides) and the engine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings, load_settings

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


def engine_from(args: argparse.Namespace) -> SearchEngine:
    """The loaded engine for these arguments (query models and index), not warmed up: a
    one-shot command answers one request."""
    from service.engine import load_engine

    return load_engine(settings_from(args), long_running=False)


def index_from(args: argparse.Namespace) -> LoadedIndex:
    """The index alone, for commands that encode nothing (measures, info, export, map)."""
    from service.index import load_index

    return load_index(Path(settings_from(args).index_dir))
