"""The ``docgen`` command line: run the service, or talk to a running one."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import httpx
import typer
import uvicorn

from docgen.settings import Settings

app = typer.Typer(
    help="docgen: dokumen dinas, tanda tangan elektronik, verifikasi.", no_args_is_help=True
)
signer_app = typer.Typer(help="Penanda tangan.", no_args_is_help=True)
app.add_typer(signer_app, name="signer")

Url = Annotated[
    str, typer.Option("--url", envvar="DOCGEN_URL", help="URL of the running docgen service")
]


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120)


def _check(response: httpx.Response) -> Any:
    if response.is_error:
        try:
            body = response.json()
            message = f"{body.get('error')}: {body.get('detail')}"
            for problem in body.get("problems", []):
                message += f"\n  - {problem['field']}: {problem['message']}"
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
) -> None:
    """Start the service (and, unless configured otherwise, its embedded S3, database,
    LibreOffice and CA). Ctrl-C stops everything it started."""
    from docgen.app import create_app

    settings = Settings()
    settings.host = host or settings.host
    settings.port = port or settings.port
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("docgen").setLevel(logging.INFO)
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port)
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config).run()


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn treats a second Ctrl-C as "skip shutdown"; ours must always run, because
        # it stops the S3 server and LibreOffice that the service started.
        self.should_exit = True


@signer_app.command("add")
def signer_add(
    name: Annotated[str, typer.Option(help='e.g. "Drs. BUDI SANTOSO, M.Si."')],
    jabatan: Annotated[str, typer.Option()],
    unit: Annotated[str, typer.Option()],
    nip: Annotated[str | None, typer.Option()] = None,
    pangkat: Annotated[str | None, typer.Option(help='e.g. "III/a"')] = None,
    pin: Annotated[
        str,
        typer.Option(prompt="PIN", hide_input=True, confirmation_prompt=True, envvar="DOCGEN_PIN"),
    ] = "",
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Enrol a signer: a key pair sealed under the PIN and a certificate."""
    body = {
        "name": name,
        "nip": nip,
        "jabatan": jabatan,
        "pangkat": pangkat,
        "unit": unit,
        "pin": pin,
    }
    with _client(url) as client:
        signer = _check(client.post("/api/v1/signers", json=body))
    signer.pop("certificate_pem", None)
    _show(signer)


@app.command()
def generate(
    template: Annotated[str, typer.Argument(help="template id, e.g. pakta-integritas")],
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON file with the fields")
    ],
    out: Annotated[Path | None, typer.Option(help="also save the prepared PDF here")] = None,
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Create a document from a template and JSON data; it is stored and awaits signatures."""
    payload = {"template": template, "data": json.loads(data.read_text(encoding="utf-8"))}
    with _client(url) as client:
        document = _check(client.post("/api/v1/documents", json=payload))
        if out:
            out.write_bytes(_check(client.get(f"/api/v1/documents/{document['id']}/pdf")).content)
    _show({k: document[k] for k in ("id", "number", "status", "verify_url", "pending_roles")})


@app.command()
def sign(
    document_id: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option()],
    signer: Annotated[str, typer.Option(help="signer id")],
    pin: Annotated[str, typer.Option(prompt="PIN", hide_input=True, envvar="DOCGEN_PIN")] = "",
    out: Annotated[Path | None, typer.Option(help="save the signed PDF here")] = None,
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Sign a document's role with the signer's PIN."""
    body = {"role": role, "signer_id": signer, "pin": pin}
    with _client(url) as client:
        document = _check(client.post(f"/api/v1/documents/{document_id}/signatures", json=body))
        if out:
            out.write_bytes(_check(client.get(f"/api/v1/documents/{document_id}/pdf")).content)
    _show({k: document[k] for k in ("id", "number", "status", "verify_url", "pending_roles")})


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    url: Url = "http://127.0.0.1:8000",
) -> None:
    """Verify a PDF: issued by this service? every signature valid?"""
    with _client(url) as client, file.open("rb") as fh:
        report = _check(
            client.post("/api/v1/verify", files={"file": (file.name, fh, "application/pdf")})
        )
    _show(report)
    if not report["valid"]:
        raise typer.Exit(2)
