"""The QR code of signature appearances, drawn once per URL, through a private method of pyHanko.

pyHanko's QR stamp makes its QR form in ``QRStamp._qr_xobject`` at every appearance: ``qrcode``
encodes the URL (mask chosen by laying the symbol out eight times), ``PdfStreamQRImage`` draws
it a Python call per module, and the form is compressed. pyHanko offers no other way in, so
:class:`VerificationQRStyle` makes stamps (:class:`_KeptQRStamp`) that override that private
method: the form's content comes from :mod:`signing.fast.qr` and is compressed once per URL
(:func:`_kept_qr_form`), the same form pyHanko makes.

This is the one use of pyHanko's private API in docgen: pyHanko is pinned to 0.38.x, and
``tests/test_stamping_paths.py`` fails, naming pyHanko and its version, when an upgrade renames
the method, changes its signature, stops calling it, or makes another form there.

With ``signing.fast.use(False)`` the style makes pyHanko's own stamps, which make the QR code
themselves (the library path).

Measured share of the bulk time (``bench/fast_stamping.py``: CPU time, ``time.process_time``,
the minimum over 300 calls, each a QR stamp drawn for a URL not seen before): ~6.5 ms with
pyHanko's method, ~0.6 ms with this one and :mod:`signing.fast.qr` (less once a URL's form is
kept). A bulk document gets three signature appearances: ~18 ms of CPU saved per document, 40 %
of the ~45 ms the whole bulk run takes per document.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.layout import BoxConstraints, LayoutError
from pyhanko.pdf_utils.writer import BasePdfFileWriter, init_xobject_dictionary
from pyhanko.stamp import QRStamp, QRStampStyle

from signing import fast
from signing.fast.qr import qr_drawing

__all__ = ["VerificationQRStyle"]

# What QRStamp._qr_xobject draws: qrcode's default border (4 modules) and 10 units per module.
_BORDER: Final = 4
_BOX_SIZE: Final = 10

_FILTER: Final = generic.NameObject("/Filter")
_FLATE_DECODE: Final = generic.NameObject("/FlateDecode")


@dataclass(frozen=True)
class VerificationQRStyle(QRStampStyle):
    """pyHanko's QR stamp style, whose stamps take the QR form kept for their URL (the fast
    path) or make it with ``qrcode`` as pyHanko does (``signing.fast.use(False)``)."""

    def create_stamp(
        self, writer: BasePdfFileWriter, box: BoxConstraints, text_params: dict[str, Any]
    ) -> QRStamp:
        """A stamp showing ``text_params`` beside the QR code of its ``"url"`` entry.

        :raises LayoutError: if ``text_params`` has no ``"url"``.
        """
        if not fast.enabled():
            return super().create_stamp(writer, box, text_params)
        try:
            url = text_params.pop("url")
        except KeyError:
            raise LayoutError("Using a QR stamp style requires a 'url' text parameter.") from None
        return _KeptQRStamp(writer, style=self, url=url, text_params=text_params, box=box)


class _KeptQRStamp(QRStamp):
    # Overrides a private method: QRStamp builds its QR form there and offers no other way in.
    def _qr_xobject(self) -> tuple[generic.IndirectObject, int]:
        encoded, size = _kept_qr_form(self.url)
        form = generic.StreamObject(
            {**init_xobject_dictionary(b"", size, size), _FILTER: _FLATE_DECODE},
            encoded_data=encoded,
        )
        writer = self.writer
        assert writer is not None  # a stamp always has one by the time it is rendered
        return writer.add_object(form), size


@functools.lru_cache(maxsize=1024)  # the URLs of a bulk run's documents; ~1.3 KB each
def _kept_qr_form(url: str) -> tuple[bytes, int]:
    """Keyed by the URL: the QR form's content, compressed as ``StreamObject.compress`` does it,
    and the side of its box; what ``QRStamp._qr_xobject`` makes."""
    drawing, size = qr_drawing(url, border=_BORDER, box_size=_BOX_SIZE)
    form = init_xobject_dictionary(drawing, size, size)
    form.compress()
    return form.encoded_data, size
