"""Generative /ask against a local fake OpenAI-compatible server (no model weights)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from conftest import free_port
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.http.app import create_app
from service.llm import ChatClient, ChatMessage, LLMConfig, LLMError


@dataclass
class FakeLLM:
    """Deterministic chat completions; ``mode`` picks the behaviour of the next requests."""

    mode: str = "normal"
    requests: list[dict] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append({"body": body, "auth": request.headers.get("authorization")})
            if self.mode == "error":
                return JSONResponse({"error": {"message": "boom"}}, status_code=500)
            if self.mode == "slow":
                import asyncio

                await asyncio.sleep(5)
            if self.mode == "garbage":
                return JSONResponse({"unexpected": True})
            text = {
                "normal": "特定技能2号の対象は11分野です［施策7］。",
                "bogus": "11分野です［施策7］。詳細は別の施策にあります［施策99］。",
                "slow": "遅い回答［施策7］",
            }[self.mode]
            return JSONResponse(
                {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
            )

        return app


class ThreadServer:
    """A real uvicorn server on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    with ThreadServer(fake.app()) as url:
        yield fake, url + "/v1"


@pytest.fixture(scope="module")
def generative_url(settings, engine, fake_llm) -> Iterator[str]:
    _, llm_url = fake_llm
    configured = settings.model_copy(
        update={
            "llm_base_url": llm_url,
            "llm_model": "fake",
            "llm_timeout": 1.5,
            "llm_api_key": "sk-test",
        }
    )
    with ThreadServer(create_app(configured, engine=engine)) as url:
        yield url


def ask(url: str, question: str = "特定技能2号の分野は?", **extra: object) -> dict:
    response = httpx.post(
        url + "/ask", json={"question": question, "mode": "generative", **extra}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_generative_answer_cites_retrieved_measures(fake_llm, generative_url: str) -> None:
    fake, _ = fake_llm
    fake.mode = "normal"
    fake.requests.clear()
    body = ask(generative_url)
    assert body["mode"] == "generative" and body["answerable"] is True
    assert body["answer"] == "特定技能2号の対象は11分野です［施策7］。"
    assert "warning" not in body
    assert body["citations"] and {c["number"] for c in body["citations"]} == {7}
    sent = fake.requests[-1]
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["model"] == "fake"
    prompt = sent["body"]["messages"][-1]["content"]
    assert "ビルクリーニング分野" in prompt  # the retrieved footnote is in the context
    assert "Japanese" in sent["body"]["messages"][0]["content"]


def test_english_question_asks_for_english(fake_llm, generative_url: str) -> None:
    fake, _ = fake_llm
    fake.mode = "normal"
    ask(generative_url, "Which fields were added to Specified Skilled Worker (ii)?")
    assert "Answer in English" in fake.requests[-1]["body"]["messages"][0]["content"]


def test_citation_of_a_measure_not_retrieved_is_dropped(fake_llm, generative_url: str) -> None:
    fake, _ = fake_llm
    fake.mode = "bogus"
    body = ask(generative_url, k=3)
    assert "施策99" not in body["answer"] and "［施策7］" in body["answer"]
    assert {c["number"] for c in body["citations"]} == {7}
    assert "99" in body["warning"]


@pytest.mark.parametrize(
    ("mode", "words"), [("slow", "within"), ("error", "HTTP 500"), ("garbage", "unexpected format")]
)
def test_endpoint_failures_fall_back_to_the_extractive_answer(
    fake_llm, generative_url: str, mode: str, words: str
) -> None:
    fake, _ = fake_llm
    fake.mode = mode
    body = ask(generative_url)
    assert body["mode"] == "extractive"
    assert words in body["warning"] and "extractive answer" in body["warning"]
    assert "［施策7］" in body["answer"]
    assert any(c["number"] == 7 and c["field"] == "note" for c in body["citations"])


def test_unanswerable_question_does_not_call_the_model(fake_llm, generative_url: str) -> None:
    fake, _ = fake_llm
    fake.mode = "normal"
    fake.requests.clear()
    body = ask(generative_url, "帰化するには何年住む必要がある?")
    assert body["answerable"] is False and fake.requests == []


def test_generative_stream(fake_llm, generative_url: str) -> None:
    fake, _ = fake_llm
    fake.mode = "normal"
    response = httpx.post(
        generative_url + "/ask/stream",
        timeout=60,
        json={"question": "特定技能2号の分野は?", "mode": "generative"},
    )
    assert response.status_code == 200
    assert "event: results" in response.text and "event: done" in response.text
    assert "特定技能2号の対象は11分野です" in response.text


def test_unreachable_endpoint_raises_llm_error() -> None:
    client = ChatClient(
        LLMConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout=2)
    )
    with pytest.raises(LLMError, match="unreachable"):
        client.complete([ChatMessage("user", "hi")])
