"""Query parameters several routes share, parsed into exact values or refused with a clear 400."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from tenancy.errors import InvalidRequestError

# An RFC 3339 date-time with a zone, years 1970 to 9998 (so no zone can carry it out of the calendar), and
# only days that exist (29 February in leap years). The schema publishes this very pattern, so what the
# schema allows the API accepts, and the reverse. Numbers (Unix times) are not dates here.
_YEAR = r"(?:19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEAR = r"(?:19(?:7[26]|8[048]|9[26])|[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_ZONE = r"(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)"
INSTANT_REGEX = rf"{_DATE}T{_TIME}{_ZONE}"
_INSTANT = re.compile(INSTANT_REGEX)


def _instant_query(description: str) -> object:
    return Query(
        description=f"{description}: a date-time with a zone, e.g. 2026-11-22T10:00:00Z (years 1970-9998)",
        json_schema_extra={"pattern": f"^{INSTANT_REGEX}$"},  # published, checked by parse_instant (400)
    )


SinceQuery = Annotated[str | None, _instant_query("inclusive lower bound")]
UntilQuery = Annotated[str | None, _instant_query("exclusive upper bound")]


def parse_instant(text: str | None, name: str) -> datetime | None:
    """`text` as an aware UTC datetime; InvalidRequestError saying what is wrong otherwise."""
    if text is None:
        return None
    if not _INSTANT.fullmatch(text):
        raise InvalidRequestError(
            f"{name} must be a date-time with a zone between 1970 and 9998, e.g. 2026-11-22T10:00:00Z"
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(f"{name} is not a valid date") from None
    return moment.astimezone(UTC)
