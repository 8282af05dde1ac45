"""The `docgen` command line against the running service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PIN, Service, pakta_data

REPO = Path(__file__).resolve().parent.parent


def docgen(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docgen", *args],
        cwd=REPO,
        env={**os.environ, "DOCGEN_URL": service.url, "DOCGEN_PIN": PIN},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_enrol_generate_sign_verify(service: Service, tmp_path: Path) -> None:
    added = docgen(
        service, "signer", "add", "--name", "Drs. Budi Santoso, M.Si.",
        "--nip", "198609262015051001", "--jabatan", "Kepala Subbagian Umum",
        "--pangkat", "III/a", "--unit", "BKPSDM Kabupaten Sidoarjo",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    signer_id = json.loads(added.stdout)["id"]

    data = tmp_path / "pakta.json"
    data.write_text(json.dumps(pakta_data()), encoding="utf-8")
    generated = docgen(service, "generate", "pakta-integritas", str(data))
    assert generated.returncode == 0, generated.stderr
    document = json.loads(generated.stdout)
    assert document["status"] == "menunggu_tanda_tangan"

    signed_pdf = tmp_path / "pakta.pdf"
    signed = docgen(
        service, "sign", document["id"], "--role", "pembuat_pernyataan",
        "--signer", signer_id, "--out", str(signed_pdf),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["status"] == "sah"

    verified = docgen(service, "verify", str(signed_pdf))
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["valid"] is True and report["issued_here"] is True

    tampered = tmp_path / "tampered.pdf"
    raw = bytearray(signed_pdf.read_bytes())
    raw[raw.index(b"stream", len(raw) // 10) + 20] ^= 1
    tampered.write_bytes(bytes(raw))
    rejected = docgen(service, "verify", str(tampered))
    assert rejected.returncode == 2
    assert json.loads(rejected.stdout)["valid"] is False


def test_errors_are_reported_in_words(service: Service, tmp_path: Path) -> None:
    data = tmp_path / "bad.json"
    data.write_text(json.dumps(pakta_data(nip="12345")), encoding="utf-8")
    result = docgen(service, "generate", "pakta-integritas", str(data))
    assert result.returncode == 1
    assert "422" in result.stderr and "nip" in result.stderr


def test_bulk_and_bulk_sign_with_progress(service: Service, tmp_path: Path) -> None:
    from tests.test_bulk import inauguration_csv
    from tests.test_templates_content import BA

    witness = docgen(
        service, "signer", "add", "--name", str(BA["nama_saksi_2"]),
        "--nip", str(BA["nip_saksi_2"]), "--jabatan", "Asisten Administrasi Umum",
        "--unit", "Sekretariat Daerah",
    )  # fmt: skip
    witness_id = json.loads(witness.stdout)["id"]
    staff = tmp_path / "pelantikan.csv"
    staff.write_bytes(inauguration_csv(3))

    checked = docgen(service, "bulk", str(staff), "--template", "berita-acara-pelantikan",
                     "--dry-run")  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "template": "berita-acara-pelantikan", "total": 3, "valid": 3, "invalid": 0,
    }  # fmt: skip

    made = docgen(service, "bulk", str(staff), "--template", "berita-acara-pelantikan")
    assert made.returncode == 0, made.stderr
    batch = json.loads(made.stdout)
    assert (batch["status"], batch["done"], batch["failed"]) == ("selesai", 3, 0)
    assert "Membuat dokumen: 3/3" in made.stderr

    signed = docgen(service, "bulk-sign", batch["id"], "--role", "saksi_2", "--signer", witness_id)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["done"] == 3
    assert "Menandatangani: 3/3" in signed.stderr

    broken = tmp_path / "rusak.csv"
    broken.write_text("nama,nip\nBudi,12345\n", encoding="utf-8")
    refused = docgen(service, "bulk", str(broken), "--template", "pakta-integritas")
    assert refused.returncode == 1
    assert "baris 1, kolom pangkat" in refused.stderr  # the missing column, in words
