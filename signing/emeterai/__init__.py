"""e-Meterai: a stamp-duty seal affixed into a box of the document that the template reserved,
as a signature of the provider's own with a visible stamp.

    api.py     the provider interface (:class:`EMeteraiProvider`) and what an affix returns
    local.py   :class:`LocalEMeteraiProvider`: does locally what Peruri's service does (its own
               certificate, a visible stamp with a serial number), and says on the stamp that it
               is a local provider, not a stamp duty paid to the state

Peruri's service cannot be reached from here; a provider for it would implement the same
interface (send the PDF and the box, receive the stamped PDF and the serial number).
"""

from signing.emeterai.api import (
    LOCAL_NOTICE,
    AffixedEMeterai,
    EMeteraiFailed,
    EMeteraiProvider,
)
from signing.emeterai.local import LOCAL_PROVIDER_NAME, LocalEMeteraiProvider, stamp_image

__all__ = [
    "LOCAL_NOTICE",
    "LOCAL_PROVIDER_NAME",
    "AffixedEMeterai",
    "EMeteraiFailed",
    "EMeteraiProvider",
    "LocalEMeteraiProvider",
    "stamp_image",
]
