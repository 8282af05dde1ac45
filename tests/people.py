"""Accounts for the tests, made the way a deployment makes them: the first admin with the
server's own command line, everyone else through the API and their activation links (TOTP codes
from the otpauth URI, as an authenticator app would give them)."""

from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp

from tests.postgres import database_url

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "Sandi-Uji-2026!"
PIN = "246810"

SHARED_UNIT = "BKPSDM Kabupaten Sidoarjo"  # the name of the tests' shared unit


def totp_of(otpauth_uri: str) -> pyotp.TOTP:
    return pyotp.TOTP(parse_qs(urlparse(otpauth_uri).query)["secret"][0])


class Otp:
    """Codes of one account's authenticator: each code once, as the service demands. The
    service takes the codes of the time steps just before, at and just after its clock, so
    three fresh codes are at hand at once (the one before only while the step is not about to
    end); a fourth waits for the next step."""

    def __init__(self, otpauth_uri: str) -> None:
        self.totp = totp_of(otpauth_uri)
        self.last_step = 0

    def code(self) -> str:
        while True:
            now = time.time()
            current = self.totp.timecode(now)
            earliest = current - 1 if now % self.totp.interval < self.totp.interval - 3 else current
            step = max(earliest, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return str(self.totp.generate_otp(step))
            time.sleep(1)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of a test process: httpx otherwise reads the CA bundle
    for each client it makes, ~50 ms of CPU on our CI machines, and the suite makes thousands."""
    return ssl.create_default_context()


def http_client(url: str = "", *, timeout: float = 120, **options: Any) -> httpx.Client:
    """An HTTP client on ``url`` (the service's, usually); ``options`` as httpx.Client's."""
    return httpx.Client(base_url=url, timeout=timeout, verify=_tls(), **options)


def token_client(url: str, token: str) -> httpx.Client:
    return http_client(url, headers={"Authorization": f"Bearer {token}"})


@dataclass
class Account:
    """A user with an API token: ``client`` acts as them."""

    id: str
    username: str
    client: httpx.Client
    otp: Otp | None = None
    password: str = PASSWORD


@dataclass
class SignerAccount(Account):
    """A signer: their enrolment id (``signer_id``) and PIN."""

    signer_id: str = ""
    pin: str = PIN
    nip: str | None = None

    def sign(
        self, document_id: str, role: str = "pembuat_pernyataan", pin: str | None = None
    ) -> httpx.Response:
        return self.client.post(
            f"/api/v1/documents/{document_id}/signatures",
            json={"role": role, "pin": pin or self.pin},
        )

    def sign_batch(self, batch_id: str, role: str, pin: str | None = None) -> httpx.Response:
        return self.client.post(
            f"/api/v1/batches/{batch_id}/signatures", json={"role": role, "pin": pin or self.pin}
        )


@dataclass
class People:
    """The accounts of one running service (its URL and data directory)."""

    url: str
    data_dir: Path
    database_url: str | None = None  # the registry, if not the session cluster's for data_dir
    _admin: Account | None = None
    _unit_id: str | None = None
    _operator: Account | None = None
    _signers: dict[str, SignerAccount] = field(default_factory=dict)

    # The first admin, from the command line -----------------------------------------------

    @property
    def admin(self) -> Account:
        if self._admin is None:
            username = f"admin-{uuid.uuid4().hex[:8]}"
            made = users_add(self.data_dir, username, "admin", PASSWORD, self.database_url)
            otp = Otp(made["otpauth_uri"])
            self._admin = self._login(made["id"], username, PASSWORD, otp)
        return self._admin

    def _login(self, user_id: str, username: str, password: str, otp: Otp | None) -> Account:
        body: dict[str, Any] = {"username": username, "password": password, "name": "uji"}
        if otp is not None:
            body["otp"] = otp.code()
        response = httpx.post(f"{self.url}/api/v1/auth/tokens", json=body, timeout=60)
        assert response.status_code == 201, response.text
        return Account(user_id, username, token_client(self.url, response.json()["token"]), otp)

    # Units and users --------------------------------------------------------------------------

    def unit(self, name: str | None = None) -> str:
        """A new unit's id (with no name: the tests' shared unit)."""
        if name is None and self._unit_id is not None:
            return self._unit_id
        code = f"U{uuid.uuid4().hex[:8]}"
        response = self.admin.client.post(
            "/api/v1/units", json={"name": name or SHARED_UNIT, "code": code}
        )
        assert response.status_code == 201, response.text
        unit_id = str(response.json()["id"])
        if name is None:
            self._unit_id = unit_id
        return unit_id

    @property
    def unit_id(self) -> str:
        return self.unit()

    def unit_code(self, unit_id: str | None = None) -> str:
        """The code of a unit (with no id: the tests' shared unit's): the unit part of its
        documents' numbers while its profile gives none."""
        wanted = unit_id or self.unit_id
        units = self.admin.client.get("/api/v1/units").json()
        return str(next(u["code"] for u in units if u["id"] == wanted))

    @property
    def operator(self) -> Account:
        """The shared unit's operator."""
        if self._operator is None:
            self._operator = self.user("operator")
        return self._operator

    def user(self, role: str, unit_ids: list[str] | None = None) -> Account:
        """A new activated account with ``role`` (admin, operator, auditor)."""
        username = f"{role}-{uuid.uuid4().hex[:8]}"
        units = [self.unit_id] if unit_ids is None and role != "admin" else unit_ids or []
        made = self.admin.client.post(
            "/api/v1/users", json={"username": username, "role": role, "unit_ids": units}
        )
        assert made.status_code == 201, made.text
        return self.activate_user(made.json()["id"], username, made.json()["activation_url"])

    def activate_user(self, user_id: str, username: str, activation_url: str) -> Account:
        """The account's owner opens the link (sets a password, TOTP where asked) and logs in."""
        token = activation_token(activation_url)
        info = httpx.get(f"{self.url}/api/v1/activation/{token}", timeout=60).json()
        otp = Otp(info["otpauth_uri"]) if info["otpauth_uri"] else None
        body: dict[str, Any] = {"password": PASSWORD}
        if otp is not None and info["totp_required"]:
            body["otp"] = otp.code()
        else:
            otp = None
        done = httpx.post(f"{self.url}/api/v1/activation/{token}", json=body, timeout=60)
        assert done.status_code == 200, done.text
        return self._login(user_id, username, PASSWORD, otp)

    def moved_to(self, url: str) -> People:
        """The same accounts on the service started again on another port (their tokens are
        kept in its registry)."""
        self.url = url
        accounts = [self._admin, self._operator, *self._signers.values()]
        for account in accounts:
            if account is not None:
                account.client.base_url = httpx.URL(url)
        return self

    def audit_log(self) -> list[dict[str, Any]]:
        """The whole audit log as the admin reads it, page after page."""
        entries: list[dict[str, Any]] = []
        while True:
            after = entries[-1]["id"] if entries else 0
            page = self.admin.client.get("/api/v1/audit", params={"after": after, "limit": 500})
            assert page.status_code == 200, page.text
            entries += page.json()["entries"]
            if len(page.json()["entries"]) < 500:
                return entries

    def anonymous(self) -> httpx.Client:
        return http_client(self.url)

    # Signers ----------------------------------------------------------------------------------

    def enrol(self, nip: str | None = None, **identity: Any) -> dict[str, Any]:
        """An admin enters a signer (in effect at once, with an activation link)."""
        body: dict[str, Any] = {
            "name": "Drs. Budi Santoso, M.Si.",
            "jabatan": "Kepala Subbagian Umum dan Kepegawaian",
            "pangkat": "III/a",
            "unit_id": self.unit_id,
            **identity,
        }
        if nip is not None:
            body["nip"] = nip
        response = self.admin.client.post("/api/v1/signers", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def activate_signer(self, enrolled: dict[str, Any], pin: str = PIN) -> SignerAccount:
        """The signer opens their link, sets a password and the PIN, and makes a token."""
        token = activation_token(enrolled["activation_url"])
        info = httpx.get(f"{self.url}/api/v1/activation/{token}", timeout=60).json()
        done = httpx.post(
            f"{self.url}/api/v1/activation/{token}",
            json={"password": PASSWORD, "pin": pin},
            timeout=60,
        )
        assert done.status_code == 200, done.text
        account = self._login(done.json()["id"], info["username"], PASSWORD, None)
        return SignerAccount(
            account.id,
            account.username,
            account.client,
            signer_id=done.json()["signer_id"],
            pin=pin,
            nip=enrolled.get("nip") or enrolled.get("ni_pppk"),
        )

    def signer(
        self, nip: str | None = None, *, fresh: bool = False, pin: str = PIN, **identity: Any
    ) -> SignerAccount:
        """The active signer of ``nip`` (enrolled and activated on first use; ``fresh``: the one
        before is revoked and a new one enrolled). Without a NIP: a new official identified by
        a NIK."""
        key = nip or identity.get("nik") or identity.get("ni_pppk")
        if key is not None and key in self._signers and not fresh:
            return self._signers[key]
        if key is not None and key in self._signers:
            self.revoke_signer(self._signers.pop(key).signer_id, "Diganti untuk uji")
        enrolled = self.enrol(nip, **identity)
        account = self.activate_signer(enrolled, pin)
        if key is not None:
            self._signers[key] = account
        return account

    def revoke_signer(self, signer_id: str, reason: str = "Pindah tugas") -> httpx.Response:
        response = self.admin.client.post(
            f"/api/v1/signers/{signer_id}/revoke", json={"reason": reason}
        )
        for key, account in list(self._signers.items()):
            if account.signer_id == signer_id:
                del self._signers[key]
        return response


def activation_token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def users_add(
    data_dir: Path, username: str, role: str, password: str, registry: str | None = None
) -> dict[str, Any]:
    """``docgen users add`` on the server, against its registry (``registry``: its URL, ""
    for the data dir's embedded cluster; by default the session cluster's for ``data_dir``)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "docgen",
            "users",
            "add",
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "DOCGEN_DATA_DIR": str(data_dir),
            "DOCGEN_DATABASE_URL": database_url(data_dir) if registry is None else registry,
        },
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))
