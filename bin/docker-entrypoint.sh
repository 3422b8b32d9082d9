#!/bin/sh
# Container entry point (also usable on a plain host):
#   docker-entrypoint.sh web|stream|worker|scheduler|migrate|release|<any command>
#
# 1. waits until PostgreSQL and Redis answer (WAIT_FOR_SERVICES=0 skips; WAIT_TIMEOUT seconds),
# 2. applies migrations first when MIGRATE_ON_START=1 (or for `migrate`/`release`),
# 3. execs the process, so it receives the orchestrator's signals directly (PID 1).
#
# PYTHON selects the interpreter (default: `python` on PATH, the image's virtualenv).
set -eu

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

if [ "$#" -eq 0 ]; then
  set -- web
fi

if [ "${WAIT_FOR_SERVICES:-1}" = "1" ]; then
  "$PYTHON" manage.py wait_for_services --timeout "${WAIT_TIMEOUT:-60}"
fi

role="$1"
case "$role" in
  migrate|release)
    exec "$PYTHON" manage.py migrate --noinput
    ;;
esac

if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
  "$PYTHON" manage.py migrate --noinput
fi

case "$role" in
  web)
    shift
    exec "$PYTHON" -m gunicorn config.wsgi "$@"
    ;;
  stream)
    # The notification stream (Server-Sent Events) needs ASGI; the proxy routes
    # /api/v1/notifications/stream/ here (docs/deploy.md, "Realtime notifications").
    shift
    exec "$PYTHON" -m uvicorn config.asgi:application --host 0.0.0.0 \
      --port "${STREAM_PORT:-8001}" --no-access-log --proxy-headers "$@"
    ;;
  worker)
    shift
    exec "$PYTHON" manage.py rqworker high default low "$@"
    ;;
  scheduler)
    shift
    exec "$PYTHON" manage.py rqscheduler "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
