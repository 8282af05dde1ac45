"""The `docgen` command line: the first admin on a fresh machine, then the API commands against
the running service, each acting as the user whose token it is given."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp

from tests.conftest import PIN, People, Service, pakta_data, start_service, stop_service
from tests.people import PASSWORD, Account, Otp
from tests.postgres import database_url
from tests.test_errors import own_nip
from tests.test_templates_content import BA, own_nik, peserta

REPO = Path(__file__).resolve().parent.parent


def docgen(
    service: Service | None,
    *args: str,
    token: str | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DOCGEN_PIN": PIN, **(env or {})}
    environ.pop("DOCGEN_TOKEN", None)
    if service is not None:
        environ["DOCGEN_URL"] = service.url
    if token is not None:
        environ["DOCGEN_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "docgen", *args],
        cwd=REPO,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def token_of(account: Account) -> str:
    """The API token the account's client sends (made with POST /api/v1/auth/tokens)."""
    scheme, _, token = account.client.headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and token.startswith("dg_")
    return token


# --- the first admin -----------------------------------------------------------------------


def users_add(data_dir: Path, username: str, role: str) -> subprocess.CompletedProcess[str]:
    return docgen(
        None,
        "users", "add", "--username", username, "--role", role, "--password-stdin",
        env={"DOCGEN_DATA_DIR": str(data_dir), "DOCGEN_DATABASE_URL": database_url(data_dir)},
        stdin=PASSWORD + "\n",
    )  # fmt: skip


def made(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    assert set(answer) == {"id", "otpauth_uri"}
    assert isinstance(answer["id"], str) and answer["id"]
    return answer


def check_otpauth_uri(uri: str, username: str) -> None:
    parts = urlparse(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp"), uri
    assert parts.path.endswith(username)
    secret = parse_qs(parts.query)["secret"][0]
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) >= 16
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP) and parsed.secret == secret


def test_first_admin_on_a_fresh_machine(tmp_path: Path) -> None:
    data_dir = tmp_path / "docgen"  # nothing here yet: no registry, no keys, no objects
    username = f"admin-{uuid.uuid4().hex[:6]}"
    registry = {"DOCGEN_DATA_DIR": str(data_dir), "DOCGEN_DATABASE_URL": database_url(data_dir)}
    # Only `docgen migrate` makes or changes the schema; the other commands say so.
    for refused in (users_add(data_dir, username, "admin"), docgen(None, "serve", env=registry)):
        assert refused.returncode == 1
        assert "skema registri belum sesuai" in refused.stderr, refused.stderr
        assert "jalankan `docgen migrate`" in refused.stderr and "Traceback" not in refused.stderr
    migrated = docgen(None, "migrate", env=registry)
    assert migrated.returncode == 0, migrated.stderr
    admin = made(users_add(data_dir, username, "admin"))
    assert admin["otpauth_uri"] is not None
    check_otpauth_uri(admin["otpauth_uri"], username)

    process, service = start_service(data_dir)
    try:
        with service.client() as anonymous:
            login = {"username": username, "password": PASSWORD}
            # TOTP is required for an admin: the password alone does not do.
            assert anonymous.post("/api/v1/auth/login", json=login).status_code == 401
            otp = Otp(admin["otpauth_uri"])
            answer = anonymous.post("/api/v1/auth/login", json={**login, "otp": otp.code()})
            assert answer.status_code == 200, answer.text
            assert answer.cookies.get("docgen_sesi")
            set_cookie = next(
                v for v in answer.headers.get_list("set-cookie") if v.startswith("docgen_sesi=")
            )
            assert "httponly" in set_cookie.lower()
            me = anonymous.get("/api/v1/me")  # the session cookie, kept by the client
            assert me.status_code == 200, me.text
            assert (me.json()["id"], me.json()["role"]) == (admin["id"], "admin")

        again = users_add(data_dir, username, "operator")
        assert again.returncode != 0
        assert f"Nama pengguna '{username}' sudah dipakai" in again.stderr
        assert again.stdout == ""

        operator = f"operator-{uuid.uuid4().hex[:6]}"
        made_operator = made(users_add(data_dir, operator, "operator"))
        check_otpauth_uri(made_operator["otpauth_uri"], operator)
        assert made_operator["id"] != admin["id"]
        auditor = made(users_add(data_dir, f"auditor-{uuid.uuid4().hex[:6]}", "auditor"))
        assert auditor["otpauth_uri"] is None  # no TOTP required for auditors
    finally:
        stop_service(process)


# --- the API commands ----------------------------------------------------------------------


def test_enrol_generate_sign_verify(service: Service, people: People, tmp_path: Path) -> None:
    nip = own_nip()
    added = docgen(
        service, "signer", "add", "--name", "Drs. Budi Santoso, M.Si.",
        "--nip", nip, "--jabatan", "Kepala Subbagian Umum",
        "--pangkat", "III/a", "--unit-id", people.unit_id, "--token", token_of(people.admin),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    enrolled = json.loads(added.stdout)
    assert enrolled["status"] == "menunggu_aktivasi"
    assert enrolled["activation_url"].startswith(service.url)
    signer = people.activate_signer(enrolled)

    # An operator's entry waits for an admin: no activation link yet.
    proposed = docgen(
        service, "signer", "add", "--name", "Siti Aminah, S.H.", "--nip", own_nip(),
        "--jabatan", "Kepala Seksi", "--unit-id", people.unit_id,
        token=token_of(people.operator),
    )  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    assert json.loads(proposed.stdout)["status"] == "menunggu_persetujuan"
    assert json.loads(proposed.stdout)["activation_url"] is None

    data = tmp_path / "pakta.json"
    data.write_text(json.dumps(pakta_data(nip=nip)), encoding="utf-8")
    generated = docgen(
        service, "generate", "pakta-integritas", str(data), token=token_of(people.operator)
    )
    assert generated.returncode == 0, generated.stderr
    document = json.loads(generated.stdout)
    assert document["status"] == "menunggu_tanda_tangan"

    prepared_pdf = tmp_path / "prepared.pdf"
    prepared_pdf.write_bytes(
        people.operator.client.get(f"/api/v1/documents/{document['id']}/pdf").content
    )

    # The operator cannot sign it; its signer can, with their own token and PIN.
    signed_pdf = tmp_path / "pakta.pdf"
    refused = docgen(
        service, "sign", document["id"], "--role", "pembuat_pernyataan",
        token=token_of(people.operator),
    )  # fmt: skip
    assert refused.returncode == 1 and "403" in refused.stderr
    signed = docgen(
        service, "sign", document["id"], "--role", "pembuat_pernyataan",
        "--out", str(signed_pdf), "--token", token_of(signer),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["status"] == "sah"

    verified = docgen(service, "verify", str(signed_pdf))  # the public: no token
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["valid"] is True and report["issued_here"] is True
    assert report["verdict"] == "asli"
    # Ours, but an earlier revision: not the document in force.
    earlier = docgen(service, "verify", str(prepared_pdf))
    assert earlier.returncode == 2
    assert json.loads(earlier.stdout)["verdict"] == "bukan_versi_terakhir"

    tampered = tmp_path / "tampered.pdf"
    raw = bytearray(signed_pdf.read_bytes())
    raw[raw.index(b"stream", len(raw) // 10) + 20] ^= 1
    tampered.write_bytes(bytes(raw))
    rejected = docgen(service, "verify", str(tampered))
    assert rejected.returncode == 2
    assert json.loads(rejected.stdout)["valid"] is False


def test_errors_are_reported_in_words(service: Service, people: People, tmp_path: Path) -> None:
    data = tmp_path / "bad.json"
    data.write_text(json.dumps(pakta_data(nip="12345")), encoding="utf-8")
    result = docgen(
        service, "generate", "pakta-integritas", str(data), token=token_of(people.operator)
    )
    assert result.returncode == 1
    assert "422" in result.stderr and "nip" in result.stderr

    unknown = docgen(service, "generate", "pakta-integritas", str(data), token="dg_salah")
    assert unknown.returncode == 1
    assert "401" in unknown.stderr and "Token tidak berlaku" in unknown.stderr
    missing = docgen(service, "generate", "pakta-integritas", str(data))
    assert missing.returncode == 2 and "--token" in missing.stderr


def inauguration_csv(count: int, **overrides: object) -> bytes:
    """One berita acara per person inaugurated (the same official and witnesses sign all)."""
    fields = {k: v for k, v in {**BA, **overrides}.items() if k != "peserta"}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*fields, "peserta.nama", "peserta.nip", "peserta.pangkat", "peserta.jabatan"])
    for person in peserta(count):
        writer.writerow([*fields.values(), *person.values()])
    return out.getvalue().encode()


def test_bulk_and_bulk_sign_with_progress(service: Service, people: People, tmp_path: Path) -> None:
    admin, operator = token_of(people.admin), token_of(people.operator)
    saksi_1, saksi_2 = own_nip(), own_nip()
    people.signer(saksi_1, name=str(BA["nama_saksi_1"]))
    official = people.signer(nik=own_nik(), name=str(BA["nama_pejabat_pelantik"]))
    added = docgen(
        service, "signer", "add", "--name", str(BA["nama_saksi_2"]),
        "--nip", saksi_2, "--jabatan", "Asisten Administrasi Umum",
        "--unit-id", people.unit_id, token=admin,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    witness = people.activate_signer(json.loads(added.stdout))
    staff = tmp_path / "pelantikan.csv"
    staff.write_bytes(inauguration_csv(3, nip_saksi_1=saksi_1, nip_saksi_2=saksi_2))
    chosen = f"pejabat_pelantik={official.signer_id}"

    checked = docgen(service, "bulk", str(staff), "--template", "berita-acara-pelantikan",
                     "--signer", chosen, "--dry-run", token=operator)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "template": "berita-acara-pelantikan", "total": 3, "valid": 3, "invalid": 0,
    }  # fmt: skip

    made = docgen(service, "bulk", str(staff), "--template", "berita-acara-pelantikan",
                  "--signer", chosen, "--unit-id", people.unit_id, token=operator)  # fmt: skip
    assert made.returncode == 0, made.stderr
    batch = json.loads(made.stdout)
    assert (batch["status"], batch["done"], batch["failed"]) == ("selesai", 3, 0)
    assert "Membuat dokumen: 3/3" in made.stderr

    # Only the signer bound to the role signs it: the other witness finds nothing of theirs.
    other = docgen(service, "bulk-sign", batch["id"], "--role", "saksi_2",
                   token=token_of(people.signer(saksi_1)))  # fmt: skip
    assert other.returncode == 1
    assert "409" in other.stderr and "ditetapkan untuk penanda tangan lain" in other.stderr
    signed = docgen(service, "bulk-sign", batch["id"], "--role", "saksi_2",
                    token=token_of(witness))  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["done"] == 3
    assert "Menandatangani: 3/3" in signed.stderr

    broken = tmp_path / "rusak.csv"
    broken.write_text("nama,nip\nBudi,12345\n", encoding="utf-8")
    refused = docgen(service, "bulk", str(broken), "--template", "pakta-integritas", token=operator)
    assert refused.returncode == 1
    assert "baris 1, kolom pangkat" in refused.stderr  # the missing column, in words

    # The rows' unbound role is named too: without the official no row can be made.
    unbound = docgen(service, "bulk", str(staff), "--template", "berita-acara-pelantikan",
                     "--dry-run", token=operator)  # fmt: skip
    assert unbound.returncode == 1
    assert json.loads(unbound.stdout)["invalid"] == 3
    assert "signers.pejabat_pelantik" in unbound.stderr
