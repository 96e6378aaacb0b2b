# The portal's image: the web app (gunicorn), the Celery worker and beat all run from it.
#   docker build -t portal .
#   docker run --env-file portal.env -p 8000:8000 portal                       # web
#   docker run --env-file portal.env portal celery -A portal.worker worker     # worker
# compose.yaml wires it to PostgreSQL, Redis, MinIO and nginx (README: "Deploying on several
# machines").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_ENV=production \
    LOG_FORMAT=json \
    FLASK_APP=portal

# what WeasyPrint needs to render notices and licences with Chinese text (the Makefile's APT_RUN)
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --shell /usr/sbin/nologin portal

WORKDIR /app

# dependencies first (a layer that changes only with pyproject.toml)
COPY pyproject.toml README.md ./
RUN mkdir -p portal services forms seeds \
    && touch portal/__init__.py services/__init__.py forms/__init__.py seeds/__init__.py \
    && pip install . \
    && pip uninstall -y portal \
    && rm -rf portal services forms seeds build ./*.egg-info

# the application: templates, static files, migrations and translations are read from /app
COPY . .
RUN pip install --no-deps -e . \
    && pybabel compile --use-fuzzy -d translations \
    && mkdir -p instance \
    && chown -R portal:portal instance

USER portal
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "portal:create_app()"]
