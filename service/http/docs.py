"""The API documentation pages ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served offline.

FastAPI's own pages load their script from a CDN and start it with an inline script, which
the Content-Security-Policy forbids: both came up blank. Here the UI's files come from the
``fastapi-offline`` package, served from ``/docs-assets/`` (those files only, each pinned by
its Subresource Integrity hash), and Swagger UI is started by ``static/docs-init.js``. Swagger
UI runs under the strict policy; ReDoc gets the two exceptions of
:data:`service.http.middleware.RELAXED_PATHS`.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.http.errors import error_response

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


@cache
def integrity(name: str) -> str:
    """The Subresource Integrity value of one asset (computed once)."""
    digest = hashlib.sha384((ASSETS_DIR / name).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def _asset(name: str) -> str:
    return f"{ASSETS_URL}/{name}"


def _head(title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" type="image/png" href="{_asset("favicon.png")}">\n'
    )


def swagger_html(title: str, openapi_url: str) -> str:
    css = _asset("swagger-ui.css")
    bundle = _asset("swagger-ui-bundle.js")
    return (
        _head(f"{title} — API (Swagger UI)")
        + f'<link rel="stylesheet" href="{css}" integrity="{integrity("swagger-ui.css")}">\n'
        + "</head>\n<body>\n"
        + f'<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>\n'
        + f'<script src="{bundle}" integrity="{integrity("swagger-ui-bundle.js")}"></script>\n'
        + '<script src="/static/docs-init.js"></script>\n</body>\n</html>\n'
    )


def redoc_html(title: str, openapi_url: str) -> str:
    script = _asset("redoc.standalone.js")
    return (
        _head(f"{title} — API (ReDoc)")
        + "</head>\n<body>\n"
        + f'<redoc spec-url="{escape(openapi_url)}"></redoc>\n'
        + f'<script src="{script}" integrity="{integrity("redoc.standalone.js")}"></script>\n'
        + "</body>\n</html>\n"
    )


def add_docs_routes(app: FastAPI) -> None:
    """``/docs``, ``/redoc`` and the four files they load (create the app with
    ``docs_url=None, redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return HTMLResponse(swagger_html(app.title, openapi_url))

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_html(app.title, openapi_url))

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            return error_response(404, "not_found", "Not Found")
        return FileResponse(
            ASSETS_DIR / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )
