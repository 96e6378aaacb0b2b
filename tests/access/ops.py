"""The ops endpoints (portal/ops.py): health and readiness for everyone (they show nothing
personal), metrics refused to every role without the bearer token (tests/portal/test_ops.py
gives it)."""

from tests.access import ALL_200, ROLES

GET = {
    "ops.healthz": ("/healthz", ALL_200),
    "ops.readyz": ("/readyz", ALL_200),
    "ops.metrics": ("/metrics", dict.fromkeys(ROLES, 403)),  # no METRICS_TOKEN in the tests
}
