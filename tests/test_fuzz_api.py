"""Schemathesis over the app's own OpenAPI schema, against the real server: for generated
valid and invalid requests to every operation, no 5xx and every response (errors included)
conforms to the schema, status codes and content types it declares."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30  # per operation; bounded so the suite stays fast on 2 cores


def _app_schema():
    """The served app's OpenAPI document, built in-process (no engine is loaded for it)."""
    from service.config import Settings
    from service.http.app import create_app

    return schemathesis.openapi.from_dict(create_app(Settings()).openapi())


schema = _app_schema()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_schema(case, server_url: str) -> None:
    case.call_and_validate(base_url=server_url, timeout=60)
