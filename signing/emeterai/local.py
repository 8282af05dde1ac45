"""A local e-Meterai provider: what Peruri's service does, done here, and saying so.

Peruri stamps the PDF with a signature of its own (its certificate) and a visible stamp with a
serial number. This provider does the same with a key made in this process and a certificate
from the deployment's CA, named "e-Meterai (penyedia lokal, bukan Peruri)", and a stamp whose
text says that it is a local provider and no stamp duty paid to the state. It serves
development and tests; a deployment that must pay stamp duty configures no provider (and the
templates then offer no e-Meterai) until one for Peruri's service exists.

The key lives only in the process's memory: a process that restarts makes a new one and has
the CA issue it a new certificate. Each e-Meterai embeds the certificate it was made with, so
those made before stay valid.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import secrets
import threading
from datetime import UTC, datetime
from typing import Final

import anyio
from PIL import Image, ImageDraw
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.layout import (
    AxisAlignment,
    InnerScaling,
    Margins,
    SimpleBoxLayoutRule,
)
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import TextStampStyle

from signing.emeterai.api import AffixedEMeterai
from signing.fast.fonts import LIBERATION_SANS, EmbeddedFontFactory
from signing.pades.sign import SigningIdentity, sign_field
from signing.pki.ca import CertificateAuthority
from signing.pki.keys import generate_private_key
from signing.waktu import Zona, format_waktu

__all__ = ["LOCAL_PROVIDER_NAME", "LocalEMeteraiProvider", "stamp_image"]

LOCAL_PROVIDER_NAME: Final = "e-Meterai (penyedia lokal, bukan Peruri)"
SERIAL_PREFIX: Final = "LOKAL"
# The stamp's text: every line short, the whole scaled into the 70 x 70 pt box.
STAMP_TEXT: Final = (
    "e-METERAI LOKAL\nBUKAN PERURI\nbukan bea meterai\nyang dibayar\nkepada negara\n"
    "%(serial)s\n%(waktu)s"
)
_FONT_SIZE: Final = 6
_STAMP_PIXELS: Final = 280


def new_serial() -> str:
    """A serial number of 22 characters, as long as Peruri's: ``LOKAL`` and 17 random hex
    digits (68 bits), so no one takes it for one of Peruri's."""
    return f"{SERIAL_PREFIX}{secrets.token_hex(9)[:17].upper()}"


@functools.cache
def stamp_image() -> bytes:
    """The stamp's picture (PNG): a rose guilloche in a double frame, as a meterai looks,
    under the text. The same for every e-Meterai of this provider."""
    size = _STAMP_PIXELS
    image = Image.new("RGB", (size, size), (253, 236, 240))
    draw = ImageDraw.Draw(image)
    centre = size / 2
    for ring in range(14):  # concentric wavy rings: a guilloche, cheap to draw
        radius = 18 + ring * 8
        points = [
            (
                centre + (radius + 4 * math.sin(12 * t)) * math.cos(t),
                centre + (radius + 4 * math.sin(12 * t)) * math.sin(t),
            )
            for t in (2 * math.pi * i / 360 for i in range(361))
        ]
        draw.line(points, fill=(236, 170, 186), width=2)
    draw.rectangle((4, 4, size - 5, size - 5), outline=(196, 40, 80), width=6)
    draw.rectangle((16, 16, size - 17, size - 17), outline=(196, 40, 80), width=2)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@functools.cache
def _stamp_style() -> TextStampStyle:
    factory = EmbeddedFontFactory(LIBERATION_SANS, _FONT_SIZE)
    return TextStampStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(
            font=factory,
            font_size=_FONT_SIZE,
            leading=_FONT_SIZE + 2,  # (an int: pyHanko lays text out in fractions)
            box_layout_rule=SimpleBoxLayoutRule(
                x_align=AxisAlignment.ALIGN_MID,
                y_align=AxisAlignment.ALIGN_MID,
                margins=Margins.uniform(1),
            ),
        ),
        # The text inside the picture's inner frame, shrunk to fit it; the picture fills the box.
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins.uniform(6),
        ),
        background=PdfImage(Image.open(io.BytesIO(stamp_image()))),
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins.uniform(0),
            inner_content_scaling=InnerScaling.STRETCH_FILL,
        ),
        background_opacity=1.0,
        border_width=0,
    )


class LocalEMeteraiProvider:
    """Affixes e-Meterai with a key of its own, certified by ``ca`` (see the module)."""

    name: Final = LOCAL_PROVIDER_NAME
    local: Final = True

    def __init__(
        self,
        ca: CertificateAuthority,
        timestamper: TimeStamper,
        *,
        crl_url: str | None = None,
    ) -> None:
        self._ca = ca
        self._timestamper = timestamper
        self._crl_url = crl_url
        self._identity: SigningIdentity | None = None
        self._making = threading.Lock()  # one key per process, made on first use

    def identity(self) -> SigningIdentity:
        """The provider's key and certificate, made on first use (blocking: ~0.1-1 s once)."""
        with self._making:
            if self._identity is None:
                key = generate_private_key()
                certificate = self._ca.issue_signer_certificate(
                    key.public_key(),
                    name=LOCAL_PROVIDER_NAME,
                    nip=None,
                    jabatan="Penyedia e-Meterai lokal untuk pengujian (bukan Peruri)",
                    unit="docgen",
                    crl_url=self._crl_url,
                )
                self._identity = SigningIdentity(key, certificate, self._ca.chain)
            return self._identity

    async def affix(
        self, pdf: bytes, *, field_name: str, reason: str, zona: Zona = Zona.WIB
    ) -> AffixedEMeterai:
        """See :meth:`EMeteraiProvider.affix`. The work (key, PDF, signature) is done in a
        worker thread, off the event loop. Raises as that does (never EMeteraiFailed: nothing
        remote can fail)."""
        return await anyio.to_thread.run_sync(self._affix_blocking, pdf, field_name, reason, zona)

    def _affix_blocking(
        self, pdf: bytes, field_name: str, reason: str, zona: Zona
    ) -> AffixedEMeterai:
        identity = self.identity()
        serial = new_serial()
        moment = datetime.now(UTC)
        # pyHanko's signing is async (for remote signers and TSAs); here nothing waits on the
        # network, so the thread runs it on a loop of its own.
        stamped = asyncio.run(
            sign_field(
                pdf,
                field_name=field_name,
                identity=identity,
                style=_stamp_style(),
                text_params={"serial": serial, "waktu": format_waktu(moment, zona)},
                name=LOCAL_PROVIDER_NAME,
                timestamper=self._timestamper,
                reason=f"{reason} (penyedia lokal, bukan bea meterai)",
                location="docgen",
                signing_time=moment,
            )
        )
        return AffixedEMeterai(
            pdf=stamped,
            serial=serial,
            affixed_at=moment,
            provider=LOCAL_PROVIDER_NAME,
            local=True,
            stamp_png=stamp_image(),
        )
