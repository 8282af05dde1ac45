"""docker-compose.yml cannot be started here (no Docker engine); keep it honest by parsing it
with docker-compose and checking how it wires docgen's instances, and by running its object
storage configuration (deploy/seaweedfs/start.sh) with the same SeaweedFS version the tests use:
the app's S3 identity does what docgen needs and cannot undo object lock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from minio import Minio
from minio.error import S3Error
from minio.versioningconfig import SUSPENDED, VersioningConfig

from docgen.pipeline.convert import free_port
from docgen.settings import Settings
from storage import S3ObjectStore
from storage.embedded import find_weed

REPO = Path(__file__).resolve().parent.parent
SECRETS = {
    "DOCGEN_DOMAIN": "ttd.example.go.id",
    "DOCGEN_SECRET_KEY": "s3cret",
    "POSTGRES_PASSWORD": "pg",
    "S3_ADMIN_ACCESS_KEY": "ADMINKEY0001",
    "S3_ADMIN_SECRET_KEY": "admin-secret-0001",
    "S3_APP_ACCESS_KEY": "APPKEY0001",
    "S3_APP_SECRET_KEY": "app-secret-0001",
}
DOCGEN_IMAGE = ("migrate", "storage-init", "docgen", "worker", "converter-1", "converter-2")


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout)["services"])


def test_compose_runs_api_replicas_behind_a_tls_proxy_and_workers_on_one_deployment(
    services: dict[str, Any],
) -> None:
    assert set(services) == {
        "proxy",
        "migrate",
        "storage-init",
        "docgen",
        "worker",
        "converter-1",
        "converter-2",
        "seaweedfs",
        "postgres",
    }
    api, worker = services["docgen"], services["worker"]
    # The schema is migrate's to change and the bucket storage-init's to make, before the
    # instances start.
    assert services["migrate"]["command"][-1] == "migrate"
    assert services["storage-init"]["command"][-1] == "storage-init"
    for name in ("docgen", "worker"):
        after = services[name]["depends_on"]
        assert after["migrate"]["condition"] == "service_completed_successfully"
        assert after["storage-init"]["condition"] == "service_completed_successfully"
    # API and workers are instances of one deployment: the same registry, storage, secret, URL.
    env = api["environment"]
    known = {f"DOCGEN_{name.upper()}" for name in Settings.model_fields}
    assert set(env) - {"FORWARDED_ALLOW_IPS"} <= known, set(env) - known
    assert worker["command"][-1] == "worker"
    assert {k: v for k, v in env.items() if k != "FORWARDED_ALLOW_IPS"} == worker["environment"]
    assert env["DOCGEN_PUBLIC_URL"] == "https://ttd.example.go.id"
    assert env["DOCGEN_DATABASE_URL"] == services["migrate"]["environment"]["DOCGEN_DATABASE_URL"]
    assert env["DOCGEN_DATABASE_URL"].startswith("postgresql://")
    # Several of each; an init process in every container of docgen's image; no state in them.
    assert api["deploy"]["replicas"] >= 2 and worker["deploy"]["replicas"] >= 2
    for name in DOCGEN_IMAGE:
        assert services[name]["init"] is True, name
        assert not services[name].get("volumes"), name
    # Only the proxy is published, with TLS; it spreads over the replicas and checks /readyz.
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    assert {p["target"] for p in services["proxy"]["ports"]} == {80, 443}
    caddyfile = (REPO / "deploy" / "Caddyfile").read_text()
    assert "{$DOCGEN_DOMAIN}" in caddyfile and "dynamic a docgen 8000" in caddyfile
    assert "health_uri /readyz" in caddyfile
    # LibreOffice runs on the converter nodes, which take the deployment's secret for their
    # token and which every instance waits for and spreads its documents over.
    nodes = ("converter-1", "converter-2")
    assert env["DOCGEN_CONVERTER_URLS"].split(",") == [f"http://{n}:8100" for n in nodes]
    for node in nodes:
        assert services[node]["command"][-4:] == ["--host", "0.0.0.0", "--port", "8100"]
        assert services[node]["environment"]["DOCGEN_SECRET_KEY"] == env["DOCGEN_SECRET_KEY"]
        assert api["depends_on"][node]["condition"] == "service_healthy"
        assert "http://127.0.0.1:8100/readyz" in " ".join(services[node]["healthcheck"]["test"])
    # compose learns from /readyz whether an API instance can work.
    assert "http://127.0.0.1:8000/readyz" in " ".join(api["healthcheck"]["test"])


def test_compose_gives_the_app_its_own_storage_identity_not_the_admin(
    services: dict[str, Any],
) -> None:
    storage = services["seaweedfs"]["environment"]
    for name in ("docgen", "worker"):
        env = services[name]["environment"]
        assert env["DOCGEN_S3_ENDPOINT"] == "seaweedfs:8333"
        assert (env["DOCGEN_S3_ACCESS_KEY"], env["DOCGEN_S3_SECRET_KEY"]) == (
            storage["S3_APP_ACCESS_KEY"],
            storage["S3_APP_SECRET_KEY"],
        )
    init = services["storage-init"]["environment"]
    assert init["DOCGEN_S3_ACCESS_KEY"] == storage["S3_ADMIN_ACCESS_KEY"]
    assert init["DOCGEN_S3_ACCESS_KEY"] not in str(services["docgen"]) + str(services["worker"])
    # The image is the version the tests run, started by the script tested below.
    assert services["seaweedfs"]["image"].endswith(":4.48")
    assert services["seaweedfs"]["entrypoint"] == ["/bin/sh", "/deploy/start.sh"]


def test_compose_refuses_to_start_without_secrets() -> None:
    result = compose_config({})
    assert result.returncode != 0
    assert any(secret in result.stderr for secret in SECRETS), result.stderr


# --- the object storage as compose runs it ------------------------------------------------


def port_pair() -> int:
    """A free port whose +10000 (the gRPC port the script gives each part) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """deploy/seaweedfs/start.sh on loopback with the wheel's weed; its S3 endpoint."""
    where = tmp_path_factory.mktemp("seaweedfs")
    ports = {name: str(port_pair()) for name in ("S3", "MASTER", "VOLUME", "FILER")}
    env = {
        **os.environ,
        **{k: v for k, v in SECRETS.items() if k.startswith("S3_")},
        "SEAWEED_CONF_DIR": str(where / "conf"),
        "SEAWEED_DATA_DIR": str(where / "data"),
        "SEAWEED_BIND": "127.0.0.1",
        "WEED": str(find_weed()),
        **{f"{name}_PORT": port for name, port in ports.items()},
    }
    log = (where / "weed.log").open("wb")
    process = subprocess.Popen(
        ["sh", str(REPO / "deploy" / "seaweedfs" / "start.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"127.0.0.1:{ports['S3']}"
    admin = Minio(
        endpoint, SECRETS["S3_ADMIN_ACCESS_KEY"], SECRETS["S3_ADMIN_SECRET_KEY"], secure=False
    )
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (where / "weed.log").read_text()
        try:
            admin.list_buckets()
            break
        except Exception:
            assert time.monotonic() < deadline, (where / "weed.log").read_text()
            time.sleep(0.3)
    try:
        yield endpoint
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # (its data is the test's: no shutdown to wait for)
        process.wait(10)
        log.close()


def test_storage_init_makes_the_bucket_and_the_app_identity_cannot_undo_its_lock(
    seaweedfs: str, tmp_path: Path
) -> None:
    def storage_init(access: str, secret: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docgen", "storage-init"],
            cwd=REPO,
            env={
                **os.environ,
                "DOCGEN_DATA_DIR": str(tmp_path),
                "DOCGEN_S3_ENDPOINT": seaweedfs,
                "DOCGEN_S3_ACCESS_KEY": access,
                "DOCGEN_S3_SECRET_KEY": secret,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )

    app_keys = (SECRETS["S3_APP_ACCESS_KEY"], SECRETS["S3_APP_SECRET_KEY"])
    # The app's identity may not make the bucket; it says so in one line.
    refused = storage_init(*app_keys)
    assert refused.returncode == 1 and "penyimpanan objek" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    made = storage_init(SECRETS["S3_ADMIN_ACCESS_KEY"], SECRETS["S3_ADMIN_SECRET_KEY"])
    assert made.returncode == 0, made.stderr
    assert "kunci objek COMPLIANCE 3650 hari" in made.stdout

    # What docgen does at start and at work, with the app's identity, holds.
    app = S3ObjectStore(seaweedfs, *app_keys, "docgen", retention_days=3650)  # as storage-init
    app.ensure_bucket()

    async def store() -> tuple[Any, bytes]:
        stored = await app.put(
            "uji/revisi.pdf", b"%PDF-1.7 uji", "application/pdf", unique_key=True
        )
        return stored, await app.get(stored.key, stored.version_id)

    stored, read = anyio.run(store)
    assert read == b"%PDF-1.7 uji"
    # What would undo the lock is refused to it.
    raw = Minio(seaweedfs, *app_keys, secure=False)
    attempts = {
        "delete the locked version": lambda: raw.remove_object(
            "docgen", stored.key, version_id=stored.version_id
        ),
        "turn versioning off": lambda: raw.set_bucket_versioning(
            "docgen", VersioningConfig(SUSPENDED)
        ),
        "delete the bucket": lambda: raw.remove_bucket("docgen"),
        "make another bucket": lambda: raw.make_bucket("lain"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(S3Error):
            attempt()
            pytest.fail(f"the app's identity could {what}")
    assert raw.get_object("docgen", stored.key, version_id=stored.version_id).read() == read
