"""`shisaku add|reports|diff|history` as a user runs them: exit codes, output, nothing lost."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port, run_cli, server_env, start_server, stop_server
from pdf_fixtures import (
    REPORT_TEXT,
    second_edition_text,
    write_other_document_pdf,
    write_report_pdf,
)

SECOND = "isa-7th-roundtable-status-2025-06"


@pytest.fixture
def home(tmp_path: Path, fake_settings) -> tuple[Path, object]:
    """A copy of the default corpus, and settings pointing at it (no index built)."""
    corpus = tmp_path / "reports"
    shutil.copytree(ROOT / "data" / "reports", corpus)
    settings = fake_settings.model_copy(update={"corpus": corpus, "index_dir": tmp_path / "index"})
    return corpus, settings


def test_adding_a_document_that_is_not_a_report_exits_2_and_adds_nothing(home, tmp_path) -> None:
    corpus, settings = home
    other = write_other_document_pdf(tmp_path / "minutes.pdf")
    done = run_cli(settings, "add", str(other))
    assert done.returncode == 2, done.stderr
    assert "minutes.pdf, page 1, line 1" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in corpus.iterdir()) == ["isa-7th-roundtable-status-2024"]
    assert not (tmp_path / "index").exists()


def test_a_bad_date_exits_2_naming_the_form(home, tmp_path) -> None:
    corpus, settings = home
    second = tmp_path / "second.txt"
    second.write_text(second_edition_text(REPORT_TEXT.read_text(encoding="utf-8")), "utf-8")
    done = run_cli(settings, "add", str(second), "--date", "next week", "--no-index")
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr
    assert sorted(p.name for p in corpus.iterdir()) == ["isa-7th-roundtable-status-2024"]


def test_diff_of_two_files_lists_the_status_changes(home, tmp_path) -> None:
    _, settings = home
    second = write_report_pdf(
        second_edition_text(REPORT_TEXT.read_text(encoding="utf-8")), tmp_path / "second.pdf"
    )
    done = run_cli(settings, "diff", str(REPORT_TEXT), str(second), "--json")
    assert done.returncode == 0, done.stderr
    diff = json.loads(done.stdout)
    assert {(c["number"], c["from"], c["to"]) for c in diff["status_changed"]} == {
        (1, "実施中", "実施済み"),
        (3, "検討中", "実施中"),
        (20, "検討中", "実施中"),
        (29, "実施中", "実施済み"),
    }
    assert diff["text_changed"] == [4] and diff["added"] == [] and diff["removed"] == []
    shown = run_cli(settings, "diff", str(REPORT_TEXT), str(second))
    assert shown.returncode == 0 and "status changed: 4" in shown.stdout


def test_diff_of_an_unknown_name_exits_2(home) -> None:
    _, settings = home
    done = run_cli(settings, "diff", "no-such-report", str(REPORT_TEXT))
    assert done.returncode == 2 and "no-such-report" in done.stderr


@pytest.mark.slow
def test_add_then_reload_reports_history_and_diff(settings, tmp_path) -> None:
    """The real thing: a server over today's report; `shisaku add` a PDF edition (the index
    is rebuilt with the real models); SIGHUP swaps it in; then the reports, a measure's
    history, the diff by id and the default scope, as a user sees them."""
    corpus = tmp_path / "reports"
    shutil.copytree(ROOT / "data" / "reports", corpus)
    real = settings.model_copy(update={"corpus": corpus, "index_dir": tmp_path / "index"})
    env: dict[str, str] = {}  # the shared vector cache: only the new edition is embedded
    built = run_cli(real, "index", "--quiet", env=env)
    assert built.returncode == 0, built.stderr
    port = free_port()
    server = start_server(server_env(real), port)
    url = f"http://127.0.0.1:{port}"
    try:
        assert len(httpx.get(url + "/reports", timeout=30).json()["reports"]) == 1
        pdf = write_report_pdf(
            second_edition_text(REPORT_TEXT.read_text(encoding="utf-8")), tmp_path / "second.pdf"
        )
        added = run_cli(real, "add", str(pdf), "--date", "2025-06", "--quiet", env=env)
        assert added.returncode == 0, added.stderr
        assert f"added report {SECOND}" in added.stdout
        assert "2 report(s), 66 measures" in added.stdout
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 90
        while len(httpx.get(url + "/reports", timeout=30).json()["reports"]) != 2:
            assert time.monotonic() < deadline, "SIGHUP did not swap in the new index"
            time.sleep(0.3)
        top = httpx.get(url + "/search", params={"q": "手数料 クレジットカード"}, timeout=30)
        first = top.json()["results"][0]
        assert (first["number"], first["status"], first["report"]["id"]) == (3, "実施中", SECOND)
        history = httpx.get(url + "/measures/3/history", timeout=30).json()["history"]
        assert [(h["report"]["date"], h["status"]) for h in history] == [
            ("2024", "検討中"),
            ("2025-06", "実施中"),
        ]
    finally:
        stop_server(server)
    assert json.loads((corpus / SECOND / "report.json").read_text("utf-8"))["edition"] == 2

    listed = json.loads(run_cli(real, "reports", "--json", env=env).stdout)["reports"]
    assert [(r["id"], r["latest"]) for r in listed] == [
        ("isa-7th-roundtable-status-2024", False),
        (SECOND, True),
    ]
    history_cli = json.loads(run_cli(real, "history", "3", "--json", env=env).stdout)
    assert history_cli["history"][1]["changes"][0] == {
        "kind": "status",
        "text": "検討中 → 実施中",
    }
    diff = run_cli(real, "diff", "isa-7th-roundtable-status-2024", SECOND, "--json", env=env)
    assert [c["number"] for c in json.loads(diff.stdout)["status_changed"]] == [1, 3, 20, 29]
    older = run_cli(
        real,
        "search",
        "手数料 クレジットカード",
        "--report",
        "isa-7th-roundtable-status-2024",
        "--json",
        env=env,
    )
    assert json.loads(older.stdout)["results"][0]["status"] == "検討中"
