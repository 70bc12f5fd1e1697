"""CLI commands `shisaku ask` and `shisaku mcp` (stdio MCP server): formatting only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text

from indexer.records import STATUS_NAMES
from service.answer import MAX_ASK_K, MODES
from service.cli.console import console, print_table, status_text, table
from service.cli.loading import STATUS_HELP, check_search_arguments, engine_from, settings_from
from service.text import FIELD_LABELS, shorten, sources

if TYPE_CHECKING:
    from service.schemas import AskResponse


def cmd_ask(args: argparse.Namespace) -> int:
    from service.answer import answer_question, check_mode
    from service.llm import client_from_settings
    from service.schemas import AskResponse
    from service.views import view_of

    check_search_arguments(args, max_k=MAX_ASK_K)  # before any model loads
    llm = client_from_settings(settings_from(args)) if args.mode == "generative" else None
    check_mode(args.mode, llm)
    engine = engine_from(args)
    answer = answer_question(
        engine, args.question, k=args.k, statuses=args.status or [], mode=args.mode, llm=llm
    )
    response = AskResponse.of(answer, view_of(engine, answer.outcome, answer.decision))
    if args.json:
        print(response.model_dump_json(indent=2, exclude_none=True))
        return 0
    print_answer(response)
    return 0


def print_answer(response: AskResponse) -> None:
    """The answer once; then each cited measure once (no offsets, no repeated quotes)."""
    out = console()
    out.print(Text(response.answer[: response.direct_end]), soft_wrap=True)
    rest = response.answer[response.direct_end :].strip()
    if rest:  # the runners-up, after the direct answer
        out.print(Text("\n" + rest, style="dim"), soft_wrap=True)
    if response.warning:
        out.print(Text(f"\nwarning: {response.warning}", style="yellow"), soft_wrap=True)
    by_number = {r.number: r for r in response.results}
    cited = sources((c.number, c.field) for c in response.citations)
    if cited:
        out.print(Text("\nSources:", style="bold"))
        grid = table(
            "measure", "status", "quoted", "recommended measure", rest="recommended measure"
        )
        for number, fields in cited:
            result = by_number.get(number)
            grid.add_row(
                f"施策{number}",
                status_text(result.status) if result else "",
                ", ".join(FIELD_LABELS[f] for f in fields),
                shorten(result.target, 200) if result else "",
            )
        print_table(grid)
    if response.reason:
        out.print(Text(f"(why: {response.reason})", style="dim"), soft_wrap=True)
    if not response.answerable and response.results:
        out.print(Text("\nClosest measures:", style="bold"))
        grid = table("measure", "status", "recommended measure", rest="recommended measure")
        for r in response.results:
            grid.add_row(f"施策{r.number}", status_text(r.status), shorten(r.target, 200))
        print_table(grid)


def cmd_mcp(args: argparse.Namespace) -> int:
    from service.engine import BackgroundEngine, load_engine, preflight

    settings = settings_from(args)
    preflight(settings)  # a bad glossary or a missing or stale index is reported at start
    engine = BackgroundEngine(lambda: load_engine(settings))  # loads while the SDK imports
    from service.mcp.server import run_stdio

    run_stdio(engine)
    return 0


def register_answer_commands(add: Callable[..., Any]) -> None:
    p = add("ask", cmd_ask, "answer a question with citations")
    p.add_argument("question", help="a question, Japanese or English")
    p.add_argument(
        "-k",
        "--k",
        type=int,
        default=5,
        help=f"how many measures to retrieve (1-{MAX_ASK_K}, default 5)",
    )
    p.add_argument(
        "--status",
        action="append",
        choices=STATUS_NAMES,
        metavar="STATUS",
        help=STATUS_HELP,
    )
    p.add_argument(
        "--mode", choices=list(MODES), default=MODES[0], help="extractive (default) or generative"
    )
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    add("mcp", cmd_mcp, "serve the MCP tools over stdio")
