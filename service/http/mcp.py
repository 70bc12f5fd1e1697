"""MCP over streamable HTTP at ``/mcp``, inside the app, with Host and Origin checked always."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings

from service.config import Settings
from service.http.deps import state_of
from service.mcp.server import build_mcp_server
from service.search import SearchEngine

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS = {"0.0.0.0", "::", ""}


def _host_label(host: str) -> str:
    """How a bind address appears in a Host header: IPv6 in brackets."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection on every bind: SHISAKU_ALLOWED_HOSTS / _ORIGINS when set;
    otherwise loopback plus the address the server is bound to (when it is a specific one)."""
    hosts = list(settings.allowed_hosts)
    if not hosts:
        names = list(LOOPBACK_HOSTS)
        if settings.host not in _WILDCARD_BINDS and _host_label(settings.host) not in names:
            names.append(_host_label(settings.host))
        hosts = [f"{name}:*" for name in names] + names
    origins = list(settings.allowed_origins)
    if not origins:
        origins = [f"http://{h}" for h in hosts]
    if settings.host in _WILDCARD_BINDS and not settings.allowed_hosts:
        logger.warning(
            "bound to all interfaces: /mcp only answers Host %s; set SHISAKU_ALLOWED_HOSTS "
            "to the names clients use",
            ", ".join(LOOPBACK_HOSTS),
        )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def mount_mcp(app: FastAPI, host: str = "127.0.0.1") -> None:
    """Serve the MCP tools at ``/mcp`` in ``app``; run :func:`mcp_lifespan` in its lifespan."""
    state = state_of(app)

    def get_engine() -> SearchEngine:
        return state.ready_engine()

    server = build_mcp_server(get_engine)
    starlette_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        host=host,
        transport_security=transport_security(state.settings),
        # A session lives in the process that began it; with several workers a client's next
        # connection may reach another one (404 "session not found"). The tools keep no
        # state, so workers serve each request on its own.
        stateless_http=state.settings.workers > 1,
    )
    for route in starlette_app.routes:
        app.router.routes.append(route)
    state.mcp_server = server


@contextlib.asynccontextmanager
async def mcp_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the MCP session manager for the app's lifetime (a no-op when MCP is not mounted)."""
    server = state_of(app).mcp_server
    if server is None:
        yield
        return
    async with server.session_manager.run():
        yield
