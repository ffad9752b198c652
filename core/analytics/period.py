"""The reporting period: parsed from ``?from=&to=`` query values, in UTC days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from core.models import as_utc

DEFAULT_DAYS = 30
MAX_DAYS = 731
# Outside these the analytics' own arithmetic (windows of days around a request) would leave datetime's range.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


class PeriodError(ValueError):
    """A ``from``/``to`` value is not an ISO date or the range makes no sense (an HTTP 400)."""


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)`` of whole or partial days.

    ``first_day``/``last_day`` are the calendar days (UTC) it covers, both inclusive.
    """

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    def days(self) -> list[date]:
        """Return every UTC day the period touches, in order."""
        out, day = [], self.first_day
        while day <= self.last_day:
            out.append(day)
            day += timedelta(days=1)
        return out

    def as_dict(self) -> dict[str, str]:
        return {
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": "UTC",
        }


def _parse(value: str, name: str, *, is_end: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
            return moment + timedelta(days=1) if is_end else moment
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except OverflowError:  # 9999-12-31 + 1 day; 0001-01-01T00:00+14:00 in UTC
        raise PeriodError(f"'{name}' must lie between {EARLIEST.date()} and {LATEST.date()}, got {value!r}") from None
    except ValueError:
        raise PeriodError(
            f"'{name}' must be an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ), got {value!r}"
        ) from None


def parse_period(from_value: str | None, to_value: str | None, *, now: datetime) -> Period:
    """Build the period from query values.

    A date ``to`` includes that whole day; a date-time ``to`` is exclusive. Defaults: ``to`` = today
    (inclusive), ``from`` = 29 days earlier, i.e. the last 30 days.

    Args:
        from_value: ``from`` as sent, or ``None``/empty for the default.
        to_value: ``to`` as sent, or ``None``/empty for the default.
        now: the current time (aware).

    Returns:
        The period.

    Raises:
        PeriodError: a value is not ISO 8601, ``from`` is not before ``to``, the range is over
            ``MAX_DAYS`` days, or it does not lie between :data:`EARLIEST` and :data:`LATEST`.
    """
    end = _parse(to_value, "to", is_end=True) if to_value else _parse(now.date().isoformat(), "to", is_end=True)
    if not EARLIEST < end <= LATEST:
        raise PeriodError(f"the period must lie between {EARLIEST.date()} and {LATEST.date()}")
    if from_value:
        start = _parse(from_value, "from", is_end=False)
    else:
        start = max(EARLIEST, datetime.combine((end - timedelta(microseconds=1)).date(), time.min, tzinfo=timezone.utc)
                    - timedelta(days=DEFAULT_DAYS - 1))
    if start < EARLIEST or end > LATEST:
        raise PeriodError(f"the period must lie between {EARLIEST.date()} and {LATEST.date()}")
    if start >= end:
        raise PeriodError("'from' must be before 'to'")
    if end - start > timedelta(days=MAX_DAYS):
        raise PeriodError(f"the period may cover at most {MAX_DAYS} days")
    return Period(start=start, end=end)
