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
UPLOAD_REQUIREMENT = re.compile(r"/materials/(\d+)/upload")
INPUT = re.compile(r"<input\b[^>]*>")
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
    reused: int = 0  # materials given from the citizen's library instead of an upload


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise JourneyError("no CSRF token on the page")
    return match[1]


def library_choices(html: str) -> dict[str, str]:
    """Requirement id → the first library document offered for it (value "doc:<id>")."""
    choices: dict[str, str] = {}
    for tag in INPUT.findall(html):
        name = re.search(r'name="m_(\d+)"', tag)
        value = re.search(r'value="(doc:\d+)"', tag)
        if name and value:
            choices.setdefault(name[1], value[1])
    return choices


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
    choices = library_choices(materials.text)
    for action in UPLOAD_ACTION.findall(materials.text):
        if UPLOAD_REQUIREMENT.search(action)[1] in choices:
            continue  # reused from the library: nothing to upload
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
        data={"csrf_token": csrf, **{f"m_{req}": value for req, value in choices.items()}},
        allow_redirects=False,
        name="/apply/drafts/[id]/materials",
    )
    expect(response, "materials", 302)
    confirm = session.get(f"{prefix}/confirm", name="/apply/drafts/[id]/confirm")
    expect(confirm, "confirm page", 200)
    token = SUBMIT_TOKEN.search(confirm.text)
    if not token:
        raise JourneyError("confirm page: no submit token (a material still missing?)")
    return Draft(draft, token[1], csrf, reused=len(choices))


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


# ---------------------------------------------------------------- the soak's other journeys

BROWSE = ("/", "/catalogue", "/search?q=居住证", "/search?q=社保", f"/items/{ITEM}")
# review actions that need nothing but the case's version, in the order a case moves
SIMPLE_ACTIONS = (
    "claim",
    "accept",
    "materials_complete",
    "start_review",
    "approve",
    "certify",
    "deliver",
    "confirm_receipt",
)
ACTION_FORM = re.compile(
    r'<form[^>]*action="(/review/cases/\d+/actions/(\w+))"[^>]*>(.*?)</form>', re.S
)
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def browse(session, base: str, rng) -> None:
    """Home, then a couple of the public pages, then a guide found in the catalogue."""
    for path in ("/", rng.choice(BROWSE)):
        expect(session.get(f"{base}{path}", name=path.split("?")[0]), f"browse {path}", 200)
    catalogue = session.get(f"{base}/catalogue", name="/catalogue")
    expect(catalogue, "catalogue", 200)
    items = re.findall(r'href="(/items/\w+)"', catalogue.text)
    if items:
        guide = session.get(f"{base}{rng.choice(items)}", name="/items/[code]")
        expect(guide, "guide", 200)


def review_one(session, base: str, rng) -> str | None:
    """Open the queue and a case in it, and take the next simple step; returns the action."""
    queue = session.get(f"{base}/review/", name="/review/")
    expect(queue, "review queue", 200)
    cases = re.findall(r'href="/review/cases/(\d+)"', queue.text)
    if not cases:
        return None
    case = rng.choice(cases[:20])
    page = session.get(f"{base}/review/cases/{case}", name="/review/cases/[id]")
    expect(page, "review case", 200)
    offered = {action: (url, body) for url, action, body in ACTION_FORM.findall(page.text)}
    for action in SIMPLE_ACTIONS:
        if action in offered:
            url, body = offered[action]
            response = session.post(
                f"{base}{url}",
                data={"csrf_token": csrf_of(page.text), **dict(HIDDEN.findall(body))},
                allow_redirects=False,
                name=f"/review/cases/[id]/actions/{action}",
            )
            expect(response, f"review {action}", 302)
            return action
    return None


def rate_a_case(session, base: str, rng) -> bool:
    """Rate one of the citizen's cases that asks for a rating (best marks); False if none."""
    cases = session.get(f"{base}/cases", name="/cases")
    expect(cases, "my cases", 200)
    ids = re.findall(r'href="/cases/(\d+)"', cases.text)
    rng.shuffle(ids)
    for case in ids[:5]:
        form = session.get(f"{base}/cases/{case}/rate", name="/cases/[id]/rate")
        if form.status_code != 200:
            continue  # not ready for a rating, or rated already
        marks: dict[str, str] = {}
        for tag in INPUT.findall(form.text):
            name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="(\d+)"', tag)
            if 'type="radio"' in tag and name and value:
                marks[name[1]] = max(marks.get(name[1], "0"), value[1])
        response = session.post(
            f"{base}/cases/{case}/rate",
            data={"csrf_token": csrf_of(form.text), **marks},
            allow_redirects=False,
            name="/cases/[id]/rate",
        )
        expect(response, "rate", 302)
        return True
    return False


def take_ticket(session, base: str, hall: str, rng) -> None:
    """At the hall's 取号 page, take a ticket for one of its categories."""
    page = session.get(f"{base}/queue/{hall}/", name="/queue/[hall]/")
    expect(page, "queue page", 200)
    categories = re.findall(r'name="category" value="(\w+)"', page.text)
    if not categories:
        raise JourneyError("queue page: no category to take a ticket for")
    response = session.post(
        f"{base}/queue/{hall}/tickets",
        data={"csrf_token": csrf_of(page.text), "category": rng.choice(categories)},
        allow_redirects=False,
        name="/queue/[hall]/tickets",
    )
    expect(response, "take a ticket", 302, 303)
