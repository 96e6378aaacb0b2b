"""Audit-chain rules that must hold: each event's hash covers the previous event's hash, so
no earlier event can be rewritten, even with its own hash recomputed, without breaking the
chain at the next event.

The expected hashes are recomputed here with hashlib from the documented recipe
(sha256 of the previous hash followed by the event's canonical JSON), not with the code under
test. Each test was checked by leaving the previous hash out of the digest and seeing it fail."""

import hashlib
import json

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Event, User
from services import audit


def recipe(prev_hash: str, event: Event) -> str:
    payload = json.dumps(
        {
            "application_id": event.application_id,
            "actor_id": event.actor_id,
            "action": event.action,
            "created_at": event.created_at.isoformat(),
            "details": event.details,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def three_events():
    events = [
        audit.record_event("rule_one", actor=None, details={"n": 1}),
        audit.record_event(
            "rule_two", actor=None, details={"decision": "deny", "理由": "材料不全"}
        ),
        audit.record_event("rule_three", actor=None, details={"n": 3}),
    ]
    ids = [e.id for e in events]
    db.session.expire_all()
    return [db.session.get(Event, i) for i in ids]


def rewrite(event_id: int, **values) -> None:
    db.session.execute(update(Event).where(Event.id == event_id).values(**values))
    db.session.expire_all()


def test_each_hash_is_sha256_of_the_previous_hash_and_the_event(app_ctx):
    before = db.session.scalar(select(Event.hash).order_by(Event.id.desc()).limit(1))
    first, second, third = three_events()
    assert first.prev_hash == (before or audit.GENESIS)
    assert first.hash == recipe(first.prev_hash, first)
    assert second.prev_hash == first.hash and second.hash == recipe(first.hash, second)
    assert third.prev_hash == second.hash and third.hash == recipe(second.hash, third)


def test_the_same_event_after_another_previous_hash_has_another_hash(app_ctx):
    _, second, _ = three_events()
    assert audit.compute_hash("1" * 64, second) != audit.compute_hash("2" * 64, second)
    assert audit.compute_hash("1" * 64, second) == recipe("1" * 64, second)
    assert audit.compute_hash(audit.GENESIS, second) == recipe(audit.GENESIS, second)


def test_an_event_rewritten_with_its_own_hash_recomputed_breaks_the_next_link(app_ctx):
    """The forger changes a decision, recomputes that event's hash and the next event's
    prev_hash: only the next event's hash, which covered the old previous hash, betrays it."""
    first, second, third = three_events()
    forged_details = {"decision": "approve", "理由": "材料不全"}
    second.details = forged_details  # only to compute the forged hash from the new content
    forged_hash = recipe(first.hash, second)
    db.session.expire_all()
    rewrite(second.id, details=forged_details, hash=forged_hash)
    rewrite(third.id, prev_hash=forged_hash)
    report = audit.verify_chain()
    assert report.broken_at == third.id
    assert "content" in report.reason


def test_a_deleted_event_with_the_next_link_repointed_is_found(app_ctx):
    first, second, third = three_events()
    db.session.delete(db.session.get(Event, second.id))
    db.session.flush()
    rewrite(third.id, prev_hash=first.hash)
    report = audit.verify_chain()
    assert report.broken_at == third.id


def test_an_event_moved_to_another_place_in_the_chain_is_found(app_ctx):
    """Two events swapped in place (content and hashes), each with prev_hash made to fit."""
    first, second, third = three_events()
    a = dict(action=second.action, details=second.details, created_at=second.created_at)
    b = dict(action=third.action, details=third.details, created_at=third.created_at)
    ha, hb = second.hash, third.hash
    rewrite(second.id, hash="x" * 64)  # free the unique hashes for the swap
    rewrite(third.id, **a, hash=ha, prev_hash=hb)
    rewrite(second.id, **b, hash=hb, prev_hash=first.hash)
    report = audit.verify_chain()
    assert report.broken_at == second.id


def test_an_event_keeps_who_did_what_to_which_case(app_ctx):
    actor = db.session.scalar(select(User).where(User.phone == "13800000002"))
    event = audit.record_event(
        "rule_actor", actor=actor, application_id=None, details={"理由": "材料不全", "n": 2}
    )
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert stored.actor_id == actor.id
    assert stored.details == {"理由": "材料不全", "n": 2}
    assert audit.record_event("rule_system", actor=None).actor_id is None


def test_verify_counts_every_event_across_batches_and_finds_a_break_in_a_later_batch(app_ctx):
    events = [audit.record_event(f"rule_batch_{i}", actor=None) for i in range(5)]
    total = db.session.scalar(select(func.count()).select_from(Event))
    assert audit.verify_chain().checked == total
    assert audit.verify_chain(batch=2).checked == total
    rewrite(events[3].id, details={"forged": True})
    report = audit.verify_chain(batch=2)
    assert report.broken_at == events[3].id and report.checked == total - 2


def test_a_refusal_is_recorded_again_after_the_rollback_with_its_actor(app_ctx):
    actor = db.session.scalar(select(User).where(User.phone == "13800000002"))
    actor_id = actor.id
    audit.record_refusal("rule_refused", actor=actor, details={"why": "不是本人"})
    audit.record_refusal("rule_refused_system", actor=None, details={"why": "过期"})
    assert audit.pending_refusals(db.session)
    db.session.rollback()  # the refused action is rolled back, and the events with it
    assert not db.session.scalars(select(Event).where(Event.action.like("rule_refused%"))).all()
    audit.replay_refusals()
    db.session.flush()
    kept = db.session.scalars(
        select(Event).where(Event.action.like("rule_refused%")).order_by(Event.id)
    ).all()
    assert [(e.action, e.actor_id, e.details) for e in kept] == [
        ("rule_refused", actor_id, {"why": "不是本人"}),
        ("rule_refused_system", None, {"why": "过期"}),
    ]
    assert audit.verify_chain().broken_at is None
