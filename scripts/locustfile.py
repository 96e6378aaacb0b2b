"""The soak's simulated people (run by scripts/soak.py in its own process: locust patches the
standard library with gevent, so nothing else imports this file).

SOAK_HOSTS lists the portal nodes (comma-separated base URLs); each simulated user stays on
one node, taken in turn, so the users are spread over all of them. SOAK_LEDGER is a file to
which every acknowledged submission's case id is appended, for the reconciliation afterwards.
SOAK_HALL is the hall whose 取号 page is used.

- Citizen (most users): logs in as its own account (17000000002 …, the scale seed's), then
  browses, searches, applies (the first time uploading the photo, later reusing it from the
  library) and submits, and takes a ticket.
- Holder (17000000001, 50 cases): looks at 我的办件 and 我的材料, and rates a finished case.
- Reviewer (reviewer01 / reviewer02): opens the queue and a case, takes the next step
  (claim, accept, approve, …); a 409 when two reviewers act on one case at once is expected.
"""

from __future__ import annotations

import itertools
import os
import random
import sys
from pathlib import Path

from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parent))

import journeys  # noqa: E402  (scripts/ is on sys.path)

HOSTS = [h for h in os.environ.get("SOAK_HOSTS", "").split(",") if h]
LEDGER = os.environ.get("SOAK_LEDGER", "")
HALL = os.environ.get("SOAK_HALL", "SMZX")
PASSWORD = "Demo@2026"
UPLOAD = Path(os.environ["SOAK_UPLOAD"]).read_bytes() if os.environ.get("SOAK_UPLOAD") else b""
_accounts = itertools.count(2)  # 17000000002 …: one account per simulated citizen
_nodes = itertools.count()
_reviewers = itertools.cycle(("reviewer01", "reviewer02"))


def phone(n: int) -> str:
    return f"170{n:08d}"


class PortalUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)
    host = HOSTS[0] if HOSTS else "http://127.0.0.1"

    def on_start(self) -> None:
        if HOSTS:
            self.client.base_url = HOSTS[next(_nodes) % len(HOSTS)]
        self.rng = random.Random()


class Citizen(PortalUser):
    weight = 8

    def on_start(self) -> None:
        super().on_start()
        self.login_name = phone(next(_accounts))
        journeys.login(self.client, "", self.login_name, PASSWORD)

    @task(4)
    def browse(self) -> None:
        journeys.browse(self.client, "", self.rng)

    @task(3)
    def apply_and_submit(self) -> None:
        draft = journeys.prepare_application(self.client, "", UPLOAD)
        case = journeys.submit(self.client, "", draft)
        if LEDGER:
            with open(LEDGER, "a") as ledger:  # O_APPEND: one short line per write
                ledger.write(f"{case} {self.login_name} {draft.reused}\n")

    @task(1)
    def take_ticket(self) -> None:
        journeys.take_ticket(self.client, "", HALL, self.rng)


class Holder(PortalUser):
    weight = 1
    fixed_count = 1  # one person, 17000000001

    def on_start(self) -> None:
        super().on_start()
        journeys.login(self.client, "", phone(1), PASSWORD)

    @task(3)
    def my_pages(self) -> None:
        for path in ("/cases", "/documents/"):
            journeys.expect(self.client.get(path, name=path), path, 200)

    @task(1)
    def rate(self) -> None:
        journeys.rate_a_case(self.client, "", self.rng)


class Reviewer(PortalUser):
    weight = 2

    def on_start(self) -> None:
        super().on_start()
        journeys.login(self.client, "", next(_reviewers), PASSWORD)

    @task
    def review(self) -> None:
        journeys.review_one(self.client, "", self.rng)
