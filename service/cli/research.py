"""CLI commands for researchers: `shisaku similar|batch|export|map|heatmap` (thin, over the core)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from indexer.records import STATUS_NAMES
from service.cli.console import print_table, status_text, table
from service.cli.loading import STATUS_HELP, check_search_arguments, engine_from, index_from
from service.errors import InvalidRequest
from service.user_files import read_user_text

AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_similar(args: argparse.Namespace) -> int:
    from service.research import similar_to_text
    from service.schemas import SimilarResponse

    check_search_arguments(args)
    hits = similar_to_text(engine_from(args), args.text, k=args.k)
    if args.json:
        response = SimilarResponse.of_pairs([(h.measure, h.score) for h in hits])
        print(response.model_dump_json(indent=2))
        return 0
    grid = table(
        "No.",
        "cosine",
        "status",
        "recommended measure",
        right=("No.", "cosine"),
        rest="recommended measure",
    )
    for hit in hits:
        m = hit.measure
        grid.add_row(
            str(m.number), f"{hit.score:.3f}", status_text(m.status), " ".join(m.target.split())
        )
    print_table(grid)
    return 0


def _read_queries(path: str) -> list[str]:
    """One query a line, or JSONL lines with a "query"/"q"/"question" key; "-" is stdin."""
    text = read_user_text(path, "queries from", stdin=True)
    queries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"{path} line {number} is not valid JSON") from exc
            query = item.get("query") or item.get("q") or item.get("question")
            if not isinstance(query, str):
                raise InvalidRequest(f'{path} line {number} has no "query" string')
            line = query
        queries.append(line)
    return queries


def cmd_batch(args: argparse.Namespace) -> int:
    from service.research import search_many
    from service.schemas import BatchSearchResponse, SearchResponse
    from service.views import view_of

    check_search_arguments(args)
    queries = _read_queries(args.file)  # a bad file fails before the models load
    engine = engine_from(args)
    outcomes = search_many(engine, queries, k=args.k, statuses=args.status or [])
    if args.json:
        response = BatchSearchResponse(
            results=[SearchResponse.of(o, view_of(engine, o)) for o in outcomes]
        )
        print(response.model_dump_json(indent=2))
        return 0
    for outcome in outcomes:
        numbers = ", ".join(str(hit.measure.number) for hit in outcome.results)
        print(f"{outcome.query}\t{numbers}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from service.export import export

    summary = export(
        index_from(args), args.format, Path(args.out), with_embeddings=args.with_embeddings
    )
    vectors = f" with {summary.dimension}-d vectors" if summary.dimension else ""
    print(
        f"wrote {summary.measures} measures and {summary.passages} passages{vectors} "
        f"to {summary.path} ({summary.format})"
    )
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from indexer.tokenize import Tokenizer
    from service.plots import check_size, draw_map, figure_format
    from service.research import measure_map

    figure_format(Path(args.out))  # fail on a bad name or size before loading anything
    check_size(args.width, args.height)
    summary = draw_map(
        measure_map(index_from(args), Tokenizer()), Path(args.out), args.width, args.height
    )
    print(f"wrote the measure map to {summary.path} ({summary.width}×{summary.height})")
    return 0


def cmd_heatmap(args: argparse.Namespace) -> int:
    from service.plots import check_size, draw_heatmap, figure_format
    from service.research import similarity_matrix

    figure_format(Path(args.out))
    check_size(args.width, args.height)
    summary = draw_heatmap(
        similarity_matrix(index_from(args)), Path(args.out), args.width, args.height
    )
    print(f"wrote the similarity heatmap to {summary.path} ({summary.width}×{summary.height})")
    return 0


def register_research_commands(add: AddCommand) -> None:
    p = add("similar", cmd_similar, "measures most similar to any free text")
    p.add_argument("text", help="any text: a paragraph, a draft, another report's item")
    p.add_argument("-k", "--k", type=int, default=5, help="how many measures to list (default 5)")
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("batch", cmd_batch, "search many queries from a file (one a line, or JSONL)")
    p.add_argument("file", help='queries file, "-" for stdin (at most 100 queries)')
    p.add_argument(
        "-k", "--k", type=int, default=10, help="how many measures per query (default 10)"
    )
    p.add_argument(
        "--status", action="append", choices=STATUS_NAMES, metavar="STATUS", help=STATUS_HELP
    )
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = add("export", cmd_export, "export measures and passages (and vectors)")
    p.add_argument("--format", choices=["jsonl", "csv", "parquet"], required=True)
    p.add_argument("--with-embeddings", action="store_true", help="add the dense vectors")
    p.add_argument("--out", required=True, help="output file")

    p = add("map", cmd_map, "2-D map of the measures (PCA of their embeddings)")
    p.add_argument("--out", required=True, help="FILE.png, FILE.svg or FILE.html")
    p.add_argument("--width", type=int, default=1200, help="pixels")
    p.add_argument("--height", type=int, default=900, help="pixels")

    p = add("heatmap", cmd_heatmap, "measure-by-measure similarity heatmap")
    p.add_argument("--out", required=True, help="FILE.png, FILE.svg or FILE.html")
    p.add_argument("--width", type=int, default=1000, help="pixels")
    p.add_argument("--height", type=int, default=900, help="pixels")
