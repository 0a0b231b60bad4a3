"""Beijing-time helpers shared by all generators.

Every generator draws its times from the same daily rhythm so that an anomaly detector trained on
the samples learns one believable office-hours curve instead of one per module.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))

# Relative request volume per Beijing hour on a working day: quiet at night, peaks 9-11 and 14-17.
HOUR_WEIGHTS: tuple[int, ...] = (
    3,
    2,
    1,
    1,
    1,
    2,
    4,
    8,
    16,
    26,
    30,
    24,
    12,
    10,
    22,
    26,
    25,
    20,
    11,
    10,
    9,
    7,
    5,
    4,
)
FLAT_WEIGHTS: tuple[int, ...] = (1,) * 24


def at(day: date, hh: int, mm: int = 0, ss: float = 0.0) -> datetime:
    """A Beijing wall-clock moment on `day` (aware)."""
    base = datetime.combine(day, time(0, 0), tzinfo=BEIJING)
    return base + timedelta(hours=hh, minutes=mm, seconds=ss)


def pick_time(rng: random.Random, day: date, weights: tuple[int, ...] = HOUR_WEIGHTS) -> datetime:
    """A random moment of `day` whose hour follows `weights`, with microsecond precision."""
    hour = rng.choices(range(24), weights=weights)[0]
    return at(day, hour, 0, rng.uniform(0, 3600))


def utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC)


def iso_utc(ts: datetime) -> str:
    """The label files' time format: ISO 8601 in UTC with a `Z`."""
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def bsd_stamp(ts: datetime) -> str:
    """`Nov  3 08:15:58`: the RFC 3164 header, day padded with a space as syslogd writes it."""
    return f"{ts.strftime('%b')} {ts.day:>2} {ts.strftime('%H:%M:%S')}"
