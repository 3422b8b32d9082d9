"""Where an API request's CPU goes: process CPU time per phase of a list or dashboard request.

Usage (the benchmark database that `bench/run` generates; production settings as the server):

    .venv/bin/python bench/request_phases.py                      # bench-6, 10,000 leads
    .venv/bin/python bench/request_phases.py --organization bench-1 --runs 500

Each path is requested as the organization's admin with a JWT, through Django's WSGI handler
as gunicorn calls it (not the test client: it connects two signal receivers a request, and each
connection leaves an object behind that lives as long as the process, so the garbage
collector's work grows through a run), 50 times to warm up, the heap then frozen as a
gunicorn worker freezes it (config/heap.py), and then `--runs` times. The figures are this
process's CPU time (not wall time: waiting for PostgreSQL or Redis is not counted, so a busy
machine inflates them less than it inflates latencies), per request, in total and inside these
DRF and Django steps:

- `auth`: the JWT and the membership lookup (`perform_authentication`), its query included;
- `throttle`: the Redis counter (`check_throttles`);
- `filter`: django-filter (`filter_queryset`);
- `page`: the page and its total (`paginate_queryset`), statements compiled, sent and read;
- `serialize`: the page's rows as dictionaries (the list serializer's `data`);
- `sql`: the part of all the above spent in `cursor.execute` (the client's side of SQL);
- `render`: the JSON renderer;
- `gc`: the garbage collector's passes, wherever they fall (they are counted in the phase
  they interrupt as well).

The rest (`other`) is the handler, middleware, routing, the view's other steps and the
response. `/api/v1/bench/ping/` (the benchmark's framework floor) shows what every request
costs before any of ours. Latest figures: bench/README.md ("Where a list request's time goes").
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

PATHS = (
    "/api/v1/bench/ping/",
    "/api/v1/leads/",
    "/api/v1/leads/?status=em_contato,qualificado&temperatura=quente&score_min=50",
    "/api/v1/leads/?search=Silva",
    "/api/v1/leads/?search=Quixabeira",
    "/api/v1/leads/?cursor=",
    "/api/v1/leads/performance/?period=30",
    "/api/v1/mentorados/dashboard/",
)
PHASES = ("auth", "throttle", "filter", "page", "serialize", "sql", "render", "gc")
# Phases inside others: not part of the sum that leaves `other`.
NESTED = ("sql", "gc")


class PhaseClock:
    """CPU seconds spent inside wrapped methods, by phase (nested phases counted in each)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: type, name: str, phase: str) -> None:
        original = owner.__dict__[name]
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[phase] += time.process_time() - started

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def wrap_property(self, owner: type, name: str, phase: str) -> None:
        original = owner.__dict__[name]
        seconds = self.seconds

        def timed(instance: Any) -> Any:
            started = time.process_time()
            try:
                return original.fget(instance)
            finally:
                seconds[phase] += time.process_time() - started

        setattr(owner, name, property(timed))
        self._undo.append(lambda: setattr(owner, name, original))

    @contextmanager
    def installed(self) -> Iterator[PhaseClock]:
        from django.db.backends.utils import CursorWrapper
        from rest_framework.generics import GenericAPIView
        from rest_framework.response import Response
        from rest_framework.serializers import ListSerializer
        from rest_framework.views import APIView

        self.wrap(APIView, "perform_authentication", "auth")
        self.wrap(APIView, "check_throttles", "throttle")
        self.wrap(GenericAPIView, "filter_queryset", "filter")
        self.wrap(GenericAPIView, "paginate_queryset", "page")
        self.wrap(CursorWrapper, "execute", "sql")
        self.wrap_property(ListSerializer, "data", "serialize")
        self.wrap_property(Response, "rendered_content", "render")
        started = [0.0]

        def collecting(phase: str, _info: dict[str, Any]) -> None:
            if phase == "start":
                started[0] = time.process_time()
            else:
                self.seconds["gc"] += time.process_time() - started[0]

        gc.callbacks.append(collecting)
        self._undo.append(lambda: gc.callbacks.remove(collecting))
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()


def measure(get: Callable[[], Any], runs: int, clock: PhaseClock) -> dict[str, float]:
    """CPU milliseconds per request: `total`, each phase and `other`."""
    clock.seconds.clear()
    started = time.process_time()
    for _ in range(runs):
        get()
    total = (time.process_time() - started) * 1000 / runs
    row = {phase: clock.seconds.get(phase, 0.0) * 1000 / runs for phase in PHASES}
    # `sql` runs inside `auth` and `page`, `gc` anywhere: only the top-level phases make up the
    # total.
    row["other"] = total - sum(row[phase] for phase in PHASES if phase not in NESTED)
    row["total"] = total
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organization", default="bench-6")
    parser.add_argument("--runs", type=int, default=300)
    harness.add_database_arguments(parser)
    parser.add_argument("paths", nargs="*", default=list(PATHS))
    args = parser.parse_args(argv)
    harness.django_setup(harness.server_env(args))

    from django.core.handlers.wsgi import WSGIHandler
    from django.test import Client, RequestFactory

    from bench.data import PASSWORD
    from config.heap import freeze_loaded

    logging.disable(logging.CRITICAL)  # the request log would drown the report
    response = Client().post(
        "/api/v1/auth/token/",
        {"email": f"admin@{args.organization}.test", "password": PASSWORD},
        content_type="application/json",
    )
    headers = {
        "Authorization": f"Bearer {response.json()['access']}",
        "Accept": "application/json",
    }
    handler = WSGIHandler()
    freeze_loaded()  # as gunicorn.conf.py's post_worker_init, before the first request
    columns = ("total", *PHASES, "other")
    print(f"{args.organization}, {args.runs} requests a path after a warm-up; CPU ms a request")
    print("| path | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    with PhaseClock().installed() as clock:
        for path in args.paths:
            environ = RequestFactory().get(path, headers=headers).environ
            get = partial(_serve, handler, environ)
            statuses = {get() for _ in range(50)}
            if statuses != {200}:
                print(f"| `{path}` | status {', '.join(map(str, sorted(statuses)))} |")
                continue
            row = measure(get, args.runs, clock)
            cells = " | ".join(f"{row[column]:.2f}" for column in columns)
            print(f"| `{path}` | {cells} |", flush=True)


def _serve(handler: Any, environ: dict[str, Any]) -> int:
    """One request through the WSGI handler, its body read and the response closed (which
    ends the request: Django's request_finished), as a WSGI server does; its status."""
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc_info: Any = None) -> None:
        status.append(line)

    response = handler(dict(environ), start_response)
    try:
        for _chunk in response:
            pass
    finally:
        response.close()
    return int(status[0].split()[0])


if __name__ == "__main__":
    main()
