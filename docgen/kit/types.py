"""Small types shared by the schemas of several domains."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer

__all__ = ["Instant"]

# A moment as the API has always written it: ISO 8601 with its offset ("+00:00": the registry
# keeps UTC), as ``datetime.isoformat`` gives.
Instant = Annotated[
    datetime, PlainSerializer(lambda moment: moment.isoformat(), return_type=str, when_used="json")
]
