# syntax=docker/dockerfile:1
# Multi-stage: dependencies are built in `build` (with compilers, in case a wheel is missing)
# and only the virtualenv is copied into the slim, non-root runtime image.
#
#   docker build -t lead-tracking .
#   docker run --env-file .env -p 8000:8000 lead-tracking            # web (gunicorn)
#   docker run --env-file .env lead-tracking worker                   # RQ worker
#   docker run --env-file .env lead-tracking scheduler                # periodic jobs (one!)
#   docker run --env-file .env lead-tracking migrate                  # migrations, then exit

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock ./
# Runtime dependencies only (pyproject's [project.dependencies]), at the versions of the lock.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.runtime.txt \
    && pip install -r requirements.runtime.txt -c requirements.lock

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DEBUG=0 \
    PORT=8000 \
    LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# Code stays owned by root: the app user can read it, not change it.
COPY . .
# Static files are part of the image (served by WhiteNoise, hashed names, gzip). The keys
# below exist only for this build step; the settings refuse to start without real ones.
RUN DEBUG=0 SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEY=collectstatic-only \
        DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
        python manage.py collectstatic --noinput --verbosity 0 \
    && rm -f /tmp/collectstatic.sqlite3 \
    && mkdir -p /app/.data /tmp/metrics \
    && chown app:app /app/.data /tmp/metrics
USER app
EXPOSE 8000
# Liveness of the web process only; load balancers should use /health/ (database and Redis).
# Worker and scheduler containers disable it (docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "bin/healthcheck.py"]
ENTRYPOINT ["bin/docker-entrypoint.sh"]
CMD ["web"]
