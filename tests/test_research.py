"""Researcher tools: free-text similarity, batch search, export, map and heatmap."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import run_cli

from service.errors import InvalidRequest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


# ---- core --------------------------------------------------------------------------------


def test_similar_to_text_finds_the_school_measure(engine) -> None:
    from service.research import similar_to_text

    hits = similar_to_text(engine, "外国人の子どもの就学を支援する", k=3)
    assert len(hits) == 3
    assert hits[0].measure.number == 29
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_many_matches_single_searches(engine) -> None:
    from service.research import search_many

    queries = ["特定技能2号の分野は?", "How are foreign children supported in going to school?"]
    outcomes = search_many(engine, queries, k=3)
    assert [o.query for o in outcomes] == queries
    for query, outcome in zip(queries, outcomes, strict=True):
        single = engine.search(query, k=3)
        assert [h.measure.number for h in outcome.results] == [
            h.measure.number for h in single.results
        ]


@pytest.mark.parametrize("queries", [[], ["x"] * 101, "a string"])
def test_search_many_rejects_bad_batches(engine, queries) -> None:
    from service.research import search_many

    with pytest.raises(InvalidRequest):
        search_many(engine, queries)


def test_similarity_matrix_is_symmetric_with_unit_diagonal(engine) -> None:
    from service.research import similarity_matrix

    matrix = similarity_matrix(engine.index)
    assert matrix.numbers == tuple(range(1, 34))
    assert matrix.values.shape == (33, 33)
    np.testing.assert_allclose(matrix.values, matrix.values.T, atol=1e-6)
    np.testing.assert_allclose(np.diag(matrix.values), 1.0, atol=1e-5)


def test_map_labels_carry_short_titles_and_never_overlap(fake_engine) -> None:
    from itertools import combinations

    from service.plots import japanese_font, map_layout
    from service.research import measure_map, short_titles

    titles = short_titles(fake_engine.index.measures, fake_engine.tokenizer)
    report = fake_engine.index.measures[0].report
    assert titles[(report, 7)] == "特定技能２号" and titles[(report, 12)] == "日系四世"
    assert all(0 < len(t) <= 10 for t in titles.values())
    assert len(set(titles.values())) == len(titles)  # each title names one measure
    data = measure_map(fake_engine.index, fake_engine.tokenizer)
    for width, height in ((1200, 900), (800, 600)):
        layout = map_layout(data, width, height)
        if japanese_font():
            assert "7 特定技能２号" in layout.labels
        for (i, a), (j, b) in combinations(enumerate(layout.boxes), 2):
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (layout.labels[i], layout.labels[j])
            assert 0 <= a[0] and a[2] <= width and 0 <= a[1] and a[3] <= height


# ---- figures -----------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def _svg_size(path: Path) -> tuple[float, float]:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return float(root.get("width", "0").removesuffix("pt")), float(
        root.get("height", "0").removesuffix("pt")
    )


@pytest.mark.parametrize("draw", ["map", "heatmap"])
def test_figures_are_valid_images_of_the_asked_size(engine, tmp_path: Path, draw: str) -> None:
    from service.plots import DPI, draw_heatmap, draw_map
    from service.research import measure_map, similarity_matrix

    def render(out: Path) -> None:
        if draw == "map":
            draw_map(measure_map(engine.index, engine.tokenizer), out, 900, 700)
        else:
            draw_heatmap(similarity_matrix(engine.index), out, 900, 700)

    render(tmp_path / "figure.png")
    assert _png_size(tmp_path / "figure.png") == (900, 700)
    render(tmp_path / "figure.svg")
    assert _svg_size(tmp_path / "figure.svg") == (900 * 72 / DPI, 700 * 72 / DPI)
    render(tmp_path / "figure.html")
    html = (tmp_path / "figure.html").read_text(encoding="utf-8")
    assert "<html>" in html and "plotly" in html.lower()
    assert "cdn.plot.ly" not in html.split("<body>")[0]


def test_map_svg_labels_every_measure(engine, tmp_path: Path) -> None:
    from service.plots import draw_map
    from service.research import measure_map

    data = measure_map(engine.index, engine.tokenizer)
    assert len(data.points) == 33
    assert 0 < data.explained[1] <= data.explained[0] < 1
    out = tmp_path / "map.svg"
    draw_map(data, out)
    assert out.stat().st_size > 10_000


def test_figure_rejects_unknown_formats(engine, tmp_path: Path) -> None:
    from service.plots import draw_map
    from service.research import measure_map

    with pytest.raises(InvalidRequest):
        draw_map(measure_map(engine.index, engine.tokenizer), tmp_path / "map.gif")


# ---- export ------------------------------------------------------------------------------


def _read(path: Path, fmt: str) -> list[dict]:
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("with_embeddings", [False, True])
def test_export_round_trips(engine, tmp_path: Path, fmt: str, with_embeddings: bool) -> None:
    from service.export import export

    out = tmp_path / f"export.{fmt}"
    summary = export(engine.index, fmt, out, with_embeddings=with_embeddings)
    rows = _read(out, fmt)
    measures = [r for r in rows if r["kind"] == "measure"]
    passages = [r for r in rows if r["kind"] == "passage"]
    assert len(measures) == summary.measures == 33
    assert len(passages) == summary.passages == len(engine.index.passages)

    by_number = {int(r["number"]): r for r in measures}
    for m in engine.index.measures:
        row = by_number[m.number]
        assert (row["status"], row["status_en"]) == (m.status, m.status_en)
        assert (row["target"], row["explanation"], row["notes"]) == (
            m.target,
            m.explanation,
            m.notes,
        )
    by_id = {int(r["passage_id"]): r for r in passages}
    assert len(by_id) == len(engine.index.passages)
    for p in engine.index.passages:
        row = by_id[p.id]
        assert int(row["number"]) == p.measure and row["field"] == p.field
        start, end = int(row["start"]), int(row["end"])
        assert (start, end, row["text"]) == (p.start, p.end, p.text)
        assert engine.get_measure(p.measure).field_text(p.field)[start:end] == row["text"]

    if with_embeddings:
        dimension = engine.index.dense_measures.d
        assert summary.dimension == dimension
        for row in rows:
            vector = row["embedding"]
            if fmt == "csv":
                vector = json.loads(vector)
            assert len(vector) == dimension
        stored = engine.index.dense_measures.reconstruct(0)
        first = next(r for r in measures if int(r["number"]) == engine.index.measures[0].number)
        got = json.loads(first["embedding"]) if fmt == "csv" else first["embedding"]
        np.testing.assert_allclose(got, stored, atol=1e-6)
    else:
        assert "embedding" not in rows[0] and summary.dimension is None


def test_export_rejects_unknown_format(engine, tmp_path: Path) -> None:
    from service.export import export

    with pytest.raises(InvalidRequest):
        export(engine.index, "xlsx", tmp_path / "x.xlsx")


# ---- HTTP --------------------------------------------------------------------------------


def test_post_similar(server_url: str) -> None:
    response = httpx.post(
        server_url + "/similar", json={"text": "難民認定制度の見直し", "k": 4}, timeout=30
    )
    assert response.status_code == 200
    body = response.json()
    assert body["number"] is None and len(body["results"]) == 4
    assert {"number", "status", "target", "score"} <= set(body["results"][0])


@pytest.mark.parametrize(
    ("payload", "status"),
    [({"text": "", "k": 3}, 422), ({"text": "x", "k": 0}, 422), ({"txt": "x"}, 422)],
)
def test_post_similar_rejects_bad_requests(server_url: str, payload, status) -> None:
    response = httpx.post(server_url + "/similar", json=payload, timeout=30)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "invalid_request"


def test_post_search_batch(server_url: str) -> None:
    queries = [
        "特定技能2号の分野は?",
        "Which fields were added to Specified Skilled Worker (ii)?",
        "検討中の施策は?",
    ]
    response = httpx.post(
        server_url + "/search/batch", json={"queries": queries, "k": 3}, timeout=60
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["query"] for r in results] == queries
    assert results[0]["results"][0]["number"] == 7
    assert results[1]["results"][0]["number"] == 7
    filtered = httpx.post(
        server_url + "/search/batch",
        json={"queries": ["難民"], "k": 5, "status": ["検討中"]},
        timeout=30,
    )
    assert {r["status"] for r in filtered.json()["results"][0]["results"]} == {"検討中"}


@pytest.mark.parametrize(
    "payload",
    [
        {"queries": []},
        {"queries": ["x"] * 101},
        {"queries": ["x"], "status": ["done"]},
        {"queries": "x"},
    ],
)
def test_post_search_batch_rejects_bad_requests(server_url: str, payload) -> None:
    response = httpx.post(server_url + "/search/batch", json=payload, timeout=30)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


# ---- CLI ---------------------------------------------------------------------------------


def test_cli_export_map_heatmap(settings, built_index, tmp_path: Path) -> None:
    done = run_cli(settings, "export", "--format", "csv", "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 0, done.stderr
    assert "33 measures" in done.stdout
    done = run_cli(
        settings, "map", "--out", str(tmp_path / "map.png"), "--width", "800", "--height", "600"
    )
    assert done.returncode == 0, done.stderr
    assert _png_size(tmp_path / "map.png") == (800, 600)
    done = run_cli(settings, "heatmap", "--out", str(tmp_path / "heat.png"))
    assert done.returncode == 0, done.stderr
    assert _png_size(tmp_path / "heat.png") == (1000, 900)
    done = run_cli(settings, "map", "--out", str(tmp_path / "map.gif"))
    assert done.returncode == 2 and ".png, .svg or .html" in done.stderr


def test_cli_similar_and_batch(settings, built_index, tmp_path: Path) -> None:
    done = run_cli(settings, "similar", "外国人の子どもの就学", "--k", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["number"] == 29
    queries = tmp_path / "queries.txt"
    queries.write_text('特定技能2号の分野は?\n{"query": "難民"}\n\n', encoding="utf-8")
    done = run_cli(settings, "batch", str(queries), "--k", "2", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert [r["query"] for r in results] == ["特定技能2号の分野は?", "難民"]
