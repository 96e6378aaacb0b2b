import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Event, Message, OutboxMessage, ServiceItem, User
from services import applications, clock, messages, proxies
from services.errors import NotFound, ValidationError


def user(phone):
    return db.session.scalar(select(User).where(User.phone == phone))


def an_item(name="失业登记"):
    return next(
        i
        for i in db.session.scalars(select(ServiceItem))
        if i.published_version and i.published_version.name == name
    )


class Recorder:
    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def send(self, channel, recipient, subject, body):
        with self.lock:
            self.sent.append((channel, recipient, subject))


def test_notify_writes_a_message_and_an_sms_and_delivery_sends_it_once(app_ctx):
    citizen = user("13800000002").citizen
    msg = messages.notify(citizen, "licence", item="结婚证")
    assert "结婚证" in msg.body
    outbox = db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == msg.id))
    assert outbox.recipient == "13800000002" and outbox.status == "pending"
    recorder = Recorder()
    assert messages.deliver_pending(recorder) >= 1
    assert messages.deliver_pending(recorder) == 0
    assert [s for s in recorder.sent if s[1] == "13800000002"]
    db.session.refresh(outbox)
    assert outbox.status == "sent" and outbox.sent_at is not None


def test_a_failing_gateway_leaves_the_row_for_a_retry(app_ctx):
    citizen = user("13800000002").citizen
    msg = messages.notify(citizen, "licence", item="结婚证")

    class Broken:
        def send(self, *args):
            raise ConnectionError("gateway down")

    messages.deliver_pending(Broken())
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == msg.id))
    assert row.status == "pending" and row.attempts == 1 and "gateway down" in row.last_error


def test_concurrent_deliveries_never_send_a_message_twice(database_factory):
    app = database_factory("outbox", seed=True)
    with app.test_request_context():
        citizen = user("13800000002").citizen
        for _ in range(20):
            messages.notify(citizen, "licence", item="结婚证")
        db.session.commit()
        db.session.remove()
    recorder = Recorder()

    def worker():
        with app.test_request_context():
            messages.deliver_pending(recorder)
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(recorder.sent) == 20
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "sent")
            )
            == 20
        )
        db.session.remove()


def test_authorise_agent_validation(app_ctx):
    principal = user("13800000003")
    tomorrow = clock.local_today() + timedelta(days=1)
    with pytest.raises(ValidationError) as err:
        proxies.authorise_agent(principal, agent_phone="13912345678", valid_until=tomorrow)
    assert "agent_phone" in err.value.errors
    with pytest.raises(ValidationError):
        proxies.authorise_agent(principal, agent_phone="13800000003", valid_until=tomorrow)
    with pytest.raises(ValidationError) as err:
        proxies.authorise_agent(
            principal, agent_phone="13800000001", valid_until=clock.local_today()
        )
    assert "valid_until" in err.value.errors
    with pytest.raises(ValidationError):
        proxies.authorise_agent(
            principal,
            agent_phone="13800000001",
            valid_until=clock.local_today() + timedelta(days=4 * 365),
        )


def test_an_agent_applies_in_the_principals_name_until_revoked(app_ctx):
    principal, agent, stranger = user("13800000003"), user("13800000001"), user("13800000002")
    with pytest.raises(NotFound):
        applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())
    auth = proxies.authorise_agent(
        principal, agent_phone="13800000001", valid_until=clock.local_today() + timedelta(days=30)
    )
    draft = applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())
    assert draft.applicant_id == principal.citizen_id and draft.agent_id == agent.citizen_id
    assert applications.get_own_draft(agent, draft.id) is draft
    assert applications.get_own_draft(principal, draft.id) is draft
    with pytest.raises(NotFound):
        applications.get_own_draft(stranger, draft.id)
    assert any(a.id == draft.id for a in applications.list_own_applications(agent))
    with pytest.raises(NotFound):
        proxies.revoke_authorisation(stranger, auth.id)
    proxies.revoke_authorisation(principal, auth.id)
    with pytest.raises(NotFound):
        applications.get_own_draft(agent, draft.id)
    assert all(a.id != draft.id for a in applications.list_own_applications(agent))
    actions = db.session.scalars(select(Event.action).where(Event.actor_id == principal.id)).all()
    assert "proxy_authorised" in actions and "proxy_revoked" in actions


def test_submission_notifies_the_applicant(app_ctx):
    from tests.services.test_applications import fill

    citizen_user = user("13800000002")
    draft = applications.start_draft(
        actor=citizen_user, applicant=citizen_user.citizen, item=an_item("居住证申领")
    )
    fill(draft, citizen_user.citizen)
    applications.submit_application(citizen_user, draft.id, draft.submit_token)
    message = db.session.scalar(select(Message).where(Message.application_id == draft.id))
    assert message.kind == "submitted" and draft.number in message.body


@pytest.mark.parametrize("env", ["development", "production"])
def test_the_log_sender_keeps_citizens_data_out_of_the_production_log(app_ctx, caplog, env):
    """Issue 13 #9: in production the log gets a masked phone and no text."""
    app_ctx.config["PORTAL_ENV"] = env
    try:
        with caplog.at_level("INFO", logger="services.messages"):
            messages.LogSender().send("sms", "13800000001", "验证码", "您的验证码是 482913")
    finally:
        app_ctx.config["PORTAL_ENV"] = "development"
    logged = caplog.text
    if env == "production":
        assert "138****0001" in logged
        assert "13800000001" not in logged and "482913" not in logged and "验证码" not in logged
    else:
        assert "13800000001" in logged and "482913" in logged


def test_a_request_sends_its_own_messages_and_leaves_the_others_to_the_jobs(database_factory):
    """After its commit a request delivers the outbox rows it wrote itself, not those of other
    requests (64 citizens pressing 提交 at once raced for the same rows); a row left pending
    elsewhere (a gateway that failed) is sent by `flask jobs run`'s sweep: none is lost."""
    from portal.transaction import run_view

    app = database_factory("outbox-own", seed=True)
    with app.test_request_context():
        citizen = user("13800000002").citizen
        other = messages.notify(citizen, "licence", item="结婚证").id  # another request's
        db.session.commit()
        db.session.remove()
    with app.test_request_context():
        citizen = user("13800000002").citizen
        own: list[int] = []
        run_view(lambda: own.append(messages.notify(citizen, "licence", item="身份证").id) or "ok")
        db.session.remove()
    with app.app_context():

        def status(message_id: int) -> str:
            return db.session.scalar(
                select(OutboxMessage.status).where(OutboxMessage.message_id == message_id)
            )

        assert status(own[0]) == "sent"
        assert status(other) == "pending"
        assert messages.deliver_pending() == 1  # what `flask jobs run` calls
        assert status(other) == "sent"
        db.session.remove()


class BodyRecorder(Recorder):
    def send(self, channel, recipient, subject, body):
        with self.lock:
            self.sent.append(body)


def _outbox_row(message_id: int) -> OutboxMessage:
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))


@pytest.fixture
def own_outbox(database_factory, monkeypatch):
    """An app whose requests send their own outbox rows (no worker), and what they sent."""
    app = database_factory("outbox-claimed", seed=True)
    recorder = BodyRecorder()
    monkeypatch.setattr(messages, "get_sender", lambda: recorder)
    return app, recorder


def test_a_request_writes_its_messages_claimed_and_sends_them_after_its_commit(own_outbox):
    """Without a worker a request's outbox rows are inserted claimed by it (status sending,
    one attempt), so the claim is committed with the change; after the commit the request
    sends them and records the outcome. Nothing goes out before the commit."""
    from portal.transaction import run_view

    app, recorder = own_outbox
    seen = {}

    def view():
        message = messages.notify(user("13800000002").citizen, "licence", item="身份证")
        row = _outbox_row(message.id)
        seen.update(id=message.id, status=row.status, attempts=row.attempts)
        seen.update(claimed=row.claimed_at is not None, sent_before_commit=list(recorder.sent))
        return "ok"

    with app.test_request_context():
        run_view(view)
        db.session.remove()
    assert seen["status"] == "sending" and seen["attempts"] == 1 and seen["claimed"]
    assert seen["sent_before_commit"] == []
    with app.app_context():
        row = _outbox_row(seen["id"])
        assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
        assert recorder.sent == [row.body]
        db.session.remove()


def test_a_message_whose_insert_was_rolled_back_is_never_sent(own_outbox):
    """A row written in a savepoint that was rolled back, or by a request that failed, does
    not exist: the request must not send it (the citizen would read of a change that did not
    happen)."""
    from portal.transaction import run_view

    app, recorder = own_outbox

    def view():
        citizen = user("13800000002").citizen
        savepoint = db.session.begin_nested()
        messages.notify(citizen, "licence", item="撤回的证照")
        savepoint.rollback()
        messages.notify(citizen, "licence", item="身份证")
        return "ok"

    def failing():
        messages.notify(user("13800000002").citizen, "licence", item="失败的请求")
        raise RuntimeError("the view failed after writing a message")

    with app.test_request_context():
        run_view(view)
        with pytest.raises(RuntimeError):
            run_view(failing)
        db.session.remove()
    assert len(recorder.sent) == 1 and "身份证" in recorder.sent[0]
    with app.app_context():
        bodies = db.session.scalars(select(OutboxMessage.body)).all()
        assert not [b for b in bodies if "撤回的证照" in b or "失败的请求" in b]
        db.session.remove()


def test_a_refused_request_leaves_its_committed_messages_pending_for_the_jobs(own_outbox):
    """A refusal (4xx) that commits what it wrote does not send its messages: their claim is
    undone (pending, no attempt), and `flask jobs run` sends them; none stays claimed until
    the claim times out."""
    from portal.transaction import run_view

    app, recorder = own_outbox
    written = []

    def refused():
        written.append(messages.notify(user("13800000002").citizen, "licence", item="身份证").id)
        return "refused", 409

    with app.test_request_context():
        assert run_view(refused).status_code == 409
        db.session.remove()
    assert recorder.sent == []
    with app.app_context():
        row = _outbox_row(written[0])
        assert (row.status, row.attempts, row.claimed_at) == ("pending", 0, None)
        assert messages.deliver_pending() >= 1
        db.session.refresh(row)
        assert row.status == "sent" and len(recorder.sent) >= 1
        db.session.remove()


def test_a_claim_whose_sender_died_is_sent_by_the_next_run_and_a_live_one_is_not(app_ctx):
    """A delivery that died between claiming a row and recording the outcome (a restart, a
    killed worker) left it "sending", and nothing looked at such rows again: never sent. After
    CLAIM_TIMEOUT the row is pending again and the jobs' sweep sends it; a claim younger than
    that is a delivery still under way and is left to it (no second SMS)."""
    citizen = user("13800000002").citizen
    died = messages.notify(citizen, "licence", item="结婚证")
    busy = messages.notify(citizen, "licence", item="居住证")
    db.session.flush()
    rows = {
        m.id: db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == m.id))
        for m in (died, busy)
    }
    now = datetime.now(UTC)
    claims = {died.id: now - messages.CLAIM_TIMEOUT - timedelta(minutes=1), busy.id: now}
    for message_id, row in rows.items():
        row.status, row.attempts, row.claimed_at = "sending", 1, claims[message_id]
    db.session.commit()
    recorder = Recorder()
    messages.deliver_pending(recorder)
    for row in rows.values():
        db.session.refresh(row)
    assert rows[died.id].status == "sent" and rows[died.id].attempts == 2
    assert rows[busy.id].status == "sending" and rows[busy.id].attempts == 1
    assert [s for s in recorder.sent if s[1] == "13800000002"] == [
        ("sms", "13800000002", rows[died.id].subject)
    ]


def test_a_claim_records_when_it_was_made(app_ctx):
    msg = messages.notify(user("13800000002").citizen, "licence", item="结婚证")
    db.session.commit()
    before = datetime.now(UTC)
    messages.deliver_pending(Recorder())
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == msg.id))
    assert row.status == "sent" and row.claimed_at >= before - timedelta(seconds=1)
