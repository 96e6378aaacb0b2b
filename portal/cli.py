"""Operator commands: `flask seed …`, `flask audit …`, `flask files …`, `flask jobs …`,
`flask users …`, `flask backup PATH`, `flask restore PATH`."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

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
@click.option(
    "--citizens",
    type=click.IntRange(min=0),
    help="Synthetic citizens the applications are spread over (default: one per two).",
)
@click.option(
    "--accounts",
    default=0,
    type=click.IntRange(min=0),
    help="Citizens who can log in (17000000001 …, the demo password); the first with 50 cases "
    "and 100 documents.",
)
def seed_scale(items: int, applications: int, citizens: int | None, accounts: int) -> None:
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
            length=planned_records(items, applications, citizens),
            label="scale seed",
            show_pos=True,
        ) as bar:
            report = load_scale(
                items=items,
                applications=applications,
                progress=bar.update,
                citizens=citizens,
                accounts=accounts,
            )
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
    click.echo("steps: " + ", ".join(f"{step} {s:.1f} s" for step, s in report.phases.items()))


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
    """Remove temporary files and files without a database row that a crash left in the
    storage backend (UPLOAD_DIR or the S3 store), and rendered PDFs unread for 30 days."""
    from services.storage import cleanup

    click.echo(str(cleanup(older_than)))


@click.command("backup")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--jobs", default=8, show_default=True, type=click.IntRange(1, 64), help="Files copied at once."
)
@with_appcontext
def backup_command(path: Path, jobs: int) -> None:
    """Back up the database and every stored file into PATH (a new or empty folder), with a
    manifest of row counts and SHA-256 checksums."""
    from services.backup import BackupError, backup

    try:
        report = backup(path, workers=jobs)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"backup written to {report.path}: {report.dialect} database at revision "
        f"{report.revision}, {len(report.tables)} tables, {sum(report.tables.values())} rows, "
        f"{report.files} files ({report.file_bytes} bytes)"
    )
    if report.missing_files:
        click.echo(
            f"INCOMPLETE: {len(report.missing_files)} files that rows name were not in the "
            f"store (listed in the manifest): {', '.join(report.missing_files[:5])}",
            err=True,
        )
        raise SystemExit(1)


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--jobs", default=8, show_default=True, type=click.IntRange(1, 64), help="Files copied at once."
)
@with_appcontext
def restore_command(path: Path, jobs: int) -> None:
    """Restore a backup made by `flask backup` into this EMPTY instance (a new database
    without tables and an empty storage), checking every checksum before and after."""
    from services.audit import verify_chain
    from services.backup import BackupError, restore

    try:
        report = restore(path, workers=jobs)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored {report.dialect} database at revision {report.revision}: "
        f"{len(report.tables)} tables, {sum(report.tables.values())} rows (as in the manifest), "
        f"{report.files} files (checksums verified)"
    )
    chain = verify_chain()
    if chain.broken_at is not None:
        click.echo(f"audit chain BROKEN at event {chain.broken_at}: {chain.reason}", err=True)
        raise SystemExit(1)
    click.echo(f"audit chain intact: {chain.checked} events")
    if report.missing_files:
        click.echo(
            f"note: {len(report.missing_files)} files were missing when the backup was made",
            err=True,
        )
    click.echo("next: `flask --app portal db upgrade` if this code is newer than the backup")


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


@click.command("simulate")
@with_appcontext
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1, max=3660))
@click.option("--citizens", default=20000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--seed", default=7, show_default=True, type=int, help="The same seed replays the same cases."
)
def simulate(days: int, citizens: int, seed: int) -> None:
    """Replay the days before today through the services: applications, counters, reviews, deliveries, ratings (refused in production)."""
    if current_app.config["PORTAL_ENV"] == "production":
        raise click.ClickException(
            "the simulation writes fake people and cases: never in production"
        )
    try:
        from services.simulation import run_simulation
    except ModuleNotFoundError as exc:  # time-machine comes with the test extra
        raise click.ClickException(f"{exc.name} is missing: pip install -e '.[test]'") from exc
    from services.errors import DomainError

    try:
        with (
            current_app.test_request_context(),
            click.progressbar(length=days, label=f"simulating {days} days", show_pos=True) as bar,
        ):
            report = run_simulation(days=days, citizens=citizens, seed=seed, progress=bar.update)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    counts = report.counts
    click.echo(
        "cases: "
        + ", ".join(
            f"{k.removeprefix('case_')} {counts[k]}"
            for k in sorted(counts)
            if k.startswith("case_")
        )
        + f" (total {report.cases}); "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if not k.startswith("case_"))
    )
    if report.refused:
        click.echo(f"refused by the services: {sum(report.refused.values())}", err=True)
        for reason, n in report.refused.most_common(10):
            click.echo(f"  {n} × {reason}", err=True)
    click.echo(
        f"{report.events} events in {report.seconds:.1f} s: {report.rate(report.events):.1f} events/s, "
        f"{report.rate(report.cases):.2f} cases/s"
    )


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(files_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(simulate)
