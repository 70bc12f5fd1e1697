"""What every CLI command loads: the settings (with command-line overrides) and the engine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings, load_settings

if TYPE_CHECKING:
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
    """The loaded engine for these arguments (models and index)."""
    from service.engine import load_engine

    return load_engine(settings_from(args))
