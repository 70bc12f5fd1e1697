"""Command line: `shisaku index|serve|search|measures|eval|info` over the same core."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from service.errors import ShisakuError

logger = logging.getLogger("shisaku")


def _settings(args: argparse.Namespace) -> Any:
    from service.settings import load_settings

    settings = load_settings()
    updates = {}
    for name in ("index_dir", "corpus"):
        value = getattr(args, name, None)
        if value is not None:
            updates[name] = Path(value)
    return settings.model_copy(update=updates) if updates else settings


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from indexer.build import build_index, expected_identity, is_current
    from service.runtime import load_encoders

    settings = _settings(args)
    if not Path(settings.corpus).is_file():
        raise ShisakuError(f"corpus file {settings.corpus} not found (set SHISAKU_CORPUS)")
    encoder, second = load_encoders(settings)
    if args.if_stale and is_current(
        Path(settings.index_dir), expected_identity(Path(settings.corpus), encoder, second)
    ):
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
        Path(settings.corpus), Path(settings.index_dir), encoder, second, progress=progress
    )
    counts = manifest["counts"]
    print(
        f"built index at {settings.index_dir}: {counts['measures']} measures, "
        f"{counts['passages']} passages in {manifest['build_seconds']:.1f} s"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from indexer.build import read_manifest
    from service.api import create_app
    from service.index import verify_files

    settings = _settings(args)
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    index_dir = Path(settings.index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise ShisakuError(f"no usable index at {index_dir}; build it with `shisaku index`")
    verify_files(index_dir, manifest)
    exit_code = {"value": 0}
    server: uvicorn.Server | None = None

    def on_fatal(message: str) -> None:
        exit_code["value"] = 3
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_fatal=on_fatal)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False
    )
    server = uvicorn.Server(config)
    server.run()
    return exit_code["value"]


def _engine(args: argparse.Namespace) -> Any:
    from service.runtime import load_engine

    return load_engine(_settings(args))


def cmd_search(args: argparse.Namespace) -> int:
    from service.runtime import load_engine
    from service.schemas import SearchResponse
    from service.search import validate_k, validate_query, validate_statuses

    # Cheap checks before the models load, with the limits the engine will apply.
    settings = _settings(args)
    validate_query(args.query, settings.max_query_chars)
    validate_k(args.k, settings.max_k)
    validate_statuses(args.status)
    outcome = load_engine(settings).search(args.query, k=args.k, statuses=args.status or [])
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
        print(f"   {_shorten(result.target, 110)}")
        for passage in result.passages[:2]:
            print(f"   > ({passage.field}) {_shorten(passage.text, 110)}")
    return 0


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_measures(args: argparse.Namespace) -> int:
    from service.schemas import MeasureOut, MeasuresResponse

    engine = _engine(args)
    response = MeasuresResponse(measures=[MeasureOut.of(m) for m in engine.index.measures])
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    for m in response.measures:
        print(f"{m.number:>3}  {m.status:<5} {_shorten(m.target, 90)}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from service.evaluate import evaluate, load_questions

    questions = load_questions(Path(args.file))
    report = evaluate(_engine(args), questions)
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
    engine = _engine(args)
    manifest = engine.index.manifest
    info = {
        "model": {"name": engine.encoder.name, "dimension": engine.encoder.dimension},
        "second_model": None
        if engine.second is None
        else {"name": engine.second.name, "dimension": engine.second.dimension},
        "index": {
            "path": str(engine.index.path),
            "built_at": manifest.get("built_at"),
            "counts": manifest.get("counts"),
        },
    }
    print(json.dumps(info, ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shisaku", description=__doc__)
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

    p = add("search", cmd_search, "search from the command line")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--status", action="append", choices=["実施中", "実施済み", "検討中"])
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("measures", cmd_measures, "list all measures")
    p.add_argument("--json", action="store_true")

    p = add("eval", cmd_eval, "evaluate retrieval on a JSONL question set")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--misses", action="store_true", help="list questions not answered first")

    add("info", cmd_info, "show model and index information")

    from service.research_cli import register_research_commands

    register_research_commands(add)
    from service.answer_cli import register_answer_commands

    register_answer_commands(add)  # ask, mcp
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except ShisakuError as exc:
        print(f"shisaku: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
