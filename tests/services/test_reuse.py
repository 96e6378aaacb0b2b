"""The reuse resolver: grades, expiry against the promised date, conditions, 信息免交."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Grade, MaterialRequirement, MaterialType, User
from seeds.factories import make_png
from services import clock, reuse
from services.documents import add_document


@pytest.fixture
def citizen(app_ctx):
    return db.session.scalar(select(User).where(User.phone == "13800000002")).citizen


def a_type(**kw) -> MaterialType:
    mt = MaterialType(code=kw.pop("code"), name=kw.pop("name", "测试材料"), **kw)
    db.session.add(mt)
    db.session.flush()
    return mt


def a_doc(citizen, mt, grade, valid_until=None, source="upload"):
    doc = add_document(
        owner=citizen,
        material_type=mt,
        data=make_png(),
        content_type="image/png",
        filename="x.png",
        grade=grade,
        source=source,
        issued_on=clock.local_today(),
    )
    doc.valid_until = valid_until
    db.session.flush()
    return doc


def req(mt, **kw) -> MaterialRequirement:
    return MaterialRequirement(material_type_id=mt.id, material_type=mt, **kw)


def test_order_is_elicence_then_checked_then_unchecked_then_upload(citizen):
    t1, t2, t3, t4 = (a_type(code=f"RT{i}") for i in range(4))
    a_doc(citizen, t1, Grade.C)
    best = a_doc(citizen, t1, Grade.A, source="elicence")
    a_doc(citizen, t1, Grade.B)
    checked = a_doc(citizen, t2, Grade.B)
    a_doc(citizen, t2, Grade.C)
    unchecked = a_doc(citizen, t3, Grade.C)
    a_doc(citizen, t4, Grade.D)  # a commitment never stands in for a document
    proposals = reuse.propose_materials(
        citizen.id, [req(t1), req(t2), req(t3), req(t4)], clock.local_today()
    )
    assert [p.kind for p in proposals] == ["elicence", "library", "unchecked", "upload"]
    assert proposals[0].document.id == best.id and len(proposals[0].alternatives) == 2
    assert proposals[1].document.id == checked.id
    assert proposals[2].document.id == unchecked.id


def test_documents_expiring_before_the_promised_date_are_not_proposed(citizen):
    mt = a_type(code="RTEXP")
    due = clock.local_today() + timedelta(days=20)
    expiring = a_doc(citizen, mt, Grade.A, valid_until=due - timedelta(days=1), source="elicence")
    ok = a_doc(citizen, mt, Grade.B, valid_until=due)
    proposals = reuse.propose_materials(citizen.id, [req(mt)], due)
    assert proposals[0].document.id == ok.id
    assert proposals[0].excluded[0][0].id == expiring.id
    assert due.isoformat() in proposals[0].excluded[0][1]
    only_expiring = reuse.propose_materials(citizen.id, [req(mt)], due + timedelta(days=1))
    assert only_expiring[0].kind == "upload" and len(only_expiring[0].excluded) == 2


def test_shared_materials_are_never_asked(citizen):
    mt = a_type(code="RTSH")
    proposals = reuse.propose_materials(
        citizen.id, [req(mt, necessity="shared")], clock.local_today()
    )
    assert proposals[0].kind == "shared" and proposals[0].reused


def test_conditions_switch_requirements(citizen):
    mt = a_type(code="RTCOND")
    always = req(mt)
    married_only = req(mt, condition={"question": "married", "equals": "yes"})
    assert reuse.applicable_requirements([always, married_only], {"married": "no"}) == [always]
    assert reuse.applicable_requirements([always, married_only], {"married": "yes"}) == [
        always,
        married_only,
    ]
    assert reuse.applicable_requirements([always, married_only], {}) == [always]


def test_someone_elses_documents_are_never_proposed(citizen):
    mt = a_type(code="RTOTHER")
    other = db.session.scalar(select(User).where(User.phone == "13800000001")).citizen
    a_doc(other, mt, Grade.A, source="elicence")
    assert reuse.propose_materials(citizen.id, [req(mt)], clock.local_today())[0].kind == "upload"


def test_the_demo_citizen_reuses_the_demo_elicences(app_ctx):
    citizen = db.session.scalar(select(User).where(User.phone == "13800000001")).citizen
    ids = db.session.scalars(
        select(MaterialType).where(MaterialType.name.in_(["居民身份证", "户口簿"]))
    ).all()
    proposals = reuse.propose_materials(citizen.id, [req(mt) for mt in ids], clock.local_today())
    assert all(p.reused for p in proposals), [p.kind for p in proposals]
