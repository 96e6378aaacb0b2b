"""Migration 0022 (statistics speed) on a database that already has daily summaries: the
monthly sums it adds are filled from the daily rows, so a period reads the same numbers
right after the upgrade as before it."""

from __future__ import annotations

from datetime import date

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from portal.extensions import db
from portal.models.statistics import DAILY_COUNTERS as COUNTERS
from tests.conftest import MIGRATIONS

DAYS = (date(2025, 9, 30), date(2025, 10, 1), date(2025, 10, 31), date(2025, 11, 1))


def test_the_monthly_sums_are_filled_from_the_daily_summaries(database_factory):
    app = database_factory("stats-speed-migration", seed=False)
    with app.app_context():
        downgrade(directory=str(MIGRATIONS), revision="0021_queue_counters")
        for k, day in enumerate(DAYS):
            db.session.execute(
                text(
                    "INSERT INTO stat_daily (day, department_id, item_id, channel, hall_id, "
                    + ", ".join(COUNTERS)
                    + ") VALUES (:day, 1, 7, 'online', NULL, "
                    + ", ".join(f":{name}" for name in COUNTERS)
                    + ")"
                ),
                {"day": day, **{name: k + 1 for name in COUNTERS}},
            )
            db.session.execute(
                text(
                    "INSERT INTO stat_durations (day, department_id, item_id, channel, hall_id, "
                    "working_days, cases) VALUES (:day, 1, 7, 'online', NULL, 2, :n)"
                ),
                {"day": day, "n": 10 * (k + 1)},
            )
            db.session.execute(
                text(
                    "INSERT INTO stat_queue (day, hall_id, category_id, kind, minutes, tickets) "
                    "VALUES (:day, 3, 4, 'wait', 5, :n)"
                ),
                {"day": day, "n": 100 * (k + 1)},
            )
        db.session.commit()
        upgrade(directory=str(MIGRATIONS))
        monthly = db.session.execute(
            text("SELECT month, received, score_5 FROM stat_monthly ORDER BY month")
        ).all()
        durations = db.session.execute(
            text("SELECT month, working_days, cases FROM stat_durations_monthly ORDER BY month")
        ).all()
        queue = db.session.execute(
            text("SELECT month, kind, minutes, tickets FROM stat_queue_monthly ORDER BY month")
        ).all()
    months = [date(2025, 9, 1), date(2025, 10, 1), date(2025, 11, 1)]
    assert [(_day(m), r, s) for m, r, s in monthly] == list(
        zip(months, (1, 2 + 3, 4), (1, 5, 4), strict=True)
    )
    assert [(_day(m), w, n) for m, w, n in durations] == list(
        zip(months, (2, 2, 2), (10, 50, 40), strict=True)
    )
    assert [(_day(m), k, mi, n) for m, k, mi, n in queue] == list(
        zip(months, ("wait",) * 3, (5, 5, 5), (100, 500, 400), strict=True)
    )


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
