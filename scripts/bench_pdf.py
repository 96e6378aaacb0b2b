#!/usr/bin/env python3
"""In-process timings of the PDFs a case issues: a 受理通知书 (``issue_notice``, as the review
workflow and ``flask simulate`` call it) and an e-licence (``issue_elicence``), each issued
``--runs`` times and rolled back, and the guide and checklist PDFs rendered again from their
HTML. Prints the median CPU time (``time.process_time``) and wall time of each, the PDF's size,
the fonts it embeds and the load average, so figures from a busy machine can be told apart.

    .venv/bin/python scripts/bench_pdf.py                      # a scratch demo database
    .venv/bin/python scripts/bench_pdf.py --database-url sqlite:////path/to/bench.db

The first of each is printed apart: it pays for the process's renderer (services/pdf.py) and,
on a new instance, for making the font subset (services/fonts.py). Not a test: numbers depend
on the machine and its load. With ``--database-url`` nothing is committed; otherwise only the
temporary directory is written (and ``instance/fonts/`` once).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pikepdf  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Application, Department, MaterialType, User  # noqa: E402
from services import elicences, notices, pdf, storage  # noqa: E402
from services.clock import local_today  # noqa: E402


def make_app(database_url: str | None, tmp: Path):
    app = create_app(
        {
            "DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.db'}",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "UPLOAD_DIR": str(tmp / "uploads"),
            "PUBLIC_BASE_URL": "https://zwfw.example.gov.cn",
        }
    )
    if database_url is None:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            from seeds.demo import load_demo

            load_demo()
            db.session.commit()
            db.session.remove()
    return app


def fonts_of(data: bytes) -> str:
    document = pikepdf.open(io.BytesIO(data))
    return ", ".join(
        sorted(
            str(obj.FontName).split("+", 1)[-1]
            for obj in document.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor"
        )
    )


def timed(name: str, make: Callable[[], bytes], runs: int) -> None:
    first_cpu, first_wall = time.process_time(), time.perf_counter()
    data = make()
    first = (time.process_time() - first_cpu) * 1000, (time.perf_counter() - first_wall) * 1000
    cpu, wall = [], []
    for _ in range(runs):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        make()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
    print(
        f"{name:<28} median of {runs}: {statistics.median(cpu):6.1f} ms CPU "
        f"{statistics.median(wall):6.1f} ms wall | first {first[0]:.0f} ms CPU "
        f"{first[1]:.0f} ms wall | {len(data) // 1024} KB | {fonts_of(data)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an existing database (default: a scratch demo)")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(args.database_url, Path(tmp))
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        with app.app_context(), app.test_request_context():
            reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
            case = db.session.scalar(
                select(Application)
                .where(
                    Application.department_id == reviewer.department_id,
                    Application.status != "draft",
                )
                .order_by(Application.id.desc())
                .limit(1)
            )
            department = db.session.get(Department, reviewer.department_id)
            licence_type = db.session.scalar(
                select(MaterialType)
                .where(MaterialType.licence_type_code.is_not(None))
                .order_by(MaterialType.id)
                .limit(1)
            )
            due = local_today() + timedelta(days=20)

            def notice() -> bytes:
                issued = notices.issue_notice(case, "acceptance", actor=reviewer, due_date=due)
                data = storage.read(issued.storage_key)
                db.session.rollback()
                return data

            def licence() -> bytes:
                issued = elicences.issue_elicence(
                    holder=case.applicant,
                    material_type=licence_type,
                    department=department,
                    issued_on=local_today(),
                    valid_until=None,
                )
                data = storage.read(issued.document.storage_key)
                db.session.rollback()
                return data

            timed("受理通知书 (issue_notice)", notice, args.runs)
            timed("e-licence (issue_elicence)", licence, args.runs)

        captured: dict[str, str] = {}
        real_write = pdf._write_pdf

        def capturing_write(html: str) -> bytes:
            captured["html"] = html
            return real_write(html)

        pdf._write_pdf = capturing_write
        try:
            client = app.test_client()
            code = "330100GA0001"
            for which in ("guide", "checklist"):
                captured.clear()
                client.get(f"/items/{code}/{which}.pdf")
                if "html" not in captured:  # already stored: nothing was rendered
                    print(f"{which}: stored already, not rendered")
                    continue
                with app.test_request_context():
                    timed(f"{which} PDF (WeasyPrint)", lambda: real_write(captured["html"]), 5)
        finally:
            pdf._write_pdf = real_write


if __name__ == "__main__":
    main()
