"""The app's typed state, and how a request gets the loaded engine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

from service.config import Settings
from service.errors import NotReady
from service.llm import ChatClient, client_from_settings
from service.search import SearchEngine


@dataclass
class AppState:
    """Everything the app keeps between requests (``app.state.shisaku``)."""

    settings: Settings
    engine: SearchEngine | None = None
    load_error: str | None = None  # why the engine could not be loaded (shown by 503s)
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    mcp_server: Any | None = None  # mounted at /mcp, run by the lifespan
    _llm: ChatClient | None = None
    _llm_made: bool = False

    def ready_engine(self) -> SearchEngine:
        """The engine loaded at startup (or by the last reload); NotReady (503) until then."""
        if self.engine is None:
            raise NotReady(
                self.load_error or "the index and model are still loading; try again shortly"
            )
        return self.engine

    def llm(self) -> ChatClient | None:
        """The configured language model client (made once), or None."""
        if not self._llm_made:
            self._llm = client_from_settings(self.settings)
            self._llm_made = True
        return self._llm


def state_of(app: FastAPI) -> AppState:
    state: AppState = app.state.shisaku
    return state


def engine_of(request: Request) -> SearchEngine:
    return state_of(request.app).ready_engine()
