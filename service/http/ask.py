"""HTTP routes of /ask and /ask/stream (server-sent events): thin wrappers over service.answer."""

# No ``from __future__ import annotations``: the request model is made per configuration.
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from service.answer import answer_question, check_mode, compose, retrieve
from service.http.deps import engine_of, state_of
from service.http.responses import json_response
from service.schemas import AskResponse, request_models, results_of
from service.views import view_of

# One server-sent event of /ask/stream (its data is JSON text), for the OpenAPI document.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {
            "type": "string",
            "enum": ["results", "answer", "citations", "done"],
            "description": "results, then answer chunks, then citations, then done",
            "examples": ["answer"],
        },
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "the event's JSON: {question, results} | {text} | {citations} | "
            "{answerable, mode, took_ms, direct_end, warning?, reason?}",
            "examples": ['{"text": "特定技能２号の対象分野について、…［施策7］"}'],
        },
    },
    "required": ["event", "data"],
}
_CHUNK = re.compile(r"[^\n。]*(?:[。\n]|$)")


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_chunks(text: str) -> list[str]:
    """The answer split after each sentence or line (concatenated they give the answer)."""
    return [c for c in _CHUNK.findall(text) if c]


def add_ask_routes(app: FastAPI) -> None:
    state = state_of(app)
    models = request_models(state.settings)

    @app.post("/ask", response_model=AskResponse, tags=["answers"])
    def ask(request: Request, body: models.ask) -> Response:  # type: ignore[name-defined]
        """Answer a question from the report, with citations (extractive or generative)."""
        engine = engine_of(request)
        answer = answer_question(
            engine,
            body.question,
            k=body.k,
            statuses=body.status,
            mode=body.mode,
            llm=state.llm(),
            reports=body.report,
            editions=body.editions,
        )
        response = AskResponse.of(answer, view_of(engine, answer.outcome, answer.decision))
        return json_response(response, exclude_none=True)

    @app.post(
        "/ask/stream",
        tags=["answers"],
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Server-sent events",
                "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
            }
        },
    )
    def ask_stream(request: Request, body: models.ask) -> StreamingResponse:  # type: ignore[name-defined]
        """The /ask answer as server-sent events: results, answer chunks, citations, done."""
        started = time.perf_counter()
        engine = engine_of(request)
        llm = state.llm()
        mode = check_mode(body.mode, llm)
        # Invalid input fails here, as a JSON 4xx, before the stream starts.
        got = retrieve(engine, body.question, body.k, body.status, body.report, body.editions)
        outcome, decision = got.outcome, got.decision

        def events() -> Iterator[str]:
            view = view_of(engine, outcome, decision)
            results = [r.model_dump() for r in results_of(outcome, view)]
            yield sse("results", {"question": body.question, "results": results})
            answer = compose(
                body.question,
                outcome,
                decision,
                mode,
                llm,
                started,
                got.change,
                engine.index.reports,
            )
            for chunk in answer_chunks(answer.text):
                yield sse("answer", {"text": chunk})
            response = AskResponse.of(answer, view)
            yield sse("citations", {"citations": [c.model_dump() for c in response.citations]})
            done: dict[str, Any] = {
                "answerable": answer.answerable,
                "mode": answer.mode,
                "took_ms": answer.took_ms,
                "direct_end": response.direct_end,
            }
            if answer.warning:
                done["warning"] = answer.warning
            if response.reason:
                done["reason"] = response.reason
            yield sse("done", done)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
