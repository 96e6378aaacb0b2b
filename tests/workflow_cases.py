"""Submitted cases for the workflow's service, route, access and browser tests: the demo seed's
own builders (seeds/cases.py), plus the items the tests use. Call inside an app context."""

from seeds.cases import item_named, submit_case, upload, user

RESIDENCE_PERMIT = "居住证申领"  # 公安局, 7 自然日, photo and 身份证 required
UNEMPLOYMENT = "失业登记"  # 人社局, 即办件, a deferrable material when dismissed
RESIDENCE_REGISTRATION = "居住登记"  # 公安局, 即办件, 告知承诺 for a rented home; 秒批 rules
ELDER_CARD = "老年人优待证申领"  # 民政局, 秒批: min_age 60 and an 身份证 e-licence

__all__ = [
    "ELDER_CARD",
    "RESIDENCE_PERMIT",
    "RESIDENCE_REGISTRATION",
    "UNEMPLOYMENT",
    "item_named",
    "submit_case",
    "upload",
    "user",
]
