"""One clock: instants in UTC, every date a person or a deadline sees in PORTAL_TZ."""

import re
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
import time_machine

from portal.config import ConfigError, load_config
from services import clock

# 07:30 Beijing time on Monday 2026-03-02 is still Sunday 2026-03-01 in UTC
MONDAY_MORNING_UTC = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


def test_today_is_the_citys_day_not_the_utc_day(app):
    with time_machine.travel(MONDAY_MORNING_UTC, tick=False), app.app_context():
        assert clock.utc_now().date() == date(2026, 3, 1)
        assert clock.local_today() == date(2026, 3, 2)
        assert clock.local_now().strftime("%H:%M") == "07:30"


def test_the_zone_comes_from_the_configuration(app):
    with time_machine.travel(MONDAY_MORNING_UTC, tick=False), app.app_context():
        saved = app.config["PORTAL_TZ"]
        app.config["PORTAL_TZ"] = "UTC"
        try:
            assert clock.local_today() == date(2026, 3, 1)
        finally:
            app.config["PORTAL_TZ"] = saved
        assert clock.local_today() == date(2026, 3, 2)


def test_an_instant_has_its_legal_date_in_the_city(app):
    with app.app_context():
        assert clock.local_date(MONDAY_MORNING_UTC) == date(2026, 3, 2)
        # a value SQLite hands back without its zone is UTC, as stored
        assert clock.local_date(MONDAY_MORNING_UTC.replace(tzinfo=None)) == date(2026, 3, 2)
        # 23:59 local on New Year's Eve is still the old year
        assert clock.local_date(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)
        assert clock.local_date(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)


def test_a_wall_clock_time_in_the_hall_is_an_instant_in_utc(app):
    with app.app_context():
        opens = clock.local_instant(date(2026, 3, 2), time(9, 0))
        assert opens == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_people_read_local_times_written_one_way(app):
    with app.app_context():
        assert clock.format_local(MONDAY_MORNING_UTC) == "2026-03-02 07:30"
        assert clock.format_local(MONDAY_MORNING_UTC, "date") == "2026-03-02"
        assert clock.format_local(MONDAY_MORNING_UTC, "time") == "07:30"
        assert clock.format_local(MONDAY_MORNING_UTC, "long_date") == "2026年03月02日"
        assert clock.format_local(date(2026, 3, 2), "datetime") == "2026-03-02"
        assert clock.format_local(None) == ""
        rendered = app.jinja_env.from_string(
            "{{ t|local_datetime }} {{ t|local_date }} {{ t|local_time }} {{ t|long_date }}"
        ).render(t=MONDAY_MORNING_UTC)
        assert rendered == "2026-03-02 07:30 2026-03-02 07:30 2026年03月02日"


def test_an_unknown_zone_refuses_to_start():
    with pytest.raises(ConfigError, match="PORTAL_TZ"):
        load_config({"PORTAL_TZ": "Mars/Olympus", "SECRET_KEY": "x" * 40})
    assert load_config({"SECRET_KEY": "x" * 40})["BABEL_DEFAULT_TIMEZONE"] == "Asia/Shanghai"


def test_nothing_reads_the_servers_own_zone():
    """date.today(), a naive datetime.now() or .astimezone() read the host's zone, which is
    not the city's: every "today" and every local time goes through services/clock.py."""
    root = Path(__file__).resolve().parents[2]
    banned = re.compile(r"date\.today\(\)|datetime\.(now|today)\(\)|\.astimezone\(\)")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("portal", "services", "seeds", "forms")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if banned.search(line) and path.name != "clock.py"
    ]
    templates = [
        str(path.relative_to(root))
        for path in sorted((root / "templates").rglob("*.html"))
        # a slot's starts_at / ends_at is a wall-clock time of day, not an instant
        if re.search(r"(?<!starts)(?<!ends)_at\.strftime|\.astimezone\(", path.read_text())
    ]
    assert offenders == []
    assert templates == []
