"""The public addresses docgen prints into documents and certificates."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Links"]


@dataclass(frozen=True)
class Links:
    """Addresses under the deployment's public base URL (``DOCGEN_PUBLIC_URL``)."""

    base_url: str

    def verify_url(self, code: str) -> str:
        """The public verification page a document's QR code leads to."""
        return f"{self.base_url}/v/{code}"

    def activation_url(self, token: str) -> str:
        """The one-time page where a new account sets its password (and a signer its PIN)."""
        return f"{self.base_url}/aktivasi/{token}"

    def document_page(self, document_id: str) -> str:
        """A document's page in the office (status, who signs next, signing)."""
        return f"{self.base_url}/dokumen/{document_id}"

    def batch_page(self, batch_id: str) -> str:
        """A batch's page in the office (its documents, progress, bulk signing)."""
        return f"{self.base_url}/batch/{batch_id}"

    @property
    def crl_url(self) -> str:
        """Where the CRL is published; written into every signer certificate."""
        return f"{self.base_url}/api/v1/trust/crl"
