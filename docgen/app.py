"""The FastAPI application: its routers, the lifespan that builds and closes its parts, and the
handlers that give every error the one body shape (``docgen.errors.ErrorOut``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from docgen.batches.routes import router as batches
from docgen.documents.routes import router as documents
from docgen.errors import (
    ErrorOut,
    Forbidden,
    NotAuthenticated,
    error_responses,
    first_translated,
    translate,
)
from docgen.kit.edge import EdgeHeaders
from docgen.kit.error_bodies import add_error_handlers, error_response, internal_error
from docgen.kit.limits import BodySizeLimit
from docgen.kit.rate_limits import RateLimited, RateLimits
from docgen.kit.readiness import OK, readiness
from docgen.local import claim_node_dir
from docgen.paraf.routes import router as paraf
from docgen.people.pages import pages as people_pages
from docgen.people.policies import Caller, Public
from docgen.people.routes import router as people
from docgen.pipeline.workers import freeze_start_up_objects
from docgen.settings import Settings
from docgen.signers.routes import router as signers
from docgen.templating.routes import router as templates
from docgen.verification.kept_reads import KeptReads
from docgen.verification.pages import Pages
from docgen.verification.routes import api as verification
from docgen.verification.routes import pages as public_pages
from docgen.web.render import Office
from docgen.web.routes import office
from docgen.wiring import Parts, start_parts
from signing.errors import SigningError
from storage.errors import StorageError

log = logging.getLogger(__name__)


class ReadinessOut(BaseModel):
    status: str = Field(description='"siap"')
    checks: dict[str, str] = Field(description='each part checked: "ok"')


def banner(parts: Parts, first_admin: str | None) -> str:
    settings = parts.settings
    base = f"http://{settings.host}:{settings.port}"
    login = (
        f"  admin pertama       : buka {first_admin} (sekali pakai) untuk membuat kata sandi"
        if first_admin
        else f"  masuk               : {settings.base_url}/masuk"
    )
    return "\n".join(
        [
            f"docgen siap di {base}",
            login,
            f"  API dan dokumentasi : {base}/docs",
            f"  verifikasi publik   : {settings.base_url}/v/<kode>",
            f"  templat             : {', '.join(t.id for t in parts.catalogue.all_latest())}",
            f"  data                : {settings.data_dir.resolve()}",
            f"  penyimpanan objek   : {parts.store_endpoint} (bucket {settings.s3_bucket})",
            f"  basis data          : {parts.db.where}",
            f"  surel               : {parts.notifier.where}",
            f"  jalur cepat         : {'aktif' if settings.fast_paths else 'mati'}",
            "Tekan Ctrl-C untuk berhenti.",
        ]
    )


def api_router() -> APIRouter:
    """Every ``/api/v1`` route; any of them may fail on bad input (422) or on object storage
    (503)."""
    api = APIRouter(prefix="/api/v1", responses=error_responses(422, 503))
    for router in (people, templates, documents, paraf, signers, batches, verification):
        api.include_router(router)
    return api


# Swagger UI and ReDoc with their scripts, styles and icon served by docgen, so /docs and /redoc
# work on a network without internet. The files come from fastapi-offline (PyPI, locked in
# uv.lock): maintained, released again as the upstream files change, it ships exactly what
# FastAPI's defaults load from the CDN (swagger-ui-dist 5, redoc 2) and FastAPI's icon, and
# needs nothing but FastAPI. swagger-ui-bundle (and its -v2 fork) ship Swagger UI without ReDoc.
API_DOCS_ASSETS = "/aset/docs"
# ReDoc's menu shows Redocly's logo from their CDN, with no option to leave it out: this policy
# keeps both pages to docgen's own files, so the browser does not even ask for it. Inline: the
# pages' start-up script and the styles both UIs write; blob: ReDoc's search worker.
API_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
)


def api_docs() -> APIRouter:
    """``/docs`` and ``/redoc``: pages for people, left out of the schema like FastAPI's own."""
    docs = APIRouter(include_in_schema=False)

    @docs.get("/docs")
    async def swagger_ui(_: Public, request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=f"{API_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{API_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{API_DOCS_ASSETS}/favicon.png",
        )
        page.headers["Content-Security-Policy"] = API_DOCS_POLICY
        return page

    @docs.get("/redoc")
    async def redoc(_: Public, request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=f"{API_DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{API_DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = API_DOCS_POLICY
        return page

    return docs


def create_node_app() -> FastAPI:
    """The app of one process of ``docgen serve --workers N`` (uvicorn's factory): its settings
    from the environment the command prepared, its LibreOffice, caches and files in a data dir
    of its own under the deployment's (``nodes/api-<n>``)."""
    settings = Settings()
    settings.data_dir = claim_node_dir(settings.data_dir / "nodes", "api")
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    config = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start_parts(config) as parts, anyio.create_task_group() as background:
            await parts.revocations.refresh()
            # Listening before serving: a change made elsewhere from now on is followed here.
            await background.start(parts.changes.run)
            parts.jobs.serve(background)
            app.state.parts = parts
            app.state.rate_limits = RateLimits(
                parts.db,
                config.rate_limit_reads,
                config.rate_limit_uploads,
                config.rate_limit_logins,
            )
            background.start_soon(app.state.rate_limits.run)
            first_admin = await parts.accounts.pending_first_admin()
            log.info(
                "%d start-up objects kept out of garbage collection", freeze_start_up_objects()
            )
            log.info(banner(parts, first_admin))
            yield
            parts.jobs.serve(None)
            background.cancel_scope.cancel()

    app = FastAPI(
        title="docgen",
        summary="Pembuatan dokumen dinas, tanda tangan elektronik (PAdES) dan verifikasi publik",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served by api_docs() from local assets
        redoc_url=None,
        # No OpenTelemetry here: without this, FastAPI looks for a tracer and a meter provider
        # on every request (5% of the CPU of a public read answered from memory).
        telemetry={"tracing": False, "metrics": False},
    )
    app.state.pages = Pages()
    app.state.office = Office()
    app.add_middleware(KeptReads)  # the innermost: rate limits and headers apply to it too
    # Room for multipart framing around the largest allowed upload.
    app.add_middleware(BodySizeLimit, limit=config.max_upload_bytes + 2**20)
    app.add_middleware(RateLimited)
    app.add_middleware(EdgeHeaders)  # the outermost: its headers go on every answer
    app.include_router(api_router())
    app.include_router(public_pages)
    app.include_router(people_pages)
    app.include_router(office)
    app.include_router(api_docs())
    app.mount(
        API_DOCS_ASSETS,
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="api-docs-assets",
    )
    app.mount(
        "/aset/kantor",
        StaticFiles(directory=Path(__file__).resolve().parent / "web" / "static"),
        name="office-assets",
    )

    @app.get("/healthz", tags=["kesehatan"])
    async def healthz(_: Public) -> dict[str, str]:
        """Alive and serving (for load balancers and compose)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["kesehatan"],
        response_model=ReadinessOut,
        responses=error_responses(503),
    )
    async def readyz(_: Public, request: Request) -> Response:
        """Ready for work: the registry, the object storage and LibreOffice answer, and a queue
        worker is alive (503 says which not)."""
        parts: Parts = request.app.state.parts
        checks = await readiness(parts.checked)
        down = [f"{name}: {state}" for name, state in checks.items() if state != OK]
        if down:
            return error_response(
                503, ErrorOut(error="NotReady", detail="Belum siap; " + "; ".join(down))
            )
        return JSONResponse(ReadinessOut(status="siap", checks=checks).model_dump())

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        # People in a browser go to the login page; API clients get the JSON 401.
        path = request.url.path
        if not path.startswith("/api/") and request.method == "GET":
            return RedirectResponse(f"/masuk?lanjut={quote(path)}", status_code=303)
        return error_response(exc.status_code, exc.body())

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        # People in a browser see a page saying so; API clients get the JSON 403.
        if not request.url.path.startswith("/api/") and request.method == "GET":
            office: Office = request.app.state.office
            caller = Caller(None, request.client.host if request.client else None)
            return office.page(request, caller, "galat.html", exc.status_code, detail=exc.detail)
        return error_response(exc.status_code, exc.body())

    @app.exception_handler(StorageError)
    @app.exception_handler(SigningError)
    async def library_error(_: Request, exc: Exception) -> JSONResponse:
        # Translated at the edge: the libraries know nothing of HTTP.
        translated = translate(exc)
        if translated is None:
            log.error("untranslated library error", exc_info=exc)
            return internal_error()
        log.warning("%s: %s", type(exc).__name__, exc)
        return error_response(translated.status_code, translated.body())

    @app.exception_handler(ExceptionGroup)
    async def error_group(_: Request, exc: ExceptionGroup[Exception]) -> JSONResponse:
        # Errors of concurrent steps (reads, conversions) arrive grouped: answer with the first
        # one a client can be told about.
        translated = first_translated(exc.exceptions)
        if translated is None:
            log.error("unexpected errors", exc_info=exc)
            return internal_error()
        return error_response(translated.status_code, translated.body())

    add_error_handlers(app)
    return app
