"""The `shisaku` command: its parser, `index|serve|search|measures|eval|info`, and the error edge."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from indexer.records import STATUS_NAMES
from service import __version__
from service.cli.ask import register_answer_commands
from service.cli.console import (
    console,
    error_console,
    marked_line,
    print_table,
    relevance_text,
    status_text,
    table,
)
from service.cli.loading import (
    STATUS_HELP,
    add_scope_arguments,
    check_search_arguments,
    engine_from,
    index_from,
    scope_of,
    settings_from,
)
from service.cli.reports import register_report_commands
from service.cli.research import register_research_commands
from service.config import with_options
from service.errors import BuildError, OutputError, ShisakuError
from service.logs import configure_logging
from service.text import FIELD_LABELS, count_noun

if TYPE_CHECKING:
    import uvicorn

    from service.schemas import MeasureOut, SearchResponse


def cmd_index(args: argparse.Namespace) -> int:
    from service.cli.indexing import rebuild_index

    settings = settings_from(args)
    manifest = rebuild_index(settings, quiet=args.quiet, if_stale=args.if_stale)
    if manifest is None:
        print(f"index at {settings.index_dir} is up to date")
        return 0
    counts = manifest["counts"]
    print(
        f"built index at {settings.index_dir}: {len(manifest['reports'])} report(s), "
        f"{counts['measures']} measures, {counts['passages']} passages in "
        f"{manifest['build_seconds']:.1f} s"
    )
    return 0


# glibc's M_ARENA_MAX (mallopt); what MALLOC_ARENA_MAX sets when a process starts.
_M_ARENA_MAX = -8
SERVER_MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVER_MALLOC_ARENAS) -> int | None:
    """Cap glibc's malloc arenas for a server (unless MALLOC_ARENA_MAX already says how many).

    glibc gives threads that allocate at once arenas of their own, up to 8 per core; a
    server's request threads (and onnxruntime's) then each keep freed memory that the others
    cannot reuse, and the resident size creeps up under load. ``serve --workers`` processes
    read the variable when they start; this process is capped now, through mallopt. Returns
    the cap applied (None off glibc).
    """
    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    try:
        cap = int(os.environ["MALLOC_ARENA_MAX"])
        libc = ctypes.CDLL("libc.so.6") if sys.platform == "linux" else None
    except (ValueError, OSError):
        return None
    if libc is None or cap < 1 or not libc.mallopt(_M_ARENA_MAX, cap):
        return None
    return cap


def cmd_serve(args: argparse.Namespace) -> int:
    from service.engine import preflight

    options = {name: getattr(args, name) for name in ("host", "port", "workers")}
    settings = with_options(
        settings_from(args), {name: value for name, value in options.items() if value is not None}
    )
    quiet = settings.log_level in ("warning", "error")
    configure_logging("info" if args.verbose and quiet else settings.log_level)
    preflight(settings)  # a bad glossary or a missing, damaged or stale index stops here
    limit_malloc_arenas()
    sock = None
    if settings.workers > 1:
        from service.http.workers import listening_socket

        sock = listening_socket(settings.host, settings.port)  # a taken port stops here
    # The engine (models, index, warm-up) loads while the web stack is imported: its native
    # parts (onnxruntime, file reads, numpy) run beside the imports.
    from concurrent.futures import ThreadPoolExecutor

    from service.engine import load_engine

    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-engine")
    loading_since = time.perf_counter()
    loading = loader.submit(load_engine, settings)
    loader.shutdown(wait=False)

    from service.http.app import create_app
    from service.http.server import server_of

    if sock is not None:
        from service.http.workers import serve_forked

        engine = loading.result()
        loader.shutdown(wait=True)  # no thread of ours is running when the workers fork
        return serve_forked(settings, engine, sock, loading_since)

    exit_code = {"value": 0}
    server: uvicorn.Server | None = None

    def on_fatal(message: str) -> None:
        exit_code["value"] = 3
        print(f"shisaku: error: {message}", file=sys.stderr)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_fatal=on_fatal, loading=loading, loading_since=loading_since)
    server = server_of(app, settings)
    server.run()
    return exit_code["value"]


def cmd_search(args: argparse.Namespace) -> int:
    from service.schemas import SearchResponse
    from service.views import view_of

    check_search_arguments(args)
    engine = engine_from(args)
    reports, editions = scope_of(args)
    outcome = engine.search(
        args.query, k=args.k, statuses=args.status or [], reports=reports, editions=editions
    )
    response = SearchResponse.of(outcome, view_of(engine, outcome))
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    print_search(response, show_all=args.all)
    return 0


def print_search(response: SearchResponse, show_all: bool = False) -> None:
    out = console()
    shown = response.results if show_all else response.results[: response.shown]
    timing = "cached" if response.cached else f"{response.took_ms:.0f} ms"
    noun = "result" if show_all else "relevant result"
    header = Text(f"{count_noun(len(shown), noun)} for ")
    header.append(response.query, style="bold")
    header.append(f" ({timing})", style="dim")
    out.print(header, overflow="ellipsis", no_wrap=True)
    width = out.width - 5
    for rank, result in enumerate(shown, start=1):
        line = Text(f"\n{rank:>2}. ")
        line.append(f"施策{result.number}", style="bold")
        line.append("  ")
        line.append_text(status_text(result.status, result.status_en))
        line.append("  ")
        line.append_text(relevance_text(result.relevance))
        out.print(line)
        target = next((p for p in result.passages if p.field == "target" and p.highlights), None)
        target_spans = (
            [(target.start + h.start, target.start + h.end) for h in target.highlights]
            if target
            else []
        )
        out.print(Text("    ").append_text(marked_line(result.target, width, target_spans)))
        matching = [p for p in result.passages if p.highlights and p.field != "target"]
        for passage in matching[:2]:
            spans = [(h.start, h.end) for h in passage.highlights]
            label = Text(f"    > {FIELD_LABELS[passage.field]}: ", style="dim")
            room = width - label.cell_len + 4
            out.print(label.append_text(marked_line(passage.text, room, spans)))
    folded = len(response.results) - len(shown)
    if folded:
        out.print(
            Text(
                f"\n{count_noun(folded, 'less relevant result')} below the cut-off; "
                "--all shows them.",
                style="dim",
            )
        )


def cmd_measures(args: argparse.Namespace) -> int:
    from service.index import check_reports, measure_numbered, read_catalogue, reports_in_scope
    from service.schemas import MeasureOut, MeasuresResponse

    catalogue = read_catalogue(Path(settings_from(args).index_dir))  # no model needed
    reports, editions = scope_of(args)
    names = check_reports(reports, catalogue.reports)
    in_scope = reports_in_scope(names, editions, catalogue.reports, catalogue.latest)
    measures = [m for m in catalogue.measures if in_scope is None or m.report in in_scope]
    if args.number is not None:
        one = MeasureOut.of(measure_numbered(measures, args.number), catalogue.reports)
        if args.json:
            print(one.model_dump_json(indent=2))
        else:
            print_measure(one)
        return 0
    response = MeasuresResponse(measures=[MeasureOut.of(m, catalogue.reports) for m in measures])
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    grid = table("No.", "status", "recommended measure", right=("No.",), rest="recommended measure")
    for m in response.measures:
        grid.add_row(str(m.number), status_text(m.status), " ".join(m.target.split()))
    print_table(grid)
    return 0


def print_measure(m: MeasureOut) -> None:
    out = console()
    head = Text(f"施策{m.number}  ", style="bold")
    head.append_text(status_text(m.status, m.status_en))
    out.print(head)
    for label, text in (
        ("対象施策 (recommended measure)", m.target),
        ("実施状況の説明 (status explanation)", m.explanation),
        ("注 (notes)", m.notes),
    ):
        if text:
            out.print(Text(f"\n{label}", style="bold"))
            out.print(Text(text), soft_wrap=True)


def cmd_eval(args: argparse.Namespace) -> int:
    from service.evaluate import evaluate, load_questions

    questions = load_questions(Path(args.file))
    report = evaluate(engine_from(args), questions)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    out = console()
    out.print(f"{report['answerable']} answerable of {count_noun(report['questions'], 'question')}")
    grid = table("group", "n", "hit@1", "hit@5", "MRR@10", right=("n", "hit@1", "hit@5", "MRR@10"))
    for key, s in report["scores"].items():
        grid.add_row(
            key,
            str(s["count"]),
            f"{s['hit_at_1']:.3f}",
            f"{s['hit_at_5']:.3f}",
            f"{s['mrr_at_10']:.3f}",
        )
    print_table(grid)
    if args.misses:
        for miss in report["misses"]:
            out.print(
                Text(f"  miss {miss['id']}: gold {miss['gold']} got {miss['got']}  ")
                + Text(miss["question"]),
                soft_wrap=True,
            )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    index = index_from(args)
    manifest = index.manifest
    models = {
        key: None
        if manifest.get(key) is None
        else {"name": manifest[key]["name"], "dimension": manifest[key]["dimension"]}
        for key in ("dense_model", "second_model")
    }
    info = {
        "model": models["dense_model"],
        "second_model": models["second_model"],
        "query_encoder": settings_from(args).query_encoder,
        "index": {
            "path": str(index.path),
            "built_at": manifest.get("built_at"),
            "counts": manifest.get("counts"),
            "reports": [
                {"id": r.id, "title": r.title, "date": r.date, "latest": r.id in index.latest}
                for r in index.reports.values()
            ],
        },
    }
    print(json.dumps(info, ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shisaku",
        description="Search and answers over Japanese government policy documents.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--version", action="version", version=f"shisaku {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(handler=handler)
        p.add_argument("--index-dir", help="index directory (default: SHISAKU_INDEX_DIR)")
        return p

    p = add("index", cmd_index, "build the index from the corpus")
    p.add_argument(
        "--corpus",
        help="folder of reports, one report folder, or one report file (default: SHISAKU_CORPUS)",
    )
    p.add_argument("--if-stale", action="store_true", help="only if missing or out of date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("serve", cmd_serve, "serve the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the index (default: SHISAKU_WORKERS, 1)",
    )

    p = add("search", cmd_search, "search from the command line")
    p.add_argument("query", help="a question or keywords, Japanese or English")
    p.add_argument(
        "-k", "--k", type=int, default=10, help="how many measures to retrieve (default 10)"
    )
    p.add_argument(
        "--status", action="append", choices=STATUS_NAMES, metavar="STATUS", help=STATUS_HELP
    )
    p.add_argument(
        "--all", action="store_true", help="also show results below the relevance cut-off"
    )
    add_scope_arguments(p)
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("measures", cmd_measures, "list all measures, or show one")
    p.add_argument("number", nargs="?", type=int, help="show this measure in full")
    add_scope_arguments(p)
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("eval", cmd_eval, "evaluate retrieval on a JSONL question set")
    p.add_argument("file", help="questions, one JSON object a line (data/eval/README.md)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--misses", action="store_true", help="list questions not answered first")

    add("info", cmd_info, "show model and index information")

    register_research_commands(add)
    register_report_commands(add)  # add, reports, diff, history
    register_answer_commands(add)  # ask, mcp
    return parser


# Failures of the machine rather than of the input (a read-only or full disk) exit with 1.
EXIT_CODES: dict[type[ShisakuError], int] = {BuildError: 1, OutputError: 1}


def exit_code_of(error: ShisakuError) -> int:
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `shisaku`: what it can do
        parser.print_help()
        return 0
    configure_logging("info" if args.verbose else "warning")
    try:
        return int(args.handler(args))
    except ShisakuError as exc:
        error_console().print(Text("shisaku: error: ", style="bold red") + Text(exc.message))
        return exit_code_of(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
