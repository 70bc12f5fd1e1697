"""CLI commands `shisaku ask` and `shisaku mcp` (stdio MCP server): formatting only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from indexer.records import STATUSES
from service.answer import MODES
from service.cli.loading import engine_from, settings_from
from service.text import shorten


def cmd_ask(args: argparse.Namespace) -> int:
    from service.answer import answer_question
    from service.llm import client_from_settings
    from service.schemas import AskResponse

    llm = client_from_settings(settings_from(args)) if args.mode == "generative" else None
    answer = answer_question(
        engine_from(args),
        args.question,
        k=args.k,
        statuses=args.status or [],
        mode=args.mode,
        llm=llm,
    )
    response = AskResponse.of(answer)
    if args.json:
        print(response.model_dump_json(indent=2, exclude_none=True))
        return 0
    print(response.answer)
    if response.warning:
        print(f"\nwarning: {response.warning}")
    if response.citations:
        print("\nCitations:")
        for c in response.citations:
            quote = " ".join(c.quote.split())
            print(f"  ［施策{c.number}］ {c.field} [{c.start}:{c.end}]\n    {quote}")
    if not response.answerable and response.results:
        print("\nClosest measures:")
        for r in response.results:
            print(f"  施策{r.number} [{r.status}] {shorten(r.target, 90)}")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from service.engine import load_engine, preflight
    from service.mcp.server import run_stdio

    settings = settings_from(args)
    preflight(settings)  # a bad glossary or a missing or stale index is reported at start
    run_stdio(lambda: load_engine(settings))
    return 0


def register_answer_commands(add: Callable[..., Any]) -> None:
    p = add("ask", cmd_ask, "answer a question with citations")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=5, help="measures to retrieve (1-10)")
    p.add_argument("--status", action="append", choices=list(STATUSES))
    p.add_argument("--mode", choices=list(MODES), default=MODES[0])
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    add("mcp", cmd_mcp, "serve the MCP tools over stdio")
