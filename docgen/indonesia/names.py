"""Names with their degrees: the name part in capitals, titles and degrees as they are spelt."""

from __future__ import annotations

import re

__all__ = ["nama_gelar_kapital"]

# A leading token that ends with a period is a front title (Drs., dr., Ir., H., Prof.) or an
# initial; either way its spelling is kept (an initial is already upper case)...
_FRONT_TITLE = re.compile(r"[^\s.]+\.(?:[^\s.]+\.)*")
# ...but for abbreviated given names, which are part of the name and upper-cased with it
# ("Moch. Fauzi Rahman" -> "MOCH. FAUZI RAHMAN"; the shared domain notes, "Names").
_GIVEN_NAME_ABBREVIATIONS = frozenset(
    {"moch.", "moh.", "mohd.", "much.", "muh.", "mhd.", "abd.", "m."}
)


def nama_gelar_kapital(nama: str) -> str:
    """Upper-case the name part only: ``Drs. Budi Santoso, M.Si.`` -> ``Drs. BUDI SANTOSO, M.Si.``.

    Front titles and honorifics (leading tokens ending in a period: Drs., H., Hj.) and
    everything after the first comma (the academic degrees) keep their own spelling; an
    abbreviated given name (Moch., Moh., Muh., Abd., M.) is part of the name.
    """
    inti, koma, gelar_belakang = nama.strip().partition(",")
    tokens = inti.split()
    depan: list[str] = []
    while (
        len(tokens) > 1
        and _FRONT_TITLE.fullmatch(tokens[0])
        and tokens[0].lower() not in _GIVEN_NAME_ABBREVIATIONS
    ):
        depan.append(tokens.pop(0))
    result = " ".join([*depan, *(t.upper() for t in tokens)])
    return f"{result}{koma}{gelar_belakang}"
