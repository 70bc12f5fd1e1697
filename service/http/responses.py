"""JSON responses serialised once, by the pydantic model that the route built.

A route that returns a model has FastAPI validate it again against the route's
``response_model`` and then encode it with the ``json`` module: ~1 ms for a search response
of ~16 KB, against ~0.1 ms for the model's own ``model_dump_json`` (BENCHMARKS.md, "Eighth
round"). The models are validated when they are built, so the routes keep
``response_model`` for the OpenAPI schema and return :func:`json_response` of the model.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

MEDIA_TYPE = "application/json"


def json_response(model: BaseModel, *, exclude_none: bool = False) -> Response:
    """``model`` as the JSON body FastAPI would send for it (by alias), without its None
    fields when ``exclude_none``."""
    return Response(
        content=model.model_dump_json(by_alias=True, exclude_none=exclude_none),
        media_type=MEDIA_TYPE,
    )
