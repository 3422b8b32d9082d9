"""Writers racing on PostgreSQL: each in its own thread, with its own connection and
transactions, all released at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from django.db import connections


def race(work: Sequence[Callable[[int], None]]) -> list[BaseException]:
    """Runs every callable in a thread of its own, released together by a barrier, and returns
    what they raised. Each gets its worker number among the threads of the same callable
    (`[create, create, delete, delete]`: 0, 1, 0, 1), so that two of a kind can split rows."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(job: Callable[[int], None], worker: int) -> None:
        try:
            barrier.wait()
            job(worker)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(job, list(work[:n]).count(job)))
        for n, job in enumerate(work)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
