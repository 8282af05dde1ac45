"""docker-compose.yml cannot be started here (no Docker engine); keep it honest by parsing it
with docker-compose and checking it wires docgen to MinIO and PostgreSQL with our settings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from docgen.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SECRETS = {
    "DOCGEN_PUBLIC_URL": "https://ttd.example.go.id",
    "DOCGEN_SECRET_KEY": "s3cret",
    "POSTGRES_PASSWORD": "pg",
    "MINIO_ROOT_USER": "docgen",
    "MINIO_ROOT_PASSWORD": "minio-password",
}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
    )


def test_compose_file_parses_and_wires_minio_and_postgres() -> None:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"migrate", "docgen", "worker", "minio", "postgres"}
    # The schema is migrate's to change, before docgen starts.
    assert services["migrate"]["command"][-1] == "migrate"
    assert services["docgen"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert (
        services["migrate"]["environment"]["DOCGEN_DATABASE_URL"]
        == services["docgen"]["environment"]["DOCGEN_DATABASE_URL"]
    )
    env = services["docgen"]["environment"]
    known = {f"DOCGEN_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known, set(env) - known
    assert env["DOCGEN_S3_ENDPOINT"] == "minio:9000"
    assert env["DOCGEN_DATABASE_URL"].startswith("postgresql://")
    assert env["DOCGEN_S3_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
    # The queue workers are instances of the same deployment: the same environment.
    assert services["worker"]["command"][-1] == "worker"
    assert services["worker"]["environment"] == env
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["worker"]["init"] is True and services["docgen"]["init"] is True
    # compose (and a load balancer) learn from /readyz whether docgen can work.
    assert "http://127.0.0.1:8000/readyz" in " ".join(services["docgen"]["healthcheck"]["test"])


def test_compose_refuses_to_start_without_secrets() -> None:
    result = compose_config({})
    assert result.returncode != 0
    assert any(secret in result.stderr for secret in SECRETS), result.stderr
