from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Event
from services import audit


def test_events_form_a_chain(app_ctx):
    first = audit.record_event("test_one", actor=None, details={"a": 1})
    second = audit.record_event("test_two", actor=None, details={"b": "二"})
    assert second.prev_hash == first.hash
    assert audit.compute_hash(first.hash, second) == second.hash
    report = audit.verify_chain()
    assert report.broken_at is None
    assert report.checked >= 2


def test_altering_a_row_in_the_database_is_found(app_ctx):
    audit.record_event("before", actor=None)
    victim = audit.record_event("victim", actor=None, details={"decision": "deny"})
    audit.record_event("after", actor=None)
    db.session.execute(
        update(Event).where(Event.id == victim.id).values(details={"decision": "approve"})
    )
    db.session.expire_all()
    report = audit.verify_chain()
    assert report.broken_at == victim.id
    assert "content" in report.reason


def test_deleting_a_row_breaks_the_next_link(app_ctx):
    audit.record_event("one", actor=None)
    gone = audit.record_event("two", actor=None)
    nxt = audit.record_event("three", actor=None)
    db.session.delete(db.session.get(Event, gone.id))
    db.session.flush()
    db.session.expire_all()
    report = audit.verify_chain()
    assert report.broken_at == nxt.id


def test_demo_seed_chain_is_intact(app_ctx):
    assert db.session.scalar(select(Event.id).limit(1)) is not None
    assert audit.verify_chain().broken_at is None


def test_deferred_events_are_appended_in_order_when_the_block_ends(app_ctx):
    before = audit.record_event("before", actor=None)
    with audit.deferred_events():
        first = audit.record_event("deferred_one", actor=None)
        with audit.deferred_events():  # nested blocks append with the outermost
            second = audit.record_event("deferred_two", actor=None)
        assert first.id is None and second.id is None
    assert first.prev_hash == before.hash and second.prev_hash == first.hash
    assert first.id < second.id
    assert audit.verify_chain().broken_at is None


def test_a_failed_deferred_block_appends_nothing(app_ctx):
    last = db.session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    try:
        with audit.deferred_events():
            audit.record_event("never", actor=None)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert db.session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) == last
    assert audit.record_event("after", actor=None).id is not None
