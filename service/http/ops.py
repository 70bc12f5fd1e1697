"""HTTP routes for operators: liveness, readiness and what is loaded (no local paths)."""

from __future__ import annotations

from fastapi import FastAPI, Request

from service import __version__
from service.answer import MAX_ASK_K
from service.http.deps import engine_of, state_of
from service.schemas import HealthResponse, InfoResponse, LimitsOut, ModelInfo


def add_ops_routes(app: FastAPI) -> None:
    settings = state_of(app).settings

    @app.get("/healthz", response_model=HealthResponse, tags=["ops"])
    def healthz() -> HealthResponse:
        """Liveness: the process answers (200 even while the index loads)."""
        return HealthResponse(status="ok")

    @app.get("/readyz", response_model=HealthResponse, tags=["ops"])
    def readyz(request: Request) -> HealthResponse:
        """Readiness: the index and the models are loaded (503 until then)."""
        engine_of(request)
        return HealthResponse(status="ready")

    @app.get("/info", response_model=InfoResponse, tags=["ops"])
    def info(request: Request) -> InfoResponse:
        """What is loaded: models, index, version, and the request limits."""
        engine = engine_of(request)
        manifest = engine.index.manifest
        second = engine.second
        return InfoResponse(
            version=__version__,
            model=ModelInfo(
                name=engine.encoder.name,
                path=engine.encoder.path.name,
                dimension=engine.encoder.dimension,
            ),
            second_model=None
            if second is None
            else ModelInfo(name=second.name, path=None, dimension=second.dimension),
            index={
                "path": engine.index.path.name,
                "built_at": manifest.get("built_at"),
                "build_id": manifest.get("build_id"),
                "counts": manifest.get("counts"),
                "corpus_sha256": manifest.get("corpus_sha256"),
                "schema_version": manifest.get("schema_version"),
                "reports": len(engine.index.reports),
            },
            limits=LimitsOut(
                max_query_chars=settings.max_query_chars,
                max_k=settings.max_k,
                max_ask_k=MAX_ASK_K,
                max_batch=settings.max_batch,
            ),
        )
