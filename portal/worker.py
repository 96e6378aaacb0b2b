"""The Celery worker's and beat's entry point: the portal built from the environment, with its
Celery app (portal/celery_app.py). ``celery -A portal.worker worker`` / ``… beat``."""

from portal import create_app
from portal.logging_setup import configure_logging, log_format

flask_app = create_app()
if "celery" not in flask_app.extensions:
    raise SystemExit("no broker: set CELERY_BROKER_URL (a Redis URL) to run a worker")
configure_logging(log_format(flask_app.config))
celery = flask_app.extensions["celery"]
