"""The yardstick for scripts/bench.py: a bare Flask app with one route, served by the same
gunicorn settings as the portal, so page timings can be read as a multiple of Flask's own cost."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def ok() -> str:
    return "ok"
