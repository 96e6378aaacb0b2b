"""我的材料, the data-use log and the public e-licence check. Document 1 is 13800000001's
居民身份证 (demo seed); staff without a case that uses it are told it does not exist."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import ELicence
from tests.access import ALL_200, CITIZEN_ONLY

OWNER_OR_NOT_FOUND = {
    "anonymous": 302,
    "citizen": 200,
    "counter": 404,
    "reviewer": 404,
    "admin": 404,
}


def licence_code_path() -> str:
    """The page the first demo licence's QR code opens."""
    return f"/verify/c/{db.session.scalar(select(ELicence.verify_code).order_by(ELicence.id))}"


GET = {
    "documents.index": ("/documents/", CITIZEN_ONLY),
    "documents.upload": ("/documents/upload", CITIZEN_ONLY),
    "documents.data_use_log": ("/documents/data-use", CITIZEN_ONLY),
    "documents.view": ("/documents/1/view", OWNER_OR_NOT_FOUND),
    "documents.download": ("/documents/1/download", OWNER_OR_NOT_FOUND),
    "elicences.verify": ("/verify", ALL_200),
    "elicences.verify_by_code": (licence_code_path, ALL_200),
}
POST_ONLY = {
    "documents.delete": "/documents/1/delete",
}
