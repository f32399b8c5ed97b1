"""Formatting helpers and option types of the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import click
import pytest

from modelyard.cli import output
from modelyard.cli.maintenance import Duration, Fraction


def test_iso_time_is_utc() -> None:
    assert output.iso_time(None) is None
    paris = timezone(timedelta(hours=2))
    assert output.iso_time(datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=paris)) == "2024-05-01T12:00:00.123Z"
    assert output.iso_time(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00.000Z"  # naive means UTC


def test_local_time() -> None:
    assert output.format_local_time(None) == "-"
    moment = datetime(2024, 5, 1, 12, 0, 30)
    assert output.format_local_time(moment) == moment.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert len(output.format_local_time(moment, seconds=False)) == len("2024-05-01 12:00")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (-0.01, "0.0s"), (0.44, "0.4s"), (59.9, "59.9s"), (187, "3m 07s"), (7500, "2h 05m"),
     (3 * 86400 + 4 * 3600 + 10, "3d 04h")],
)  # fmt: skip
def test_format_duration(seconds: float | None, text: str) -> None:
    assert output.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"), (3 * 1024**6, "3072.0 PiB")],
)
def test_format_bytes(size: int, text: str) -> None:
    assert output.format_bytes(size) == text


def test_plural_and_number() -> None:
    assert output.plural(1, "run") == "1 run"
    assert output.plural(0, "run") == "0 runs"
    assert output.format_number(None) == ""
    assert output.format_number(0.123456789) == "0.123457"
    assert output.format_number(1e-9) == "1e-09"


def test_option_types() -> None:
    assert Fraction().convert("10%", None, None) == pytest.approx(0.1)
    assert Fraction().convert(0.5, None, None) == 0.5
    assert Duration().convert("1.5h", None, None) == 5400
    assert Duration().convert("2d", None, None) == 172_800
    assert Duration().convert(30, None, None) == 30.0
    with pytest.raises(click.BadParameter, match="not a duration"):
        Duration().convert("1 fortnight", None, None)
