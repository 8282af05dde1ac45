"""The ``docgen`` command line: run the service, or talk to a running one."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import httpx
import typer
import uvicorn

from docgen.kit.server import server_config
from docgen.registry.statuses import BatchStatus, SigningStatus
from docgen.settings import Settings

app = typer.Typer(
    help="docgen: dokumen dinas, tanda tangan elektronik, verifikasi.", no_args_is_help=True
)
signer_app = typer.Typer(help="Penanda tangan.", no_args_is_help=True)
app.add_typer(signer_app, name="signer")
users_app = typer.Typer(help="Akun (di server, langsung pada registri).", no_args_is_help=True)
app.add_typer(users_app, name="users")

Url = Annotated[
    str, typer.Option("--url", envvar="DOCGEN_URL", help="URL of the running docgen service")
]
Token = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="DOCGEN_TOKEN",
        help="API token (POST /api/v1/auth/tokens); the commands act as its user",
    ),
]


def _client(url: str, token: str = "") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, timeout=120, headers=headers)


def _problem_line(problem: dict[str, Any]) -> str:
    if "row" in problem:
        return f"baris {problem['row']}, kolom {problem['column']}: {problem['message']}"
    place = problem.get("field") or problem.get("where")
    return f"{place}: {problem['message']}"


def _check(response: httpx.Response) -> Any:
    if response.is_error:
        try:
            body = response.json()
            message = f"{body.get('error')}: {body.get('detail')}"
            for problem in body.get("problems", []):
                message += f"\n  - {_problem_line(problem)}"
        except ValueError:
            message = response.text
        typer.secho(f"Gagal ({response.status_code}) {message}", fg="red", err=True)
        raise typer.Exit(1)
    return response.json() if "json" in response.headers.get("content-type", "") else response


def _show(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: DOCGEN_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: DOCGEN_PORT or 8000")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="processes serving on the same port, each with its own LibreOffice, caches and "
            "data dir (nodes/api-N)",
        ),
    ] = 1,
) -> None:
    """Start the service (and, unless configured otherwise, its embedded S3, database,
    LibreOffice and CA). Ctrl-C stops everything it started. The registry's schema must be
    current (docgen migrate): instances of a deployment never change it as they start."""
    import anyio

    settings = Settings()
    settings.host = host or settings.host
    settings.port = port or settings.port
    _log_to_stderr()
    if workers > 1:
        _serve_processes(settings, workers)
        return
    from docgen.app import create_app

    with _refusals():
        anyio.run(_ready_to_serve, settings)
    config = server_config(create_app(settings), **_server_options(settings))
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config).run()


def _serve_processes(settings: Settings, count: int) -> None:
    """``docgen serve --workers N``: the parts the processes share (the embedded ones started
    here, once), then uvicorn's supervisor over ``count`` processes of the app."""
    import os

    import anyio
    from uvicorn.supervisors import Multiprocess

    from docgen.local import shared_parts

    with _refusals(), shared_parts(settings, migrating=False) as shared:
        # The processes read their settings from the environment they are started with.
        os.environ.update(shared)
        os.environ["DOCGEN_DATA_DIR"] = str(settings.data_dir.resolve())
        anyio.run(_ready_to_serve, Settings())  # the CA is made or adopted once, here
        config = server_config(
            "docgen.app:create_node_app", factory=True, workers=count, **_server_options(settings)
        )
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[config.bind_socket()]).run()


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="jobs run at once (default: DOCGEN_WORKER_CONCURRENCY)"),
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option(help="take jobs of this queue only (repeatable)")
    ] = None,
) -> None:
    """Run jobs from the queue in the registry until Ctrl-C or SIGTERM (running jobs end
    first). Start as many as you like, on any node; the schema must be current (docgen
    migrate). A registry outage does not end it: it starts again once the registry is back."""
    import asyncio

    from docgen.worker import run_worker

    _log_to_stderr()
    with _refusals():
        asyncio.run(run_worker(Settings(), concurrency=concurrency, queues=queue or []))


@app.command()
def converter(
    host: Annotated[str | None, typer.Option(help="default: DOCGEN_HOST or 127.0.0.1")] = None,
    port: Annotated[int, typer.Option(help="the port instances reach it on")] = 8100,
) -> None:
    """Run a converter node: LibreOffice (DOCGEN_CONVERTER_WORKERS servers, under this data
    dir) behind an HTTP API for every instance whose DOCGEN_CONVERTER_URLS names it. It needs
    the deployment's DOCGEN_SECRET_KEY (or _FILE): callers present a token derived from it.
    Ctrl-C or SIGTERM stops it and its LibreOffice."""
    from docgen.converter.auth import configured_secret, node_token
    from docgen.converter.node import create_node_app
    from docgen.errors import ConversionFailed
    from docgen.pipeline.convert import local_pool

    settings = Settings()
    _log_to_stderr()
    with _refusals():
        token = node_token(configured_secret(settings))
    pool = local_pool(settings)
    try:
        try:
            pool.start()
        except ConversionFailed as exc:
            typer.secho(f"Gagal: {exc.detail}", fg="red", err=True)
            raise typer.Exit(1) from exc
        node = create_node_app(
            pool,
            token,
            max_documents=settings.converter_max_documents,
            max_request_bytes=settings.converter_max_request_bytes,
        )
        host = host or settings.host
        logging.getLogger(__name__).info(
            "node konverter docgen di http://%s:%d (%d server LibreOffice, data %s); "
            "tekan Ctrl-C untuk berhenti",
            host,
            port,
            settings.converter_workers,
            pool.workdir.resolve(),
        )
        config = server_config(node, **{**_server_options(settings), "host": host, "port": port})
        with contextlib.suppress(KeyboardInterrupt):
            _Server(config).run()
    finally:
        pool.stop()


@app.command()
def up(
    workers: Annotated[int, typer.Option(min=0, max=16, help="queue workers beside the API")] = 1,
) -> None:
    """Everything on this machine (make run): the embedded PostgreSQL and S3 server unless
    configured otherwise, the schema brought up to date, the API and its queue workers.
    Ctrl-C stops them all."""
    from docgen.local import run_everything

    _log_to_stderr()
    with _refusals():
        status = run_everything(Settings(), workers=workers)
    raise typer.Exit(status)


@app.command()
def migrate() -> None:
    """Bring the registry's schema to this version of docgen, before `docgen serve` and
    `docgen worker` start (safe when several run at once)."""
    import anyio

    from docgen.registry.db import migrate as migrate_registry
    from docgen.registry.db import require_current_schema, running_registry, where

    async def run() -> str:
        async with running_registry(Settings()) as url:
            await anyio.to_thread.run_sync(migrate_registry, url)
            revision = await anyio.to_thread.run_sync(require_current_schema, url)
            return f"registri {where(url)} pada revisi {revision}"

    with _refusals():
        typer.echo(anyio.run(run))


@app.command("storage-init")
def storage_init() -> None:
    """Make the bucket of DOCGEN_S3_BUCKET with versioning and COMPLIANCE object lock (default
    retention DOCGEN_S3_RETENTION_DAYS), or check an existing one. Give it credentials that may
    make buckets; the ones docgen serves with need not (production: once, before the others)."""
    from docgen.kit.object_storage import configured_store

    settings = Settings()
    with _refusals():
        store = configured_store(settings)
        store.ensure_bucket()
    typer.echo(
        f"bucket {settings.s3_bucket} di {settings.s3_endpoint} siap: berversi, kunci objek "
        f"COMPLIANCE {settings.s3_retention_days} hari"
    )


async def _ready_to_serve(settings: Settings) -> None:
    """Refuses what an operator must fix before the service starts: a schema that is not this
    docgen's (SchemaNotCurrent), a server secret that does not open the deployment's CA
    (WrongSecretKey), converter nodes without a configured server secret (ValueError). The CA
    is made or adopted here on a deployment's first start."""
    import anyio

    from docgen.converter.auth import configured_secret
    from docgen.registry.db import Database, require_current_schema, running_registry
    from docgen.wiring import deployment_ca

    if settings.converter_nodes:
        configured_secret(settings)  # (raises ValueError: the nodes' token needs it)
    async with running_registry(settings) as url:
        await anyio.to_thread.run_sync(require_current_schema, url)
        db = Database.of(url, settings)
        try:
            await deployment_ca(settings, db)
        finally:
            await db.close()


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """What an operator must fix before a command can start, as one line (exit status 1)."""
    import psycopg
    import sqlalchemy.exc

    from docgen.registry.cluster import ClusterError
    from docgen.registry.db import SchemaNotCurrent
    from docgen.signers.authority import WrongSecretKey
    from storage.errors import StorageError

    try:
        yield
    except (SchemaNotCurrent, WrongSecretKey, ClusterError, ValueError) as exc:
        message = str(exc)
    except StorageError as exc:
        message = f"penyimpanan objek: {exc}"
    except (sqlalchemy.exc.OperationalError, psycopg.OperationalError) as exc:
        message = f"registri tidak terjangkau: {getattr(exc, 'orig', None) or exc}"
    else:
        return
    typer.secho(f"Gagal: {message}", fg="red", err=True)
    raise typer.Exit(1)


def _server_options(settings: Settings) -> dict[str, Any]:
    """Where a server of ours listens, and how long it waits for a request."""
    return {
        "host": settings.host,
        "port": settings.port,
        "head_seconds": settings.request_head_seconds,
        "body_seconds": settings.request_body_seconds,
        "access_log": settings.access_log,
    }


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("docgen").setLevel(logging.INFO)


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn treats a second Ctrl-C as "skip shutdown"; ours must always run, because
        # it stops the S3 server and LibreOffice that the service started.
        self.should_exit = True


@signer_app.command("add")
def signer_add(
    name: Annotated[str, typer.Option(help='e.g. "Drs. BUDI SANTOSO, M.Si."')],
    jabatan: Annotated[str, typer.Option()],
    unit_id: Annotated[str, typer.Option(help="id of the signer's unit (GET /api/v1/units)")],
    token: Token,
    nip: Annotated[str | None, typer.Option(help="NIP (PNS)")] = None,
    ni_pppk: Annotated[str | None, typer.Option(help="NI PPPK")] = None,
    nik: Annotated[str | None, typer.Option(help="NIK, for officials without a NIP")] = None,
    pangkat: Annotated[str | None, typer.Option(help='e.g. "III/a"')] = None,
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Enter a signer (as an operator: waiting for an admin's approval; as an admin: with the
    activation link the signer opens to set their password and PIN)."""
    body = {
        "name": name,
        "nip": nip,
        "ni_pppk": ni_pppk,
        "nik": nik,
        "jabatan": jabatan,
        "pangkat": pangkat,
        "unit_id": unit_id,
    }
    with _client(url, token) as client:
        signer = _check(client.post("/api/v1/signers", json=body))
    signer.pop("certificate_pem", None)
    _show(signer)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, operator, verifikator or auditor")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    unit: Annotated[
        list[str] | None,
        typer.Option(help="unit code (repeatable; operators, verifikator and auditors)"),
    ] = None,
) -> None:
    """Create an account in the registry of this server (the first admin, or anyone when the
    service is not running). Prints {"id", "otpauth_uri"}: scan the URI with an authenticator
    app (null where no TOTP is required). Without --password-stdin it also prints the
    activation link where the password is set."""
    import anyio

    from docgen.people.bootstrap import add_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with _refusals():
        _show(anyio.run(add_user, Settings(), username, role, password, unit or []))


@app.command()
def generate(
    template: Annotated[str, typer.Argument(help="template id, e.g. pakta-integritas")],
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON file with the fields")
    ],
    token: Token,
    out: Annotated[Path | None, typer.Option(help="also save the prepared PDF here")] = None,
    unit_id: Annotated[str | None, typer.Option(help="the document's unit")] = None,
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Create a document from a template and JSON data; it is stored and awaits signatures."""
    payload = {
        "template": template,
        "data": json.loads(data.read_text(encoding="utf-8")),
        "unit_id": unit_id,
    }
    with _client(url, token) as client:
        document = _check(client.post("/api/v1/documents", json=payload))
        if out:
            out.write_bytes(_check(client.get(f"/api/v1/documents/{document['id']}/pdf")).content)
    _show({k: document[k] for k in ("id", "number", "status", "verify_url", "pending_roles")})


@app.command()
def sign(
    document_id: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option()],
    token: Token,
    pin: Annotated[str, typer.Option(prompt="PIN", hide_input=True, envvar="DOCGEN_PIN")] = "",
    out: Annotated[Path | None, typer.Option(help="save the signed PDF here")] = None,
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Sign a document's role, as the signer whose token is given, with their PIN."""
    body = {"role": role, "pin": pin}
    with _client(url, token) as client:
        document = _check(client.post(f"/api/v1/documents/{document_id}/signatures", json=body))
        if out:
            out.write_bytes(_check(client.get(f"/api/v1/documents/{document_id}/pdf")).content)
    _show({k: document[k] for k in ("id", "number", "status", "verify_url", "pending_roles")})


POLL_SECONDS = 0.5
Progress = Callable[[dict[str, Any]], tuple[int, int, bool]]  # batch -> handled, total, finished


def _poll(client: httpx.Client, batch_id: str, label: str, progress: Progress) -> dict[str, Any]:
    """Follow the batch until ``progress`` says finished, and return it. A terminal gets a
    progress bar; a log or pipe gets a line each time the count changes."""
    with contextlib.ExitStack() as stack:
        bar = (
            stack.enter_context(typer.progressbar(length=1, label=label, file=sys.stderr))
            if sys.stderr.isatty()
            else None
        )
        shown = -1
        while True:
            batch: dict[str, Any] = _check(
                client.get(f"/api/v1/batches/{batch_id}", params={"documents": "false"})
            )
            handled, total, finished = progress(batch)
            if bar is not None:
                bar.length = max(total, 1)
                bar.update(handled - max(shown, 0))
            elif handled != shown:
                typer.echo(f"{label}: {handled}/{total}", err=True)
            shown = handled
            if finished:
                return batch
            time.sleep(POLL_SECONDS)


def _rows_progress(batch: dict[str, Any]) -> tuple[int, int, bool]:
    return batch["done"] + batch["failed"], batch["total"], batch["status"] == BatchStatus.SELESAI


def _signing_of(batch: dict[str, Any], signing_id: str) -> dict[str, Any]:
    return next(s for s in batch["signings"] if s["id"] == signing_id)


def _role_assignment(item: str) -> tuple[str, str]:
    role, sep, signer_id = item.partition("=")
    if not sep or not role or not signer_id:
        raise typer.BadParameter(f"{item!r}: expected ROLE=SIGNER_ID")
    return role, signer_id


@app.command()
def bulk(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX, one row per document")
    ],
    template: Annotated[str, typer.Option(help="template id, e.g. pakta-integritas")],
    token: Token,
    unit_id: Annotated[str | None, typer.Option(help="the batch's unit")] = None,
    signer: Annotated[
        list[str] | None,
        typer.Option(help="ROLE=SIGNER_ID, the signer of a role in every document (repeatable)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="only check every row; create nothing")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option(help="send again with the same key: never a second batch")
    ] = None,
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Make one document per row of a staff list, with a progress bar; prints the batch."""
    chosen = dict(_role_assignment(item) for item in signer or [])
    form = {"template": template, "signers": json.dumps(chosen)}
    if unit_id:
        form["unit_id"] = unit_id
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with _client(url, token) as client, file.open("rb") as fh:
        answer = _check(
            client.post(
                "/api/v1/batches",
                params={"dry_run": "true"} if dry_run else None,
                data=form,
                files={"file": (file.name, fh)},
                headers=headers,
            )
        )
        if dry_run:
            for problem in answer["problems"]:
                typer.echo(_problem_line(problem), err=True)
            _show({k: answer[k] for k in ("template", "total", "valid", "invalid")})
            raise typer.Exit(1 if answer["invalid"] else 0)
        _poll(client, answer["id"], "Membuat dokumen", _rows_progress)
        batch = _check(client.get(f"/api/v1/batches/{answer['id']}"))
    for error in batch["errors"]:
        typer.echo(_problem_line(error), err=True)
    _show({k: batch[k] for k in ("id", "status", "total", "done", "failed", "zip_url")})
    if batch["failed"]:
        raise typer.Exit(2)


@app.command("bulk-sign")
def bulk_sign(
    batch_id: Annotated[str, typer.Argument(metavar="BATCH")],
    role: Annotated[str, typer.Option()],
    token: Token,
    pin: Annotated[str, typer.Option(prompt="PIN", hide_input=True, envvar="DOCGEN_PIN")] = "",
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Sign ROLE in every document of the batch that waits for it and is bound to the signer
    whose token is given (one PIN), with a progress bar; prints the signing."""
    body = {"role": role, "pin": pin}
    with _client(url, token) as client:
        started = _check(client.post(f"/api/v1/batches/{batch_id}/signatures", json=body))
        if started["skipped"]:
            first = started["skipped"][0]["reason"]
            typer.echo(f"{len(started['skipped'])} dokumen dilewati, mis.: {first}", err=True)

        def progress(batch: dict[str, Any]) -> tuple[int, int, bool]:
            signing = _signing_of(batch, started["id"])
            handled = signing["done"] + signing["failed"]
            return handled, signing["total"], signing["status"] != SigningStatus.BERJALAN

        batch = _poll(client, batch_id, "Menandatangani", progress)
        signing = _signing_of(batch, started["id"])
    for error in signing["errors"]:
        typer.echo(f"{error['number']}: {error['message']}", err=True)
    _show({k: signing[k] for k in ("id", "role", "status", "total", "done", "failed")})
    if signing["status"] != SigningStatus.SELESAI or signing["failed"]:
        raise typer.Exit(2)


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Verify a PDF: the current, complete, unrevoked document this service issued, every
    signature valid? Exits 2 when not (its ``verdict`` says what it is instead)."""
    with _client(url) as client, file.open("rb") as fh:
        report = _check(
            client.post("/api/v1/verify", files={"file": (file.name, fh, "application/pdf")})
        )
    _show(report)
    if report["verdict"] != "asli":
        raise typer.Exit(2)
