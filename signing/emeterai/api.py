"""The e-Meterai provider interface: affix an e-Meterai into a PDF's reserved signature field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from signing.errors import EMeteraiFailed
from signing.waktu import Zona

__all__ = ["LOCAL_NOTICE", "AffixedEMeterai", "EMeteraiFailed", "EMeteraiProvider"]

LOCAL_NOTICE: Final = (
    "e-Meterai ini dibubuhkan oleh penyedia lokal untuk pengujian, bukan oleh Peruri: "
    "bukan bea meterai yang dibayar kepada negara."
)
"""What every page that shows a local provider's e-Meterai says about it."""


@dataclass(frozen=True)
class AffixedEMeterai:
    """What a provider affixed: the PDF with the e-Meterai (one incremental update more), its
    serial number, when, by which provider, and the stamp image (PNG) shown in the box."""

    pdf: bytes
    serial: str
    affixed_at: datetime  # aware, UTC
    provider: str  # the provider's name, as people read it
    local: bool  # True: a local provider, not a stamp duty paid to the state
    stamp_png: bytes


class EMeteraiProvider(Protocol):
    """Affixes e-Meterai. ``name`` is shown wherever an e-Meterai of it is; ``local`` says that
    it is not Peruri's service (no stamp duty is paid)."""

    @property
    def name(self) -> str: ...

    @property
    def local(self) -> bool: ...

    async def affix(
        self, pdf: bytes, *, field_name: str, reason: str, zona: Zona = Zona.WIB
    ) -> AffixedEMeterai:
        """Affix an e-Meterai into the empty signature field ``field_name`` of ``pdf`` as an
        incremental update (a signature into a field that exists, which a certified
        document's DocMDP P=2 permits); a stamp that shows its time writes it in ``zona``
        (the document's unit's).

        Raises:
            SignatureFieldNotFound: ``pdf`` has no such field.
            SignatureFieldAlreadySigned: the field is filled already.
            InvalidPdf: ``pdf`` cannot be read.
            EMeteraiFailed: the provider failed.
        """
        ...
