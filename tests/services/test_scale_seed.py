"""The scale seed on a real database: counts, uniqueness, publishable guides, refusals.

Small numbers keep it quick; `flask seed scale` runs the same code at 3,600 items.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Citizen,
    Department,
    Event,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    ServiceItem,
    VersionStatus,
)
from seeds.scale import ScaleRefused, Stored, item_patterns, load_scale, max_items
from services.catalogue import publish_errors
from services.identity import parse_resident_id
from services.search import build_search_text
from tests.helpers import count

ITEMS, APPLICATIONS = 150, 300  # more items than item patterns: every pattern is made once


def table_counts() -> dict[str, int]:
    return {
        model.__name__: count(model)
        for model in (
            Department,
            MaterialType,
            ServiceItem,
            ItemVersion,
            MaterialRequirement,
            Citizen,
            Application,
            ApplicationMaterial,
            Event,
        )
    }


def schema_objects() -> set[tuple[str, str]]:
    """Every index and constraint with its definition, as the database describes it."""
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " UNION SELECT con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con"
                " JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = 'public'"
            )
        )
    else:
        rows = db.session.execute(
            text("SELECT name, coalesce(sql, tbl_name) FROM sqlite_master WHERE type = 'index'")
        )
    return {(name, definition) for name, definition in rows}


@pytest.fixture(scope="module")
def seeded(database_factory):
    """A demo database with the scale seed run once on top; the tests only read it."""
    app = database_factory("scale", seed=True)
    with app.app_context():
        before = table_counts()
        schema = schema_objects()
        report = load_scale(ITEMS, APPLICATIONS)
        db.session.commit()
        db.session.remove()
    return app, report, before, schema


@pytest.fixture
def ctx(seeded):
    app, report, before, _schema = seeded
    with app.app_context():
        yield report, before
        db.session.remove()


def sc_versions() -> list[ItemVersion]:
    return list(
        db.session.scalars(
            select(ItemVersion)
            .join(ServiceItem, ServiceItem.id == ItemVersion.item_id)
            .where(ServiceItem.code.like("SC%"))
            .options(
                selectinload(ItemVersion.requirements),
                selectinload(ItemVersion.themes),
                selectinload(ItemVersion.item),
            )
            .order_by(ServiceItem.code)
        )
    )


def test_the_report_matches_what_the_database_gained(ctx):
    report, before = ctx
    after = table_counts()
    gained = {name: after[name] - before[name] for name in after}
    assert gained["ServiceItem"] == report.items == ITEMS
    assert gained["ItemVersion"] == report.versions == ITEMS
    assert gained["MaterialRequirement"] == report.requirements
    assert gained["Application"] == report.applications == APPLICATIONS
    assert gained["Citizen"] == report.citizens == APPLICATIONS // 2
    assert gained["ApplicationMaterial"] == report.application_materials > APPLICATIONS
    assert gained["Department"] == report.departments
    assert gained["MaterialType"] == report.material_types
    # no events: the audit hash chain is left exactly as it was
    assert gained["Event"] == 0


def test_a_shanghai_size_skeleton_grown_from_the_demo_catalogue(ctx):
    report, before = ctx
    # the demo's 13 departments are reused, 27 more are added: 40 that own items
    assert report.departments == 27
    owners = db.session.scalar(
        select(func.count(func.distinct(ServiceItem.department_id))).where(
            ServiceItem.code.like("SC%")
        )
    )
    assert owners == 40
    assert 280 <= count(MaterialType) <= 320
    # the demo's material types are reused, not copied
    assert count(MaterialType, MaterialType.code.like("SCM%")) == 0
    assert count(MaterialType, MaterialType.name == "居民身份证") == 1


def test_codes_and_numbers_are_unique_well_formed_and_apart_from_the_demo(ctx):
    codes = list(db.session.scalars(select(ServiceItem.code).where(ServiceItem.code.like("SC%"))))
    assert len(codes) == ITEMS
    assert all(re.fullmatch(r"SC\d{10}", c) for c in codes)
    demo_codes = db.session.scalars(select(ServiceItem.code).where(~ServiceItem.code.like("SC%")))
    assert all(not c.startswith("SC") for c in demo_codes)
    numbers = list(
        db.session.scalars(select(Application.number).where(Application.number.like("SC%")))
    )
    assert len(numbers) == len(set(numbers)) == APPLICATIONS
    assert all(re.fullmatch(r"SC20\d{6}\d{7}", n) for n in numbers)


def test_items_have_realistic_varied_names(ctx):
    names = [v.name for v in sc_versions()]
    assert len(set(names)) == len(names)
    assert any(n.endswith("居住证申领") and n != "居住证申领" for n in names)
    districts = Counter(re.match(r"(.+?[区])", n).group(1) for n in names)
    assert len(districts) == 16


def test_every_item_is_published_once_with_a_valid_guide_record(ctx):
    versions = sc_versions()
    assert len(versions) == ITEMS
    for v in versions:
        assert v.status == VersionStatus.published and v.number == 1
        assert v.item.published_version_id == v.id
        assert v.published_at is not None
        assert v.department_id == v.item.department_id
        assert v.themes, v.name
        assert v.search_text == build_search_text(v.item.code, v.name, v.keywords, v.synonyms)


def test_requirements_point_at_existing_material_types(ctx):
    known = set(db.session.scalars(select(MaterialType.id)))
    for v in sc_versions():
        assert 2 <= len(v.requirements) <= 10, v.name
        types = [r.material_type_id for r in v.requirements]
        assert set(types) <= known
        assert len(types) == len(set(types)), f"{v.name} asks for one material twice"
        assert [r.position for r in v.requirements] == list(range(len(types)))


def test_generated_guides_pass_the_publish_rules(ctx):
    assert len(item_patterns()) <= ITEMS  # so every pattern's guide is checked
    for v in sc_versions():
        assert publish_errors(v) == {}, v.name


def test_citizens_have_valid_unique_identities(ctx):
    report, _ = ctx
    people = db.session.execute(
        select(Citizen.id_number, Citizen.phone, Citizen.gender)
        .order_by(Citizen.id.desc())
        .limit(report.citizens)
    ).all()
    for id_number, phone, gender in people:
        parse_resident_id(
            id_number
        )  # the portal's own rule (a district need not predate the birth)
        assert gender == ("M" if int(id_number[16]) % 2 else "F")
        assert re.fullmatch(r"1\d{10}", phone)
    all_ids = list(db.session.scalars(select(Citizen.id_number)))
    all_phones = [p for p in db.session.scalars(select(Citizen.phone)) if p]
    assert len(all_ids) == len(set(all_ids))
    assert len(all_phones) == len(set(all_phones))


def test_applications_are_consistent_with_their_versions(ctx):
    apps = list(
        db.session.scalars(
            select(Application)
            .where(Application.number.like("SC%"))
            .options(
                selectinload(Application.materials).selectinload(ApplicationMaterial.requirement),
                selectinload(Application.item_version),
            )
        )
    )
    assert set(Counter(a.status for a in apps)) == {
        "submitted",
        "accepted",
        "in_review",
        "approved",
        "completed",
    }
    assert len({a.channel for a in apps}) >= 2
    for a in apps:
        assert a.item_version.item.code.startswith("SC")
        assert a.department_id == a.item_version.department_id
        assert a.materials, a.number
        assert all(m.requirement.version_id == a.item_version_id for m in a.materials)
        assert (a.accepted_at is not None) == (a.status != "submitted")
        assert (a.due_date is not None) == (a.accepted_at is not None)
        if a.accepted_at:
            assert a.submitted_at <= a.accepted_at
            assert a.due_date >= a.accepted_at.date()
        if a.status in ("approved", "completed"):
            assert a.accepted_at <= a.decided_at
        assert (a.completed_at is not None) == (a.status == "completed")
        assert a.form_data.get("name") and a.form_data.get("phone")


def test_indexes_and_constraints_are_back_as_the_migrations_made_them(seeded):
    """The load drops the case tables' indexes (and on PostgreSQL their unique and foreign-key
    constraints) and makes them again: afterwards the schema is exactly what it was."""
    app, _report, _before, schema = seeded
    with app.app_context():
        assert schema_objects() == schema
        db.session.remove()


def test_rows_built_as_tuples_hold_what_sqlalchemy_would_write(ctx):
    """The hot loops build stored values themselves (Stored): each raw value in the database
    is what SQLAlchemy's own conversion of the loaded value gives (dates as SQLite text with
    microseconds, enums by value, JSON text)."""
    dialect = db.session.get_bind().dialect
    columns = ("submitted_at", "accepted_at", "due_date", "updated_at", "channel", "form_data")
    table = Application.__table__
    raw = db.session.execute(
        text(f"SELECT id, {', '.join(columns)} FROM applications WHERE number LIKE 'SC%'")
    ).all()
    loaded = {
        a.id: a
        for a in db.session.scalars(select(Application).where(Application.number.like("SC%")))
    }
    assert len(raw) == APPLICATIONS
    stored = Stored.here()
    checked = 0
    for row in raw:
        case = loaded[row.id]
        for column in columns:
            value = getattr(case, column)
            if value is None:
                assert getattr(row, column) is None
                continue
            kind = table.c[column].type
            if column == "form_data":
                assert json.loads(stored.json(value)) == value
                written = getattr(row, column)
                assert (json.loads(written) if isinstance(written, str) else written) == value
                continue
            convert = kind._cached_bind_processor(dialect)  # None: the driver takes it as is
            expected = convert(value) if convert else value
            assert getattr(row, column) == expected, (column, getattr(row, column), expected)
            checked += 1
    assert checked > APPLICATIONS * 4
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # no microseconds: still six digits
    convert = table.c.submitted_at.type._cached_bind_processor(dialect)
    assert stored.stamp(when) == (convert(when) if convert else when)
    assert stored.day(when.date()) in (when.date(), "2026-03-04")


def test_a_second_run_is_refused_and_writes_nothing(ctx):
    before = table_counts()
    with pytest.raises(ScaleRefused, match="already present"):
        load_scale(5, 5)
    db.session.rollback()
    assert table_counts() == before


@pytest.fixture(scope="module")
def empty_app(database_factory):
    return database_factory("scale-empty", seed=False)


def test_cli_on_an_empty_database_then_refuses_a_second_run(empty_app):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["seed", "scale", "--items", "60", "--applications", "80"])
    assert result.exit_code == 0, result.output
    assert re.search(r"[\d,]+ rows in [\d.]+ s: [\d,]+ rows/s", result.output)
    with empty_app.app_context():
        assert count(ServiceItem) == 60
        assert count(Application) == 80
        assert count(Department) == 40
        # without the demo its material types are copied under codes the demo will not use
        assert count(MaterialType, MaterialType.code == "SCM001") == 1
        assert count(MaterialType, MaterialType.code == "M001") == 0
        db.session.remove()

    again = runner.invoke(args=["seed", "scale", "--items", "10", "--applications", "0"])
    assert again.exit_code == 1
    assert "already present" in again.output
    with empty_app.app_context():
        assert count(ServiceItem) == 60
        db.session.remove()

    # the demo seed still loads afterwards: no code collides
    demo = runner.invoke(args=["seed", "demo"])
    assert demo.exit_code == 0, demo.output
    with empty_app.app_context():
        assert count(ServiceItem) == 60 + count(ServiceItem, ~ServiceItem.code.like("SC%"))
        assert count(ServiceItem, ~ServiceItem.code.like("SC%")) >= 40
        db.session.remove()


def test_cli_refuses_in_production_and_bad_sizes(database_factory):
    app = database_factory("scale-refuse", seed=False)
    runner = app.test_cli_runner()
    too_many = runner.invoke(args=["seed", "scale", "--items", str(max_items() + 1)])
    assert too_many.exit_code == 2 and "at most" in too_many.output
    negative = runner.invoke(args=["seed", "scale", "--items", "5", "--applications", "-1"])
    assert negative.exit_code == 2
    app.config["PORTAL_ENV"] = "production"
    try:
        refused = runner.invoke(args=["seed", "scale", "--items", "5", "--applications", "5"])
    finally:
        app.config["PORTAL_ENV"] = "development"
    assert refused.exit_code == 1
    assert "production" in refused.output
    with app.app_context():
        assert count(ServiceItem) == 0 and count(Department) == 0
        db.session.remove()


def test_citizens_and_accounts_for_benchmarks(database_factory):
    """--citizens spreads the cases over that many people; --accounts makes citizens who log
    in, the first with the 50 cases and 100 documents the personal pages are measured at."""
    from portal.models import Document, User
    from seeds.scale import ACCOUNT_CASES, ACCOUNT_DOCUMENTS, ACCOUNT_PASSWORD, account_phone
    from tests.conftest import login

    app = database_factory("scale-accounts", seed=False)
    args = ["--items", "20", "--applications", "40", "--citizens", "4", "--accounts", "3"]
    result = app.test_cli_runner().invoke(args=["seed", "scale", *args])
    assert result.exit_code == 0, result.output
    with app.app_context():
        holders = {
            phone: db.session.scalar(select(User.citizen_id).where(User.phone == phone))
            for phone in map(account_phone, range(3))
        }
        assert None not in holders.values()
        assert count(Citizen) == 4 + 3
        assert count(Application) == 40 + ACCOUNT_CASES
        first, *others = holders.values()
        assert count(Application, Application.applicant_id == first) == ACCOUNT_CASES
        assert count(Document, Document.owner_id == first) == ACCOUNT_DOCUMENTS
        for other in others:
            assert count(Application, Application.applicant_id == other) == 0
            assert count(Document, Document.owner_id == other) == 0
        spread = db.session.scalar(
            select(func.count(func.distinct(Application.applicant_id))).where(
                Application.applicant_id.not_in(holders.values())
            )
        )
        assert spread <= 4
        numbers = db.session.scalars(select(Application.number)).all()
        assert len(set(numbers)) == len(numbers)
        db.session.remove()
    client = app.test_client()
    response = login(client, account_phone(0), ACCOUNT_PASSWORD)
    assert response.status_code == 302
    assert client.get("/cases").status_code == 200


def test_sqlite_load_settings_are_set_back_on_the_connection(database_factory):
    """The seed enlarges SQLite's page cache and sorts in memory on its connection only while
    loading: the pooled connection goes back with the settings it had."""
    app = database_factory("scale-pragmas", seed=False)
    with app.app_context():
        if db.session.get_bind().dialect.name != "sqlite":
            db.session.remove()
            pytest.skip("SQLite's connection settings")
        settings = ("cache_size", "temp_store")
        before = {p: db.session.execute(text(f"PRAGMA {p}")).scalar() for p in settings}
        load_scale(5, 5)
        after = {p: db.session.execute(text(f"PRAGMA {p}")).scalar() for p in settings}
        db.session.rollback()
        db.session.remove()
    assert after == before
