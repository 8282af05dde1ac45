"""Hand-written code that does a library's job in less time, and the one switch between them.

Each module here earns its place by a measured share of the bulk time (written in its
docstring), keeps the library path beside it, and has tests showing that both paths give the
same result. Every use of a dependency's private API sits here too, with that dependency pinned
to a tested range and a test that fails loudly when an upgrade breaks it.

``use(False)`` makes every caller take the library path instead; a service sets it once at
start-up (and in each of its worker processes) from its settings.
"""

from __future__ import annotations

__all__ = ["enabled", "use"]

_enabled = True


def enabled() -> bool:
    """Whether the fast paths are in use (the default)."""
    return _enabled


def use(fast: bool) -> None:
    """Take the fast paths (True) or the library paths (False) from now on, in this process."""
    global _enabled
    _enabled = fast
