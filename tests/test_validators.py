from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from docgen.errors import DataInvalid, FieldInvalid, FieldProblem
from docgen.indonesia import PANGKAT, pangkat_golongan, validate_nip, validate_pangkat
from docgen.kit.types import PlainLines, PlainText
from docgen.people.schemas import TokenIn, UnitIn, UserIn
from docgen.signers.schemas import ReenrolIn, SignerIn, SignerRevokeIn
from docgen.templating.catalogue import load_template
from docgen.templating.manifest import TemplateManifest
from docgen.templating.validation import MAX_TEXT_LENGTH, validate_data

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture(scope="module")
def pakta() -> TemplateManifest:
    return load_template(TEMPLATES / "pakta-integritas").manifest


# --- NIP


@pytest.mark.parametrize(
    "nip",
    ["198609262015051001", "19860926 201505 1 001", " 197002022000032001 ", "196512311990031002"],
)
def test_valid_nip(nip):
    assert validate_nip(nip) == nip.replace(" ", "").strip()


@pytest.mark.parametrize(
    ("nip", "message"),
    [
        ("19860926201505100", "18 digit"),  # 17 digits
        ("1986092620150510011", "18 digit"),
        ("19860926201505100a", "18 digit"),
        ("", "18 digit"),
        ("198613262015051001", "tanggal lahir"),  # birth month 13
        ("198602302015051001", "tanggal lahir"),  # 30 February
        ("198609262015131001", "bulan TMT"),  # TMT month 13
        ("198609262015001001", "bulan TMT"),  # TMT month 0
        ("193009262015051001", "tahun lahir"),  # born before 1940
        ("198609262000051001", "17 tahun"),  # appointed at 13
        ("198609262015053001", "jenis kelamin"),
        ("198609262099051001", "masa depan"),
    ],
)
def test_invalid_nip(nip, message):
    with pytest.raises(FieldInvalid, match=message):
        validate_nip(nip)


def test_field_invalid_is_a_value_error():
    assert issubclass(FieldInvalid, ValueError)


# --- pangkat


def test_pangkat_table_is_complete():
    assert len(PANGKAT) == 17
    assert PANGKAT["III/a"] == "Penata Muda"
    assert PANGKAT["IV/e"] == "Pembina Utama"
    assert PANGKAT["I/a"] == "Juru Muda"


@pytest.mark.parametrize(
    ("value", "golongan"),
    [
        ("III/a", "III/a"),
        ("iii/a", "III/a"),
        ("III / A", "III/a"),
        ("3/a", "III/a"),
        ("Penata Muda", "III/a"),
        ("penata muda", "III/a"),
        ("Penata Muda (III/a)", "III/a"),
        ("Penata Muda, III/a", "III/a"),
        ("Penata Muda Tingkat I (III/b)", "III/b"),
        ("Penata Muda Tk. I", "III/b"),
        ("Pembina Utama Madya", "IV/d"),
        ("Juru Tingkat I, I/d", "I/d"),
        ("IV/e", "IV/e"),
    ],
)
def test_validate_pangkat(value, golongan):
    assert validate_pangkat(value) == golongan


@pytest.mark.parametrize(
    "value", ["III/e", "V/a", "II/e", "Penata Madya", "", "Penata Muda (III/c)", "Pembina, II/a"]
)
def test_invalid_pangkat(value):
    with pytest.raises(FieldInvalid):
        validate_pangkat(value)


def test_pangkat_golongan():
    assert pangkat_golongan("III/a") == "Penata Muda (III/a)"
    assert pangkat_golongan("IV/c") == "Pembina Utama Muda (IV/c)"
    assert pangkat_golongan("penata") == "Penata (III/c)"


# --- whole documents


def _data(**overrides):
    data = {
        "nama": "Drs. Budi Santoso, M.Si.",
        "nip": "19860926 201505 1 001",
        "pangkat": "Penata Muda (III/a)",
        "jabatan": "Kepala Seksi Kurikulum",
        "instansi": "Dinas Pendidikan",
        "tempat": "Sidoarjo",
        "tanggal": "2024-06-27",
    }
    data.update(overrides)
    return data


def test_validate_data_cleans_and_types(pakta):
    clean = validate_data(pakta, _data(nama="  Drs. Budi Santoso, M.Si. "))
    assert clean["nama"] == "Drs. Budi Santoso, M.Si."
    assert clean["nip"] == "198609262015051001"
    assert clean["pangkat"] == "III/a"
    assert clean["tanggal"] == date(2024, 6, 27)
    assert clean["unit_kerja"] is None  # optional, absent
    assert "pemerintah" not in clean  # the kop is the unit's, no manifest default
    # idempotent: cleaned data validates to itself
    assert validate_data(pakta, clean) == clean


def test_validate_data_collects_every_problem(pakta):
    data = _data(nip="12345", pangkat="III/e", tanggal="27-06-2024", warna="merah")
    del data["nama"]
    data["jabatan"] = "   "
    with pytest.raises(DataInvalid) as info:
        validate_data(pakta, data)
    problems = {p.field: p.message for p in info.value.problems}
    assert problems == {
        "warna": "isian tidak dikenal pada templat ini",
        "nama": "wajib diisi",
        "nip": "NIP harus 18 digit",
        "pangkat": "pangkat/golongan tidak dikenal: III/e",
        "jabatan": "wajib diisi",
        "tanggal": "tanggal harus berformat TTTT-BB-HH, misalnya 2024-06-27",
    }
    assert info.value.status_code == 422
    body = info.value.body().model_dump(exclude_none=True)
    assert body["problems"][0] == {"field": "warna", "message": problems["warna"]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tanggal", "2024-02-30", "tidak ada"),
        ("tanggal", 20240627, "TTTT-BB-HH"),
        ("nama", 42, "teks"),
        ("nama", "Budi\x00Santoso", "karakter kontrol"),
        ("nama", "x" * 2001, "terlalu panjang"),
        ("nip", 198609262015051001, "teks"),
    ],
)
def test_validate_data_type_errors(pakta, field, value, message):
    with pytest.raises(DataInvalid) as info:
        validate_data(pakta, _data(**{field: value}))
    [problem] = info.value.problems
    assert problem.field == field
    assert message in problem.message


@pytest.fixture(scope="module")
def lists() -> TemplateManifest:
    """A manifest with an integer, a list of text and a list of records."""
    return TemplateManifest.model_validate(
        {
            "id": "berita-acara",
            "version": 1,
            "title": "Berita Acara",
            "document_type": "berita_acara",
            "date_field": "tanggal",
            "numbering": {"pattern": "{kode}/{urut}/{tahun}", "kode": "800", "unit": "X"},
            "fields": [
                {"name": "tanggal", "type": "date", "label": "Tanggal"},
                {"name": "jumlah", "type": "integer", "label": "Jumlah"},
                {"name": "saksi", "type": "list", "label": "Saksi", "required": False},
                {
                    "name": "peserta",
                    "type": "list",
                    "label": "Peserta",
                    "item_fields": [
                        {"name": "nama", "type": "text", "label": "Nama"},
                        {"name": "nip", "type": "nip", "label": "NIP"},
                    ],
                },
            ],
            "roles": [{"name": "pejabat", "label": "Pejabat", "order": 1}],
        }
    )


def test_integer_and_list_fields(lists):
    clean = validate_data(
        lists,
        {
            "tanggal": date(2024, 1, 2),
            "jumlah": "40",
            "peserta": [{"nama": "A", "nip": "198609262015051001"}],
        },
    )
    assert clean["jumlah"] == 40
    assert clean["saksi"] == []
    assert clean["peserta"] == [{"nama": "A", "nip": "198609262015051001"}]

    with pytest.raises(DataInvalid) as info:
        validate_data(
            lists,
            {
                "tanggal": "2024-01-02",
                "jumlah": True,
                "saksi": "Budi",
                "peserta": [{"nama": "A", "nip": "1"}, {"nip": "198609262015051001"}, "x"],
            },
        )
    assert info.value.problems == [
        FieldProblem("jumlah", "harus berupa bilangan bulat"),
        FieldProblem("saksi", "harus berupa daftar"),
        FieldProblem("peserta[1].nip", "NIP harus 18 digit"),
        FieldProblem("peserta[2].nama", "wajib diisi"),
        FieldProblem("peserta[3]", "harus berupa objek"),
    ]


def test_document_text_refuses_what_plain_text_refuses(pakta, lists):
    """Every text field of a manifest, a list of text and a list record's text fields: the same
    characters as ``PlainText``, by the same rule, with the same message."""
    plain = TypeAdapter(PlainText)
    for char in HIDDEN_CHARACTERS:
        value = f"Budi{char}Santoso"
        with pytest.raises(ValidationError) as expected:
            plain.validate_python(value)
        message = expected.value.errors()[0]["msg"]
        with pytest.raises(DataInvalid) as info:
            validate_data(pakta, _data(nama=value))
        assert info.value.problems == [FieldProblem("nama", message)]
        with pytest.raises(DataInvalid) as info:
            validate_data(
                lists,
                {
                    "tanggal": "2024-01-02",
                    "jumlah": 1,
                    "saksi": ["Ani", value],
                    "peserta": [{"nama": value, "nip": "198609262015051001"}],
                },
            )
        assert info.value.problems == [
            FieldProblem("saksi[2]", message),
            FieldProblem("peserta[1].nama", message),
        ]
    for name in (
        "Moch. Sya'roni, S.Sos.",
        "Sri Wahyuni",
        "Dédé Ñurhayati,\u00a0M.Kn.",
        "I Gusti Ngurah Rai",
    ):
        assert validate_data(pakta, _data(nama=name))["nama"] == name
    # One value of megabytes is refused by its length before anything else reads it.
    with pytest.raises(DataInvalid) as info:
        validate_data(pakta, _data(nama="B" * 2**20))
    assert info.value.problems == [
        FieldProblem("nama", f"terlalu panjang (maksimal {MAX_TEXT_LENGTH} karakter)")
    ]


def test_data_must_be_a_mapping(pakta):
    with pytest.raises(DataInvalid):
        validate_data(pakta, ["nama"])  # type: ignore[arg-type]


# --- NIK, NI PPPK, nomor induk, boolean, choices


def test_nik_of_the_domain_example() -> None:
    from docgen.indonesia import validate_nik

    assert validate_nik("3515 1445 0868 0002") == "3515144508680002"  # woman, 5 Aug 1968
    assert validate_nik("3515140508680002") == "3515140508680002"  # same date, a man


@pytest.mark.parametrize(
    ("nik", "message"),
    [
        ("351514450868000", "16 digit"),
        ("35151445086800021", "16 digit"),
        ("0015144508680002", "provinsi"),  # no province 00
        ("3500144508680002", "kabupaten"),
        ("3515143208680002", "tanggal lahir"),  # day 32
        ("3515147208680002", "tanggal lahir"),  # day 72 - 40 = 32
        ("3515144513680002", "tanggal lahir"),  # month 13
        ("3515143002680002", "tanggal lahir"),  # 30 February
        ("3515144508680000", "nomor urut"),
    ],
)
def test_invalid_nik(nik: str, message: str) -> None:
    from docgen.indonesia import validate_nik

    with pytest.raises(FieldInvalid, match=message):
        validate_nik(nik)


def test_ni_pppk_is_its_own_type() -> None:
    from docgen.indonesia import validate_ni_pppk, validate_nomor_induk

    # Digits 13-14 are "21", which no NIP can have (month 21).
    assert validate_ni_pppk("19900326 2023 21 2 007") == "199003262023212007"
    with pytest.raises(FieldInvalid, match="bulan TMT"):
        validate_nip("199003262023212007")
    assert validate_nomor_induk("199003262023212007") == "199003262023212007"
    assert validate_nomor_induk("198609262015051001") == "198609262015051001"
    with pytest.raises(FieldInvalid, match="NIP"):
        validate_nomor_induk("198613262015051001")


@pytest.mark.parametrize(
    ("nomor", "message"),
    [
        ("19900326202321200", "18 digit"),
        ("199013262023212007", "tanggal lahir"),
        ("199003262015212007", "tahun pengangkatan"),  # before PPPK existed
        ("199003262099212007", "tahun pengangkatan"),  # future
        ("201003262023212007", "kurang dari 17"),
        ("199003262023213007", "jenis kelamin"),
        ("199003262023212000", "nomor urut"),
    ],
)
def test_invalid_ni_pppk(nomor: str, message: str) -> None:
    from docgen.indonesia import validate_ni_pppk

    with pytest.raises(FieldInvalid, match=message):
        validate_ni_pppk(nomor)


def contoh_manifest(
    *,
    roles: list[dict[str, object]],
    fields: Sequence[dict[str, object]] = (),
) -> TemplateManifest:
    """A minimal manifest with a ``tanggal`` date field plus ``fields`` and ``roles``."""
    return TemplateManifest.model_validate(
        {
            "id": "contoh",
            "version": 1,
            "title": "Contoh",
            "document_type": "contoh",
            "date_field": "tanggal",
            "numbering": {"pattern": "{kode}/{urut}/{tahun}", "kode": "1", "unit": "X"},
            "fields": [{"name": "tanggal", "type": "date", "label": "Tanggal"}, *fields],
            "roles": roles,
        }
    )


def test_boolean_choices_and_new_types_in_data() -> None:
    manifest = contoh_manifest(
        fields=[
            {"name": "nik", "type": "nik", "label": "NIK"},
            {"name": "ni", "type": "ni_pppk", "label": "NI PPPK"},
            {"name": "meterai", "type": "boolean", "label": "e-Meterai", "required": False},
            {
                "name": "agama",
                "type": "text",
                "label": "Agama",
                "choices": ["Islam", "Kristen Protestan"],
            },
        ],
        roles=[{"name": "a", "label": "A", "order": 1, "signer_nip_field": "ni"}],
    )
    clean = validate_data(
        manifest,
        {
            "tanggal": "2024-06-27",
            "nik": "3515144508680002",
            "ni": "199003262023212007",
            "agama": "Islam",
        },
    )
    assert clean["meterai"] is False and clean["agama"] == "Islam"
    assert validate_data(manifest, {**clean, "meterai": "ya"})["meterai"] is True
    with pytest.raises(DataInvalid) as caught:
        validate_data(
            manifest,
            {
                "tanggal": "2024-06-27",
                "nik": "1",
                "ni": "198609262015051001",
                "agama": "Jedi",
                "meterai": "mungkin",
            },
        )
    fields = {p.field for p in caught.value.problems}
    assert fields == {"nik", "ni", "agama", "meterai"}


def test_roles_sharing_an_order_form_a_group() -> None:
    manifest = contoh_manifest(
        roles=[
            {"name": "pejabat", "label": "Pejabat", "order": 2},
            {"name": "saksi_1", "label": "Saksi", "order": 1},
            {"name": "saksi_2", "label": "Saksi", "order": 1},
        ]
    )
    assert [r.name for r in manifest.roles_in_order] == ["saksi_1", "saksi_2", "pejabat"]


# --- plain text of people's records: names, jabatan, units, e-mail addresses


HIDDEN_CHARACTERS = [
    *map(chr, range(0x00, 0x20)),  # C0 controls, tab and line breaks included
    *map(chr, range(0x7F, 0xA0)),  # DEL and the C1 controls
    *map(chr, range(0x200B, 0x2010)),  # zero-width characters, LRM, RLM
    *map(chr, range(0x202A, 0x202F)),  # bidi embeddings and overrides
    *map(chr, range(0x2066, 0x206A)),  # bidi isolates
    "\u2028",  # line separator
    "\ufeff",  # zero-width no-break space
]


def test_plain_text_refuses_controls_and_hidden_characters() -> None:
    adapter = TypeAdapter(PlainText)
    for char in HIDDEN_CHARACTERS:
        with pytest.raises(ValidationError) as raised:
            adapter.validate_python(f"Budi{char}Santoso")
        [error] = raised.value.errors()
        assert f"(U+{ord(char):04X}) yang tidak diperbolehkan" in error["msg"]
    name = "Dédé Kurniasih, S.H.,\u00a0M.Kn. — Ngurah Rai 'Ayu'"
    assert adapter.validate_python(name) == name


def test_plain_lines_keep_line_breaks_and_tabs_only() -> None:
    adapter = TypeAdapter(PlainLines)
    assert adapter.validate_python("Pindah tugas\r\nke\tBappeda") == "Pindah tugas\r\nke\tBappeda"
    for char in set(HIDDEN_CHARACTERS) - set("\r\n\t"):
        with pytest.raises(ValidationError):
            adapter.validate_python(f"Pindah{char}tugas")


@pytest.mark.parametrize(
    ("model", "field", "others"),
    [
        (SignerIn, "name", {"nip": "198609262015051001", "jabatan": "Camat", "unit_id": "u"}),
        (SignerIn, "jabatan", {"nip": "198609262015051001", "name": "Budi", "unit_id": "u"}),
        (SignerIn, "unit_id", {"nip": "198609262015051001", "name": "Budi", "jabatan": "Camat"}),
        (SignerIn, "email", {"nip": "198609262015051001", "name": "Budi", "jabatan": "Camat",
                             "unit_id": "u"}),
        (ReenrolIn, "name", {}),
        (ReenrolIn, "jabatan", {}),
        (ReenrolIn, "unit_id", {}),
        (SignerRevokeIn, "reason", {}),
        (UnitIn, "name", {"code": "BKPSDM"}),
        (UserIn, "email", {"username": "budi", "role": "operator"}),
        (TokenIn, "name", {"username": "budi", "password": "x"}),
    ],
)  # fmt: skip
def test_people_records_refuse_hidden_characters(
    model: type[BaseModel], field: str, others: dict[str, object]
) -> None:
    value = "budi@contoh.go.id" if field == "email" else "Budi Santoso"
    assert getattr(model.model_validate({**others, field: value}), field) == value
    with pytest.raises(ValidationError) as raised:
        model.model_validate({**others, field: value.replace("u", "u\u202e", 1)})
    assert [e["loc"] for e in raised.value.errors()] == [(field,)]
