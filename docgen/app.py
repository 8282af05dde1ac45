"""The FastAPI application: lifespan wiring and the one error handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from docgen.api import api, public
from docgen.batches import runner as batch_runner
from docgen.batches import signing as bulk_signing
from docgen.errors import DocgenError
from docgen.kit.limits import BodySizeLimit
from docgen.pipeline.workers import freeze_start_up_objects
from docgen.runtime import Runtime, start_runtime
from docgen.settings import Settings
from docgen.signers import crl
from docgen.verification.pages import Pages

log = logging.getLogger(__name__)


def _error(status: int, error: str, detail: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status)


def banner(rt: Runtime) -> str:
    settings = rt.settings
    base = f"http://{settings.host}:{settings.port}"
    return "\n".join(
        [
            f"docgen siap di {base}",
            f"  API dan dokumentasi : {base}/docs",
            f"  verifikasi publik   : {settings.base_url}/v/<kode>",
            f"  templat             : {', '.join(sorted(rt.templates))}",
            f"  data                : {settings.data_dir.resolve()}",
            f"  penyimpanan objek   : {rt.store_endpoint} (bucket {settings.s3_bucket})",
            f"  basis data          : {settings.sqlalchemy_url.split('@')[-1]}",
            "Tekan Ctrl-C untuk berhenti.",
        ]
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    config = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start_runtime(config) as runtime, anyio.create_task_group() as jobs:
            await crl.publish_crl(runtime)
            await bulk_signing.interrupt_signings(runtime)
            runtime.jobs = jobs
            jobs.start_soon(batch_runner.run_batches, runtime)
            app.state.runtime = runtime
            log.info(
                "%d start-up objects kept out of garbage collection", freeze_start_up_objects()
            )
            log.info(banner(runtime))
            yield
            runtime.jobs = None
            jobs.cancel_scope.cancel()

    app = FastAPI(
        title="docgen",
        summary="Pembuatan dokumen dinas, tanda tangan elektronik (PAdES) dan verifikasi publik",
        version="1",
        lifespan=lifespan,
    )
    app.state.pages = Pages()
    # Room for multipart framing around the largest allowed upload.
    app.add_middleware(BodySizeLimit, limit=config.max_upload_bytes + 2**20)
    app.include_router(api)
    app.include_router(public)

    @app.exception_handler(DocgenError)
    async def docgen_error(_: Request, exc: DocgenError) -> JSONResponse:
        return _error(exc.status_code, exc.error, exc.detail, **exc.extra())

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        fields = ", ".join(p["field"] for p in problems)
        return _error(422, "DataInvalid", f"Data tidak valid: {fields}", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed"}
        return _error(exc.status_code, names.get(exc.status_code, "HTTPError"), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, "InternalError", "Terjadi kesalahan pada server")

    return app
