"""The demo data set: the catalogue, the demo accounts and a citizen with history.

Everything goes through the services, as a real admin, citizen or reviewer would.
Demo accounts are made only here, never in production.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import click
from flask import current_app
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Channel,
    Department,
    Grade,
    MaterialType,
    Role,
    SatisfiedBy,
    ServiceItem,
    User,
)
from portal.models.base import utcnow
from seeds import catalogue_data as data
from seeds.counter import load_demo_bookings, load_halls
from seeds.factories import make_faker, make_id_number, make_person, make_png
from services import accounts, audit, catalogue, clock
from services.documents import add_document
from services.elicences import issue_elicence
from services.workflow import result_valid_until

DEMO_PASSWORD = "Demo@2026"
SERVICE_CENTRE = {
    "code": "ZWFW",
    "name": "市政务服务中心",
    "phone": "12345",
    "address": "市民服务中心（人民路 100 号）",
    "hours": "周一至周五 9:00-17:00",
}
PERSON_THEMES = (
    "生育收养",
    "户籍办理",
    "教育",
    "就业创业",
    "社会保障",
    "医疗卫生",
    "住房",
    "婚姻登记",
    "退休养老",
    "出行",
    "残疾人服务",
    "社会救助",
)
ORG_THEMES = ("开办企业", "经营许可", "纳税")


def is_loaded() -> bool:
    return db.session.scalar(select(User.id).where(User.username == "admin")) is not None


def load_catalogue(admin: User | None) -> dict[str, ServiceItem]:
    depts = {d["code"]: catalogue.create_department(**d) for d in data.DEPARTMENTS}
    if SERVICE_CENTRE["code"] not in depts:
        depts[SERVICE_CENTRE["code"]] = catalogue.create_department(**SERVICE_CENTRE)
    for i, name in enumerate(PERSON_THEMES):
        catalogue.get_or_create_theme(name, "person", i)
    for i, name in enumerate(ORG_THEMES):
        catalogue.get_or_create_theme(name, "organisation", 100 + i)
    types: dict[str, MaterialType] = {}
    for m in data.MATERIAL_TYPES:
        validity = m.get("validity") or {"kind": "none"}
        types[m["code"]] = catalogue.create_material_type(
            code=m["code"],
            name=m["name"],
            category=m.get("category", ""),
            description=m.get("description", ""),
            source=m["source"],
            licence_type_code=m.get("licence_type_code"),
            validity_kind=validity["kind"],
            validity_months=validity.get("months"),
        )
    items: dict[str, ServiceItem] = {}
    for spec in data.ITEMS:
        version = catalogue.create_item(
            code=spec["code"],
            department=depts[spec["department"]],
            actor=admin,
            guide=guide_from_spec(spec),
            requirements=[
                {
                    "material_type_id": types[m["type"]].id,
                    "position": i,
                    "original": m["original"],
                    "form": m["form"],
                    "copies": m["copies"],
                    "necessity": m["necessity"],
                    "condition": m.get("condition"),
                    "notes": m.get("notes", ""),
                    "acceptance_standard": m.get("acceptance_standard", ""),
                    "commitment_allowed": m.get("commitment_allowed", False),
                }
                for i, m in enumerate(spec["materials"])
            ],
            themes=[catalogue.get_or_create_theme(t) for t in spec["themes"]],
        )
        version.item.popularity = spec.get("popularity", 0)
        catalogue.publish_version(version, admin)
        items[spec["code"]] = version.item
    for b in data.BUNDLES:
        catalogue.create_bundle(
            code=b["code"],
            name=b["name"],
            description=b["description"],
            theme=catalogue.get_or_create_theme(b["theme"]),
            items=[items[c] for c in b["items"]],
        )
    return items


def guide_from_spec(spec: dict) -> dict:
    keys = (
        "name",
        "item_type",
        "audience",
        "legal_basis",
        "conditions",
        "legal_limit",
        "legal_limit_unit",
        "promised_limit",
        "promised_limit_unit",
        "case_type",
        "steps",
        "visits",
        "visits_reason",
        "online_depth",
        "location",
        "hours",
        "phone",
        "complaint_phone",
        "fees",
        "faqs",
        "keywords",
        "synonyms",
        "questions",
        "condition_questions",
        "commitment_text",
        "auto_rules",
    )
    guide = {k: spec[k] for k in keys if k in spec}
    guide["result_name"] = spec["result"]["name"]
    guide["result_type"] = spec["result"]["type"]
    guide["result_licence_type_code"] = spec["result"].get("licence_type_code")
    guide["result_term"] = spec["result"].get("term")  # "1年", "10年", "长期" (checked on save)
    if spec["result"].get("delivery"):
        guide["delivery_methods"] = spec["result"]["delivery"]
    guide["kiosk_enabled"] = spec.get("kiosk", False)
    return guide


def department_named(fragment: str) -> Department:
    dept = db.session.scalar(select(Department).where(Department.name.contains(fragment)))
    if dept is None:
        raise click.ClickException(f"the demo catalogue has no department named like {fragment!r}")
    return dept


def load_accounts() -> dict[str, User]:
    rng = random.Random(2026)
    users = {
        "admin": accounts.create_staff(
            username="admin",
            password=DEMO_PASSWORD,
            second_factor_exempt=True,
            role=Role.admin,
            display_name="系统管理员",
            department=None,
        ),
        # a second admin: with four-eyes publishing one submits a guide, the other publishes
        "admin2": accounts.create_staff(
            username="admin2",
            password=DEMO_PASSWORD,
            second_factor_exempt=True,
            role=Role.admin,
            display_name="指南审核员",
            department=None,
        ),
        "counter01": accounts.create_staff(
            username="counter01",
            password=DEMO_PASSWORD,
            second_factor_exempt=True,
            role=Role.counter,
            display_name="窗口 01",
            department=department_named("政务服务"),
        ),
        "reviewer01": accounts.create_staff(
            username="reviewer01",
            password=DEMO_PASSWORD,
            second_factor_exempt=True,
            role=Role.reviewer,
            display_name="公安审批员",
            department=department_named("公安"),
        ),
        "reviewer02": accounts.create_staff(
            username="reviewer02",
            password=DEMO_PASSWORD,
            second_factor_exempt=True,
            role=Role.reviewer,
            display_name="人社审批员",
            department=department_named("人力资源"),
        ),
    }
    people = (
        ("13800000001", "张伟明", date(1985, 3, 12), False, "杭州市西湖区文三路 90 号"),
        ("13800000002", "李晓静", date(1996, 8, 23), True, ""),
        ("13800000003", "王秀兰", date(1948, 5, 6), True, "杭州市西湖区保俶路 12 号"),
    )
    for phone, name, born, female, address in people:
        users[phone] = accounts.register_citizen(
            phone=phone,
            password=DEMO_PASSWORD,
            name=name,
            id_number=make_id_number(born, rng, female=female, area="330106"),
            address=address,
        )
    users["13800000003"].elder_mode = True
    db.session.flush()
    return users


def load_history(citizen_user: User, reviewer: User, items: dict[str, ServiceItem]) -> None:
    """13800000001: verified documents, two e-licences and the approved cases that issued them."""
    citizen = citizen_user.citizen
    today = clock.local_today()
    by_name = {mt.name: mt for mt in db.session.scalars(select(MaterialType))}
    for name, issued in (
        ("居民身份证", today - timedelta(days=900)),
        ("户口簿", today - timedelta(days=2000)),
    ):
        mt = by_name.get(name)
        if mt is not None:
            add_document(
                owner=citizen,
                material_type=mt,
                data=make_png(),
                content_type="image/png",
                filename=f"{name}.png",
                grade=Grade.B,
                source="counter",
                issued_on=issued,
                own_expiry=issued + timedelta(days=365 * 20),
                verified_by=reviewer,
            )
    licensed = [
        (item, version)
        for item in items.values()
        if (version := item.published_version) is not None
        and version.result_licence_type_code
        and version.audience == "person"
    ]
    for n, (item, version) in enumerate(licensed[:2], start=1):
        mt = db.session.scalar(
            select(MaterialType).where(
                MaterialType.licence_type_code == version.result_licence_type_code
            )
        )
        if mt is None:
            continue
        submitted = utcnow() - timedelta(days=60 * n)
        app = Application(
            number=f"SL{submitted:%Y%m%d}{n:06d}",
            item_version=version,
            department_id=version.department_id,
            applicant=citizen,
            created_by_id=citizen_user.id,
            channel=Channel.online,
            status="completed",
            form_data={"name": citizen.name},
            submitted_at=submitted,
            accepted_at=submitted,
            decided_at=submitted + timedelta(days=3),
            completed_at=submitted + timedelta(days=3),
            due_date=clock.local_date(submitted + timedelta(days=10)),
        )
        app.materials = [
            ApplicationMaterial(requirement=r, satisfied_by=SatisfiedBy.library, verdict="ok")
            for r in version.requirements
            if r.necessity == "required"
        ]
        db.session.add(app)
        db.session.flush()
        for action in ("submitted", "accepted", "approved", "completed"):
            audit.record_event(
                action,
                actor=reviewer if action != "submitted" else citizen_user,
                application_id=app.id,
                details={"seed": "demo history"},
            )
        issued_on = clock.local_date(app.decided_at)
        app.delivery_method = "online"
        app.delivered_at = app.completed_at
        issue_elicence(
            holder=citizen,
            material_type=mt,
            department=item.department,
            issued_on=issued_on,
            valid_until=result_valid_until(version, mt, issued_on),  # the item's term
            application_id=app.id,
            public_base_url=current_app.config["PUBLIC_BASE_URL"],
        )


def load_draft(citizen_user: User, items: dict[str, ServiceItem]) -> None:
    """13800000001 left an application half-way: a saved draft to resume."""
    from services import applications

    item = next(i for i in items.values() if i.published_version.name == "失业登记")
    draft = applications.start_draft(actor=citizen_user, applicant=citizen_user.citizen, item=item)
    conditions = {q["key"]: q["options"][0][0] for q in item.published_version.condition_questions}
    applications.save_conditions(draft, conditions)


def load_extra_citizens(count: int = 30) -> None:
    """Citizens met at counters, with no online account, for the counter's lookup."""
    fake = make_faker()
    rng = random.Random(7)
    for _ in range(count):
        person = make_person(fake, rng)
        if accounts.find_citizen_by_id_number(person["id_number"]) is None:
            accounts.find_or_create_citizen(
                name=person["name"],
                id_number=person["id_number"],
                phone=None,
                address=person["address"],
            )


def load_review_queue() -> None:
    """Cases waiting in the demo reviewers' queues, submitted online by 13800000003 (王秀兰):
    for 市公安局 a 居住证 with uploaded scans and a 居住登记 on commitment (秒批 fails: no
    身份证 e-licence), for 市人社局 a 失业登记 with the dismissal proof deferred (容缺)."""
    from seeds.cases import submit_case

    submit_case("13800000003", "居住证申领", {"basis": "work", "agent": "no"})
    submit_case(
        "13800000003", "居住登记", {"housing": "rent"}, options={"房屋租赁合同": "commitment"}
    )
    submit_case(
        "13800000003",
        "失业登记",
        {"reason": "dismissed"},
        options={"解除或终止劳动关系证明": "deferred"},
    )


def drop_demo_texts() -> None:
    """The demo's messages stay in the message centre, but no text message is queued for
    phones that only exist in the demo."""
    from portal.models import OutboxMessage

    db.session.execute(delete(OutboxMessage).where(OutboxMessage.status == "pending"))


def load_demo() -> bool:
    """Load everything once; returns False when it was already there."""
    if is_loaded():
        return False
    items = load_catalogue(admin=None)
    users = load_accounts()
    load_history(users["13800000001"], users["reviewer01"], items)
    load_draft(users["13800000001"], items)
    load_extra_citizens()
    load_review_queue()
    load_halls([users["counter01"]])
    load_demo_bookings()
    drop_demo_texts()
    audit.record_event("demo_loaded", actor=users["admin"], details={"items": len(items)})
    return True
