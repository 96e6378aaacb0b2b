"""Applying: citizens only; a citizen's drafts and cases are theirs alone."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, User
from tests.access import ROLES

OWNER_ONLY = {"anonymous": 302, "citizen": 200, "counter": 403, "reviewer": 403, "admin": 403}
# the matrix logs in as 13800000001: another citizen's objects must be 404 for them
OTHERS = dict.fromkeys(ROLES, 403) | {"anonymous": 302, "citizen": 404}


def _draft_of(phone: str) -> Application:
    """The citizen's open draft (the demo's 失业登记); made again if another path submitted it."""
    owner = db.session.scalar(select(User).where(User.phone == phone))
    draft = db.session.scalar(
        select(Application)
        .where(
            Application.applicant_id == owner.citizen_id,
            Application.status == "draft",
            Application.parent_id.is_(None),
            Application.bundle_id.is_(None),
        )
        .order_by(Application.id)
    )
    if draft is None:
        from portal.models import ItemVersion, ServiceItem
        from services import applications

        item = db.session.scalar(
            select(ServiceItem)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .where(ItemVersion.name == "失业登记")
        )
        draft = applications.start_draft(actor=owner, applicant=owner.citizen, item=item)
        db.session.commit()
    return draft


def _case_of(phone: str) -> Application:
    owner = db.session.scalar(select(User).where(User.phone == phone))
    return db.session.scalar(
        select(Application).where(
            Application.applicant_id == owner.citizen_id, Application.status != "draft"
        )
    )


def _item_code() -> str:
    return _draft_of("13800000001").item_version.item.code


def _bundle_draft() -> int:
    """A 出生一件事 draft of 13800000001's, made (and committed into the test's transaction) on demand."""
    from portal.models import Bundle
    from services import bundle_applications

    owner = db.session.scalar(select(User).where(User.phone == "13800000001"))
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
    parent = bundle_applications.start_bundle_draft(
        actor=owner, applicant=owner.citizen, bundle=bundle
    )
    db.session.commit()
    return parent.id


def bundle_path(step: str):
    return lambda: f"/apply/bundles/{_bundle_draft()}/{step}"


def draft_path(step: str):
    return lambda: f"/apply/drafts/{_draft_of('13800000001').id}/{step}"


GET = {
    "apply.start": (lambda: f"/apply/{_item_code()}", OWNER_ONLY),
    "apply.conditions": (draft_path("conditions"), OWNER_ONLY),
    "apply.form": (draft_path("form"), OWNER_ONLY),
    "apply.materials": (draft_path("materials"), OWNER_ONLY),
    "apply.confirm": (draft_path("confirm"), OWNER_ONLY),
    "apply.cases": ("/cases", OWNER_ONLY),
    "apply.case": (lambda: f"/cases/{_case_of('13800000001').id}", OWNER_ONLY),
    "apply.message_centre": ("/messages", OWNER_ONLY),
    "apply.bundle_start": ("/apply/bundle/B001", OWNER_ONLY),
    "apply.bundle_conditions": (bundle_path("conditions"), OWNER_ONLY),
    "apply.bundle_form": (bundle_path("form"), OWNER_ONLY),
    "apply.bundle_materials": (bundle_path("materials"), OWNER_ONLY),
    "apply.bundle_confirm": (bundle_path("confirm"), OWNER_ONLY),
    "apply.proxies_page": ("/proxies", OWNER_ONLY),
}
POST_ONLY = {
    "apply.create_draft": lambda: f"/apply/{_item_code()}/start",
    "apply.autosave": draft_path("autosave"),
    "apply.submit": draft_path("submit"),
    "apply.delete_draft": draft_path("delete"),
    "apply.withdraw": lambda: f"/cases/{_case_of('13800000001').id}/withdraw",
    "apply.mark_messages_read": "/messages/read",
    "apply.bundle_create": "/apply/bundle/B001/start",
    "apply.upload_material": lambda: (
        f"/apply/drafts/{_draft_of('13800000001').id}/materials/1/upload"
    ),
    "apply.bundle_submit": bundle_path("submit"),
    "apply.bundle_upload": bundle_path("materials/1/upload"),
    "apply.revoke_proxy": "/proxies/1/revoke",
}
