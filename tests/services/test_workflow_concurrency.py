"""Two reviewers acting on the same case at the same moment: exactly one action takes effect,
the other is told to refresh (a version checked in the UPDATE), on SQLite and PostgreSQL."""

import threading

import pytest
from sqlalchemy import func, select, text

from portal.extensions import db
from portal.models import Application, Event, Notice, Role, User
from services import accounts, workflow
from services.errors import Conflict
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user


def test_concurrent_decisions_exactly_one_wins(database_factory):
    app = database_factory("decide", seed=True)
    with app.app_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        first = user("reviewer01")
        second = accounts.create_staff(
            username="reviewer07",
            password="Demo@2026x",
            role=Role.reviewer,
            display_name="公安审批员七",
            department=first.department,
        )
        db.session.commit()
        case_id, version, actors = case.id, case.version, (first.id, second.id)
        db.session.remove()

    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(actor_id, action, params):
        try:
            with app.app_context():
                actor = db.session.get(User, actor_id)
                db.session.commit()  # hold no lock while waiting at the barrier
                barrier.wait(30)
                workflow.perform(actor, case_id, action, version, **params)
                db.session.commit()
                outcomes[action] = "done"
        except Conflict as exc:
            outcomes[action] = exc
        except BaseException as exc:  # surfaced below
            outcomes[action] = exc
        finally:
            with app.app_context():
                db.session.remove()

    threads = [
        threading.Thread(target=decide, args=(actors[0], "accept", {})),
        threading.Thread(
            target=decide,
            args=(actors[1], "not_accept", {"reason": "不属于本机关职权", "refer_to": "市人社局"}),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    done = [a for a, o in outcomes.items() if o == "done"]
    refused = [o for o in outcomes.values() if o != "done"]
    assert len(done) == 1, outcomes
    assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
    assert "该办件已被他人处理，请刷新后重试" in refused[0].message
    with app.app_context():
        final = db.session.get(Application, case_id)
        assert final.status == {"accept": "accepted", "not_accept": "not_accepted"}[done[0]]
        assert final.version == version + 1
        decisions = db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.application_id == case_id, Event.action.in_(("accepted", "not_accepted")))
        )
        assert decisions == 1
        assert (
            db.session.scalar(
                select(func.count()).select_from(Notice).where(Notice.application_id == case_id)
            )
            == 1
        )
        db.session.remove()


def test_the_update_refuses_a_version_that_moved_after_the_case_was_loaded(database_factory):
    """The case a request loaded still looks current to it (the version check before the
    UPDATE passes), but another request has changed it since without changing its state (a
    claim, an edit): the guarded UPDATE itself must find no row, so nothing is overwritten."""
    app = database_factory("stale", seed=True)
    with app.app_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        db.session.commit()
        reviewer = user("reviewer01")
        case = db.session.get(Application, case.id)
        loaded = case.version
        # SQLite's session holds the write lock from its first statement: the load ends its
        # transaction (the case kept as it was read), as a request's read on PostgreSQL would
        # not have blocked the other writer
        db.session.expunge(case)
        db.session.rollback()
        with db.engine.begin() as other:  # another request, committed meanwhile
            other.execute(
                text("UPDATE applications SET version = version + 1 WHERE id = :id"),
                {"id": case.id},
            )
        db.session.add(case)  # as loaded: version `loaded`
        assert case.version == loaded
        with pytest.raises(Conflict) as refused:  # not taken on a stale version
            workflow.perform_checked(reviewer, case, "claim", loaded)
        assert "该办件已被他人处理，请刷新后重试" in refused.value.message
        db.session.rollback()
        stored = db.session.get(Application, case.id)
        assert stored.assignee_id is None and stored.version == loaded + 1
        assert not db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.application_id == case.id, Event.action == "claim")
        )
        db.session.remove()
