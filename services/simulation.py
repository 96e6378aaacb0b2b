"""`flask simulate`: a reproducible stretch of plausible activity, replayed through the services.

Every step is the service function a page calls: citizens register (实名注册) or are registered
at a counter, apply online, at the kiosk or at a counter after taking a queue ticket (some with
an appointment booked days before, some of whom never come), reuse their library as it grows,
give a material as 容缺 or 告知承诺 where the item allows it; reviewers pre-check (once in a
while with the one-time correction notice), accept, step through the guide's steps and decide
within or past the promised limit on the working-day calendar; 秒批 items decide themselves,
一件事 bundles fan out to their departments; results go out by the chosen method (online,
pickup at a counter, post); citizens rate, bad ratings are followed up, 告知承诺 cases are
post-checked. Nothing is inserted behind the services' back.

Time: the run covers the ``days`` days before today (local), so every recorded instant is in
the past. It is a discrete-event simulation: each event carries its instant, events run in
order, and the clock the whole portal reads (``datetime.now``) is moved to the event's instant
with time-machine (a test dependency: the command is for demo and test instances only).

Reproducible: one ``random.Random(seed)`` drives every choice, and events of the same instant
run in the order they were scheduled, so the same seed on a copy of the same database makes the
same cases with the same numbers. The odds live in one table, ``ODDS``.
"""

from __future__ import annotations

import heapq
import itertools
import random
import secrets
import time as wallclock
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import time_machine
from flask_babel import force_locale
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import (
    Application,
    AppointmentSlot,
    Bundle,
    Citizen,
    CounterWindow,
    Department,
    FollowUpTicket,
    ItemVersion,
    MaterialType,
    OutboxMessage,
    PostCheckTask,
    Role,
    SatisfiedBy,
    ServiceHall,
    ServiceItem,
    User,
)
from seeds.factories import make_faker, make_id_number, make_png
from services import (
    accounts,
    applications,
    appointments,
    bundle_applications,
    clock,
    counter,
    documents,
    elicences,
    jobs,
    kiosk,
    materials,
    queue,
    ratings,
    workdays,
    workflow,
)
from services.delivery import DELIVERY_QUESTION
from services.errors import DomainError

# ---- the odds: one table, each row documented ---------------------------------------------


@dataclass(frozen=True)
class Odds:
    """Every probability and rate of the simulation (shares are 0..1)."""

    cases_per_citizen_year: float = 1.3  # new applications per citizen per year (all channels)
    weekend_share: float = 0.25  # a weekend day sees this share of a working day's online cases
    returning: float = 0.45  # a new case comes from someone who has applied before
    online_account: float = 0.75  # citizens who register an online account (the rest: counter)
    id_elicence: float = 0.6  # … who then hold the 居民身份证 e-licence (电子身份证: 秒批 needs it)
    channel_online: float = 0.55  # of account holders' cases: applied for online (网上办)
    channel_kiosk: float = 0.08  # … at a hall's self-service kiosk (kiosk items only)
    channel_bundle: float = 0.04  # … as a 一件事 bundle, online
    # the rest of account holders' cases, and all others', are made at a counter
    booked: float = 0.35  # of counter visits by account holders: booked ahead (预约)
    no_show: float = 0.08  # a booked appointment is not kept
    township_hall: float = 0.2  # a counter visit is at the township centre, not the city's
    deferred: float = 0.5  # a deferrable material (容缺) is given later rather than now
    commitment: float = 0.55  # a material that allows 告知承诺 is replaced by the commitment
    correction: float = 0.07  # the pre-check sends the one-time correction notice (一次性告知)
    never_resubmits: float = 0.1  # of corrected cases: the citizen never comes back
    not_accepted: float = 0.01  # the pre-check refuses (不予受理: another department's remit)
    counter_accepts: float = 0.85  # a counter clerk accepts a complete intake on the spot
    withdrawn: float = 0.015  # the citizen withdraws the case soon after submitting it
    supply_missed: float = 0.06  # a 容缺 material never comes (the job terminates the case)
    late: float = 0.06  # the decision comes after the promised date (超期)
    denied: float = 0.03  # the decision is 不予许可
    false_commitment: float = 0.03  # the 告知承诺 post-check finds the commitment untrue
    rates_case: float = 0.6  # an account holder rates the finished case (一事一评)
    rates_visit: float = 0.25  # … and rates an in-person visit (一次一评)
    # scores 5..1 of a rating (GB/T 39734: 非常满意 … 非常不满意)
    scores: tuple[tuple[int, float], ...] = (
        (5, 0.74),
        (4, 0.17),
        (3, 0.05),
        (2, 0.025),
        (1, 0.015),
    )
    appeal: float = 0.2  # a follow-up ticket is appealed by the department (申诉)
    wait_minutes: tuple[int, int] = (1, 20)  # a walk-in's arrival spread before the first call
    service_minutes: tuple[int, int] = (4, 18)  # a clerk's time per ticket (uniform)
    review_delay_hours: tuple[int, int] = (1, 12)  # working hours from submission to pre-check


ODDS = Odds()

HALL_OPENS, HALL_CLOSES = time(9), time(16, 30)
REVIEW_START, REVIEW_END = 9, 17  # reviewers act between these local hours on working days
PERSON_AUDIENCE = "person"
ID_CARD_CODE, ID_CARD_ISSUER = "M001", "GA"  # 居民身份证, issued by 市公安局
SIMULATION_MARK = "sim"
PICKUP_REASON = "申请人选择到窗口领取办理结果"  # a visit the guide did not ask for: the citizen's choice  # staff account names made by the simulation start with it


def _png_bytes() -> bytes:
    return make_png(width=160, height=100)


def _years(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _min_age(version: ItemVersion) -> int:
    return max(
        (
            int(((q.get("rules") or {}).get("date") or {}).get("min_age") or 0)
            for q in version.questions or []
        ),
        default=0,
    )


def _stale_date(question: dict, value: Any) -> bool:
    """A prefilled answer this question refuses: a date from an earlier case that the rule now
    refuses (须不早于今天), or a choice another item's question offered (选项不正确)."""
    kind = question.get("type")
    if kind in ("select", "multiselect") and value not in (None, "", []):
        options = {str(o[0]) for o in question.get("options") or []}
        return not {str(v) for v in (value if isinstance(value, list) else [value])} <= options
    rules = (question.get("rules") or {}).get("date") or {}
    if kind != "date" or not rules.get("not_past") or not value:
        return False
    try:
        return date.fromisoformat(str(value)) < clock.local_today()
    except ValueError:
        return True


# ---- the report --------------------------------------------------------------------------


@dataclass
class SimulationReport:
    days: int = 0
    events: int = 0
    seconds: float = 0.0
    counts: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)

    @property
    def cases(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("case_"))

    def rate(self, n: int) -> float:
        return n / self.seconds if self.seconds else 0.0


# ---- people -------------------------------------------------------------------------------


@dataclass
class Person:
    index: int
    name: str
    id_number: str
    phone: str
    address: str
    online: bool  # will hold an online account
    born: date | None = None
    citizen_id: int | None = None
    user_id: int | None = None
    cases: int = 0


@dataclass
class Visit:
    """One trip to a hall: what the person comes for."""

    person: Person
    purpose: str  # intake, resubmit, pickup
    item: ServiceItem | None = None
    case_id: int | None = None
    appointment_code: str = ""


class Simulation:
    def __init__(
        self,
        *,
        days: int,
        citizens: int,
        seed: int,
        until: date | None = None,
        odds: Odds = ODDS,
        progress: Callable[[int], Any] | None = None,
    ) -> None:
        self.days, self.citizens, self.seed, self.odds = days, citizens, seed, odds
        self.rng = random.Random(seed)
        self.last_day = until or (clock.local_today() - timedelta(days=1))
        self.first_day = self.last_day - timedelta(days=days - 1)
        self.progress = progress
        self.report = SimulationReport(days=days)
        self._heap: list[tuple[datetime, int, Callable, tuple]] = []
        self._seq = itertools.count()
        self._busy: set[int] = set()  # clerks serving someone, until their finish event runs
        self._ticket_visits: dict[int, Visit] = {}  # waiting ticket id → the visit
        self._waiting: Counter = Counter()  # hall id → tickets taken and not yet called
        self._png = _png_bytes()
        self._password = secrets.token_urlsafe(24) + "Aa1!"  # nobody knows it: no one logs in
        self._password_hash = ""

    # ---- the event loop --------------------------------------------------------------------

    def at(self, when: datetime, fn: Callable, *args: Any) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), fn, args))

    def run(self) -> SimulationReport:
        started = wallclock.perf_counter()
        end = clock.local_instant(self.last_day + timedelta(days=1), time.min)
        begin = clock.local_instant(self.first_day, time(6))
        with time_machine.travel(begin, tick=False) as traveller, force_locale("zh_CN"):
            self._setup()
            db.session.commit()
            self._plan()
            current = self.first_day
            while self._heap and self._heap[0][0] < end:
                when, _seq, fn, args = heapq.heappop(self._heap)
                day = clock.local_date(when)
                while day > current:  # the evening of each day that ended
                    self._close_day(current, traveller)
                    current += timedelta(days=1)
                traveller.move_to(when)
                self._step(fn, args)
            while current <= self.last_day:
                self._close_day(current, traveller)
                current += timedelta(days=1)
            self._finish()
            db.session.commit()
        self.report.seconds = wallclock.perf_counter() - started
        return self.report

    def _step(self, fn: Callable, args: tuple) -> None:
        self.report.events += 1
        try:
            with db.session.begin_nested():
                fn(*args)
        except DomainError as exc:
            self.report.refused[f"{fn.__name__}: {exc}"[:160]] += 1
            db.session.expire_all()

    def _close_day(self, day: date, traveller) -> None:
        """The scheduled jobs of the evening (missed 容缺 deadlines, no-shows, overdue flags,
        slots four weeks ahead), then the day's transaction is committed."""
        traveller.move_to(clock.local_instant(day, time(23, 50)))
        db.session.commit()  # the jobs commit unit by unit themselves
        jobs.flag_deemed_acceptance(day)
        jobs.flag_overdue(day)
        jobs.terminate_missed_deferrals(day)
        jobs.mark_missed_appointments(clock.local_now())
        jobs.roll_appointment_slots(day + timedelta(days=1))
        db.session.commit()
        if self.progress is not None:
            self.progress(1)

    # ---- setup: staff, windows, people, the plan of arrivals -----------------------------

    def _setup(self) -> None:
        self.admin = db.session.scalar(select(User).where(User.role == Role.admin).limit(1))
        if self.admin is None:
            raise DomainError("the simulation needs the demo data (flask seed demo)")
        self.items = [
            i
            for i in db.session.scalars(select(ServiceItem).order_by(ServiceItem.id))
            if i.published_version is not None and i.published_version.audience == PERSON_AUDIENCE
        ]
        self.kiosk_items = [i for i in self.items if i.kiosk_enabled]
        # weights read once: after each commit the items are expired, and reading every item's
        # popularity again cost a query per item for each case
        self._weights = {
            id(items): [max(i.popularity or 0, 1) for i in items]
            for items in (self.items, self.kiosk_items)
        }
        # the age an item's form asks of the applicant (a date question's min_age rule)
        self._min_age = {i.id: _min_age(i.published_version) for i in self.items}
        self.bundles = list(db.session.scalars(select(Bundle).order_by(Bundle.id)))
        self._bundle_min_age = {
            b.id: max(
                (_min_age(e.item.published_version) for e in b.entries if e.item.published_version),
                default=0,
            )
            for b in self.bundles
        }
        self.halls = list(
            db.session.scalars(
                select(ServiceHall).where(ServiceHall.active.is_(True)).order_by(ServiceHall.id)
            )
        )
        self.reviewers = self._reviewers()
        id_type = db.session.scalar(select(MaterialType).where(MaterialType.code == ID_CARD_CODE))
        issuer = db.session.scalar(select(Department).where(Department.code == ID_CARD_ISSUER))
        self.id_card = (
            (id_type, issuer) if id_type and issuer and id_type.licence_type_code else None
        )
        self.clerks = self._clerks()
        jobs.roll_appointment_slots(self.first_day)
        self._password_hash = accounts.hash_password(self._password)
        self.people = self._people()
        self.active: list[Person] = []
        self.active_online: list[Person] = []
        self.fresh = iter(self.people)

    def _staff(self, username: str, role: Role, name: str, department: Department) -> User:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = accounts.create_staff(
                username=username,
                password=self._password,
                role=role,
                display_name=name,
                department=department,
            )
        return user

    def _reviewers(self) -> dict[int, User]:
        """One reviewer per department that has items (made once, kept for later runs)."""
        result = {}
        dept_ids = sorted({i.published_version.department_id for i in self.items})
        for dept in db.session.scalars(
            select(Department).where(Department.id.in_(dept_ids)).order_by(Department.id)
        ):
            result[dept.id] = self._staff(
                f"{SIMULATION_MARK}-rv-{dept.code.lower()}", Role.reviewer, "模拟审批员", dept
            )
        return result

    def _clerks(self) -> dict[int, list[User]]:
        """A clerk at every window of every hall, seated (left again when the run ends)."""
        centre = db.session.scalar(
            select(Department).where(Department.name.contains("政务服务")).limit(1)
        ) or db.session.scalar(select(Department).order_by(Department.id).limit(1))
        result: dict[int, list[User]] = {}
        for hall in self.halls:
            for window in db.session.scalars(
                select(CounterWindow)
                .where(CounterWindow.hall_id == hall.id, CounterWindow.active.is_(True))
                .order_by(CounterWindow.number)
            ):
                clerk = self._staff(
                    f"{SIMULATION_MARK}-ck-{hall.code.lower()}-{window.number}",
                    Role.counter,
                    f"模拟窗口 {window.number}",
                    centre,
                )
                clerk.hall_id = hall.id
                db.session.flush()
                try:
                    queue.choose_window(clerk, window.id)
                except DomainError:
                    continue  # a colleague sits there
                result.setdefault(hall.id, []).append(clerk)
        return result

    def _people(self) -> list[Person]:
        """The population: fake names, valid fake 身份证号 (checksum), unique fake phones."""
        fake = make_faker(self.seed)
        rng = random.Random(self.seed * 7919 + 1)
        taken: set[str] = set()
        people = []
        for index in range(self.citizens):
            born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 62))
            female = rng.random() < 0.5
            while True:
                id_number = make_id_number(born, rng, female=female)
                if id_number not in taken:
                    break
                born += timedelta(days=1)
            taken.add(id_number)
            people.append(
                Person(
                    index=index,
                    name=fake.name_female() if female else fake.name_male(),
                    id_number=id_number,
                    phone=f"147{(self.seed % 10)}{index:07d}",
                    address=fake.street_address()[:60],
                    online=rng.random() < self.odds.online_account,
                    born=born,
                )
            )
        return people

    def _plan(self) -> None:
        """Every day's arrivals, planned up front (a booking is made days before its visit)."""
        odds = self.odds
        days = [self.first_day + timedelta(days=n) for n in range(self.days)]
        weights = [1.0 if workdays.is_workday(d) else odds.weekend_share for d in days]
        total = self.citizens * odds.cases_per_citizen_year * self.days / 365
        per_weight = total / sum(weights)
        for day, weight in zip(days, weights, strict=True):
            expected = per_weight * weight
            count = int(expected) + (self.rng.random() < expected - int(expected))
            for _ in range(count):
                self._plan_arrival(day, workdays.is_workday(day))

    def _plan_arrival(self, day: date, workday: bool) -> None:
        odds, rng = self.odds, self.rng
        minute = rng.randint(0, 59)
        roll = rng.random()
        kind = "counter"
        if roll < odds.channel_online:
            kind = "online"
        elif roll < odds.channel_online + odds.channel_kiosk:
            kind = "kiosk"
        elif roll < odds.channel_online + odds.channel_kiosk + odds.channel_bundle:
            kind = "bundle"
        if not workday and kind != "online":
            kind = "online"  # halls are closed
        if kind == "counter":
            when = clock.local_instant(day, time(rng.randint(9, 15), minute))
            booked = rng.random() < odds.booked
            lead = rng.randint(1, 6)
            if booked and day - timedelta(days=lead) >= self.first_day:
                booking_day = day - timedelta(days=lead)
                self.at(
                    clock.local_instant(booking_day, time(rng.randint(8, 21), minute)),
                    self.book_visit,
                    day,
                    rng.random() < odds.no_show,
                )
                return
            self.at(when, self.walk_in)
            return
        hour = rng.randint(9, 16) if kind == "kiosk" else rng.randint(7, 22)
        self.at(clock.local_instant(day, time(hour, minute)), self.apply_online, kind)

    # ---- people come and go ------------------------------------------------------------------

    def _choose_person(self, *, online: bool) -> Person:
        """A returning citizen (an account holder when ``online``), or someone new until the
        population is used up."""
        rng = self.rng
        pool = self.active_online if online else self.active
        if pool and rng.random() < self.odds.returning:
            return pool[rng.randrange(len(pool))]
        for person in self.fresh:
            self.active.append(person)
            if person.online:
                self.active_online.append(person)
            return person
        pool = pool or self.active
        return pool[rng.randrange(len(pool))]

    def _account(self, person: Person) -> User | None:
        """The person's online account, registered (实名注册) on first use."""
        if not person.online:
            return None
        if person.user_id is not None:
            user = db.session.get(User, person.user_id)
            if user is not None and user.citizen and user.citizen.id_number == person.id_number:
                return user
            # registered in a step the services then refused: the account went with its
            # rollback (and on SQLite the next account may have taken its id)
            person.user_id = None
        existing = accounts.find_citizen_by_id_number(person.id_number)
        if existing is not None and existing.user is not None:  # an earlier run's
            person.citizen_id, person.user_id = existing.id, existing.user.id
            return existing.user
        checked = accounts.check_registration(
            phone=person.phone,
            password=self._password,
            name=person.name,
            id_number=person.id_number,
        )
        user = accounts.create_citizen_account(
            phone=checked.phone,
            password_hash=self._password_hash,
            name=checked.name,
            id_number=checked.id_number,
            address=person.address,
        )
        person.citizen_id, person.user_id = user.citizen_id, user.id
        self.report.counts["registered_online"] += 1
        if self.id_card is not None and self.rng.random() < self.odds.id_elicence:
            self._issue_id_card(user.citizen)
        return user

    def _issue_id_card(self, citizen: Citizen) -> None:
        """The 电子身份证 the public security department issues into the citizen's library."""
        material_type, department = self.id_card
        issued_on = clock.local_today() - timedelta(days=self.rng.randint(200, 3000))
        elicences.issue_elicence(
            holder=citizen,
            material_type=material_type,
            department=department,
            issued_on=issued_on,
            valid_until=issued_on.replace(year=issued_on.year + 20),
        )
        self.report.counts["id_elicences"] += 1

    def _pick_item(self, items: list[ServiceItem], person: Person) -> ServiceItem:
        """A popular item more often; one whose form asks an age (年满 45 周岁) only of someone
        that old (a citizen does not apply for what the guide says they cannot have)."""
        age = _years(person.born, clock.local_today()) if person.born else 200
        for _ in range(20):
            item = self.rng.choices(items, weights=self._weights[id(items)], k=1)[0]
            if self._min_age[item.id] <= age:
                return item
        return item

    # ---- applying online, at the kiosk, as a bundle -------------------------------------------

    def apply_online(self, kind: str) -> None:
        person = self._choose_person(online=True)
        if not person.online:
            self._queue_visit(Visit(person, "intake", self._pick_item(self.items, person)))
            return
        user = self._account(person)
        if kind == "bundle" and self.bundles:
            self._apply_bundle(user, person)
            return
        if kind == "kiosk" and self.kiosk_items:
            item = self._pick_item(self.kiosk_items, person)
            app = kiosk.start_kiosk_application(user, item.code)
        else:
            kind = "online"
            item = self._pick_item(self.items, person)
            app = applications.start_draft(actor=user, applicant=user.citizen, item=item)
        self._fill(app, user, user.citizen)
        app = applications.submit_application(user, app.id, app.submit_token)
        person.cases += 1
        self.report.counts[f"case_{kind}"] += 1
        self._after_submit(app, person)

    def _apply_bundle(self, user: User, person: Person) -> None:
        """A 一件事 whose items' age rules the person meets (as for a single item)."""
        age = _years(person.born, clock.local_today()) if person.born else 200
        for _ in range(20):
            bundle = self.bundles[self.rng.randrange(len(self.bundles))]
            if self._bundle_min_age[bundle.id] <= age:
                break
        parent = bundle_applications.start_bundle_draft(
            actor=user, applicant=user.citizen, bundle=bundle
        )
        merged = bundle_applications.merge_questions(parent.children, "condition")
        bundle_applications.save_bundle_conditions(
            parent, {m.key: str(m.question["options"][0][0]) for m in merged}
        )
        values = bundle_applications.bundle_prefill(parent, user.citizen)
        questions = [
            m.question for m in bundle_applications.merge_questions(parent.children, "form")
        ]
        keys = [m.key for m in bundle_applications.merge_questions(parent.children, "form")]
        for key, question in zip(keys, questions, strict=True):
            if values.get(key) in (None, "", []) or _stale_date(question, values.get(key)):
                values[key] = self._answer(question, user.citizen)
        bundle_applications.save_bundle_form(parent, values)
        for row in bundle_applications.material_rows(parent):
            needed = row.necessity in ("required", "deferrable")
            missing = row.material is None or row.material.satisfied_by == SatisfiedBy.missing
            if needed and missing and not row.proposal.reused:
                bundle_applications.upload_for_bundle(
                    user,
                    parent,
                    row.material_type.id,
                    data=self._png,
                    filename="scan.png",
                    **self._dates(row.material_type),
                )
        parent = bundle_applications.submit_bundle(user, parent.id, parent.submit_token)
        person = self._person_of(user.citizen_id)
        person.cases += 1
        self.report.counts["case_bundle"] += 1
        self.report.counts["bundle_children"] += len(parent.children)
        for child in list(parent.children):
            self._after_submit(child, person)

    def _person_of(self, citizen_id: int) -> Person:
        return next(p for p in self.active if p.citizen_id == citizen_id)

    def _dates(self, material_type) -> dict[str, date | None]:
        today = clock.local_today()
        issued = today - timedelta(days=self.rng.randint(3, 40))
        expiry = (
            today + timedelta(days=365 * 5) if material_type.validity_kind == "own_expiry" else None
        )
        return {"issued_on": issued, "own_expiry": expiry}

    def _answer(self, question: dict, citizen: Citizen | None) -> Any:
        """A plausible answer of the question's type that its rules accept."""
        options = question.get("options") or [["x"]]
        kind = question.get("type")
        if question.get("key") == DELIVERY_QUESTION:
            return str(options[self.rng.randrange(len(options))][0])
        if kind == "date":
            return self._date_answer(question, citizen).isoformat()
        if kind == "id_number":  # a relative's: another valid fake number
            born = date(1950, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 70))
            return make_id_number(born, self.rng)
        if kind == "phone":
            return f"1470{self.rng.randint(0, 9_999_999):07d}"
        pattern = ((question.get("rules") or {}).get("pattern") or {}).get("regex", "")
        if pattern:  # the one pattern the catalogue uses: a 6-digit postcode
            return "310012"
        return {
            "select": str(options[0][0]),
            "multiselect": [str(options[0][0])],
            "checkbox": "y",
            "number": str(question.get("min") or 1),
            "money": "1",
            "address": (citizen.address if citizen and citizen.address else "") or "人民路 1 号",
            "credit_code": "91330100MA27XL0E2G",
        }.get(kind, "已填写")

    def _date_answer(self, question: dict, citizen: Citizen | None) -> date:
        rules = (question.get("rules") or {}).get("date") or {}
        today = clock.local_today()
        if rules.get("not_past"):
            return today + timedelta(days=3)
        day = today - timedelta(days=100 if rules.get("after") else 400)
        born = citizen.birth_date if citizen is not None else None
        if born is not None and rules.get("min_age"):
            day = max(day, born.replace(year=born.year + int(rules["min_age"]), day=1))
        return min(day, today)

    def _conditions(self, version: ItemVersion, *, random_options: bool = True) -> dict[str, str]:
        rng = self.rng
        return {
            q["key"]: str(
                (
                    q["options"][rng.randrange(len(q["options"]))]
                    if random_options
                    else q["options"][0]
                )[0]
            )
            for q in version.condition_questions or []
        }

    def _answers(self, app: Application, citizen: Citizen) -> dict[str, Any]:
        values = applications.prefill(app, citizen)
        for q in app.item_version.questions or []:
            value = values.get(q["key"])
            if q["key"] == DELIVERY_QUESTION or value in (None, "", []) or _stale_date(q, value):
                values[q["key"]] = self._answer(q, citizen)
        return values

    def _save_conditions(self, app: Application) -> dict[str, str]:
        conditions = self._conditions(app.item_version)
        try:
            with db.session.begin_nested():
                applications.save_conditions(app, conditions)
        except DomainError:  # an answer the item does not serve: the usual case instead
            conditions = self._conditions(app.item_version, random_options=False)
            applications.save_conditions(app, conditions)
        return conditions

    def _fill(self, app: Application, actor: User, citizen: Citizen) -> None:
        """情形, 信息 and 材料 as the apply pages save them; missing materials are uploaded,
        deferred (容缺) or replaced by a commitment (告知承诺) where the item allows it."""
        self._save_conditions(app)
        applications.save_form(app, self._answers(app, citizen))
        for material in list(app.materials):
            choice = self._material_choice(material, citizen)
            if choice == "upload":
                applications.upload_for(
                    actor,
                    app,
                    material.requirement_id,
                    data=self._png,
                    filename="scan.png",
                    **self._dates(material.requirement.material_type),
                )
            elif choice:
                applications.choose_option(app, material.requirement_id, choice, citizen)

    def _material_choice(self, material, citizen: Citizen) -> str:
        if material.satisfied_by != SatisfiedBy.missing:
            return ""
        requirement = material.requirement
        if requirement.necessity not in ("required", "deferrable"):
            return ""
        if requirement.necessity == "deferrable" and self.rng.random() < self.odds.deferred:
            return "deferred"
        if (
            requirement.commitment_allowed
            and not citizen.commitment_barred
            and self.rng.random() < self.odds.commitment
        ):
            return "commitment"
        return "upload"

    def _after_submit(self, app: Application, person: Person) -> None:
        """What happens next to a submitted case: 秒批 has decided it already, or it waits for
        the department's pre-check (or the citizen withdraws it)."""
        self.report.counts["submitted"] += 1
        if app.status != "submitted":
            self.report.counts["auto_approved"] += app.status != "submitted"
            self._after_decision(app.id, person)
            return
        if self.rng.random() < self.odds.withdrawn:
            self.at(self._later_hours(1, 30, any_hour=True), self.withdraw, app.id, person)
        self.at(self._review_time(*self.odds.review_delay_hours), self.precheck, app.id, person)

    # ---- time helpers -------------------------------------------------------------------------

    def _later_hours(self, low: int, high: int, *, any_hour: bool = False) -> datetime:
        when = clock.utc_now() + timedelta(minutes=self.rng.randint(low * 60, high * 60))
        if any_hour:
            local = clock.to_local(when)
            if local.hour < 7 or local.hour > 22:
                when = clock.local_instant(
                    local.date() + timedelta(days=local.hour > 22), time(8, 10)
                )
        return when

    def _review_time(self, low_hours: int, high_hours: int) -> datetime:
        """A moment ``low``–``high`` working hours from now, inside reviewers' hours."""
        hours = self.rng.randint(low_hours, high_hours)
        local = clock.local_now()
        day, hour = local.date(), max(local.hour, REVIEW_START)
        if local.hour >= REVIEW_END or not workdays.is_workday(day):
            day, hour = workdays.add_working_days(day, 1), REVIEW_START
        hour += hours
        while hour >= REVIEW_END:
            hour -= REVIEW_END - REVIEW_START
            day = workdays.add_working_days(day, 1)
        return clock.local_instant(day, time(hour, self.rng.randint(0, 59)))

    def _on_working_day(self, day: date) -> datetime:
        if not workdays.is_workday(day):
            day = workdays.add_working_days(day, 1)
        return clock.local_instant(
            day, time(self.rng.randint(REVIEW_START, REVIEW_END - 1), self.rng.randint(0, 59))
        )

    def _days_later(self, low: int, high: int) -> date:
        return clock.local_today() + timedelta(days=self.rng.randint(low, high))

    # ---- the department's work ---------------------------------------------------------------

    def _reviewer(self, app: Application) -> User:
        return self.reviewers[app.department_id]

    def precheck(self, case_id: int, person: Person) -> None:
        """预审: correction once in a while, 不予受理 rarely, else the right kind of acceptance."""
        app = workflow.load_case(case_id)
        if app.status != "submitted" or app.department_id is None:
            return  # (no department: a 一件事 parent, whose children each go to their own)
        reviewer, odds, rng = self._reviewer(app), self.odds, self.rng
        if app.correction_rounds == 0 and rng.random() < odds.correction:
            self._request_correction(app, reviewer, person)
            return
        if rng.random() < odds.not_accepted:
            workflow.perform(
                reviewer,
                app.id,
                "not_accept",
                app.version,
                reason="申请事项不属于本部门职权范围",
                refer_to="市政务服务中心综合窗口",
            )
            self.report.counts["not_accepted"] += 1
            return
        self._accept(app, reviewer, person)

    def _accept(self, app: Application, actor: User, person: Person) -> None:
        deferred = any(m.satisfied_by == SatisfiedBy.deferred for m in app.materials)
        committed = any(m.satisfied_by == SatisfiedBy.commitment for m in app.materials)
        if app.item_version.case_type == "instant" and not deferred and not committed:
            workflow.perform(actor, app.id, "approve_instantly", app.version, opinion="")
            self.report.counts["instant"] += 1
            self._after_decision(app.id, person)
            return
        if deferred:
            due = workflow.promised_due(app, clock.local_today())
            deadline = min(workdays.add_working_days(clock.local_today(), 5), due)
            deadline = max(deadline, clock.local_today())
            app = workflow.perform(
                actor, app.id, "accept_pending_materials", app.version, supply_deadline=deadline
            )
            self.report.counts["accepted_deferred"] += 1
            if self.rng.random() >= self.odds.supply_missed:
                supply = self._on_working_day(
                    self._days_later(1, max((deadline - clock.local_today()).days, 1))
                )
                self.at(supply, self.supply, app.id, person)
        elif committed:
            app = workflow.perform(actor, app.id, "accept_on_commitment", app.version)
            self.report.counts["accepted_commitment"] += 1
            task = db.session.scalar(
                select(PostCheckTask).where(PostCheckTask.application_id == app.id)
            )
            self.at(self._on_working_day(self._days_later(3, 25)), self.post_check, task.id)
        else:
            app = workflow.perform(actor, app.id, "accept", app.version)
            self.report.counts["accepted"] += 1
        self._plan_decision(app, person)

    def _plan_decision(self, app: Application, person: Person) -> None:
        """The decision falls within the promised limit, or (``late``) a few working days past it."""
        today = clock.local_today()
        due = app.due_date or today
        if self.rng.random() < self.odds.late:
            day = workdays.add_working_days(due, self.rng.randint(1, 5))
        else:
            span = max(workdays.working_days_between(today, due), 0)
            day = workdays.add_working_days(today, self.rng.randint(0, span)) if span else today
            if day > due:
                day = due
        when = self._on_working_day(day)
        if when <= clock.utc_now():
            when = self._review_time(1, 3)
        self.at(when, self.decide, app.id, person)

    def _request_correction(self, app: Application, reviewer: User, person: Person) -> None:
        uploaded = [m for m in app.materials if m.satisfied_by == SatisfiedBy.upload]
        if uploaded:
            target = uploaded[self.rng.randrange(len(uploaded))]
            params = {
                "materials": {target.requirement_id: "扫描件不清晰，请重新上传清晰完整的材料"}
            }
        else:
            questions = [
                q for q in app.item_version.questions or [] if q.get("type") in ("text", "address")
            ]
            if not questions:
                self._accept(app, reviewer, person)
                return
            params = {"fields": {questions[0]["key"]: "填写内容与证明材料不一致，请核对后更正"}}
        workflow.perform(reviewer, app.id, "request_correction", app.version, **params)
        self.report.counts["corrections"] += 1
        if self.rng.random() < self.odds.never_resubmits:
            return
        when = self._later_hours(4, 72, any_hour=True)
        if person.online:
            self.at(when, self.resubmit, app.id, person)
        else:
            self.at(
                self._on_working_day(clock.local_date(when)),
                self._queue_visit_now,
                Visit(person, "resubmit", case_id=app.id),
            )

    def _corrected(self, app: Application, actor: User) -> tuple[dict[str, Any], dict[int, int]]:
        """The new answers and documents the correction notice lists."""
        request = workflow.open_correction(app)
        answers: dict[str, Any] = {}
        docs: dict[int, int] = {}
        for item in request.items:
            if item["kind"] == "field":
                answers[item["key"]] = f"{(app.form_data or {}).get(item['key'], '')}（已更正）"[
                    :100
                ]
            else:
                req_id = int(item["key"])
                material = materials.material_for(app, req_id)
                doc = documents.upload_document(
                    actor,
                    material_type_id=material.requirement.material_type_id,
                    data=make_png(width=161, height=100),
                    filename="scan-2.png",
                    owner=app.applicant,
                    **self._dates(material.requirement.material_type),
                )
                docs[req_id] = doc.id
        return answers, docs

    def resubmit(self, case_id: int, person: Person) -> None:
        app = workflow.load_case(case_id)
        if app.status != "correction_required":
            return
        user = self._account(person)
        answers, docs = self._corrected(app, user)
        workflow.perform(user, app.id, "resubmit", app.version, answers=answers, documents=docs)
        self.report.counts["resubmitted"] += 1
        self.at(self._review_time(1, 8), self.precheck, app.id, person)

    def supply(self, case_id: int, person: Person) -> None:
        """容缺: the citizen supplies the deferred material online; the reviewer confirms."""
        app = workflow.load_case(case_id)
        if app.status != "accepted_pending_materials":
            return
        user = self._account(person)
        if user is None:
            return
        chosen = {}
        for material in app.materials:
            if material.satisfied_by == SatisfiedBy.deferred:
                doc = documents.upload_document(
                    user,
                    material_type_id=material.requirement.material_type_id,
                    data=self._png,
                    filename="scan.png",
                    **self._dates(material.requirement.material_type),
                )
                chosen[material.requirement_id] = doc.id
        workflow.perform(user, app.id, "supply_materials", app.version, documents=chosen)
        self.report.counts["supplied"] += 1

    def decide(self, case_id: int, person: Person) -> None:
        """审查 through the guide's steps to the decision: 准予, or now and then 不予许可."""
        app = workflow.load_case(case_id)
        if app.department_id is None:
            return  # a 一件事 parent is decided through its children, each by its department
        reviewer = self._reviewer(app)
        if app.status == "accepted_pending_materials":
            if any(m.satisfied_by == SatisfiedBy.deferred for m in app.materials):
                if app.supply_deadline and app.supply_deadline >= clock.local_today():
                    self.at(self._review_time(4, 16), self.decide, case_id, person)
                return  # never supplied: the evening job terminates it
            for material in app.materials:
                if material.verdict == "supplied":
                    workflow.set_material_verdict(reviewer, app.id, material.id, "ok")
            app = workflow.perform(reviewer, app.id, "materials_complete", app.version)
        if app.status in ("accepted", "accepted_on_commitment"):
            app = workflow.perform(reviewer, app.id, "start_review", app.version)
        if app.status != "in_review":
            return
        while "advance_step" in workflow.offered_actions(app, reviewer):
            app = workflow.perform(reviewer, app.id, "advance_step", app.version)
        if self.rng.random() < self.odds.denied:
            workflow.perform(
                reviewer, app.id, "deny", app.version, reasons="申请人不符合办事指南规定的申请条件"
            )
            self.report.counts["denied"] += 1
        else:
            workflow.perform(reviewer, app.id, "approve", app.version, opinion="符合条件，准予")
            self.report.counts["approved"] += 1
        self._after_decision(app.id, person)

    def _after_decision(self, case_id: int, person: Person) -> None:
        app = db.session.get(Application, case_id)
        db.session.refresh(app, ["status"])
        if app.status == "certifying":
            self.at(self._review_time(2, 14), self.certify, case_id, person)
        elif app.status == "awaiting_post":
            self.at(self._review_time(2, 10), self.mail, case_id, person)
        elif app.status == "awaiting_pickup":
            day = self._days_later(1, 7)
            self.at(
                self._on_working_day(day),
                self._queue_visit_now,
                Visit(person, "pickup", case_id=case_id),
            )
        elif app.status == "completed":
            self._plan_rating(app, person)

    def certify(self, case_id: int, person: Person) -> None:
        app = workflow.load_case(case_id)
        if app.status == "certifying":
            workflow.perform(self._reviewer(app), app.id, "certify", app.version)
            self._after_decision(case_id, person)

    def mail(self, case_id: int, person: Person) -> None:
        app = workflow.load_case(case_id)
        if app.status != "awaiting_post":
            return
        tracking = f"SF{self.rng.randint(10**11, 10**12 - 1)}"
        workflow.perform(
            self._reviewer(app), app.id, "mail", app.version, carrier="ems", tracking=tracking
        )
        self.at(self._later_hours(30, 80, any_hour=True), self.confirm_receipt, case_id, person)

    def confirm_receipt(self, case_id: int, person: Person) -> None:
        app = workflow.load_case(case_id)
        if app.status != "mailed":
            return
        actor = self._account(person) or self._reviewer(app)
        workflow.perform(actor, app.id, "confirm_receipt", app.version)
        self._after_decision(case_id, person)

    def withdraw(self, case_id: int, person: Person) -> None:
        app = workflow.load_case(case_id)
        if app.status not in workflow.TRANSITIONS["withdraw"].sources:
            return
        applications.withdraw_application(self._account(person), case_id, "不需要办理了")
        self.report.counts["withdrawn"] += 1

    def post_check(self, task_id: int) -> None:
        task = db.session.get(PostCheckTask, task_id)
        app = db.session.get(Application, task.application_id)
        reviewer = self.reviewers[task.department_id]
        if self.rng.random() < self.odds.false_commitment:
            workflow.record_post_check(
                reviewer, task.id, "false", "经核查，承诺的事项与实际情况不符"
            )
            self.report.counts["post_check_false"] += 1
        else:
            workflow.record_post_check(reviewer, task.id, "passed", "")
            self.report.counts["post_check_passed"] += 1
        del app

    # ---- ratings and their follow-up ---------------------------------------------------------

    def _plan_rating(self, app: Application, person: Person) -> None:
        if not person.online:
            return
        if self.rng.random() < self.odds.rates_case:
            self.at(self._later_hours(1, 48, any_hour=True), self.rate, app.id, person, 0)

    def _score(self) -> int:
        scores, weights = zip(*self.odds.scores, strict=True)
        return self.rng.choices(scores, weights=weights, k=1)[0]

    def rate(self, case_id: int, person: Person, visit_no: int) -> None:
        user = self._account(person)
        score = self._score()
        tags = []
        if score <= 2:
            tags = self.rng.sample(sorted(ratings.TAGS), k=self.rng.randint(1, 2))
        indicators = (
            {k: max(1, min(5, score + self.rng.choice((-1, 0, 0, 1)))) for k in ratings.INDICATORS}
            if not visit_no
            else {}
        )
        if not visit_no:
            indicators["overall"] = score
        rating = ratings.rate_case(
            user, case_id, score=score, indicators=indicators, tags=tags, visit_no=visit_no
        )
        self.report.counts["ratings"] += 1
        ticket = db.session.scalar(
            select(FollowUpTicket).where(FollowUpTicket.rating_id == rating.id)
        )
        if ticket is not None:
            self.at(self._on_working_day(self._days_later(1, 8)), self.follow_up, ticket.id)

    def follow_up(self, ticket_id: int) -> None:
        """The admin walks a bad rating's ticket: 整改 and 回访, or 申诉 upheld."""
        ticket = db.session.get(FollowUpTicket, ticket_id)
        flow = TICKET_STEPS_APPEAL if self.rng.random() < self.odds.appeal else TICKET_STEPS
        for status, note in flow:
            if status not in ratings.TICKET_FLOW.get(ticket.status, ()):
                break
            ratings.advance_ticket(self.admin, ticket.id, status, note)
        self.report.counts["follow_ups"] += 1

    # ---- halls: bookings, tickets, windows --------------------------------------------------

    def book_visit(self, day: date, no_show: bool) -> None:
        """预约 days ahead for a counter visit; without a free slot the person just walks in."""
        person = self._choose_person(online=True)
        item = self._pick_item(self.items, person)
        visit = Visit(person, "intake", item)
        user = self._account(person)
        if user is None:
            self.at(self._hall_time(day), self._queue_visit_now, visit)
            return
        hall = self._hall()
        target = appointments.target_for_item(user, item.code)
        category = appointments.category_for(hall, target.department_id)
        slots = (
            list(
                db.session.scalars(
                    select(AppointmentSlot)
                    .where(
                        AppointmentSlot.category_id == category.id,
                        AppointmentSlot.day == day,
                        AppointmentSlot.active.is_(True),
                        AppointmentSlot.booked < AppointmentSlot.capacity,
                    )
                    .order_by(AppointmentSlot.starts_at)
                )
            )
            if category is not None
            else []
        )
        if not slots:
            self.at(self._hall_time(day), self._queue_visit_now, visit)
            return
        slot = slots[self.rng.randrange(len(slots))]
        appointment = appointments.book_appointment(user, target, slot.id)
        self.report.counts["booked"] += 1
        if no_show:
            self.report.counts["no_show_planned"] += 1
            return
        visit.appointment_code = appointment.code
        arrive = clock.local_instant(day, slot.starts_at) + timedelta(
            minutes=self.rng.randint(-10, 15)
        )
        self.at(arrive, self._take_ticket, visit, hall.id)

    def _hall(self) -> ServiceHall:
        if len(self.halls) > 1 and self.rng.random() < self.odds.township_hall:
            return self.halls[1]
        return self.halls[0]

    def _hall_time(self, day: date) -> datetime:
        return clock.local_instant(day, time(self.rng.randint(9, 15), self.rng.randint(0, 59)))

    def walk_in(self) -> None:
        person = self._choose_person(online=False)
        self._queue_visit_now(Visit(person, "intake", self._pick_item(self.items, person)))

    def _queue_visit(self, visit: Visit) -> None:
        """Come to the hall at the next opening hour (the hall is closed now)."""
        self.at(
            self._on_working_day(clock.local_today() + timedelta(days=1)),
            self._queue_visit_now,
            visit,
        )

    def _queue_visit_now(self, visit: Visit) -> None:
        local = clock.local_now()
        if not workdays.is_workday(local.date()) or not HALL_OPENS <= local.time() <= HALL_CLOSES:
            self._queue_visit(visit)
            return
        self._take_ticket(visit, self._hall().id)

    def _take_ticket(self, visit: Visit, hall_id: int) -> None:
        hall = db.session.get(ServiceHall, hall_id)
        item = visit.item
        if item is None and visit.case_id is not None:
            item = db.session.get(Application, visit.case_id).item_version.item
        department_id = item.published_version.department_id if item.published_version else None
        category = appointments.category_for(hall, department_id)
        ticket = queue.take_ticket(
            hall,
            category.code,
            appointment_code=visit.appointment_code,
            source="appointment" if visit.appointment_code else "kiosk",
        )
        self._ticket_visits[ticket.id] = visit
        self._waiting[hall.id] += 1
        self.report.counts["tickets"] += 1
        wait = timedelta(minutes=self.rng.randint(*self.odds.wait_minutes))
        self.at(clock.utc_now() + wait, self.call, hall.id)

    def call(self, hall_id: int) -> None:
        """Every free clerk of the hall calls the next ticket of their window (叫号). Each call is
        kept even when the errand is refused (the person leaves; the ticket still finishes). A
        clerk is free once their finish event has run (not at the instant it is due: a call due
        at the same instant could come first and be refused, 请先完成或过号当前的…)."""
        now = clock.utc_now()
        for clerk in self.clerks.get(hall_id, []):
            if not self._waiting[hall_id]:
                return  # nobody is waiting: no window has anyone to call
            if clerk.id in self._busy:
                continue
            try:
                with db.session.begin_nested():
                    ticket = queue.call_next(clerk)
                    if ticket is not None:
                        queue.start_serving(clerk, ticket.id)
            except DomainError as exc:  # this window only: the others still call
                self.report.refused[f"call: {exc}"[:160]] += 1
                db.session.expire_all()
                continue
            if ticket is None:
                continue
            self._waiting[hall_id] -= 1
            visit = self._ticket_visits.pop(ticket.id, None)
            minutes = self.rng.randint(*self.odds.service_minutes)
            self._busy.add(clerk.id)
            self.at(now + timedelta(minutes=minutes), self.finish, clerk.id, ticket.id, hall_id)
            if visit is not None:
                try:
                    with db.session.begin_nested():
                        self._serve(clerk, visit)
                except DomainError as exc:
                    self.report.refused[f"serve: {exc}"[:160]] += 1
                    db.session.expire_all()

    def finish(self, clerk_id: int, ticket_id: int, hall_id: int) -> None:
        clerk = db.session.get(User, clerk_id)
        with db.session.begin_nested():
            counter.end_context(clerk)  # 办理下一位: closes the ticket and the booking too
            ticket = queue.get_ticket(db.session.get(ServiceHall, hall_id), ticket_id)
            if ticket.status in ("called", "serving"):
                queue.finish(clerk, ticket_id)
        self._busy.discard(clerk_id)
        self.call(hall_id)

    def _serve(self, clerk: User, visit: Visit) -> None:
        """The clerk identifies the person (身份证号) or registers them, then does the errand."""
        person = visit.person
        citizen = counter.lookup_citizen(clerk, person.id_number)
        if citizen is None:
            citizen = counter.register_walk_in(
                clerk,
                name=person.name,
                id_number=person.id_number,
                phone=person.phone,
                address=person.address,
            )
            self.report.counts["registered_at_counter"] += 1
        person.citizen_id = citizen.id
        if visit.purpose == "intake":
            self._counter_intake(clerk, citizen, visit)
        elif visit.purpose == "resubmit":
            app = workflow.load_case(visit.case_id)
            if app.status == "correction_required":
                answers, docs = self._corrected(app, clerk)
                counter.resubmit_correction(
                    clerk, app.id, app.version, answers=answers, documents=docs
                )
                self.report.counts["resubmitted"] += 1
                self.at(self._review_time(1, 8), self.precheck, app.id, person)
        elif visit.purpose == "pickup":
            app = workflow.load_case(visit.case_id)
            if app.status == "awaiting_pickup":
                counter.decide(clerk, app.id, "pickup", app.version, visit_reason=PICKUP_REASON)
                self.report.counts["picked_up"] += 1
                self._plan_rating(app, person)
        self._plan_visit_rating(visit)

    def _plan_visit_rating(self, visit: Visit) -> None:
        if (
            not visit.person.online
            or visit.case_id is None
            or self.rng.random() >= self.odds.rates_visit
        ):
            return
        app = db.session.get(Application, visit.case_id)
        db.session.refresh(app, ["visit_count"])
        if app.visit_count:
            self.at(
                self._later_hours(1, 6, any_hour=True),
                self.rate,
                app.id,
                visit.person,
                app.visit_count,
            )

    def _counter_intake(self, clerk: User, citizen: Citizen, visit: Visit) -> None:
        """受理 at the counter: one intake page, scans of what is missing, submit, and 即办 or
        受理 on the spot when the intake is complete."""
        app = counter.start_intake(clerk, visit.item.code)
        conditions = self._save_conditions(app)
        answers = self._answers(app, citizen)
        counter.save_intake(clerk, app.id, conditions=conditions, answers=answers, choices={})
        choices: dict[int, str] = {}
        for material in list(app.materials):
            choice = self._material_choice(material, citizen)
            if choice == "upload":
                doc = documents.upload_document(
                    clerk,
                    material_type_id=material.requirement.material_type_id,
                    data=self._png,
                    filename="scan.png",
                    owner=citizen,
                    **self._dates(material.requirement.material_type),
                )
                choices[material.requirement_id] = f"doc:{doc.id}"
            elif choice:
                choices[material.requirement_id] = choice
        counter.save_intake(clerk, app.id, conditions=conditions, answers=answers, choices=choices)
        app = counter.submit_intake(clerk, app.id, app.submit_token)
        visit.case_id = app.id
        visit.person.cases += 1
        self.report.counts["case_counter"] += 1
        self.report.counts["submitted"] += 1
        if app.status != "submitted":  # 秒批
            self.report.counts["auto_approved"] += 1
            self._after_decision(app.id, visit.person)
            return
        plain = not any(
            m.satisfied_by in (SatisfiedBy.deferred, SatisfiedBy.commitment) for m in app.materials
        )
        if plain and app.item_version.case_type == "instant":
            counter.decide(clerk, app.id, "approve_instantly", app.version)
            self.report.counts["instant"] += 1
            self._after_decision(app.id, visit.person)
        elif plain and self.rng.random() < self.odds.counter_accepts:
            app = counter.decide(clerk, app.id, "accept", app.version)
            self.report.counts["accepted"] += 1
            self._plan_decision(app, visit.person)
        else:
            self.at(
                self._review_time(*self.odds.review_delay_hours),
                self.precheck,
                app.id,
                visit.person,
            )

    # ---- the end ----------------------------------------------------------------------------

    def _finish(self) -> None:
        """Clerks leave their windows; no text message is queued for the fake phones."""
        for clerks in self.clerks.values():
            for clerk in clerks:
                counter.end_context(clerk)
                queue.leave_window(clerk)
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.status == "pending"))
        self.report.counts["citizens_active"] = len(self.active)


TICKET_STEPS = (
    ("rectifying", "已核实，责成窗口整改"),
    ("rectified", "已完成整改"),
    ("revisited", "已电话回访，办事群众认可整改结果"),
)
TICKET_STEPS_APPEAL = (
    ("appealed", "部门申诉：已按办事指南办理"),
    ("revoked", "复核属实，撤销差评"),
)


def run_simulation(
    *,
    days: int,
    citizens: int,
    seed: int,
    until: date | None = None,
    progress: Callable[[int], Any] | None = None,
) -> SimulationReport:
    """Replay ``days`` days before ``until`` (default: yesterday) for a population of
    ``citizens``; commits day by day."""
    return Simulation(days=days, citizens=citizens, seed=seed, until=until, progress=progress).run()
