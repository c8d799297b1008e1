"""Putting the API together: the FastAPI app of ``assistant serve`` (API and MCP, no UI), and
what the web chat adds to its own (Gradio) FastAPI app to serve the same API beside the page."""

from __future__ import annotations

import contextlib
from typing import Any

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.service.http import Service, build_router, check_exposure, openapi_schema

DOCS_URL = "/docs"


class ApiParts:
    """The API's routes, its MCP endpoint and their lifespan, for one ``Service``."""

    def __init__(self, service: Service, host: str):
        from assistant.service.mcp import MCPHttp

        self.service = service
        self.router = build_router(service)
        self.mcp = MCPHttp(service, host)

    @property
    def routes(self) -> list:
        return [*self.router.routes, *self.mcp.routes]

    def app_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the FastAPI app that serves the API (Gradio passes them on)."""
        return {"routes": self.routes, "lifespan": self.lifespan, "docs_url": DOCS_URL, "openapi_url": "/openapi.json",
                "title": "Ask your documents"}

    @contextlib.asynccontextmanager
    async def lifespan(self, app=None):
        async with self.mcp.lifespan():
            yield

    def document(self, app) -> None:
        """Make ``/docs`` show the API's routes only (not the web page's internal ones)."""
        schema: dict = {}

        def openapi() -> dict:
            if not schema:
                schema.update(openapi_schema(self.router))
            return schema

        app.openapi = openapi


def build_app(settings: Settings, host: str | None = None):
    """The FastAPI app of ``assistant serve``."""
    from fastapi import FastAPI

    parts = ApiParts(Service(settings), host or settings.ui_host)
    app = FastAPI(**parts.app_kwargs())
    parts.document(app)
    return app


def serve(settings: Settings, host: str | None = None, port: int | None = None, quiet: bool = False) -> None:
    """Serve the HTTP API and MCP on ``host:port`` until interrupted."""
    import socket

    import uvicorn

    from assistant.config import offline_environment

    offline_environment()
    host = host or settings.ui_host
    port = port or settings.ui_port
    check_exposure(settings, host)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AssistantError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another with --port") from None
    app = build_app(settings, host)
    uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info", access_log=not quiet)
