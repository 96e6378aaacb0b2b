"""Operator commands: `flask seed …`, `flask audit …`, `flask files …`, `flask jobs …`,
`flask users …`."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.extensions import db

seed_cli = AppGroup("seed", help="Load demo or scale data.")
audit_cli = AppGroup("audit", help="Check the audit trail.")
files_cli = AppGroup("files", help="Maintain stored files.")
jobs_cli = AppGroup("jobs", help="Scheduled work (run every minute from cron).")
users_cli = AppGroup("users", help="Staff accounts.")


@seed_cli.command("demo")
def seed_demo() -> None:
    """Load the demo catalogue and accounts (idempotent; refused in production)."""
    if current_app.config["PORTAL_ENV"] == "production":
        raise click.ClickException("demo accounts are never created in production")
    from seeds.demo import load_demo

    if load_demo():
        db.session.commit()
        click.echo("demo data loaded")
    else:
        click.echo("demo data already present; nothing changed")


@seed_cli.command("scale")
@click.option(
    "--items",
    default=3600,
    show_default=True,
    type=click.IntRange(min=1),
    help="Published service items to add.",
)
@click.option(
    "--applications",
    default=20000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Synthetic applications to add (with one citizen per two applications).",
)
def seed_scale(items: int, applications: int) -> None:
    """Add a Shanghai-size catalogue and synthetic applications with bulk inserts (refused in production)."""
    from seeds.scale import ScaleRefused, check_allowed, load_scale, max_items, planned_records

    if items > max_items():
        raise click.BadParameter(
            f"at most {max_items()} items can be generated", param_hint="--items"
        )
    try:
        check_allowed()
        started, cpu_started = time.perf_counter(), time.process_time()
        with click.progressbar(
            length=planned_records(items, applications), label="scale seed", show_pos=True
        ) as bar:
            report = load_scale(items=items, applications=applications, progress=bar.update)
        db.session.commit()
    except ScaleRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    click.echo(
        f"scale data loaded: {report.items} items, {report.requirements} material requirements, "
        f"{report.material_types} new material types, {report.departments} new departments, "
        f"{report.citizens} citizens, {report.applications} applications, "
        f"{report.application_materials} application materials"
    )
    click.echo(
        f"{report.rows} rows in {seconds:.1f} s: {report.rows / seconds:,.0f} rows/s "
        f"({cpu:.1f} s of CPU in this process, {report.rows / cpu:,.0f} rows per CPU second)"
    )


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the event hash chain and name the first broken link."""
    from services.audit import verify_chain

    report = verify_chain()
    if report.broken_at is not None:
        click.echo(
            f"BROKEN at event {report.broken_at}: {report.reason} ({report.checked} verified before it)"
        )
        raise SystemExit(1)
    click.echo(f"audit chain intact: {report.checked} events")


@files_cli.command("cleanup")
@click.option("--older-than", default=3600, show_default=True, help="Seconds since last write.")
def files_cleanup(older_than: int) -> None:
    """Remove temporary files and files without a database row that a crash left in UPLOAD_DIR."""
    from sqlalchemy import select

    from portal.models import Document, MaterialType, Notice
    from services.storage import remove_orphan_files, remove_stray_files, remove_unused_derived

    def known(keys) -> set[str]:
        """Every stored file a row still names: documents, notices, material types' forms and examples."""
        keys = list(keys)
        found = set()
        for column in (
            Document.storage_key,
            Notice.storage_key,
            MaterialType.blank_form_key,
            MaterialType.example_key,
        ):
            found |= set(db.session.scalars(select(column).where(column.in_(keys))))
        return found

    upload_dir = current_app.config["UPLOAD_DIR"]
    removed = remove_stray_files(upload_dir, older_than)
    orphans = remove_orphan_files(upload_dir, known, older_than)
    unused = remove_unused_derived(upload_dir)
    click.echo(
        f"removed {removed} stray temporary files, {orphans} files no row refers to and "
        f"{unused} rendered PDFs unread for 30 days"
    )


@jobs_cli.command("run")
def jobs_run() -> None:
    """Reminders, overdue and 视为受理 flags, 容缺 deadlines, post-checks, appointment slots, the outbox (idempotent)."""
    from services.jobs import run_jobs

    report = run_jobs()
    click.echo(f"jobs done: {report}")
    from flask_babel import force_locale

    from services.calendar_admin import missing_schedule_message, missing_schedule_years

    with force_locale("zh_CN"):
        for year in missing_schedule_years():
            click.echo(f"warning: {missing_schedule_message(year)}", err=True)


@users_cli.command("create-admin")
@click.option("--username", prompt="Username (工作账号)", help="Letters first, 3 to 40 characters.")
@click.option("--display-name", prompt="Display name (姓名)", help="The name colleagues see.")
@click.password_option(
    "--password",
    prompt="Password (at least 8 characters, letters and digits)",
    help="Better typed at the prompt than left in the shell's history.",
)
def users_create_admin(username: str, display_name: str, password: str) -> None:
    """Create an administrator (the first one of a fresh install); they enrol a second factor at first login."""
    from services.errors import ValidationError
    from services.staff import create_first_admin

    try:
        user = create_first_admin(username=username, display_name=display_name, password=password)
    except ValidationError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(
        f"admin {user.username} created; at the first login they set up an authenticator app"
    )


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(files_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(users_cli)
