"""A registry from before accounts existed (revision 0005) survives the migration: its signers
become signer accounts that only need an activation link to set a password (their keys stay
sealed under the PIN they chose), a NIP enrolled twice keeps only the newest enrolment, and a
document whose role was named by NIP alone is bound to that NIP's signer and can be signed.

The old registry is made the way a 0005 deployment left it: a service of today makes a signer
and a document, the registry is migrated down to 0005 (the people tables and columns go), and
what only old versions did is written back in (a role named by NIP only, a second enrolment of
the same NIP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.pki import CertificateAuthority, generate_private_key
from tests.conftest import create_pakta, start_service, stop_service
from tests.people import PASSWORD, PIN, People, activation_token, token_client
from tests.postgres import downgrade

NIP = "196903142000121005"  # used by no other module


def test_signers_and_documents_survive_the_migration(tmp_path: Path) -> None:
    data_dir = tmp_path / "docgen"
    process, service = start_service(data_dir)
    try:
        people = People(service.url, data_dir)
        signer = people.signer(NIP)
        document = create_pakta(people.operator.client, NIP)
    finally:
        stop_service(process)

    downgrade(service.database_url, "0005")
    ca = CertificateAuthority.load_or_create(data_dir / "ca")
    older_cert = ca.issue_signer_certificate(
        generate_private_key().public_key(),
        name="Drs. Budi Santoso, M.Si.",
        nip=NIP,
        jabatan="Jabatan lama",
        unit="BKPSDM",
    )
    older_id = uuid.uuid4().hex
    with service.registry() as conn:
        # What 0005 allowed: the role named by its NIP only, and the NIP enrolled twice.
        conn.execute(
            "UPDATE signature_slots SET assigned_signer_id = NULL WHERE document_id = %s",
            (document["id"],),
        )
        sealed = conn.execute(
            "SELECT sealed_key FROM signers WHERE id = %s", (signer.signer_id,)
        ).fetchone()[0]
        earlier = datetime.now(UTC) - timedelta(days=30)
        conn.execute(
            "INSERT INTO signers (id, name, nip, jabatan, pangkat, unit, certificate_pem, "
            "sealed_key, failed_pins, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, %s)",
            (
                older_id,
                "Drs. Budi Santoso, M.Si.",
                NIP,
                "Jabatan lama",
                "III/a",
                "BKPSDM",
                older_cert.public_bytes(serialization.Encoding.PEM).decode(),
                sealed,
                earlier,
            ),
        )
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
        assert "signers" in tables and "users" not in tables

    process, service = start_service(data_dir)
    try:
        people = People(service.url, data_dir)
        admin = people.admin.client
        by_id = {s["id"]: s for s in admin.get("/api/v1/signers").json()}
        assert by_id[signer.signer_id]["status"] == "aktif"
        assert by_id[signer.signer_id]["certificate_pem"]  # the key and certificate stay
        assert by_id[older_id]["status"] == "dicabut"
        assert "ganda" in by_id[older_id]["revoke_reason"]
        crl = x509.load_der_x509_crl(httpx.get(f"{service.url}/api/v1/trust/crl").content)
        assert crl.get_revoked_certificate_by_serial_number(older_cert.serial_number)

        # The signer has an account without a password: an activation link sets one, and no
        # new PIN is asked for (the key sealed under the old one stays).
        account = next(u for u in admin.get("/api/v1/users").json() if u["username"] == NIP)
        assert account["role"] == "signer" and account["active"] is False
        assert account["signer_id"] == signer.signer_id
        link = admin.post(f"/api/v1/users/{account['id']}/activation")
        assert link.status_code == 200, link.text
        token = activation_token(link.json()["activation_url"])
        shown = httpx.get(f"{service.url}/api/v1/activation/{token}").json()
        assert shown["pin_required"] is False
        done = httpx.post(f"{service.url}/api/v1/activation/{token}", json={"password": PASSWORD})
        assert done.status_code == 200, done.text
        made = httpx.post(
            f"{service.url}/api/v1/auth/tokens",
            json={"username": NIP, "password": PASSWORD, "name": "hp"},
        )
        assert made.status_code == 201, made.text

        # The document named the signer by NIP only: now bound to them, and signed with the
        # PIN chosen before the migration.
        with token_client(service.url, made.json()["token"]) as own:
            signed = own.post(
                f"/api/v1/documents/{document['id']}/signatures",
                json={"role": "pembuat_pernyataan", "pin": PIN},
            )
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "sah"
        code = document["verify_url"].rsplit("/", 1)[1]
        public = httpx.get(f"{service.url}/api/v1/verify/{code}")
        assert public.json()["status"] == "sah"
        assert public.json()["signatures"][0]["valid"] is True
    finally:
        stop_service(process)
