"""The MCP server through the SDK's own client: stdio (`shisaku mcp`) and streamable HTTP."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from conftest import ROOT, server_env
from mcp import Client
from mcp.client.stdio import StdioServerParameters

TOOLS = {"search_measures", "get_measure", "similar_measures", "answer_question"}


def text_of(result: Any) -> str:
    """The text of a tool result's first content block."""
    return str(result.content[0].text)


async def exercise(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) >= TOOLS
    for name in TOOLS:
        description = tools[name].description or ""
        assert any("\u3040" <= ch <= "\u9fff" for ch in description), name  # Japanese too
        assert any(ch.isascii() and ch.isalpha() for ch in description), name  # English too

    found = await client.call_tool("search_measures", {"query": "特定技能2号の分野は?", "k": 3})
    assert not found.is_error
    assert found.structured_content["results"][0]["number"] == 7
    assert set(found.structured_content) == {"query", "took_ms", "cached", "shown", "results"}
    passages = found.structured_content["results"][0]["passages"]
    assert any(p["highlights"] for p in passages)
    assert "施策7" in text_of(found) and "relevance high" in text_of(found)
    assert "**特定技能２号**" in text_of(found)  # the query's words in bold

    measure = await client.call_tool("get_measure", {"number": 7})
    assert not measure.is_error
    assert measure.structured_content["number"] == 7
    assert measure.structured_content["status"] == "実施済み"
    assert "（注２）" in measure.structured_content["notes"]

    similar = await client.call_tool("similar_measures", {"number": 7, "k": 2})
    assert not similar.is_error
    numbers = [r["number"] for r in similar.structured_content["results"]]
    assert len(numbers) == 2 and 7 not in numbers

    answer = await client.call_tool("answer_question", {"question": "特定技能2号の分野は?"})
    assert not answer.is_error
    assert answer.structured_content["answerable"] is True
    assert any(c["number"] == 7 for c in answer.structured_content["citations"])
    assert "Sources: 施策7" in text_of(answer)
    assert "Quoted from: isa-7th-roundtable-status-2024, 2024" in text_of(answer)
    assert "118" not in text_of(answer).split("Sources:")[1]  # no raw offsets
    assert answer.structured_content.get("reason") is None and "why:" not in text_of(answer)

    refused = await client.call_tool("answer_question", {"question": "qwzxv"})
    assert refused.structured_content["answerable"] is False
    assert "no content word" in refused.structured_content["reason"]
    assert "why: the question shares no content word" in text_of(refused)

    cases: list[tuple[str, dict[str, Any]]] = [
        ("search_measures", {"query": "難民", "k": 0}),
        ("search_measures", {"query": ""}),
        ("search_measures", {"query": "   "}),
        ("get_measure", {"number": 99}),
        ("get_measure", {"number": "seven"}),
        ("similar_measures", {"number": 99}),
        ("answer_question", {"question": "難民", "k": 11}),
    ]
    for name, arguments in cases:
        result = await client.call_tool(name, arguments)
        assert result.is_error, (name, arguments)
        assert result.content and text_of(result)
    missing = await client.call_tool("get_measure", {"number": 99})
    assert "not_found" in text_of(missing)

    # Still serving after the errors.
    again = await client.call_tool("get_measure", {"number": 1})
    assert again.structured_content["number"] == 1


def run(function: Callable[[], Awaitable[Any]]) -> None:
    anyio.run(function)


def test_mcp_over_stdio(settings, built_index) -> None:
    # `python -m service.cli` is the `shisaku` command of this checkout (an installed script
    # may belong to another checkout sharing the virtualenv).
    command, args = sys.executable, ["-m", "service.cli", "mcp"]
    parameters = StdioServerParameters(
        command=command, args=args, env=server_env(settings), cwd=str(ROOT)
    )

    async def main() -> None:
        async with Client(parameters, read_timeout_seconds=240) as client:
            await exercise(client)

    run(main)


def test_mcp_over_streamable_http(server_url: str) -> None:
    async def main() -> None:
        async with Client(server_url + "/mcp", read_timeout_seconds=120) as client:
            await exercise(client)

    run(main)


@pytest.mark.parametrize("path", ["/mcp"])
def test_http_api_still_answers_beside_mcp(server_url: str, path: str) -> None:
    import httpx

    assert httpx.get(server_url + "/healthz", timeout=10).json() == {"status": "ok"}
    # A plain GET without an MCP session is refused by the transport, not a crash.
    assert httpx.get(server_url + path, timeout=10).status_code < 500
