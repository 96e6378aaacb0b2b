"""Citizen and staff journeys over HTTP, through the real pages and forms, for scripts/bench.py
and scripts/locustfile.py.

Every function takes a requests.Session (locust's HttpSession is one), a base URL ("" for
locust, whose client prefixes the host itself) and plain values; nothing here imports the
portal, so the locust process stays free of it. A step that does not answer as a browser
would see it raises JourneyError naming the step, the status and where it was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DRAFT = re.compile(r"/apply/drafts/(\d+)/")
PREFILLED = re.compile(r'name="(q_\w+)" id="q_\w+" value="([^"]*)"')
UPLOAD_ACTION = re.compile(r'action="(/apply/drafts/\d+/materials/\d+/upload)"')
SUBMIT_TOKEN = re.compile(r'name="token" value="([^"]+)"')
CASE = re.compile(r"/cases/(\d+)$")

# 居民身份证换领 (demo catalogue): two condition questions, a form the account prefills, one
# photo to upload. The answers below lead to the plain path (本市户籍, not a minor).
ITEM = "330100GA0004"
CONDITIONS = {"c_hukou_local": "yes", "c_minor": "no"}
FORM_EXTRA = {"q_delivery": "post"}


class JourneyError(Exception):
    pass


@dataclass
class Draft:
    id: int
    token: str  # the confirm page's one-time submit token
    csrf: str


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise JourneyError("no CSRF token on the page")
    return match[1]


def expect(response, step: str, *statuses: int) -> None:
    if response.status_code not in statuses:
        where = response.headers.get("Location", "")
        raise JourneyError(f"{step}: HTTP {response.status_code} {where}".rstrip())


def login(session, base: str, login_name: str, password: str) -> str:
    """Log in through the login form; returns where the portal sent the user afterwards."""
    page = session.get(f"{base}/auth/login", name="/auth/login")
    expect(page, "login page", 200)
    response = session.post(
        f"{base}/auth/login",
        data={"login": login_name, "password": password, "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
        name="/auth/login",
    )
    expect(response, f"login {login_name}", 302)
    target = response.headers["Location"]
    if "/auth/second-factor" in target or "/auth/enrol" in target:
        raise JourneyError(f"login {login_name}: asks for a second factor ({target})")
    return target


def cookie_header(session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def prepare_application(session, base: str, upload: bytes) -> Draft:
    """Start an application, answer the conditions, keep the prefilled form, upload the photo,
    go on to the confirm page: everything a citizen does before pressing 提交."""
    page = session.get(f"{base}/apply/{ITEM}", name="/apply/[item]")
    expect(page, "apply page", 200)
    csrf = csrf_of(page.text)
    started = session.post(
        f"{base}/apply/{ITEM}/start",
        data={"csrf_token": csrf},
        allow_redirects=False,
        name="/apply/[item]/start",
    )
    expect(started, "start", 302)
    match = DRAFT.search(started.headers["Location"])
    if not match:
        raise JourneyError(f"start: sent to {started.headers['Location']}")
    draft = int(match[1])
    prefix = f"{base}/apply/drafts/{draft}"
    response = session.post(
        f"{prefix}/conditions",
        data={"csrf_token": csrf, **CONDITIONS},
        allow_redirects=False,
        name="/apply/drafts/[id]/conditions",
    )
    expect(response, "conditions", 302)
    form = session.get(f"{prefix}/form", name="/apply/drafts/[id]/form")
    expect(form, "form page", 200)
    response = session.post(
        f"{prefix}/form",
        data={**dict(PREFILLED.findall(form.text)), **FORM_EXTRA, "csrf_token": csrf},
        allow_redirects=False,
        name="/apply/drafts/[id]/form",
    )
    expect(response, "form", 302)
    materials = session.get(f"{prefix}/materials", name="/apply/drafts/[id]/materials")
    expect(materials, "materials page", 200)
    for action in UPLOAD_ACTION.findall(materials.text):
        response = session.post(
            f"{base}{action}",
            data={"csrf_token": csrf},
            files={"file": ("scan.png", upload, "image/png")},
            allow_redirects=False,
            name="/apply/drafts/[id]/materials/[req]/upload",
        )
        expect(response, "upload", 302)
    response = session.post(
        f"{prefix}/materials",
        data={"csrf_token": csrf},
        allow_redirects=False,
        name="/apply/drafts/[id]/materials",
    )
    expect(response, "materials", 302)
    confirm = session.get(f"{prefix}/confirm", name="/apply/drafts/[id]/confirm")
    expect(confirm, "confirm page", 200)
    token = SUBMIT_TOKEN.search(confirm.text)
    if not token:
        raise JourneyError("confirm page: no submit token (a material still missing?)")
    return Draft(draft, token[1], csrf)


def submit(session, base: str, draft: Draft) -> int:
    """Press 提交 (with consent); returns the case id the portal sent the citizen to."""
    response = session.post(
        f"{base}/apply/drafts/{draft.id}/submit",
        data={"csrf_token": draft.csrf, "token": draft.token, "consent": "y"},
        allow_redirects=False,
        name="/apply/drafts/[id]/submit",
    )
    expect(response, "submit", 302)
    match = CASE.search(response.headers["Location"])
    if not match:
        raise JourneyError(f"submit: sent to {response.headers['Location']} (not a case page)")
    return int(match[1])
