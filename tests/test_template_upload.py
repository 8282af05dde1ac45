"""Templates are data: uploaded through the API by an admin, checked, stored as versions; old
documents keep working after a template changes. Against the running service, on real parts."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import secrets
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import anyio
import docx
import httpx
import pikepdf
import pytest
from docx.oxml.ns import qn
from PIL import Image

from docgen.errors import TemplateInvalid, TemplateProblem
from docgen.kit.sandbox import Sandbox
from docgen.registry.db import Database
from docgen.registry.models import BatchRow, Document
from docgen.templating.catalogue import TemplateCatalogue, load_templates, load_uploaded_versions
from docgen.templating.manifest import MAX_NUMBER_LENGTH, parse_manifest
from docgen.templating.upload import (
    CHECK_MODULE,
    docx_problems_bounded,
    upload_template,
    with_version,
)
from storage import S3ObjectStore
from tests.conftest import REPO, People, Service, SignerAccount, pakta_data
from tests.pdftools import page_text, pages_text
from tests.test_errors import own_nip

PAKTA = REPO / "templates" / "pakta-integritas"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OLD_WORDING = "dengan ini menyatakan bahwa saya:"


def manifest_text(template_id: str = "pakta-integritas", *replacements: tuple[str, str]) -> str:
    text = (PAKTA / "manifest.toml").read_text(encoding="utf-8")
    text = text.replace('id = "pakta-integritas"', f'id = "{template_id}"')
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def pakta_docx(
    *replacements: tuple[str, str],
    edits: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    added: Mapping[str, str] | None = None,
    template: Path = PAKTA,
) -> bytes:
    """The pakta DOCX (or ``template``'s) with text in word/document.xml replaced, text in
    other parts replaced (``edits``: part name, its replacements) and whole parts ``added``."""
    changes = {"word/document.xml": replacements, **(edits or {})}
    source = zipfile.ZipFile(template / "template.docx")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename in changes:
                xml = data.decode()
                for old, new in changes[entry.filename]:
                    assert old in xml, old
                    xml = xml.replace(old, new, 1)
                data = xml.encode()
            target.writestr(entry, data)
        for name, xml in (added or {}).items():
            target.writestr(name, xml)
    return out.getvalue()


def paragraph_number(docx_bytes: bytes, text: str) -> int:
    """Number of the first body paragraph holding ``text``, in document order (python-docx)."""
    body = docx.Document(io.BytesIO(docx_bytes)).element.body
    for number, paragraph in enumerate(body.iter(qn("w:p")), 1):
        if text in "".join(t.text or "" for t in paragraph.iter(qn("w:t"))):
            return number
    raise AssertionError(f"no paragraph holds {text!r}")


def upload(client: httpx.Client, manifest: str | bytes, docx_bytes: bytes) -> httpx.Response:
    return client.post(
        "/api/v1/templates",
        files={
            "manifest": ("manifest.toml", manifest, "application/toml"),
            "docx": ("template.docx", docx_bytes, DOCX_TYPE),
        },
    )


def new_id() -> str:
    return f"uji-{secrets.token_hex(4)}"


def versions(client: httpx.Client, template_id: str) -> list[int]:
    response = client.get(f"/api/v1/templates/{template_id}")
    return response.json()["versions"] if response.status_code == 200 else []


def recorded_versions(service: Service) -> int:
    with service.registry() as db:
        return int(db.execute("SELECT COUNT(*) FROM template_versions").fetchone()[0])


@pytest.fixture()
def admin(people: People) -> httpx.Client:
    """Only admins upload templates."""
    return people.admin.client


@pytest.fixture(scope="module")
def signer(people: People) -> SignerAccount:
    """The signer of this module's pakta (a NIP of its own)."""
    return people.signer(own_nip())


def create(client: httpx.Client, template_id: str, signer: SignerAccount) -> dict:
    """A document of ``template_id`` made by the operator ``client``, bound to ``signer``."""
    response = client.post(
        "/api/v1/documents", json={"template": template_id, "data": pakta_data(nip=signer.nip)}
    )
    assert response.status_code == 201, response.text
    return response.json()


def pdf_text(client: httpx.Client, document_id: str, tmp_path: Path) -> str:
    response = client.get(f"/api/v1/documents/{document_id}/pdf")
    assert response.status_code == 200
    path = tmp_path / f"{document_id}.pdf"
    path.write_bytes(response.content)
    return " ".join(page_text(path).split())


def test_new_version_of_pakta_is_checked_stored_and_listed(
    service: Service, people: People, admin: httpx.Client, client: httpx.Client
) -> None:
    before = client.get("/api/v1/templates/pakta-integritas").json()
    new_docx = pakta_docx((OLD_WORDING, "dengan ini menyatakan dan berjanji bahwa saya:"))
    # The manifest still says version = 1: the server assigns the version.
    response = upload(admin, manifest_text(), new_docx)
    assert response.status_code == 201, response.text
    created = response.json()
    version = before["version"] + 1
    assert created["version"] == version
    assert created["versions"] == [*before["versions"], version]
    assert created["sha256"] != before["sha256"]
    assert created["created_at"] is not None
    assert [r["name"] for r in created["roles"]] == ["pembuat_pernyataan", "atasan"]

    listed = {t["id"]: t for t in client.get("/api/v1/templates").json()}
    assert listed["pakta-integritas"] == created
    assert client.get("/api/v1/templates/pakta-integritas").json() == created
    download = client.get(f"/api/v1/templates/pakta-integritas/versions/{version}/docx")
    assert download.content == new_docx
    assert download.headers["x-content-sha256"] == created["sha256"]
    old = client.get(f"/api/v1/templates/pakta-integritas/versions/{before['version']}/docx")
    assert hashlib.sha256(old.content).hexdigest() == before["sha256"]

    s3 = service.object_store()
    prefix = f"templates/pakta-integritas/v{version}/"
    assert {o.object_name for o in service.stored_objects(prefix)} == {
        prefix + "template.docx",
        prefix + "manifest.toml",
    }
    assert s3.get_object("docgen", prefix + "template.docx").read() == new_docx
    stored_manifest = s3.get_object("docgen", prefix + "manifest.toml").read().decode()
    assert re.search(rf"^version = {version}$", stored_manifest, re.MULTILINE)
    assert "version = 1\n" not in stored_manifest
    with service.registry() as db:
        audit = db.execute(
            "SELECT details, actor FROM audit_log WHERE action = 'template.uploaded' "
            "AND entity_id = 'pakta-integritas' ORDER BY id DESC"
        ).fetchone()
    assert audit is not None and audit[0]["sha256"] == created["sha256"]
    assert audit[1] == people.admin.id  # the admin who uploaded it


def test_only_admins_upload_templates(
    people: People, client: httpx.Client, anonymous: httpx.Client, nothing_stored: None
) -> None:
    manifest = manifest_text(new_id())
    refused = upload(client, manifest, pakta_docx())  # the operator
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "Forbidden"
    auditor = people.user("auditor").client
    assert upload(auditor, manifest, pakta_docx()).status_code == 403
    nobody = upload(anonymous, manifest, pakta_docx())
    assert nobody.status_code == 401, nobody.text
    assert nobody.json()["error"] == "NotAuthenticated"
    # Reading them is for every logged-in user, not for the public.
    assert client.get("/api/v1/templates/pakta-integritas").status_code == 200
    assert auditor.get("/api/v1/templates").status_code == 200
    assert anonymous.get("/api/v1/templates").status_code == 401


def test_new_id_starts_at_version_1_and_makes_documents(
    admin: httpx.Client, client: httpx.Client, signer: SignerAccount
) -> None:
    template_id = new_id()
    manifest = manifest_text(template_id, ("version = 1", "version = 7"))
    response = upload(admin, manifest, pakta_docx())
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 1
    assert response.json()["versions"] == [1]
    document = create(client, template_id, signer)
    assert (document["template"], document["template_version"]) == (template_id, 1)
    assert document["template_sha256"] == response.json()["sha256"]


def test_unknown_template_or_version_is_404(client: httpx.Client) -> None:
    assert client.get("/api/v1/templates/surat-cinta").status_code == 404
    missing = client.get("/api/v1/templates/pakta-integritas/versions/999/docx")
    assert missing.status_code == 404
    assert missing.json()["error"] == "TemplateNotFound"


@pytest.fixture()
def nothing_stored(service: Service, client: httpx.Client) -> Iterator[None]:
    """Fails the test if it stored a template object or version, or changed a listing."""
    before = (
        len(service.stored_objects("templates/")),
        recorded_versions(service),
        client.get("/api/v1/templates").json(),
    )
    yield
    after = (
        len(service.stored_objects("templates/")),
        recorded_versions(service),
        client.get("/api/v1/templates").json(),
    )
    assert after == before


def problems_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "TemplateInvalid"
    assert body["detail"].startswith("Templat unggahan tidak valid")
    return list(body["problems"])


def test_toml_syntax_error_names_line_and_column(admin: httpx.Client, nothing_stored: None) -> None:
    manifest = manifest_text(new_id(), ('title = "', 'title = "Pakta\n'))
    (problem,) = problems_of(upload(admin, manifest, pakta_docx()))
    line = manifest.splitlines().index('title = "Pakta') + 1
    assert problem["where"].startswith(f"manifest.toml baris {line}, kolom")
    assert "TOML" in problem["message"]


def test_schema_errors_name_each_key(admin: httpx.Client, nothing_stored: None) -> None:
    manifest = manifest_text(
        new_id(), ('type = "nip"', 'type = "nomor_induk"'), ('paper = "A4"', 'kertas = "A4"')
    )
    problems = problems_of(upload(admin, manifest, pakta_docx()))
    by_place = {p["where"]: p["message"] for p in problems}
    assert "'nip'" in by_place["manifest.toml: fields[2] (nip).type"]
    assert by_place["manifest.toml: kertas"] == "kunci ini tidak dikenal"


def test_not_a_docx(admin: httpx.Client, nothing_stored: None) -> None:
    for content in (b"", b"bukan docx", zipfile_without_word()):
        (problem,) = problems_of(upload(admin, manifest_text(new_id()), content))
        assert problem["where"] == "template.docx"
        assert "DOCX" in problem["message"]


def zipfile_without_word() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "halo")
    return out.getvalue()


def test_jinja_syntax_error_names_part_and_paragraph(
    admin: httpx.Client, nothing_stored: None
) -> None:
    broken = pakta_docx(("{{ jabatan }}", "{{ jabatan + }}"))
    (problem,) = problems_of(upload(admin, manifest_text(new_id()), broken))
    number = paragraph_number(broken, "{{ jabatan + }}")
    # The excerpt is the paragraph's text as Jinja sees it: here with the {%tr %} tag of the
    # table row after it, which docxtpl moves onto this line.
    place = f"word/document.xml, paragraf {number} (\u201c{{{{ jabatan + }}}}"
    assert problem["where"].startswith(place)
    assert problem["message"].startswith("kesalahan sintaks Jinja")


def test_undeclared_variable_is_named_with_its_paragraph(
    admin: httpx.Client, nothing_stored: None
) -> None:
    broken = pakta_docx(
        ("{{ nama }}", "{{ nama_lengkap }}"),
        ("{{ instansi }}", "{% for p in peserta %}{{ p.nama }}{{ loop.index }}{% endfor %}"),
    )
    problems = problems_of(upload(admin, manifest_text(new_id()), broken))
    assert len(problems) == 2  # the loop variable and `loop` are not undeclared
    first, second = problems
    assert "'nama_lengkap'" in first["message"]
    number = paragraph_number(broken, "{{ nama_lengkap }}")
    assert first["where"].startswith(f"word/document.xml, paragraf {number} (")
    assert "'peserta'" in second["message"]
    number = paragraph_number(broken, "{% for p in peserta %}")
    assert second["where"].startswith(f"word/document.xml, paragraf {number} (")


def test_role_without_marker_and_ttd_for_unknown_role(
    admin: httpx.Client, nothing_stored: None
) -> None:
    manifest = manifest_text(new_id()) + (
        '\n[[roles]]\nname = "saksi_pakta"\nlabel = "Saksi pakta"\norder = 3\n'
    )
    broken = pakta_docx(("{{ nama|kapital }}", "{{ nama|kapital }}{{ ttd('saksi') }}"))
    problems = problems_of(upload(admin, manifest, broken))
    assert len(problems) == 2
    unknown = next(p for p in problems if "'saksi'" in p["message"])
    number = paragraph_number(broken, "{{ ttd('saksi') }}")
    assert unknown["where"].startswith(f"word/document.xml, paragraf {number} (")
    unmarked = next(p for p in problems if "'saksi_pakta'" in p["message"])
    assert unmarked["where"] == "word/document.xml"
    assert "ttd('saksi_pakta')" in unmarked["message"]


def test_an_emeterai_without_its_box_marker_is_refused(admin: httpx.Client) -> None:
    mou = REPO / "templates" / "nota-kesepahaman"
    manifest = (mou / "manifest.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('id = "nota-kesepahaman"', f'id = "{new_id()}"')
    marker = "<w:t>#EMETERAI#</w:t>"
    (problem,) = problems_of(upload(admin, manifest, pakta_docx((marker, "<w:t/>"), template=mou)))
    assert problem["where"] == "word/document.xml"
    assert "#EMETERAI#" in problem["message"] and "[emeterai]" in problem["message"]
    # Split over two runs, as Word may write it, the marker is there: the template is taken.
    split = "<w:t>#EMETE</w:t></w:r><w:r><w:t>RAI#</w:t>"
    assert upload(admin, manifest, pakta_docx((marker, split), template=mou)).status_code == 201


def test_every_problem_is_reported_at_once(admin: httpx.Client, nothing_stored: None) -> None:
    # A manifest that does not validate: the DOCX is still checked for what needs no manifest.
    manifest = manifest_text(new_id(), ('paper = "A4"', 'kertas = "A4"'))
    broken = pakta_docx(("{{ jabatan }}", "{% if %}"))
    schema, syntax = problems_of(upload(admin, manifest, broken))
    assert schema["where"] == "manifest.toml: kertas"
    assert syntax["message"].startswith("kesalahan sintaks Jinja")
    # A valid manifest: paper size, names and roles together.
    manifest = manifest_text(new_id(), ('paper = "A4"', 'paper = "F4"'))
    broken = pakta_docx(("{{ tempat }}", "{{ kota }}{{ ttd('saksi') }}"))
    problems = problems_of(upload(admin, manifest, broken))
    assert len(problems) == 3
    assert problems[0]["where"] == "word/document.xml, bagian (section) ke-1"
    assert "F4" in problems[0]["message"]
    assert "'kota'" in problems[1]["message"] and "'saksi'" in problems[2]["message"]


def test_oversized_uploads_are_413(admin: httpx.Client, nothing_stored: None) -> None:
    big = pakta_docx() + b"\0" * (20 * 2**20)
    response = upload(admin, manifest_text(new_id()), big)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "UploadTooLarge"
    long_manifest = manifest_text(new_id()) + "#" * (2 * 2**20)
    response = upload(admin, long_manifest, pakta_docx())
    assert response.status_code == 413, response.text


def test_missing_part_is_422(admin: httpx.Client, nothing_stored: None) -> None:
    response = admin.post(
        "/api/v1/templates",
        files={"manifest": ("manifest.toml", manifest_text(new_id()), "application/toml")},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "DataInvalid"


def test_old_documents_keep_working_after_a_new_version(
    admin: httpx.Client,
    client: httpx.Client,
    anonymous: httpx.Client,
    signer: SignerAccount,
    tmp_path: Path,
) -> None:
    template_id = new_id()
    first = upload(admin, manifest_text(template_id), pakta_docx()).json()
    old = create(client, template_id, signer)

    second = upload(
        admin, manifest_text(template_id), pakta_docx((OLD_WORDING, "dengan ini berikrar:"))
    )
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2
    new = create(client, template_id, signer)
    assert (new["template_version"], new["template_sha256"]) == (2, second.json()["sha256"])
    assert "berikrar" in pdf_text(client, new["id"], tmp_path)

    again = client.get(f"/api/v1/documents/{old['id']}").json()
    assert (again["template_version"], again["template_sha256"]) == (1, first["sha256"])
    old_text = pdf_text(client, old["id"], tmp_path)
    assert OLD_WORDING in old_text and "berikrar" not in old_text
    source = client.get(f"/api/v1/documents/{old['id']}/docx")
    assert source.status_code == 200 and source.content[:2] == b"PK"
    assert anonymous.get(f"/v/{old['verify_code']}").status_code == 200
    signed = signer.sign(old["id"])
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "sah"
    assert signed.json()["template_version"] == 1
    assert anonymous.get(f"/api/v1/verify/{old['verify_code']}").json()["status"] == "sah"


def test_concurrent_uploads_get_distinct_versions(
    admin: httpx.Client, client: httpx.Client
) -> None:
    template_id = new_id()
    manifest = manifest_text(template_id)
    variants = [pakta_docx((OLD_WORDING, f"dengan ini menyatakan ({n}):")) for n in range(4)]
    with ThreadPoolExecutor(len(variants)) as pool:
        responses = list(pool.map(lambda d: upload(admin, manifest, d), variants))
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert sorted(r.json()["version"] for r in responses) == [1, 2, 3, 4]
    assert versions(client, template_id) == [1, 2, 3, 4]
    for response, content in zip(responses, variants, strict=True):
        version = response.json()["version"]
        download = client.get(f"/api/v1/templates/{template_id}/versions/{version}/docx")
        assert download.content == content


def store_of(service: Service) -> S3ObjectStore:
    found = re.search(r"penyimpanan objek\s+: (\S+)", service.log.read_text())
    assert found
    keys = json.loads((service.data_dir / "s3" / "credentials.json").read_text())
    return S3ObjectStore(found[1], keys["access_key"], keys["secret_key"], "docgen")


def start_up_registry(service: Service) -> TemplateCatalogue:
    """What start-up builds: the folder templates, then every recorded upload read back."""

    async def load() -> TemplateCatalogue:
        registry = TemplateCatalogue(load_templates(REPO / "templates").values())
        db = Database(service.database_url)
        try:
            await load_uploaded_versions(registry, db, store_of(service))
        finally:
            await db.close()
        return registry

    return anyio.run(load)


def test_start_up_reads_every_version_back_and_checks_its_sha256(
    service: Service, admin: httpx.Client, client: httpx.Client
) -> None:
    template_id = new_id()
    uploaded = [
        upload(admin, manifest_text(template_id), content).json()
        for content in (pakta_docx(), pakta_docx((OLD_WORDING, "dengan ini berikrar:")))
    ]

    registry = start_up_registry(service)
    assert registry.versions(template_id) == [1, 2]
    assert [registry.get(template_id, v).sha256 for v in (1, 2)] == [u["sha256"] for u in uploaded]
    assert (
        registry.latest("pakta-integritas").sha256
        == client.get("/api/v1/templates/pakta-integritas").json()["sha256"]
    )

    # Recorded with another SHA-256 than its stored file has (a template of this test only;
    # put back after).
    tamper = "UPDATE template_versions SET sha256 = %s WHERE template_id = %s AND version = 1"
    with service.registry() as db:
        db.execute(tamper, ("0" * 64, template_id))
    try:
        with pytest.raises(TemplateInvalid, match="SHA-256"):
            start_up_registry(service)
    finally:
        with service.registry() as db:
            db.execute(tamper, (uploaded[0]["sha256"], template_id))


def test_a_check_that_takes_too_long_is_cut_off() -> None:
    # docxtpl's clean-up regexes take quadratic time on unclosed tags (~50 s here for this).
    # A last paragraph of the body, nothing after it to close the tags.
    unclosed = "<w:p><w:r><w:t>NIP. " + "{{p x " * 20000 + "</w:t></w:r></w:p>"
    slow = pakta_docx(("<w:sectPr", unclosed + "<w:sectPr"))

    async def check() -> tuple[list, float]:
        async with Sandbox(slots=1, timeout=2, modules=[CHECK_MODULE]).running() as sandbox:
            while not sandbox.pids(CHECK_MODULE):  # timed from when its process is warm
                await anyio.sleep(0.05)
            started = time.monotonic()
            problems = await docx_problems_bounded(slow, None, sandbox)
            return problems, time.monotonic() - started

    (problem,), seconds = anyio.run(check)
    assert seconds < 5
    assert problem == TemplateProblem("template.docx", "tidak dapat diperiksa dalam 2 detik")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('id = "x"\n', 'version = 5\nid = "x"\n'),
        ('id = "x"\nversion = 1 # lama\n[numbering]\n', 'id = "x"\nversion = 5\n[numbering]\n'),
        ('"version" = "draft"\nid = "x"\n', 'version = 5\nid = "x"\n'),
    ],
)
def test_assigned_version_is_written_into_the_manifest(text: str, expected: str) -> None:
    assert with_version(text, 5) == expected


def test_version_over_several_lines_cannot_be_replaced() -> None:
    assert with_version('id = "x"\nversion = [\n  1,\n]\n', 5) is None


def test_a_version_is_held_by_one_content_only() -> None:
    pakta = load_templates(REPO / "templates")["pakta-integritas"]
    registry = TemplateCatalogue([pakta])
    registry.add(replace(pakta, directory=None))  # the same content again: fine
    with pytest.raises(TemplateInvalid, match="versi 1 ada dua kali"):
        registry.add(replace(pakta, docx_bytes=b"lain", sha256="0" * 64))
    assert registry.versions("pakta-integritas") == [1]
    assert registry.versions("tidak-ada") == []
    assert registry.all_latest() == [pakta]


# --- Nothing outside a template reaches its PDF (issue 19)

REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OUTSIDE = "Templat memuat gambar atau berkas dari luar ("
KEEP_INSIDE = "); unggah templat yang menyimpan semuanya di dalam berkas"


def relationship(rel_id: str, kind: str, target: str) -> str:
    return (
        f'<Relationship Id="{rel_id}" Type="{REL}/{kind}" Target="{xml_escape(target)}" '
        'TargetMode="External"/>'
    )


def linked_picture(rel_id: str, number: int) -> str:
    """A paragraph with a picture "linked to file", as Word writes it (``a:blip r:link``):
    LibreOffice loads it from the target of ``rel_id``."""
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    pic = "http://schemas.openxmlformats.org/drawingml/2006/picture"
    size = 'cx="914400" cy="914400"'
    return (
        f"<w:p><w:r><w:drawing><wp:inline><wp:extent {size}/>"
        f'<wp:docPr id="{900 + number}" name="Gambar luar {number}"/>'
        f'<a:graphic xmlns:a="{a}"><a:graphicData uri="{pic}"><pic:pic xmlns:pic="{pic}">'
        f'<pic:nvPicPr><pic:cNvPr id="0" name="luar{number}.png"/><pic:cNvPicPr/></pic:nvPicPr>'
        f'<pic:blipFill><a:blip r:link="{rel_id}"/><a:stretch><a:fillRect/></a:stretch>'
        f'</pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext {size}/></a:xfrm>'
        '<a:prstGeom prst="rect"/></pic:spPr></pic:pic></a:graphicData></a:graphic>'
        "</wp:inline></w:drawing></w:r></w:p>"
    )


def field(*instruction: str) -> str:
    """A paragraph with a field whose instruction is split over runs, as Word often splits it."""
    runs = "".join(
        f'<w:r><w:instrText xml:space="preserve">{xml_escape(part)}</w:instrText></w:r>'
        for part in instruction
    )
    return (
        f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>{runs}'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>hasil lama</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    )


def simple_field(instruction: str) -> str:
    result = "<w:r><w:t>hasil lama</w:t></w:r>"
    return f"<w:p><w:fldSimple w:instr={quoteattr(instruction)}>{result}</w:fldSimple></w:p>"


def hyperlink(rel_id: str) -> str:
    return f'<w:p><w:hyperlink r:id="{rel_id}"><w:r><w:t>JDIH</w:t></w:r></w:hyperlink></w:p>'


def naming_outside(body: str, relationships: str, added: Mapping[str, str] | None = None) -> bytes:
    """The pakta DOCX with ``body`` (paragraphs) at the end of its body and ``relationships``
    added to the body's."""
    return pakta_docx(
        ("<w:sectPr", body + "<w:sectPr"),
        edits={
            "word/_rels/document.xml.rels": [
                ("</Relationships>", relationships + "</Relationships>")
            ]
        },
        added=added,
    )


def outside_named(problems: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Each problem's place and what it names outside, from the upload's message."""
    for problem in problems:
        assert problem["message"].startswith(OUTSIDE), problem
        assert problem["message"].endswith(KEEP_INSIDE), problem
    return [
        (p["where"], p["message"].removeprefix(OUTSIDE).removesuffix(KEEP_INSIDE)) for p in problems
    ]


JDIH = "https://jdih.sidoarjokab.go.id/produk-hukum"


def test_templates_naming_files_or_addresses_outside_are_refused(
    admin: httpx.Client, nothing_stored: None
) -> None:
    attached = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{relationship('rIdT1', 'attachedTemplate', 'file:///C:/Templat/Normal.dotm')}"
        "</Relationships>"
    )
    docx_bytes = naming_outside(
        linked_picture("rIdLuar1", 1)
        + linked_picture("rIdLuar2", 2)
        # A hyperlink's relationship, named by a picture: LibreOffice loads it as a picture.
        + linked_picture("rIdLuar3", 3)
        + field(' INCLUDEPICTURE "http://127.0.0.1:9/', 'gambar.png" \\d ')
        + simple_field(' INCLUDETEXT "C:\\\\rahasia.docx" ')
        + field(' LINK Excel.Sheet.12 "file:///srv/data.xlsx" "" \\a ')
        # Clickable links are not loaded: allowed.
        + hyperlink("rIdTautan")
        + field(f' HYPERLINK "{JDIH}" '),
        relationship("rIdLuar1", "image", "http://127.0.0.1:9/luar.png")
        + relationship("rIdLuar2", "image", "file:///srv/rahasia/logo.png")
        + relationship("rIdLuar3", "hyperlink", "https://contoh.go.id/logo.png")
        + relationship("rIdTautan", "hyperlink", JDIH),
        added={"word/_rels/settings.xml.rels": attached},
    )
    problems = problems_of(upload(admin, manifest_text(new_id()), docx_bytes))
    assert outside_named(problems) == [
        ("word/_rels/document.xml.rels", "gambar http://127.0.0.1:9/luar.png"),
        ("word/_rels/document.xml.rels", "gambar file:///srv/rahasia/logo.png"),
        (
            "word/_rels/document.xml.rels",
            "tautan yang dipakai sebagai gambar https://contoh.go.id/logo.png",
        ),
        ("word/_rels/settings.xml.rels", "templat lampiran file:///C:/Templat/Normal.dotm"),
        ("word/document.xml", 'kode field INCLUDEPICTURE "http://127.0.0.1:9/gambar.png" \\d'),
        ("word/document.xml", 'kode field INCLUDETEXT "C:\\\\rahasia.docx"'),
        ("word/document.xml", 'kode field LINK Excel.Sheet.12 "file:///srv/data.xlsx" "" \\a'),
    ]


def test_templates_with_plain_hyperlinks_are_accepted(admin: httpx.Client) -> None:
    docx_bytes = naming_outside(
        hyperlink("rIdTautan") + field(f' HYPERLINK "{JDIH}" '),
        relationship("rIdTautan", "hyperlink", JDIH),
    )
    response = upload(admin, manifest_text(new_id()), docx_bytes)
    assert response.status_code == 201, response.text


class _Unchecked(Sandbox):
    """A sandbox whose DOCX check finds nothing: an upload as it was before a check."""

    async def run(self, *args: object, **options: object) -> bytes:
        return b"[]"


def upload_unchecked(service: Service, template_id: str, docx_bytes: bytes) -> None:
    """Store ``docx_bytes`` as a new version of ``template_id`` with the upload's own code but
    without its DOCX check, as a template uploaded before the check was; the service loads it
    on the notice."""

    async def store() -> None:
        db = Database(service.database_url)
        try:
            await upload_template(
                manifest_text(template_id).encode(),
                docx_bytes,
                catalogue=TemplateCatalogue(),
                db=db,
                store=store_of(service),
                sandbox=_Unchecked(slots=1, timeout=60),
                max_docx_bytes=len(docx_bytes),
            )
        finally:
            await db.close()

    anyio.run(store)


@dataclass
class OutsideServer:
    """An HTTP server on loopback that serves a picture to whoever asks and notes each path."""

    url: str
    requested: list[str]


def picture(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# Sizes of the pictures from outside: no other image of a pakta's PDF has them.
SERVED_SIZE, LOCAL_SIZE = (13, 7), (11, 5)


@pytest.fixture()
def outside_server() -> Iterator[OutsideServer]:
    requested: list[str] = []
    served = picture(*SERVED_SIZE)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(served)))
            self.end_headers()
            self.wfile.write(served)

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield OutsideServer(f"http://127.0.0.1:{server.server_address[1]}", requested)
    finally:
        server.shutdown()
        server.server_close()


def image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    """Width and height of every image in the PDF, wherever it is drawn."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [
            (int(obj.Width), int(obj.Height))
            for obj in doc.objects
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Image
        ]


def test_libreoffice_loads_nothing_a_stored_template_names_outside(
    service: Service,
    client: httpx.Client,
    signer: SignerAccount,
    outside_server: OutsideServer,
    tmp_path: Path,
) -> None:
    # A template stored before uploads were checked for this: its pictures are "linked to
    # file", one at an address, one a file of the converter's machine.
    local = tmp_path / "di-mesin-konverter.png"
    local.write_bytes(picture(*LOCAL_SIZE))
    docx_bytes = naming_outside(
        linked_picture("rIdLuar1", 1) + linked_picture("rIdLuar2", 2),
        relationship("rIdLuar1", "image", f"{outside_server.url}/gambar.png")
        + relationship("rIdLuar2", "image", local.as_uri()),
    )
    template_id = new_id()
    upload_unchecked(service, template_id, docx_bytes)
    deadline = time.monotonic() + 60
    while versions(client, template_id) != [1]:  # the service loads it on the notice
        assert time.monotonic() < deadline, "the service did not load the stored template"
        time.sleep(0.2)

    document = create(client, template_id, signer)
    pdf = client.get(f"/api/v1/documents/{document['id']}/pdf")
    assert pdf.status_code == 200
    from_outside = [size for size in image_sizes(pdf.content) if size in (SERVED_SIZE, LOCAL_SIZE)]
    assert (outside_server.requested, from_outside) == ([], [])
    assert "Drs. Budi Santoso" in " ".join(pages_text(pdf.content)[0].split())


# --- Numbering patterns are checked whole (issue 19)


def with_pattern(pattern: str) -> str:
    return manifest_text(
        new_id(),
        (
            'pattern = "{kode}/{urut}/{unit}/{bulan_romawi}/{tahun}"',
            f"pattern = {json.dumps(pattern)}",
        ),
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{kode}/{urut:q}/{tahun}", "format 'q' pada {urut} tidak dikenal"),
        (
            "{kode}/{urut:0>300}/{tahun}",
            "lebar atau presisi 300 pada {urut} melebihi panjang nomor (100 karakter)",
        ),
    ],
)
def test_numbering_patterns_that_cannot_make_numbers_are_refused_at_upload(
    admin: httpx.Client, nothing_stored: None, pattern: str, message: str
) -> None:
    (problem,) = problems_of(upload(admin, with_pattern(pattern), pakta_docx()))
    assert problem["where"] == "manifest.toml: numbering"
    assert problem["message"] == f"nilai tidak valid: pola penomoran {pattern!r}: {message}"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{urut!r}", "konversi !r pada {urut} tidak diperbolehkan"),
        ("{urut.real}", "akses atribut atau indeks pada {urut.real} tidak diperbolehkan"),
        ("{urut[0]}", "akses atribut atau indeks pada {urut[0]} tidak diperbolehkan"),
        ("{urut:{tahun}}", "format bertingkat pada {urut} tidak diperbolehkan"),
        ("{urut:0>999999999}", "lebar atau presisi 999999999 pada {urut}"),
        ("{urut:.9999}", "lebar atau presisi 9999 pada {urut}"),
        ("{kode:d}/{urut}", "format 'd' pada {kode} tidak dapat dipakai untuk teks"),
        ("{urut:.2}", "format '.2' pada {urut} tidak dapat dipakai untuk bilangan"),
        ("{urut:c}", "memuat karakter kontrol"),
        ("{urut:0>60}/{kode:_<45}", "panjangnya 106 karakter, paling panjang 100"),
        ("{}/{urut}", "tempat isian tidak dikenal {}"),
        ("{kode}/{tahun}", "harus memuat {urut}"),
        ("{urut}}", "kurung kurawal tidak berpasangan"),
    ],
)
def test_numbering_patterns_are_checked_whole(pattern: str, message: str) -> None:
    problems: list[TemplateProblem] = []
    assert parse_manifest(with_pattern(pattern), problems) is None
    (problem,) = problems
    assert problem.where == "manifest.toml: numbering"
    assert message in problem.message, problem.message


@pytest.mark.parametrize(
    ("pattern", "number"),
    [
        ("{kode}/{urut:04d}/{unit}/{bulan:02d}/{tahun}", "800.1.12/0007/BKPSDM/03/2024"),
        ("{urut:0>95}/{bulan}", f"{7:0>95}/3"),
        ("{{{kode}}}-{urut:,}", "{800.1.12}-7"),
    ],
)
def test_numbering_patterns_that_make_numbers_are_accepted(pattern: str, number: str) -> None:
    problems: list[TemplateProblem] = []
    manifest = parse_manifest(with_pattern(pattern), problems)
    assert manifest is not None, problems
    assert manifest.numbering.render(7, date(2024, 3, 27), "BKPSDM") == number


def test_the_longest_number_fits_the_registry() -> None:
    for column in (Document.__table__.c.number, BatchRow.__table__.c.number):
        assert column.type.length >= MAX_NUMBER_LENGTH
