"""Small types shared by the schemas of several domains."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import partial
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer
from pydantic_core import PydanticCustomError

__all__ = ["LINE_BREAKS", "Instant", "PlainLines", "PlainText", "refuse_hidden"]

# A moment as the API has always written it: ISO 8601 with its offset ("+00:00": the registry
# keeps UTC), as ``datetime.isoformat`` gives.
Instant = Annotated[
    datetime, PlainSerializer(lambda moment: moment.isoformat(), return_type=str, when_used="json")
]

# Characters a name, a jabatan or a unit never holds, by Unicode category: controls (C0, DEL,
# C1: a NUL cannot even be stored, a line break splits the certificate's name), format
# characters (zero-width U+200B-U+200F, bidi embeddings and overrides U+202A-U+202E, isolates
# U+2066-U+2069, U+FEFF: invisible, they make one name look like another or reverse how it
# reads), line and paragraph separators, and lone surrogates (no UTF-8 carries them).
_NOT_PLAIN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def refuse_hidden(text: str, allowed: str = "") -> str:
    """``text`` unchanged when it holds none of the characters above but those ``allowed``: the
    one rule behind :data:`PlainText` and :data:`PlainLines`, for checks outside a schema too
    (a document's data, ``docgen.templating.validation``).

    Raises:
        PydanticCustomError: ``karakter_terlarang``, naming the first such character
            (``U+202E``) in Bahasa Indonesia; ``.message()`` gives the sentence.
    """
    for char in text:
        if unicodedata.category(char) in _NOT_PLAIN and char not in allowed:
            raise PydanticCustomError(
                "karakter_terlarang",
                "mengandung karakter kontrol atau tak tampak ({code}) yang tidak diperbolehkan",
                {"code": f"U+{ord(char):04X}"},
            )
    return text


# The line breaks and tab a text of several lines keeps.
LINE_BREAKS = "\r\n\t"


# One line of text as people read it (a name, a jabatan, a unit): nothing hidden in it. Give
# the field its length too, ``Field(max_length=column_length(...))``.
PlainText = Annotated[str, AfterValidator(refuse_hidden)]
# Text of a few lines (a reason typed in a text area): line breaks and tabs, nothing else hidden.
PlainLines = Annotated[str, AfterValidator(partial(refuse_hidden, allowed=LINE_BREAKS))]
