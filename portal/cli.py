"""Operator commands: `flask seed …`, `flask audit …`, `flask files …`, `flask jobs …`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.extensions import db

seed_cli = AppGroup("seed", help="Load demo or scale data.")
audit_cli = AppGroup("audit", help="Check the audit trail.")
files_cli = AppGroup("files", help="Maintain stored files.")
jobs_cli = AppGroup("jobs", help="Scheduled work (run every minute from cron).")


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


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the event hash chain and name the first broken link."""
    from services.audit import verify_chain

    report = verify_chain()
    if report.broken_at is not None:
        click.echo(f"BROKEN at event {report.broken_at}: {report.reason} ({report.checked} verified before it)")
        raise SystemExit(1)
    click.echo(f"audit chain intact: {report.checked} events")


@files_cli.command("cleanup")
@click.option("--older-than", default=3600, show_default=True, help="Seconds since last write.")
def files_cleanup(older_than: int) -> None:
    """Remove temporary files a crash left behind in UPLOAD_DIR."""
    from services.storage import remove_stray_files

    removed = remove_stray_files(current_app.config["UPLOAD_DIR"], older_than)
    click.echo(f"removed {removed} stray temporary files")


@jobs_cli.command("run")
def jobs_run() -> None:
    """Reminders, overdue and 视为受理 flags, 容缺 deadlines, post-checks, the outbox (idempotent)."""
    from services.jobs import run_jobs

    report = run_jobs()
    click.echo(f"jobs done: {report}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(files_cli)
    app.cli.add_command(jobs_cli)
