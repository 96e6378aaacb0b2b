"""The daily summaries equal a recomputation from the cases after `flask simulate` (a few
days through the services, on a fresh copy of the demo database), for the whole portal and
for each department's view."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import StatDaily
from services import clock
from services import statistics as stats
from services.simulation import ODDS, Simulation

ODDS_FOR_TEST = replace(
    ODDS,
    cases_per_citizen_year=30,
    returning=0.5,
    correction=0.35,
    late=0.3,
    rates_case=0.9,
    deferred=0.5,
    commitment=0.5,
)


@pytest.mark.slow  # a few simulated days through the services
def test_summaries_equal_a_recomputation_after_a_simulation(database_factory):
    app = database_factory("statistics-simulated", seed=True)
    with app.test_request_context():
        today = clock.local_today()
        until = today - timedelta(days=3)
        Simulation(days=4, citizens=30, seed=5, until=until, odds=ODDS_FOR_TEST).run()
        stats.summarise(db.session, today)
        db.session.commit()
        period = stats.StatsFilter(until - timedelta(days=10), today)
        summarised = stats.dashboard(db.session, period, today=today)
        assert summarised.volume.received > 0 and summarised.volume.completed > 0
        assert summarised == stats.dashboard(db.session, period, today=today, use_summaries=False)
        assert stats.promise_breakers(db.session, period, today=today) == stats.promise_breakers(
            db.session, period, today=today, use_summaries=False
        )
        assert stats.compute_item_figures(db.session, today) == stats.compute_item_figures(
            db.session, today, use_summaries=False
        )
        for department_id in db.session.scalars(select(StatDaily.department_id).distinct()):
            view = replace(period, department_id=department_id)
            assert stats.dashboard(db.session, view, today=today) == stats.dashboard(
                db.session, view, today=today, use_summaries=False
            )
