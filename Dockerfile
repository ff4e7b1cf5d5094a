# syntax=docker/dockerfile:1
# The bot as a container: `docker build -t telegram-ai-assistant .` (README "Scaling out").
# Python 3.11 is what CI tests (pyproject: >=3.11); constraints.txt pins the same versions.

# --- build: the package and its dependencies into a virtual environment ----------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY app ./app
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
# A normal (non-editable) install without the test extra; the venv moves whole to the runtime.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -c constraints.txt .

# --- runtime: the venv, a non-root user, the SQLite folder as a volume -------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    # SQLite by default, on the volume; compose.yaml sets a postgresql:// URL instead.
    DATABASE_URL=sqlite:////data/bot.sqlite3 \
    # /healthz and /metrics on 8080 in both modes: WEBHOOK_PORT in webhook mode,
    # METRICS_PORT in polling mode (each is ignored in the other mode).
    WEBHOOK_PORT=8080 \
    METRICS_PORT=8080
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home bot \
    && mkdir -p /app /data \
    && chown bot:bot /app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER bot
VOLUME ["/data"]
EXPOSE 8080
# GET /healthz on the port the bot serves it on in its mode (no curl in slim images).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('WEBHOOK_PORT' if os.environ.get('TELEGRAM_WEBHOOK_URL') else 'METRICS_PORT') or '8080'; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM (docker stop) is a graceful stop: give it more than SHUTDOWN_GRACE_SECONDS (20 s),
# e.g. `docker stop -t 30` or compose's stop_grace_period.
STOPSIGNAL SIGTERM
CMD ["telegram-ai-assistant"]
