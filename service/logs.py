"""One logging set-up for every process (CLI, server, server workers)."""

from __future__ import annotations

import logging

_QUIET = ("httpx", "bm25s", "sentence_transformers", "mcp", "onnxruntime", "faiss.loader")


def configure_logging(level: str) -> None:
    """One format for our loggers and uvicorn's, at ``level`` (SHISAKU_LOG_LEVEL)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
