"""Settings from the environment (prefix ``DOCGEN_``); nothing is read at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the service. Empty S3/database settings mean: use the embedded default."""

    model_config = SettingsConfigDict(env_prefix="DOCGEN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "var", description="state of the embedded defaults")
    templates_dir: Path = REPO_ROOT / "templates"
    public_url: str | None = Field(
        default=None, description="base URL printed in QR codes; http://HOST:PORT if empty"
    )
    instansi: str | None = Field(
        default=None,
        description="the agency issuing through this deployment, shown on the public pages "
        "beside each document's unit, e.g. Pemerintah Kabupaten Sidoarjo",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    request_head_seconds: float = Field(
        default=10.0,
        gt=0,
        description="a request's head must arrive within this, or the "
        "connection is closed (slow clients, slowloris)",
    )
    request_body_seconds: float = Field(
        default=120.0, gt=0, description="a request's body must arrive within this after its head"
    )
    # Each line is ~1/3 of the CPU of a public read answered from memory (uvicorn's access log
    # formats and writes it in the event loop): behind a proxy that logs, leave it to the proxy.
    access_log: bool = Field(default=True, description="a line on stderr per request served")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db, the password "
        "percent-encoded); empty: a private cluster under data_dir/postgres",
    )
    database_pool_size: int = Field(
        default=5, ge=1, le=100, description="registry connections each process keeps open"
    )
    database_max_overflow: int = Field(
        default=10, ge=0, le=200, description="connections opened beyond the pool under load"
    )
    database_pool_timeout: float = Field(
        default=30.0, gt=0, description="seconds a request waits for a free connection"
    )
    database_pre_ping: bool = Field(
        default=True,
        description="test each pooled connection before use (one round trip), so a registry "
        "restart costs no failed request",
    )

    s3_endpoint: str | None = Field(default=None, description="host:port; embedded if empty")
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_bucket: str = "docgen"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_retention_days: int = 3650

    secret_key: str | None = Field(
        default=None,
        description="server secret mixed into key sealing; else read from secret_key_file; "
        "else generated into data_dir/secret.key",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="a file holding the server secret (e.g. a compose secret); every instance "
        "of a deployment needs the same secret",
    )
    converter_workers: int = Field(
        default=2, ge=1, le=8, description="LibreOffice servers (bulk work keeps all busy)"
    )
    converter_timeout: float = 60.0
    uno_python: str = Field(default="/usr/bin/python3", description="Python that has `uno`")
    converter_urls: str = Field(
        default="",
        description="converter nodes (`docgen converter`), comma-separated base URLs, e.g. "
        "http://konverter-1:8100,http://konverter-2:8100; empty: LibreOffice started here",
    )
    converter_max_documents: int = Field(
        default=1000, ge=1, le=1000, description="documents one request to a converter node holds"
    )
    converter_max_request_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024 * 1024,
        description="the largest request a converter node reads (the DOCX of one call)",
    )

    # bench/bulk.py, 1,000 berita acara, paired runs: 50 -> 100 rows took generating from 24.4
    # to 20.2 s (LibreOffice's fixed cost per call spreads over more documents).
    batch_chunk_rows: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="rows of a batch made together: rendered, converted in one LibreOffice "
        "call, stored as one pack, registered in one transaction",
    )
    bulk_workers: int = Field(
        default=2, ge=1, le=16, description="processes that render, stamp and sign bulk work"
    )
    # Our documents render in 5-60 ms of CPU (a berita acara of 200 people) and grow a worker by
    # a few MiB; a template is code an admin uploaded, so each render is bounded.
    render_seconds: float = Field(
        default=10, gt=0, le=600, description="CPU seconds one document's render may take"
    )
    render_memory_mib: int = Field(
        default=256,
        ge=32,
        le=16384,
        description="MiB of memory one document's render may add to its worker process",
    )

    # The job queue (procrastinate, in the registry) and its `docgen worker` processes.
    worker_concurrency: int = Field(
        default=2, ge=1, le=32, description="jobs one `docgen worker` runs at once"
    )
    worker_heartbeat_seconds: float = Field(
        default=10, gt=0, description="how often a worker tells the registry it is alive"
    )
    worker_stalled_seconds: float = Field(
        default=30,
        gt=0,
        description="a worker silent this long is taken for dead: its running jobs are retried",
    )
    worker_db_timeout: float = Field(
        default=10,
        gt=0,
        description="seconds a worker waits for a registry connection before it starts over",
    )
    job_reaper_seconds: int = Field(
        default=10,
        ge=1,
        le=60,
        description="how often stalled jobs are looked for (a divisor of 60: at those seconds "
        "of each minute)",
    )
    job_max_retries: int = Field(
        default=4, ge=0, description="retries of a failed or stalled job before it fails for good"
    )
    job_retry_base_seconds: int = Field(
        default=3,
        ge=0,
        le=60,
        description="waits between retries grow as its powers: 3 -> 3, 9, 27, 81 s",
    )

    signing_lease_seconds: float = Field(
        default=30,
        ge=1,
        description="a bulk signing's lease: renewed every third of it by the process that "
        "holds its key; once it runs out, the signing is interrupted and may be posted again",
    )
    changes_poll_seconds: float = Field(
        default=30,
        gt=0,
        description="how often an instance looks for changes made on other instances (new "
        "template versions, a new CRL) in case a notice was lost; notices make it follow "
        "them at once",
    )

    fast_paths: bool = Field(
        default=True,
        description="hand-written fast paths (signing.fast, docgen.pipeline.fast); false: the "
        "libraries' own code everywhere, slower",
    )

    revision_cache_mb: int = Field(
        default=512,
        ge=0,
        description="local disk kept for revisions being signed, spares object storage reads",
    )

    rate_limit_reads: int = Field(
        default=300, ge=1, description="public page and verification reads per client a minute"
    )
    rate_limit_uploads: int = Field(
        default=30, ge=1, description="PDF checks (uploads) per client a minute"
    )
    rate_limit_logins: int = Field(
        default=30, ge=1, description="login and activation attempts per client a minute"
    )
    max_upload_bytes: int = 20 * 1024 * 1024
    verify_timeout: float = 20.0
    verify_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=2,
        description="how long a process keeps a document's public view read by its code "
        "(0: not at all); at most 2, the time a change may take to show on every instance",
    )
    verify_workers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="uploads checked at once; as many warm processes kept for each kind of upload",
    )
    verify_recycle_after: int = Field(
        default=100, ge=1, description="checks a warm process serves before a fresh one replaces it"
    )
    verify_per_client: int = Field(
        default=3, ge=1, description="uploads of one client waiting or checked at once; more: 429"
    )
    emeterai_provider: Literal["none", "local"] = Field(
        default="none",
        description="who affixes e-Meterai: none (templates offer no e-Meterai; a document "
        "asking for one is refused) or local (a provider in this service for development and "
        "tests: its own certificate from the internal CA and a stamp that says it is no stamp "
        "duty paid to Peruri; `make run` and the tests use it)",
    )
    pin_max_attempts: int = 5
    pin_lock_minutes: int = 15

    session_hours: int = Field(default=12, ge=1, description="a browser session's lifetime")
    token_days: int = Field(default=90, ge=1, le=730, description="an API token's lifetime")
    activation_hours: int = Field(default=72, ge=1, le=72, description="an activation link's")
    signer_totp: bool = Field(
        default=False,
        description="signers need a TOTP code to log in too (admins and operators always do)",
    )
    login_slow_after: int = Field(
        default=3, ge=1, description="failed logins in a row before each try must wait"
    )
    login_max_failures: int = Field(default=10, ge=2, description="failed logins that lock")
    login_lock_minutes: int = 15
    # argon2id's cost: the library's RFC 9106 low-memory parameters (the tests take the least,
    # as they make and check hundreds of passwords).
    password_time_cost: int = Field(
        default=3, ge=1, le=10, description="argon2id passes over memory per password hash"
    )
    password_memory_kib: int = Field(
        default=65536, ge=1024, le=1048576, description="argon2id memory per password hash, KiB"
    )

    smtp_host: str | None = Field(
        default=None, description="SMTP server for notifications; empty: kept as .eml files"
    )
    smtp_port: int | None = Field(
        default=None, description="25, 587 (starttls) or 465 (ssl) by smtp_security if empty"
    )
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_timeout: float = Field(default=10.0, gt=0, description="seconds for one SMTP step")
    mail_dir: Path | None = Field(
        default=None,
        description="without SMTP: where outgoing mail is kept as .eml files (data_dir/mail "
        "if empty)",
    )
    mail_from: str = Field(default="docgen <docgen@localhost>", description="the sender")

    @model_validator(mode="after")
    def _worker_timing(self) -> Settings:
        if 60 % self.job_reaper_seconds:
            raise ValueError(
                "DOCGEN_JOB_REAPER_SECONDS harus membagi habis 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, "
                f"20, 30 atau 60), bukan {self.job_reaper_seconds}"
            )
        if self.worker_stalled_seconds <= self.worker_heartbeat_seconds:
            # A live worker between two heartbeats would look dead and lose its jobs.
            raise ValueError(
                "DOCGEN_WORKER_STALLED_SECONDS harus lebih besar daripada "
                "DOCGEN_WORKER_HEARTBEAT_SECONDS"
            )
        for url in self.converter_nodes:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"DOCGEN_CONVERTER_URLS: {url!r} bukan URL http:// atau https://")
        return self

    @property
    def converter_nodes(self) -> list[str]:
        """The base URLs of DOCGEN_CONVERTER_URLS, without a trailing slash."""
        return [url.strip().rstrip("/") for url in self.converter_urls.split(",") if url.strip()]

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
