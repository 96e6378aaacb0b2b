"""The case core's own promises: submission is the workflow table's "submit" row, a
workflow handler refuses a parameter it does not take, one parser of material choices and one
reuse count."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Event, SatisfiedBy
from services import materials, workflow
from services.errors import ValidationError
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user


@pytest.fixture
def permit(app_ctx):
    return submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})


def test_submission_is_the_tables_submit_row(permit):
    spec = workflow.TRANSITIONS["submit"]
    assert spec.sources == ("draft",) and spec.target == "submitted"
    assert spec.roles == {"citizen", "counter"}
    event = db.session.scalar(
        select(Event).where(Event.application_id == permit.id, Event.action == "submitted")
    )
    assert event.details["action"] == "submit"
    assert (event.details["from"], event.details["to"]) == ("draft", "submitted")
    assert event.details["number"] == permit.number
    counted = materials.reuse_count(permit.materials)
    assert (permit.materials_required, permit.materials_reused) == (
        counted.required,
        counted.reused,
    )


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("deny", {"reason": "不符合条件"}),  # the parameter is ``reasons``
        ("accept", {"opinion": "同意"}),  # accept takes none
        ("not_accept", {"reasons": "材料不全"}),  # the parameter is ``reason``
    ],
)
def test_a_parameter_the_handler_does_not_take_is_refused(permit, action, params):
    version = permit.version
    with pytest.raises(TypeError, match=next(iter(params))):
        workflow.perform(user("reviewer01"), permit.id, action, version, **params)
    assert permit.status == "submitted" and permit.version == version


def test_every_handler_takes_only_keyword_parameters_it_names():
    for name, handler in workflow.ACTIONS.items():
        assert "_ignored" not in handler.__code__.co_varnames, name
        assert not handler.__code__.co_flags & 0x08, f"{name} takes **kwargs"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("doc:12", materials.Choice(document_id=12)),
        ("deferred", materials.Choice(option="deferred")),
        ("commitment", materials.Choice(option="commitment")),
        ("none", materials.Choice(option="none")),
        ("", None),
        (None, None),
        ("upload", None),
    ],
)
def test_material_choices_are_parsed_in_one_place(raw, expected):
    assert materials.parse_choice(raw) == expected


@pytest.mark.parametrize("raw", ["doc:", "doc:x1", "doc:-3", "doc:1.5"])
def test_a_malformed_document_choice_is_refused(raw):
    with pytest.raises(ValidationError):
        materials.parse_choice(raw)


def test_reuse_counts_required_materials_given_without_an_upload(permit):
    required = [m for m in permit.materials if m.requirement.necessity != "optional"]
    for m in required:
        m.satisfied_by = SatisfiedBy.upload
    assert materials.reuse_count(permit.materials).reused == 0
    required[0].satisfied_by = SatisfiedBy.library
    assert materials.reuse_count(permit.materials) == materials.ReuseCount(len(required), 1)
