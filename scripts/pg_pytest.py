#!/usr/bin/env python3
"""Run pytest (with the given arguments) against a throwaway PostgreSQL server.

    .venv/bin/python scripts/pg_pytest.py -q tests/services/test_queue.py

The server is made and removed as in scripts/test_all.py; the output goes to the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_all import throwaway_postgres  # noqa: E402


def main() -> int:
    with throwaway_postgres() as admin_url:
        env = {**os.environ, "PORTAL_TEST_PG_ADMIN_URL": admin_url}
        return subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
