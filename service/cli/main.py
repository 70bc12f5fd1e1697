"""The `shisaku` command: its parser, `index|serve|search|measures|eval|info`, and the error edge."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from indexer.records import STATUSES
from service.cli.ask import register_answer_commands
from service.cli.loading import engine_from, index_from, settings_from
from service.cli.research import register_research_commands
from service.config import Settings
from service.errors import BuildError, ShisakuError
from service.logs import configure_logging
from service.text import shorten


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from indexer.build import build_index, check_writable
    from indexer.manifest import expected_identity, is_current
    from indexer.parse import parse_report_file
    from service.engine import load_index_encoders

    settings = settings_from(args)
    if not Path(settings.corpus).is_file():
        raise ShisakuError(f"corpus file {settings.corpus} not found (set SHISAKU_CORPUS)")
    parse_report_file(Path(settings.corpus))  # a malformed report fails before models load
    check_writable(Path(settings.index_dir))  # so does a target that cannot be written
    models = load_index_encoders(settings)  # prepares the model and its ONNX export
    identity = expected_identity(Path(settings.corpus), models.encoder, models.second, models.onnx)
    if args.if_stale and is_current(Path(settings.index_dir), identity):
        print(f"index at {settings.index_dir} is up to date")
        return 0
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="text", disable=args.quiet)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    manifest = build_index(
        Path(settings.corpus),
        Path(settings.index_dir),
        models.encoder,
        models.second,
        progress=progress,
        onnx=models.onnx,
    )
    counts = manifest["counts"]
    print(
        f"built index at {settings.index_dir}: {counts['measures']} measures, "
        f"{counts['passages']} passages in {manifest['build_seconds']:.1f} s"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.engine import preflight
    from service.http.app import create_app
    from service.http.server import bounded_protocol

    settings = settings_from(args)
    settings = settings.model_copy(
        update={
            "host": args.host or settings.host,
            "port": args.port or settings.port,
            "workers": args.workers or settings.workers,
        }
    )
    quiet = settings.log_level in ("warning", "error")
    configure_logging("info" if args.verbose and quiet else settings.log_level)
    preflight(settings)  # a bad glossary or a missing, damaged or stale index stops here
    if settings.workers > 1:
        return serve_workers(settings)
    exit_code = {"value": 0}
    server: uvicorn.Server | None = None

    def on_fatal(message: str) -> None:
        exit_code["value"] = 3
        print(f"shisaku: error: {message}", file=sys.stderr)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_fatal=on_fatal)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        http=bounded_protocol(settings.max_header_bytes, settings.header_timeout_seconds),
        log_config=None,  # our logging setup (configure_logging) applies to uvicorn too
    )
    server = uvicorn.Server(config)
    server.run()
    return exit_code["value"]


def serve_workers(settings: Settings) -> int:
    """``serve --workers N``: N processes on one socket, each with its own engine over the
    same read-only index; SIGHUP to this process replaces them one by one."""
    import os

    import uvicorn

    # The workers read their settings from the environment, with this command's overrides.
    os.environ.update(
        SHISAKU_INDEX_DIR=str(settings.index_dir),
        SHISAKU_HOST=settings.host,
        SHISAKU_PORT=str(settings.port),
        SHISAKU_WORKERS=str(settings.workers),
        SHISAKU_LOG_LEVEL=settings.log_level,
    )
    uvicorn.run(
        "service.http.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="service.http.server:EnvironmentBoundedProtocol",
        log_level=settings.log_level,
        access_log=False,
        log_config=None,
        timeout_worker_healthcheck=120,
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from service.engine import load_engine
    from service.schemas import SearchResponse
    from service.search import validate_k, validate_query, validate_statuses

    # Cheap checks before the models load, with the limits the engine will apply.
    settings = settings_from(args)
    validate_query(args.query, settings.max_query_chars)
    validate_k(args.k, settings.max_k)
    validate_statuses(args.status)
    outcome = load_engine(settings, long_running=False).search(
        args.query, k=args.k, statuses=args.status or []
    )
    response = SearchResponse.of(outcome)
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    print(f"{len(response.results)} results for {response.query!r} ({response.took_ms:.0f} ms)")
    for rank, result in enumerate(response.results, start=1):
        print(
            f"\n{rank}. 施策{result.number} [{result.status} / {result.status_en}] "
            f"score {result.score:.2f}"
        )
        print(f"   {shorten(result.target, 110)}")
        for passage in result.passages[:2]:
            print(f"   > ({passage.field}) {shorten(passage.text, 110)}")
    return 0


def cmd_measures(args: argparse.Namespace) -> int:
    from service.schemas import MeasureOut, MeasuresResponse

    index = index_from(args)
    response = MeasuresResponse(measures=[MeasureOut.of(m) for m in index.measures])
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    for m in response.measures:
        print(f"{m.number:>3}  {m.status:<5} {shorten(m.target, 90)}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from service.evaluate import evaluate, load_questions

    questions = load_questions(Path(args.file))
    report = evaluate(engine_from(args), questions)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"{report['answerable']} answerable of {report['questions']} questions")
    print(f"{'group':<22}{'n':>5}{'hit@1':>8}{'hit@5':>8}{'MRR@10':>8}")
    for key, s in report["scores"].items():
        print(
            f"{key:<22}{s['count']:>5}{s['hit_at_1']:>8.3f}{s['hit_at_5']:>8.3f}"
            f"{s['mrr_at_10']:>8.3f}"
        )
    if args.misses:
        for miss in report["misses"]:
            print(f"  miss {miss['id']}: gold {miss['gold']} got {miss['got']}  {miss['question']}")
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
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(handler=handler)
        p.add_argument("--index-dir", help="index directory (default: SHISAKU_INDEX_DIR)")
        return p

    p = add("index", cmd_index, "build the index from the corpus")
    p.add_argument("--corpus", help="report text file (default: SHISAKU_CORPUS)")
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
    p.add_argument("query")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--status", action="append", choices=list(STATUSES))
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("measures", cmd_measures, "list all measures")
    p.add_argument("--json", action="store_true")

    p = add("eval", cmd_eval, "evaluate retrieval on a JSONL question set")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--misses", action="store_true", help="list questions not answered first")

    add("info", cmd_info, "show model and index information")

    register_research_commands(add)
    register_answer_commands(add)  # ask, mcp
    return parser


# Failures of the machine rather than of the input (a read-only or full disk) exit with 1.
EXIT_CODES: dict[type[ShisakuError], int] = {BuildError: 1}


def exit_code_of(error: ShisakuError) -> int:
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging("info" if args.verbose else "warning")
    try:
        return int(args.handler(args))
    except ShisakuError as exc:
        print(f"shisaku: error: {exc.message}", file=sys.stderr)
        return exit_code_of(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
