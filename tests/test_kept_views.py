"""How long a process shows a document's public view without reading the registry again."""

from __future__ import annotations

import time
from typing import Any

import anyio

from docgen.kit.links import Links
from docgen.verification.service import KeptView, PublicViews

CODE = "kode-uji"


def views_keeping(expired_ago: float, reading_again: bool) -> PublicViews:
    """Views (kept for 1 s) holding one of CODE that expired ``expired_ago`` seconds ago (or
    is still fresh, when negative), with another caller reading it again or not."""
    # kept() reads neither the registry nor the view itself: none is given.
    views = PublicViews(db=None, links=Links("http://docgen.test"), instansi=None)  # type: ignore[arg-type]
    view: Any = object()
    views._cache[CODE] = KeptView(time.monotonic() - expired_ago, view)
    if reading_again:
        views._loading[CODE] = anyio.Event()
    return views


def test_a_fresh_view_is_shown() -> None:
    assert views_keeping(-0.5, reading_again=False).kept(CODE) is not None


def test_an_expired_view_is_shown_only_while_another_caller_reads_it_again() -> None:
    # The readers do not all wait behind the one read of the registry...
    assert views_keeping(0.2, reading_again=True).kept(CODE) is not None
    # ...but nobody is shown it once nobody reads it again, or half a second after it expired:
    # what anyone sees was read less than 1.5 s ago, inside the deployment's 2 s.
    assert views_keeping(0.2, reading_again=False).kept(CODE) is None
    assert views_keeping(0.6, reading_again=True).kept(CODE) is None
    assert views_keeping(0.0, reading_again=False).kept("another-code") is None
