"""The statistics (services/statistics.py) on a small hand-made dataset with known answers.

The dataset lives in two made-up departments around the 2025 National Day holiday (1–8
October are rest days, Sunday 28 September and Saturday 11 October make-up working days), so
the demo seed's cases never fall in it. Rows are written directly with the instants they
carry: the statistics read what the services record, and the point here is to know every
answer in advance. Local times are Beijing time.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Citizen,
    CorrectionException,
    CorrectionRequest,
    Department,
    Event,
    FollowUpTicket,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    PostCheckTask,
    QueueCategory,
    Rating,
    SatisfiedBy,
    ServiceItem,
    StatDaily,
    StatMonthly,
    StatStaleDay,
    Ticket,
    Visit,
)
from services import cache, case_states, clock
from services import statistics as stats
from tests.workflow_cases import user

PERIOD = (date(2025, 9, 28), date(2025, 10, 11))
TODAY = date(2026, 12, 2)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A Beijing wall-clock time as the stored UTC instant."""
    return clock.local_instant(day, datetime.min.time().replace(hour=hh, minute=mm)).astimezone(UTC)


D = date


class Dataset:
    """Handles on the made-up records, for the tests to change or filter by."""


def _item(department: Department, code: str, name: str, **guide) -> tuple[ServiceItem, ItemVersion]:
    item = ServiceItem(code=code, department_id=department.id)
    db.session.add(item)
    db.session.flush()
    version = ItemVersion(
        item_id=item.id, number=1, name=name, department_id=department.id, **guide
    )
    db.session.add(version)
    db.session.flush()
    item.published_version_id = version.id
    return item, version


def _citizen(n: int) -> Citizen:
    citizen = Citizen(name=f"统计{n}", id_number=f"33010619900101{n:04d}", birth_date=D(1990, 1, 1))
    db.session.add(citizen)
    db.session.flush()
    return citizen


@pytest.fixture
def data(app_ctx) -> Dataset:
    ds = Dataset()
    ds.dept = Department(code="TJ1", name="统计测试一局")
    ds.other_dept = Department(code="TJ2", name="统计测试二局")
    db.session.add_all([ds.dept, ds.other_dept])
    db.session.flush()
    ds.item_a, ds.va = _item(
        ds.dept,
        "TJA000000001",
        "测试承诺件",
        visits=1,
        legal_limit=20,
        legal_limit_unit="working",
        promised_limit=5,
        promised_limit_unit="working",
    )
    ds.item_b, ds.vb = _item(
        ds.dept,
        "TJB000000001",
        "测试即办件",
        visits=0,
        case_type="instant",
        legal_limit=5,
        promised_limit=0,
    )
    ds.item_c, ds.vc = _item(ds.other_dept, "TJC000000001", "他局事项", visits=0)
    p1, p2 = _citizen(1), _citizen(2)
    clerk = user("counter01")
    assert clerk.hall_id is not None
    ds.hall_id = clerk.hall_id
    n = iter(range(1, 100))

    def case(version, applicant, channel="online", **values) -> Application:
        app = Application(
            number=f"TJ2025{next(n):04d}",
            item_version_id=version.id,
            department_id=version.department_id,
            applicant_id=applicant.id,
            channel=channel,
            created_by_id=clerk.id if channel == "counter" else None,
            **values,
        )
        db.session.add(app)
        db.session.flush()
        return app

    # 1: accepted on the eve of the holiday, decided after it (1 working day), no visit
    ds.c1 = case(
        ds.va,
        p1,
        status="completed",
        submitted_at=at(D(2025, 9, 29), 10),
        accepted_at=at(D(2025, 9, 30), 9),
        decided_at=at(D(2025, 10, 9), 10),
        completed_at=at(D(2025, 10, 9), 10),
        due_date=D(2025, 10, 14),
    )
    # 2: at the counter, corrected once (with an exception), decided late, two visits: the
    # second beyond the guide's one, with its reason; a bad rating
    ds.c2 = case(
        ds.va,
        p2,
        "counter",
        status="completed",
        submitted_at=at(D(2025, 9, 29), 9),
        accepted_at=at(D(2025, 9, 29), 9, 30),
        decided_at=at(D(2025, 10, 10), 11),
        completed_at=at(D(2025, 10, 10), 15),
        due_date=D(2025, 9, 30),
        visit_count=2,
        correction_rounds=1,
    )
    # 3: withdrawn the next day
    ds.c3 = case(
        ds.va,
        p2,
        status="withdrawn",
        submitted_at=at(D(2025, 9, 29), 11),
        completed_at=at(D(2025, 9, 30), 12),
    )
    # 4: 秒批 at a kiosk: accepted, decided and completed at once by the item's rules
    ds.c4 = case(
        ds.vb,
        p2,
        "kiosk",
        status="completed",
        submitted_at=at(D(2025, 10, 9), 9),
        accepted_at=at(D(2025, 10, 9), 9),
        decided_at=at(D(2025, 10, 9), 9),
        completed_at=at(D(2025, 10, 9), 9),
        due_date=D(2025, 10, 9),
    )
    # 5: 不予受理
    ds.c5 = case(
        ds.vb,
        p2,
        status="not_accepted",
        submitted_at=at(D(2025, 10, 10), 9),
        decided_at=at(D(2025, 10, 10), 10),
    )
    # 6: the returning applicant (case 1 was completed before), 告知承诺, still in review
    # and overdue now
    ds.c6 = case(
        ds.va,
        p1,
        status="in_review",
        submitted_at=at(D(2025, 10, 9), 11),
        accepted_at=at(D(2025, 10, 9), 14),
        due_date=D(2025, 10, 10),
    )
    # 8: 容缺, accepted on the make-up Sunday, denied in time after 5 working days; its
    # supply deadline was cleared when the deferred material came (as the workflow does)
    ds.c8 = case(
        ds.va,
        p2,
        status="denied",
        submitted_at=at(D(2025, 9, 28), 9),
        accepted_at=at(D(2025, 9, 28), 10),
        decided_at=at(D(2025, 10, 11), 10),
        due_date=D(2025, 10, 14),
        supply_deadline=None,
    )
    # 7: another department's case: three visits, the worst rating
    ds.c7 = case(
        ds.vc,
        p2,
        status="completed",
        submitted_at=at(D(2025, 10, 9), 9),
        accepted_at=at(D(2025, 10, 9), 9),
        decided_at=at(D(2025, 10, 9), 10),
        completed_at=at(D(2025, 10, 9), 16),
        due_date=D(2025, 10, 9),
        visit_count=3,
        correction_rounds=2,
    )
    staff = clerk.id
    db.session.add_all(
        [
            Visit(application_id=ds.c2.id, number=1, kind="intake", staff_id=staff),
            Visit(
                application_id=ds.c2.id,
                number=2,
                kind="original_check",
                staff_id=staff,
                reason="原件需当面核验",
                beyond_guide=True,
            ),
            *[
                Visit(
                    application_id=ds.c7.id,
                    number=k,
                    kind="intake",
                    staff_id=staff,
                    reason="他局原因",
                    beyond_guide=True,
                )
                for k in (1, 2, 3)
            ],
            Event(
                application_id=ds.c4.id,
                actor_id=None,
                action="approved",  # as workflow records 秒批's approve_instantly
                created_at=at(D(2025, 10, 9), 9),
                details={"action": "approve_instantly", "auto": True},
                prev_hash="0" * 64,
                hash="statistics-test-auto-" + "0" * 43,
            ),
            Event(
                application_id=ds.c8.id,
                actor_id=user("reviewer01").id,
                action="accepted_pending_materials",  # 容缺受理, as the workflow records it
                created_at=at(D(2025, 9, 28), 10),
                details={"action": "accept_pending_materials"},
                prev_hash="0" * 64,
                hash="statistics-test-deferred-" + "0" * 39,
            ),
            CorrectionRequest(
                application_id=ds.c2.id, round=1, requested_at=at(D(2025, 9, 29), 9, 10)
            ),
            CorrectionRequest(
                application_id=ds.c7.id, round=1, requested_at=at(D(2025, 10, 9), 9, 10)
            ),
            CorrectionRequest(
                application_id=ds.c7.id, round=2, requested_at=at(D(2025, 10, 9), 9, 20)
            ),
            CorrectionException(
                application_id=ds.c2.id,
                granted_by_id=user("admin").id,
                reason="申请人材料特殊",
                created_at=at(D(2025, 9, 29), 9, 5),
            ),
            PostCheckTask(
                application_id=ds.c1.id,
                department_id=ds.dept.id,
                due_date=D(2025, 10, 20),
                status="passed",
                checked_at=at(D(2025, 10, 10), 16),
            ),
            PostCheckTask(
                application_id=ds.c6.id,
                department_id=ds.dept.id,
                due_date=D(2025, 10, 30),
                status="open",
            ),
        ]
    )
    # materials: case 1 two of three required without an upload (+ an optional one, not
    # counted); case 6 (returning) two of three
    types = list(db.session.scalars(select(MaterialType).order_by(MaterialType.id).limit(4)))
    requirements = []
    for k, mt in enumerate(types):
        req = MaterialRequirement(
            version_id=ds.va.id,
            material_type_id=mt.id,
            position=k,
            necessity="optional" if k == 3 else "required",
        )
        db.session.add(req)
        requirements.append(req)
    db.session.flush()
    for app, ways in (
        (ds.c1, ("elicence", "library", "upload", "library")),
        (ds.c6, ("shared", "commitment", "upload")),
    ):
        for req, way in zip(requirements, ways, strict=False):
            db.session.add(
                ApplicationMaterial(
                    application_id=app.id, requirement_id=req.id, satisfied_by=SatisfiedBy(way)
                )
            )
    db.session.flush()
    ratings = []
    for app, citizen, score, day in (
        (ds.c1, p1, 5, D(2025, 10, 9)),
        (ds.c2, p2, 2, D(2025, 10, 10)),
        (ds.c7, p2, 1, D(2025, 10, 9)),
    ):
        rating = Rating(
            application_id=app.id,
            citizen_id=citizen.id,
            score=score,
            created_at=at(day, 17),
        )
        db.session.add(rating)
        ratings.append(rating)
    db.session.flush()
    for rating, department in ((ratings[1], ds.dept), (ratings[2], ds.other_dept)):
        db.session.add(
            FollowUpTicket(
                rating_id=rating.id,
                application_id=rating.application_id,
                department_id=department.id,
                due_date=D(2025, 10, 31),
            )
        )
    # queue: three tickets at the clerk's hall on 9 October
    category = db.session.scalar(
        select(QueueCategory).where(QueueCategory.hall_id == ds.hall_id).limit(1)
    )
    ds.category_id = category.id
    day = D(2025, 10, 9)
    for number, issued, called, finished, status in (
        (1, (9, 0), (9, 10), (9, 20), "done"),
        (2, (9, 5), (9, 35), (9, 40), "done"),
        (3, (9, 10), (9, 50), None, "skipped"),
    ):
        db.session.add(
            Ticket(
                hall_id=ds.hall_id,
                category_id=category.id,
                day=day,
                number=number,
                code=f"{category.code}{number:03d}",
                status=status,
                issued_at=at(day, *issued),
                called_at=at(day, *called),
                finished_at=at(day, *finished) if finished else None,
            )
        )
    db.session.flush()
    return ds


def view(ds: Dataset, **filters) -> stats.StatsFilter:
    return stats.StatsFilter(*PERIOD, **{"department_id": ds.dept.id, **filters})


def test_volume_visits_and_timeliness(data):
    board = stats.dashboard(db.session, view(data), today=TODAY)
    assert board.volume == stats.Volume(
        received=7,
        accepted=5,
        not_accepted=1,
        completed=3,
        denied=1,
        withdrawn=1,
        open_now=1,
        overdue_now=1,
    )
    total = board.visits[-1]
    assert total.channel is None
    assert (total.completed, total.zero, total.one, total.two, total.three_plus) == (3, 2, 0, 1, 0)
    assert total.share_zero == pytest.approx(2 / 3)
    assert total.share_at_most_one == pytest.approx(2 / 3)
    assert total.over_promise == 1
    by_channel = {row.channel: (row.completed, row.zero, row.two) for row in board.visits[:-1]}
    assert by_channel == {"online": (1, 1, 0), "counter": (1, 0, 1), "kiosk": (1, 1, 0)}
    t = board.timeliness
    assert (t.decided, t.on_time, t.instant, t.auto) == (4, 3, 1, 1)
    assert t.on_time_rate == 0.75 and t.instant_share == 0.25 and t.auto_share == 0.25
    # working days: 1 (holiday eve → after the holiday), 3, 0, 5 (from the make-up Sunday)
    assert t.median_days == 2.0 and t.p90_days == 5.0
    ratios = {c.item_name: c.ratio for c in t.compression}
    assert ratios == {"测试承诺件": pytest.approx(0.75), "测试即办件": pytest.approx(1.0)}


def test_corrections_materials_and_ratings(data):
    board = stats.dashboard(db.session, view(data), today=TODAY)
    assert board.corrections == stats.Corrections(
        received=7,
        corrected_cases=1,
        rounds=1,
        rounds_per_case=pytest.approx(1 / 7),
        exceptions=1,
        deferred=1,
        commitment=2,
        post_checks_open=1,
        post_checks_passed=1,
        post_checks_false=0,
    )
    m = board.materials
    assert (m.all.required, m.all.not_uploaded) == (6, 4)
    assert m.all.by_source == {"shared": 1, "elicence": 1, "library": 1, "commitment": 1}
    assert (m.returning.required, m.returning.not_uploaded) == (3, 2)
    assert m.returning.by_source == {"shared": 1, "elicence": 0, "library": 0, "commitment": 1}
    r = board.ratings
    assert r.distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert (r.count, r.good, r.average, r.good_rate) == (2, 1, 3.5, 0.5)
    assert (r.follow_ups_open, r.follow_ups_overdue) == (1, 1)


def test_daily_rows_cover_the_period(data):
    board = stats.dashboard(db.session, view(data), today=TODAY)
    assert [row.day for row in board.daily][0] == PERIOD[0]
    assert len(board.daily) == 14
    oct9 = next(row for row in board.daily if row.day == D(2025, 10, 9))
    assert (oct9.received, oct9.completed, oct9.decided, oct9.zero_visit) == (2, 2, 2, 2)
    assert sum(row.received for row in board.daily) == 7


def test_counters_waiting_and_service_times(data):
    board = stats.dashboard(
        db.session, stats.StatsFilter(*PERIOD, hall_id=data.hall_id), today=TODAY
    )
    row = next(r for r in board.counters if r.category_id == data.category_id)
    assert (row.tickets, row.served, row.no_shows) == (3, 2, 1)
    assert (row.wait_median, row.wait_p90) == (30.0, 40.0)
    assert (row.service_median, row.service_p90) == (7.5, 10.0)
    assert row.tickets_per_hour == pytest.approx(3 / 8)
    # queue tickets carry no department: a department's view shows none
    assert stats.dashboard(db.session, view(data), today=TODAY).counters == []


def test_the_department_view_never_counts_another_department(data):
    mine = stats.dashboard(db.session, view(data), today=TODAY)
    theirs = stats.dashboard(db.session, view(data, department_id=data.other_dept.id), today=TODAY)
    assert mine.visits[-1].three_plus == 0 and theirs.visits[-1].three_plus == 1
    assert mine.ratings.distribution[1] == 0 and theirs.ratings.distribution[1] == 1
    assert mine.ratings.follow_ups_open == 1 and theirs.ratings.follow_ups_open == 1
    assert mine.corrections.rounds == 1 and theirs.corrections.rounds == 2
    ranked = stats.promise_breakers(db.session, view(data), today=TODAY)
    items = {r["item_id"] for group in asdict(ranked).values() for r in group}
    assert data.item_c.id not in items
    for kind in stats.CASE_KINDS:
        listed = stats.list_cases(db.session, view(data), stats.CaseFilter(kind), today=TODAY)
        assert data.c7.id not in {row.application_id for row in listed.rows}
        # and the other department's list does not show ours
        listed = stats.list_cases(
            db.session,
            view(data, department_id=data.other_dept.id),
            stats.CaseFilter(kind),
            today=TODAY,
        )
        assert {row.application_id for row in listed.rows} <= {data.c7.id}


def test_filters_by_item_channel_and_hall(data):
    board = stats.dashboard(db.session, view(data, item_id=data.item_b.id), today=TODAY)
    assert (board.volume.received, board.volume.completed, board.volume.not_accepted) == (2, 1, 1)
    board = stats.dashboard(db.session, view(data, channel="counter"), today=TODAY)
    assert (board.volume.received, board.visits[-1].two) == (1, 1)
    board = stats.dashboard(db.session, view(data, hall_id=data.hall_id), today=TODAY)
    assert board.volume.received == 1  # only the case the hall's clerk took in


def test_rankings_and_the_cases_over_the_promised_visits(data):
    f = stats.StatsFilter(*PERIOD)
    ranked = stats.promise_breakers(db.session, f, today=TODAY)
    assert [(r.item_id, r.value) for r in ranked.over_one_visit][:2] == [
        (data.item_c.id, 1),
        (data.item_a.id, 1),
    ] or [(r.item_id, r.value) for r in ranked.over_one_visit][:2] == [
        (data.item_a.id, 1),
        (data.item_c.id, 1),
    ]
    overdue = {r.item_id: r.value for r in ranked.overdue}
    assert overdue[data.item_a.id] == 2  # case 2 decided late, case 6 overdue now
    worst = ranked.worst_ratings[0]
    assert (worst.item_id, worst.value) == (data.item_c.id, 1.0)
    assert worst.case_filter == stats.CaseFilter("bad_rating", data.item_c.id)
    listed = stats.list_cases(
        db.session, view(data), stats.CaseFilter("over_promised_visits"), today=TODAY
    )
    assert listed.total == 1
    (row,) = listed.rows
    assert (row.application_id, row.visits, row.promised_visits) == (data.c2.id, 2, 1)
    assert row.visit_reasons == ["原件需当面核验"]
    assert row.worst_rating == 2 and row.correction_rounds == 1
    overdue_cases = stats.list_cases(
        db.session, view(data), ranked.overdue[0].case_filter, today=TODAY
    )
    assert {r.application_id for r in overdue_cases.rows} == {data.c2.id, data.c6.id}


def test_summaries_equal_a_recomputation_also_after_an_old_case_changes(data):
    f = stats.StatsFilter(*PERIOD)
    stats.summarise(db.session, TODAY)
    assert stats.summarised_until(db.session) == TODAY - timedelta(days=1)
    assert stats.dashboard(db.session, f, today=TODAY) == stats.dashboard(
        db.session, f, today=TODAY, use_summaries=False
    )
    # a year later the commitment of case 1 proves false: it is terminated, and its
    # completion on 9 October 2025 no longer counts
    data.c1.status = "terminated"
    data.c1.completed_at = clock.utc_now()
    db.session.flush()
    stats.summarise(db.session, TODAY)
    fresh = stats.dashboard(db.session, f, today=TODAY, use_summaries=False)
    assert fresh.volume.completed == 3 - 1 + 1  # case 7 of the other department still counts
    assert stats.dashboard(db.session, f, today=TODAY) == fresh
    assert stats.promise_breakers(db.session, f, today=TODAY) == stats.promise_breakers(
        db.session, f, today=TODAY, use_summaries=False
    )
    # a decision recorded late for an old day (an import of paper records): case 6 was in
    # fact approved and handed over on 10 October 2025, with one visit
    data.c6.status = "completed"
    data.c6.decided_at = data.c6.completed_at = at(D(2025, 10, 10), 16)
    data.c6.visit_count = 1
    db.session.flush()
    before = stats.dashboard(db.session, f, today=TODAY)
    stats.summarise(db.session, TODAY)
    after = stats.dashboard(db.session, f, today=TODAY)
    assert after == stats.dashboard(db.session, f, today=TODAY, use_summaries=False)
    assert (before.timeliness.decided, after.timeliness.decided) == (5, 6)
    assert after.visits[-1].one == before.visits[-1].one + 1


def test_public_item_figures_need_twenty_cases(data):
    today = D(2025, 10, 12)
    figures = stats.compute_item_figures(db.session, today, use_summaries=False)
    a = figures[data.item_a.id]
    assert a.cases == 5 and not a.enough
    assert (a.within_promise, a.typical_days, a.zero_visit, a.good_rate) == (None,) * 4
    # twenty cases make the shares appear
    for k in range(15):
        db.session.add(
            Application(
                number=f"TJ2025X{k:03d}",
                item_version_id=data.va.id,
                department_id=data.dept.id,
                applicant_id=data.c1.applicant_id,
                status="completed",
                submitted_at=at(D(2025, 10, 10), 9),
                accepted_at=at(D(2025, 10, 10), 9),
                decided_at=at(D(2025, 10, 10), 10),
                completed_at=at(D(2025, 10, 10), 10),
                due_date=D(2025, 10, 17),
            )
        )
    db.session.flush()
    a = stats.compute_item_figures(db.session, today, use_summaries=False)[data.item_a.id]
    assert a.cases == 20 and a.enough
    # decided: 1, 2 (late), 8 and the 15 → 17 of 18 on time; completed 1, 2 and the 15
    assert a.within_promise == pytest.approx(17 / 18)
    assert a.zero_visit == pytest.approx(16 / 17)
    assert a.typical_days == 0.0
    assert a.good_rate == 0.5


def test_item_figures_are_cached_for_the_day(data):
    today = D(2025, 10, 12)
    first = stats.item_figures(db.session, [data.item_a.id], today)
    assert first[data.item_a.id].cases == 5
    db.session.add(
        Application(
            number="TJ2025Y001",
            item_version_id=data.va.id,
            department_id=data.dept.id,
            applicant_id=data.c1.applicant_id,
            status="submitted",
            submitted_at=at(D(2025, 10, 10), 9),
        )
    )
    db.session.flush()
    assert stats.item_figures(db.session, [data.item_a.id], today) == first
    assert (
        stats.item_figures(db.session, [data.item_a.id], today + timedelta(days=1))[
            data.item_a.id
        ].cases
        == 6
    )


def _received_on(day: date) -> int:
    return db.session.scalar(select(func.sum(StatDaily.received)).where(StatDaily.day == day)) or 0


def _quiet_hour_ago() -> None:
    """The dataset was written an hour ago and summarised since: only later changes count."""
    db.session.execute(update(Application).values(updated_at=clock.utc_now() - timedelta(hours=1)))
    stats.summarise(db.session, TODAY)


def test_a_changed_old_case_summarises_only_the_days_it_counts_on_again(data):
    f = stats.StatsFilter(*PERIOD)
    _quiet_hour_ago()
    # markers the next run must leave (a day the change does not count on) or replace
    for day in (D(2025, 10, 1), D(2025, 10, 9)):
        db.session.add(
            StatDaily(day=day, department_id=data.dept.id, channel="online", received=1000)
        )
    db.session.flush()
    # case 6 (submitted and accepted on 9 October) is decided: recorded for 10 October
    data.c6.status = "denied"
    data.c6.decided_at = at(D(2025, 10, 10), 9)
    db.session.flush()
    assert stats.summarise(db.session, TODAY) == 2  # 9 and 10 October, nothing else
    assert _received_on(D(2025, 10, 1)) == 1000  # left alone
    assert _received_on(D(2025, 10, 9)) < 1000  # summarised again
    db.session.execute(delete(StatDaily).where(StatDaily.day == D(2025, 10, 1)))
    assert stats.dashboard(db.session, f, today=TODAY) == stats.dashboard(
        db.session, f, today=TODAY, use_summaries=False
    )
    # the next runs re-read changes from a quarter of an hour before the last one, then none
    later = clock.utc_now() + timedelta(hours=1)
    assert stats.summarise(db.session, TODAY, now=later) == 2
    assert stats.summarise(db.session, TODAY, now=later) == 0


def test_a_moved_instant_summarises_its_old_day_again(data):
    f = stats.StatsFilter(*PERIOD)
    _quiet_hour_ago()
    # the record of the 秒批 case 4 is corrected: it all happened on 10 October, not the 9th;
    # the 9th is none of its days any more, but its summaries still count it
    for name in stats.CASE_INSTANTS:
        setattr(data.c4, name, at(D(2025, 10, 10), 9))
    db.session.flush()
    assert db.session.scalars(select(StatStaleDay.day)).all() == [D(2025, 10, 9)]
    stats.summarise(db.session, TODAY)
    assert stats.dashboard(db.session, f, today=TODAY) == stats.dashboard(
        db.session, f, today=TODAY, use_summaries=False
    )
    assert db.session.scalars(select(StatStaleDay.day)).all() == []


def test_a_guide_page_computes_only_its_own_items_figures_on_a_cold_cache(data):
    today = D(2025, 10, 12)
    day_key = f"statistics:item_figures:{today.isoformat()}"
    cache.current().local.clear()
    one = stats.item_figures(db.session, [data.item_a.id], today)
    assert one == {data.item_a.id: stats.compute_item_figures(db.session, today)[data.item_a.id]}
    assert cache.get(day_key) is None  # every item's figures were not computed
    assert cache.get(f"{day_key}:{data.item_a.id}") is not None
    assert cache.get(f"{day_key}:{data.item_c.id}") is None
    # once the jobs run has computed every item's, a guide page reads those
    everything = stats.item_figures(db.session, None, today)
    assert set(everything) == {data.item_a.id, data.item_b.id, data.item_c.id}
    assert stats.item_figures(db.session, [data.item_c.id], today) == {
        data.item_c.id: everything[data.item_c.id]
    }


def test_open_and_overdue_now_are_counted_in_the_open_cases_index(data):
    f = stats.StatsFilter(*PERIOD)
    board, ranked = stats.dashboard_and_rankings(db.session, f, today=TODAY)
    assert board == stats.dashboard(db.session, f, today=TODAY)
    assert ranked == stats.promise_breakers(db.session, f, today=TODAY)
    # a recount straight from the cases, every department
    open_now = db.session.scalar(
        select(func.count())
        .select_from(Application)
        .where(
            Application.item_version_id.is_not(None),
            Application.status.in_(case_states.STAFF_OPEN_STATES),
        )
    )
    assert board.volume.open_now == open_now
    if db.session.get_bind().dialect.name != "sqlite":
        return
    # the counts read the partial index alone (SQLite uses it only when the query names its
    # predicate); a department's own cases may be read on the department's index instead
    for f in (
        stats.StatsFilter(*PERIOD),
        stats.StatsFilter(*PERIOD, item_id=data.item_a.id, channel="counter"),
    ):
        stmt = stats._cases_now(f, func.count()).where(stats._overdue_now(TODAY))
        sql = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "USING COVERING INDEX ix_applications_open_now" in plan, plan


def test_whole_months_are_read_from_the_monthly_sums_and_equal_a_recomputation(data):
    # September's second half, the whole of October (from its monthly sums), November's first
    f = stats.StatsFilter(D(2025, 9, 15), D(2025, 11, 20))
    assert stats._spans(f.start, f.end) == (
        [(D(2025, 9, 15), D(2025, 9, 30)), (D(2025, 11, 1), D(2025, 11, 20))],
        (D(2025, 10, 1), D(2025, 10, 1)),
    )
    _quiet_hour_ago()
    assert db.session.scalar(
        select(func.sum(StatMonthly.received)).where(StatMonthly.month == D(2025, 10, 1))
    ) == _received_on_days(D(2025, 10, 1), D(2025, 10, 31))

    def same() -> None:
        assert stats.dashboard(db.session, f, today=TODAY) == stats.dashboard(
            db.session, f, today=TODAY, use_summaries=False
        )
        assert stats.promise_breakers(db.session, f, today=TODAY) == stats.promise_breakers(
            db.session, f, today=TODAY, use_summaries=False
        )
        one = stats.StatsFilter(f.start, f.end, item_id=data.item_a.id, channel="counter")
        assert stats.dashboard(db.session, one, today=TODAY) == stats.dashboard(
            db.session, one, today=TODAY, use_summaries=False
        )

    same()
    # an October day summarised again: October's monthly sums follow
    data.c6.status = "denied"
    data.c6.decided_at = at(D(2025, 10, 20), 9)
    db.session.flush()
    stats.summarise(db.session, TODAY)
    same()


def _received_on_days(first: date, last: date) -> int:
    return (
        db.session.scalar(
            select(func.sum(StatDaily.received)).where(StatDaily.day.between(first, last))
        )
        or 0
    )
