"""What the app keeps on ``app.state``, and how a request gets the loaded engine."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from service.errors import NotReady
from service.search import SearchEngine


def loaded_engine(state: Any) -> SearchEngine:
    """The engine loaded at startup (or by the last reload); NotReady (503) until there is one."""
    engine: SearchEngine | None = getattr(state, "engine", None)
    if engine is None:
        problem = getattr(state, "load_error", None)
        raise NotReady(problem or "the index and model are still loading; try again shortly")
    return engine


def engine_of(request: Request) -> SearchEngine:
    return loaded_engine(request.app.state)
