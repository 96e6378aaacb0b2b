"""办件进度 (issue 11 §6): every kind of event the code records on a case reads as words on the
citizen's and the reviewer's timelines, in Chinese and in English; never as an internal key.
Security events about staff (``counter_access_refused``) are on the reviewer's page only.

The kinds are read from the code itself: every ``record_event(...)`` / ``record_refusal(...)``
call that passes an ``application_id``, and the workflow's TRANSITIONS. A new kind without a
label, or a new computed kind this test does not know, fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import get_template_attribute
from flask_babel import force_locale
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, User
from services import audit, timeline
from services.ratings import TICKET_FLOW
from services.workflow import TRANSITIONS
from tests.conftest import csrf_token, login
from tests.helpers import submit_committed_case

ROOT = Path(__file__).resolve().parents[2]
RECORDERS = {"record_event", "record_refusal"}
CJK = re.compile(r"[\u4e00-\u9fff]")
RAW_KEY = re.compile(r"\b[a-z]+(?:[_.][a-z]+)+\b")

# calls whose kind is computed, by the source of that expression: the kinds each can produce
COMPUTED_KINDS = {
    "target if spec.target and target != source else action": {
        (t.target or name) for name, t in TRANSITIONS.items()
    },
    "'ticket_' + to_status": {f"ticket_{s}" for targets in TICKET_FLOW.values() for s in targets},
    # services/queue._record_call(…, kind) with kind "call", "recall" or "return"
    "f'queue_{kind}'": {"queue_call", "queue_recall", "queue_return"},
}
# the recorder itself passes its caller's kind along
RECORDER_MODULE = ROOT / "services" / "audit.py"


def _recorded_on_a_case() -> tuple[set[str], list[str]]:
    """Every event kind the code records with an application_id, and computed kinds unknown here."""
    kinds: set[str] = set()
    unknown: list[str] = []
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("portal").rglob("*.py")]:
        if path == RECORDER_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name not in RECORDERS:
                continue
            on_case = any(
                k.arg == "application_id"
                and not (isinstance(k.value, ast.Constant) and k.value.value is None)
                for k in node.keywords
            )
            if not on_case:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                kinds.add(first.value)
                continue
            source = ast.unparse(first)
            if source in COMPUTED_KINDS:
                kinds |= COMPUTED_KINDS[source]
            else:
                unknown.append(f"{path.relative_to(ROOT)}: {source}")
    return kinds, unknown


KINDS, UNKNOWN_COMPUTED = _recorded_on_a_case()


def test_the_code_records_only_kinds_this_test_can_list():
    assert not UNKNOWN_COMPUTED, (
        f"add these computed event kinds to COMPUTED_KINDS: {UNKNOWN_COMPUTED}"
    )
    # the scan found the kinds it must: a broken scan would make the next test vacuous
    assert {"personal_data_revealed", "counter_access_refused", "material_verdict"} <= KINDS
    assert {"submitted", "approved", "claim", "ticket_rectifying"} <= KINDS


def _event(kind: str, details: dict | None = None):
    return SimpleNamespace(action=kind, details=details or {})


def _events_to_render():
    for kind in sorted(KINDS):
        yield kind, _event(kind)
    for name in TRANSITIONS:  # the workflow step named in details["action"]
        spec = TRANSITIONS[name]
        yield f"{name}→{spec.target}", _event(spec.target or name, {"action": name})
    yield "completed (一件事)", _event("completed", {"action": "complete_bundle"})


EVENTS = list(_events_to_render())


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_kind_reads_as_words_in_both_languages(app, locale):
    problems = []
    with app.test_request_context(), force_locale(locale):
        event_label = get_template_attribute("apply/_labels.html", "event_label")
        for name, event in EVENTS:
            text = str(event_label(event)).strip()
            if timeline.known_label(event.action, event.details) is None:
                problems.append(f"{name}: no label in services/timeline.py")
            elif RAW_KEY.search(text) or text == event.action:
                problems.append(f"{name}: raw key in {text!r}")
            elif locale == "en" and CJK.search(text):
                problems.append(f"{name}: untranslated {text!r}")
            elif locale == "zh_CN" and not CJK.search(text):
                problems.append(f"{name}: not Chinese {text!r}")
    assert not problems, "\n".join(problems)


def test_security_events_are_on_the_reviewers_timeline_but_not_the_citizens(client, query):
    case_id = submit_committed_case(query, "13800000001")

    def refuse():
        clerk = db.session.scalar(select(User).where(User.username == "counter01"))
        audit.record_event(
            "counter_access_refused", actor=clerk, application_id=case_id, details={}
        )
        db.session.commit()
        return db.session.get(Application, case_id).applicant_id

    query(refuse)
    assert "counter_access_refused" in timeline.HIDDEN_FROM_CITIZEN
    shown = str(timeline.EVENT_LABELS["counter_access_refused"])

    login(client, "13800000001")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert shown not in page
    assert "counter_access_refused" not in page
    assert str(timeline.STATE_LABELS["submitted"]) in page  # the timeline itself is there

    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "reviewer01")
    page = client.get(f"/review/cases/{case_id}").get_data(as_text=True)
    assert shown in page and "counter_access_refused" not in page
