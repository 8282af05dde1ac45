"""A farm of converter nodes (``docgen converter``) as the instance's converter.

Each call goes to the least busy node (ties in turn); a node that does not answer (connection
refused, a timeout, a 5xx, a token it refuses) is left for the next one, and is asked last for
a few seconds after. A document a node could not convert is that document's failure, not the
node's: it is not tried elsewhere. httpx's async client: nothing waits on the event loop.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx
from pydantic import ValidationError

from docgen.converter.auth import configured_secret, node_token
from docgen.converter.node import CONVERT_PATH, DOCUMENT_FIELD
from docgen.converter.schemas import ConvertedOut
from docgen.errors import ConversionFailed
from docgen.pipeline.convert import BATCH_SECONDS_PER_DOCUMENT, BatchConversionFailed
from docgen.settings import Settings

__all__ = ["NodeUnavailable", "RemoteConverter"]

log = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0  # a node that takes longer to accept a connection is taken for down
READY_SECONDS = 2.0  # one node's /readyz (within readiness' own 3 s)
COOLDOWN_SECONDS = 10.0  # a node that failed is asked last for this long
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Room for the multipart framing of each document in the node's request size limit.
PART_OVERHEAD = 512


class NodeUnavailable(ConversionFailed):
    """No converter node could take a call (each refused, failed or did not answer)."""

    @property
    def error(self) -> str:
        return "ConversionFailed"  # what clients see, with or without a farm


@dataclass
class _Node:
    url: str
    busy: int = 0  # calls of this process on it now
    last_used: float = 0.0
    down_until: float = 0.0


class RemoteConverter:
    """Converts on the deployment's converter nodes (implements ``ServingConverter``)."""

    def __init__(
        self,
        urls: Sequence[str],
        token: str,
        client: httpx.AsyncClient,
        *,
        timeout: float,
        max_documents: int,
        max_request_bytes: int,
    ) -> None:
        if not urls:
            raise ValueError("at least one converter node URL is needed")
        self._nodes = [_Node(url.rstrip("/")) for url in urls]
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client
        self._timeout = timeout
        self._max_documents = max_documents
        self._max_bytes = max_request_bytes

    @classmethod
    @asynccontextmanager
    async def of(cls, settings: Settings) -> AsyncIterator[RemoteConverter]:
        """The converter on ``settings.converter_nodes``, its connections closed on exit.

        Raises:
            ValueError: no server secret is configured (the nodes' token derives from it).
        """
        token = node_token(configured_secret(settings))
        async with httpx.AsyncClient() as client:
            yield cls(
                settings.converter_nodes,
                token,
                client,
                timeout=settings.converter_timeout,
                max_documents=settings.converter_max_documents,
                max_request_bytes=settings.converter_max_request_bytes,
            )

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self._nodes]

    async def to_pdf(self, docx: bytes) -> bytes:
        """Convert one DOCX on a node; raises ConversionFailed."""
        try:
            (pdf,) = await self.to_pdfs([docx])
        except BatchConversionFailed as exc:
            raise exc.failures[0] from None
        return pdf

    async def to_pdfs(self, docxs: Sequence[bytes]) -> list[bytes]:
        """Convert documents on the nodes (the node merges them as ``UnoserverPool.to_pdfs``);
        ``result[i]`` is the PDF of ``docxs[i]``. More documents than one request may hold go
        in several requests, side by side.

        Raises:
            BatchConversionFailed: a node could not convert some documents (or one is over the
                request size limit); it names them by index and carries the others' PDFs.
            NodeUnavailable: no node could take a request (a ConversionFailed: 502).
        """
        results: list[bytes | None] = [None] * len(docxs)
        failures: dict[int, ConversionFailed] = {}
        unavailable: list[NodeUnavailable] = []

        async def convert(piece: list[int]) -> None:
            try:
                answers = await self._post([docxs[i] for i in piece])
            except NodeUnavailable as exc:
                unavailable.append(exc)
                return
            for index, (pdf, error) in zip(piece, answers, strict=True):
                if pdf is None:
                    failures[index] = ConversionFailed(error or "dokumen tidak dikonversi")
                results[index] = pdf

        pieces, oversized = self._pieces(docxs)
        for index in oversized:
            failures[index] = ConversionFailed(
                f"dokumen melebihi batas permintaan node konverter ({self._max_bytes} bita)"
            )
        async with anyio.create_task_group() as tg:
            for piece in pieces:
                tg.start_soon(convert, piece)
        if unavailable:
            raise unavailable[0]
        if failures:
            raise BatchConversionFailed(failures, results)
        return [pdf for pdf in results if pdf is not None]

    async def listening(self) -> bool:
        """Whether one node at least answers its ``/readyz`` with 200 (nodes asked at once,
        ``READY_SECONDS`` each)."""
        ready = False

        async def ask(node: _Node) -> None:
            nonlocal ready
            try:
                response = await self._client.get(f"{node.url}/readyz", timeout=READY_SECONDS)
            except httpx.HTTPError:
                return
            if response.status_code == 200:
                ready = True

        async with anyio.create_task_group() as tg:
            for node in self._nodes:
                tg.start_soon(ask, node)
        return ready

    def _pieces(self, docxs: Sequence[bytes]) -> tuple[list[list[int]], list[int]]:
        """The documents in consecutive requests that each fit a node's limits (count and
        bytes), and those too large for any request."""
        pieces: list[list[int]] = []
        oversized: list[int] = []
        current: list[int] = []
        size = 0
        for index, docx in enumerate(docxs):
            weight = len(docx) + PART_OVERHEAD
            if weight > self._max_bytes:
                oversized.append(index)
                continue
            if current and (len(current) == self._max_documents or size + weight > self._max_bytes):
                pieces.append(current)
                current, size = [], 0
            current.append(index)
            size += weight
        if current:
            pieces.append(current)
        return pieces, oversized

    def _order(self) -> list[_Node]:
        """Nodes to try: those not failing lately first, the least busy, the longest unused."""
        now = time.monotonic()
        return sorted(self._nodes, key=lambda n: (n.down_until > now, n.busy, n.last_used))

    async def _post(self, docxs: list[bytes]) -> list[tuple[bytes | None, str | None]]:
        """Each document's PDF or failure, from the first node that converts the request.

        Raises:
            NodeUnavailable: every node refused, failed or did not answer.
        """
        files = [(DOCUMENT_FIELD, (f"{i}.docx", docx, DOCX_TYPE)) for i, docx in enumerate(docxs)]
        # As long as the node's pool may take: merged calls, then one by one if those fail.
        timeout = httpx.Timeout(
            2 * self._timeout + BATCH_SECONDS_PER_DOCUMENT * len(docxs), connect=CONNECT_SECONDS
        )
        problems: list[str] = []
        for node in self._order():
            node.busy += 1
            node.last_used = time.monotonic()
            try:
                response = await self._client.post(
                    node.url + CONVERT_PATH, files=files, headers=self._headers, timeout=timeout
                )
                answers = _answers(response, len(docxs))
            except (httpx.HTTPError, _NodeFailed) as exc:
                problem = str(exc) or type(exc).__name__
                log.warning("converter node %s failed, trying another: %s", node.url, problem)
                problems.append(f"{node.url}: {problem}")
                node.down_until = time.monotonic() + COOLDOWN_SECONDS
                continue
            finally:
                node.busy -= 1
            node.down_until = 0.0
            return answers
        raise NodeUnavailable(
            "Tidak ada node konverter yang dapat mengonversi dokumen: " + "; ".join(problems)
        )


class _NodeFailed(Exception):
    """A node answered, but not with conversions."""


def _answers(response: httpx.Response, count: int) -> list[tuple[bytes | None, str | None]]:
    """The documents' PDFs or failures in a node's answer; raises _NodeFailed."""
    if response.status_code != 200:
        raise _NodeFailed(f"HTTP {response.status_code} {response.text[:300]}")
    try:
        converted = ConvertedOut.model_validate_json(response.content)
        answers = [
            (base64.b64decode(d.pdf, validate=True) if d.pdf is not None else None, d.error)
            for d in converted.documents
        ]
    except (ValidationError, ValueError) as exc:
        raise _NodeFailed(f"jawaban tidak terbaca: {exc}") from exc
    if len(answers) != count:
        raise _NodeFailed(f"{len(answers)} jawaban untuk {count} dokumen")
    return answers
