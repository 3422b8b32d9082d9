"""Where an API request's CPU goes: process CPU time per phase of a list or dashboard request.

Usage (the benchmark database that `bench/run` generates; production settings as the server):

    .venv/bin/python bench/request_phases.py                      # bench-6, 10,000 leads
    .venv/bin/python bench/request_phases.py --organization bench-1 --runs 500

Each path is requested through Django's test client as the organization's admin with a JWT,
once to warm up and then `--runs` times. The figures are this process's CPU time (not wall
time: waiting for PostgreSQL or Redis is not counted, so a busy machine inflates them less than
it inflates latencies), per request, in total and inside these DRF and Django steps:

- `auth`: the JWT and the membership lookup (`perform_authentication`), its query included;
- `throttle`: the Redis counter (`check_throttles`);
- `filter`: django-filter (`filter_queryset`);
- `page`: the page and its total (`paginate_queryset`), statements compiled, sent and read;
- `serialize`: the page's rows as dictionaries (the list serializer's `data`);
- `sql`: the part of all the above spent in `cursor.execute` (the client's side of SQL);
- `render`: the JSON renderer.

The rest (`other`) is the test client, middleware, routing, the view's other steps and the
response. `/api/v1/bench/ping/` (the benchmark's framework floor) shows what every request
costs before any of ours. Latest figures: bench/README.md ("Where a list request's time goes").
"""

from __future__ import annotations

import argparse
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
PHASES = ("auth", "throttle", "filter", "page", "serialize", "sql", "render")


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
    # `sql` runs inside `auth` and `page`: only the top-level phases make up the total.
    row["other"] = total - sum(row[phase] for phase in PHASES if phase != "sql")
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

    from django.test import Client

    from bench.data import PASSWORD

    logging.disable(logging.CRITICAL)  # the request log would drown the report
    client = Client()
    response = client.post(
        "/api/v1/auth/token/",
        {"email": f"admin@{args.organization}.test", "password": PASSWORD},
        content_type="application/json",
    )
    headers = {
        "Authorization": f"Bearer {response.json()['access']}",
        "Accept": "application/json",
    }
    columns = ("total", *PHASES, "other")
    print(f"{args.organization}, {args.runs} requests a path after a warm-up; CPU ms a request")
    print("| path | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    with PhaseClock().installed() as clock:
        for path in args.paths:
            status = client.get(path, headers=headers).status_code
            if status != 200:
                print(f"| `{path}` | status {status} |")
                continue
            row = measure(partial(client.get, path, headers=headers), args.runs, clock)
            cells = " | ".join(f"{row[column]:.2f}" for column in columns)
            print(f"| `{path}` | {cells} |", flush=True)


if __name__ == "__main__":
    main()
