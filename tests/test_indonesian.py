from datetime import date

import pytest

from docgen.indonesia import (
    BULAN,
    HARI,
    bulan_romawi,
    format_nip,
    jumlah_terbilang,
    mask_nip,
    nama_gelar_kapital,
    tanggal,
    tanggal_pendek,
    tanggal_terbilang,
    terbilang,
)


def test_names_of_days_and_months():
    assert HARI[0] == "Senin" and HARI[4] == "Jumat" and HARI[6] == "Minggu"
    assert len(BULAN) == 12 and BULAN[0] == "Januari" and BULAN[11] == "Desember"


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2024, 6, 27), "Kamis, 27 Juni 2024"),
        (date(2024, 6, 7), "Jumat, 7 Juni 2024"),  # no zero padding
        (date(2023, 1, 1), "Minggu, 1 Januari 2023"),
        (date(2024, 2, 29), "Kamis, 29 Februari 2024"),
        (date(2024, 12, 30), "Senin, 30 Desember 2024"),
    ],
)
def test_tanggal(d, expected):
    assert tanggal(d) == expected


def test_tanggal_pendek():
    assert tanggal_pendek(date(2024, 6, 27)) == "27 Juni 2024"
    assert tanggal_pendek(date(2023, 8, 5)) == "5 Agustus 2023"


def test_tanggal_terbilang():
    assert tanggal_terbilang(date(2024, 6, 27)) == (
        "hari Kamis tanggal dua puluh tujuh bulan Juni tahun dua ribu dua puluh empat"
    )
    assert tanggal_terbilang(date(2023, 11, 1)) == (
        "hari Rabu tanggal satu bulan November tahun dua ribu dua puluh tiga"
    )


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "nol"),
        (1, "satu"),
        (9, "sembilan"),
        (10, "sepuluh"),
        (11, "sebelas"),
        (12, "dua belas"),
        (19, "sembilan belas"),
        (20, "dua puluh"),
        (21, "dua puluh satu"),
        (40, "empat puluh"),
        (99, "sembilan puluh sembilan"),
        (100, "seratus"),
        (101, "seratus satu"),
        (110, "seratus sepuluh"),
        (111, "seratus sebelas"),
        (115, "seratus lima belas"),
        (200, "dua ratus"),
        (999, "sembilan ratus sembilan puluh sembilan"),
        (1000, "seribu"),
        (1001, "seribu satu"),
        (1100, "seribu seratus"),
        (1999, "seribu sembilan ratus sembilan puluh sembilan"),
        (2000, "dua ribu"),
        (2024, "dua ribu dua puluh empat"),
        (11_000, "sebelas ribu"),
        (100_000, "seratus ribu"),
        (101_000, "seratus satu ribu"),
        (111_111, "seratus sebelas ribu seratus sebelas"),
        (1_000_000, "satu juta"),
        (1_000_001, "satu juta satu"),
        (1_001_000, "satu juta seribu"),
        (2_500_000, "dua juta lima ratus ribu"),
        (1_000_000_000, "satu miliar"),
        (1_000_000_000_000, "satu triliun"),
        (
            999_999_999_999_999,
            "sembilan ratus sembilan puluh sembilan triliun "
            "sembilan ratus sembilan puluh sembilan miliar sembilan ratus sembilan puluh sembilan "
            "juta sembilan ratus sembilan puluh sembilan ribu sembilan ratus sembilan puluh "
            "sembilan",
        ),
        (-5, "minus lima"),
        (-1000, "minus seribu"),
        # Where num2words alone says otherwise ("satu ribu" after a larger group, "min").
        (21_000, "dua puluh satu ribu"),
        (201_000, "dua ratus satu ribu"),
        (5_001_000, "lima juta seribu"),
        (1_000_001_000, "satu miliar seribu"),
        (1_001_001_000, "satu miliar satu juta seribu"),
        (1_000_000_001_999, "satu triliun seribu sembilan ratus sembilan puluh sembilan"),
        (-1_001_000, "minus satu juta seribu"),
    ],
)
def test_terbilang(n, words):
    assert terbilang(n) == words


def test_terbilang_limits():
    with pytest.raises(ValueError):
        terbilang(10**15)
    with pytest.raises(TypeError):
        terbilang(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        terbilang(True)


def test_jumlah_terbilang():
    assert jumlah_terbilang(40, "orang") == "40 (empat puluh) orang"
    assert jumlah_terbilang(3) == "3 (tiga)"
    assert jumlah_terbilang(1500, "eksemplar") == "1.500 (seribu lima ratus) eksemplar"


def test_bulan_romawi():
    assert [bulan_romawi(m) for m in range(1, 13)] == [
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
        "IX",
        "X",
        "XI",
        "XII",
    ]
    for bad in (0, 13, -1):
        with pytest.raises(ValueError):
            bulan_romawi(bad)


def test_format_and_mask_nip():
    assert format_nip("198609262015051001") == "19860926 201505 1 001"
    assert format_nip("19860926 201505 1 001") == "19860926 201505 1 001"
    assert mask_nip("198609262015051001") == "**************1001"
    assert mask_nip("19860926 201505 1 001") == "**************1001"
    with pytest.raises(ValueError):
        format_nip("12345")
    with pytest.raises(ValueError):
        format_nip("19860926201505100X")


@pytest.mark.parametrize(
    ("nama", "expected"),
    [
        ("Drs. Budi Santoso, M.Si.", "Drs. BUDI SANTOSO, M.Si."),
        ("Budi Santoso", "BUDI SANTOSO"),
        ("Siti Aminah, S.Pd., M.Pd.", "SITI AMINAH, S.Pd., M.Pd."),
        ("dr. Rina Kartika, Sp.A.", "dr. RINA KARTIKA, Sp.A."),
        ("Prof. Dr. Ir. Hadi Wijaya, M.T.", "Prof. Dr. Ir. HADI WIJAYA, M.T."),
        ("Hj. Nur Aini, S.E.", "Hj. NUR AINI, S.E."),
        ("  Ahmad  ", "AHMAD"),
        # Abbreviated given names are part of the name; honorifics keep their spelling.
        ("Moch. Fauzi Rahman, S.STP., M.Si.", "MOCH. FAUZI RAHMAN, S.STP., M.Si."),
        ("Drs. H. Ahmad Syaifuddin, M.Si.", "Drs. H. AHMAD SYAIFUDDIN, M.Si."),
        ("H. Moh. Ali", "H. MOH. ALI"),
        ("Muh. Yusuf, S.Sos.", "MUH. YUSUF, S.Sos."),
        ("Abd. Rahman", "ABD. RAHMAN"),
        ("M. Iqbal", "M. IQBAL"),
        ("Mochamad Nur", "MOCHAMAD NUR"),
    ],
)
def test_nama_gelar_kapital(nama, expected):
    assert nama_gelar_kapital(nama) == expected
