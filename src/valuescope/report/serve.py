"""`valuescope serve RUN`: a small read-only explorer over the run (FastAPI).

Security model: binds 127.0.0.1 by default; any other interface needs a token,
and then every request must carry it (``Authorization: Bearer T``,
``X-Valuescope-Token: T`` or ``?token=T``). A token of only whitespace counts
as none. Without a token, a request must name a loopback host (``Host:
127.0.0.1``, ``localhost`` or ``[::1]``, any port): a web page on another
site that rebinds its DNS name to 127.0.0.1 sends its own name and gets 403.
Only GET routes exist. Responses
carry aggregates above the privacy floor; conversation text (scrubbed, and
truncated) is returned only when the explorer was started with examples, and
only for values whose cell passes the floor. Pages are static files and fill
themselves with ``textContent`` (never ``innerHTML``), under a strict CSP.

The JSON endpoints are listed in :data:`ENDPOINTS` (and at ``/api/endpoints``)
so `valuescope audit` can call each through FastAPI's TestClient.
"""

from __future__ import annotations

import hmac
import html
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from valuescope.errors import ValuescopeError
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.report.examples import pick_ids, snippets_for_ids
from valuescope.report.explore import LEVELS, Explorer
from valuescope.report.floor import Floor

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ENDPOINTS: dict[str, str] = {
    "/api/endpoints": "this list",
    "/api/summary": "run counts and the privacy floor",
    "/api/facets": "filter choices (task_category, context, model, response) with counts above the floor",
    "/api/values": "values or clusters (level=value|l1|l2|l3, side=ai|human) with counts; filters task_category, context, model, response, q",
    "/api/search": "values and clusters whose name contains q (all sides and levels)",
    "/api/tree": "children of a taxonomy node: no path = top categories; l3=, l2=, l1= walk down",
    "/api/value": "where a value occurs (name=, side=, level=): counts by task category, source context, model, response type",
    "/api/examples": "scrubbed snippets for a value (name=, side=); 404 unless started with --examples",
}
SIDES = ("ai", "human")
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


class BindError(ValuescopeError, ValueError):
    """Refused to bind a non-local interface without a token."""


def clean_token(token: str | None) -> str | None:
    """The token in use: None for a missing, empty or whitespace-only one."""
    return (token or "").strip() or None


def is_loopback_host(host_header: str) -> bool:
    """``Host`` names a loopback interface (port ignored; ``localhost.`` and any case accepted)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".") in LOCAL_HOSTS


def check_bind(host: str, token: str | None) -> None:
    if host not in LOCAL_HOSTS and not clean_token(token):
        raise BindError(
            f"refusing to listen on {host!r} without --token: the explorer would be open to the network (use 127.0.0.1, or pass --token)"
        )


def _static(name: str) -> str:
    return (resources.files("valuescope.report") / "static" / name).read_text("utf-8")


def _token_ok(request: Request, token: str) -> bool:
    given = request.headers.get("x-valuescope-token") or request.query_params.get("token") or ""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return hmac.compare_digest(given.encode(), token.encode())


def create_app(
    run_path: str | Path,
    examples: bool = False,
    token: str | None = None,
    privacy: PrivacyConfig | None = None,
    config: ReportConfig | None = None,
) -> FastAPI:
    """The explorer app for one run (also used by `valuescope audit` through TestClient)."""
    config = config or ReportConfig()
    token = clean_token(token)
    explorer = Explorer(run_path, Floor.from_config(privacy))
    app = FastAPI(title="valuescope explorer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.explorer = explorer
    app.state.examples = examples

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if request.method not in ("GET", "HEAD"):
            return JSONResponse({"detail": "read-only explorer"}, status_code=405)
        if not token and not is_loopback_host(request.headers.get("host", "")):
            return JSONResponse(
                {"detail": "this explorer answers only requests to 127.0.0.1/localhost (or start it with --token)"},
                status_code=403,
            )
        if token and not _token_ok(request, token):
            return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _side(side: str) -> str:
        if side not in SIDES:
            raise HTTPException(422, f"side must be one of {SIDES}")
        return side

    def _level(level: str) -> str:
        if level not in LEVELS:
            raise HTTPException(422, f"level must be one of {tuple(LEVELS)}")
        return level

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        page = _static("explorer.html")
        if token:  # <script>/<link> cannot send headers: the asset URLs carry the token
            q = html.escape(quote(token, safe=""))
            page = page.replace('static/explorer.js"', f'static/explorer.js?token={q}"').replace(
                'static/explorer.css"', f'static/explorer.css?token={q}"'
            )
        return HTMLResponse(page)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        types = {"explorer.js": "text/javascript", "explorer.css": "text/css"}
        if name not in types:
            raise HTTPException(404, "not found")
        return Response(_static(name), media_type=types[name])

    @app.get("/api/endpoints")
    def endpoints() -> dict[str, Any]:
        return {"endpoints": ENDPOINTS, "examples": examples}

    @app.get("/api/summary")
    def summary() -> dict[str, Any]:
        return {**explorer.summary(), "examples": examples}

    @app.get("/api/facets")
    def facets() -> dict[str, Any]:
        return explorer.facets()

    @app.get("/api/values")
    def values(
        side: str = "ai",
        level: str = "value",
        q: str | None = None,
        task_category: str | None = None,
        model: str | None = None,
        response: str | None = None,
        context: str | None = None,
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        filters = {"task_category": task_category, "context": context, "model": model, "response": response}
        return explorer.values(_side(side), _level(level), q=q, filters=filters, limit=limit)

    @app.get("/api/search")
    def search(
        q: str = Query(..., min_length=1, max_length=200), limit: int = Query(20, ge=1, le=200)
    ) -> dict[str, Any]:
        return explorer.search(q, limit)

    @app.get("/api/tree")
    def tree(side: str = "ai", l3: str | None = None, l2: str | None = None, l1: str | None = None) -> dict[str, Any]:
        return explorer.tree(_side(side), l3, l2, l1)

    @app.get("/api/value")
    def value(name: str, side: str = "ai", level: str = "value") -> dict[str, Any]:
        found = explorer.value(name, _side(side), _level(level))
        if found is None:
            raise HTTPException(404, "no such value above the privacy floor")
        return found

    @app.get("/api/examples")
    def examples_endpoint(name: str, side: str = "ai") -> dict[str, Any]:
        if not examples:
            raise HTTPException(404, "examples are off (start the explorer with --examples)")
        if explorer.value(name, _side(side)) is None:
            raise HTTPException(404, "no such value above the privacy floor")
        ids = pick_ids(explorer.conversation_ids(name, side), config.max_examples, name)
        texts = snippets_for_ids(explorer.run, ids, config.snippet_chars)
        return {"name": name, "side": side, "snippets": [texts[i] for i in ids if i in texts]}

    return app
