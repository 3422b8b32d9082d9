"""prometheus_client multiprocess mode for gunicorn workers and RQ work horses.

When PROMETHEUS_MULTIPROC_DIR is set, every process writes its metric values to files in that
directory and /metrics sums them (MultiProcessCollector), so a scrape sees the totals of all
gunicorn workers and of the jobs run by RQ, whichever process served it.

Two refinements over prometheus_client's default (one file set per PID):

- The file name carries the host name as well as the PID. Web and worker containers sharing
  the directory through a volume live in different PID namespaces, and two live processes
  writing one file would corrupt it.
- RQ forks a short-lived "work horse" per job. With PID-named files every job would leave new
  files behind and scrapes would slow down day after day; horses of one worker run one at a
  time, so they share one file set named after their worker (`<host>-rq<worker pid>`) and
  continue its counts.

`configure()` must run before the first metric object is created: settings.py and
gunicorn.conf.py call it first thing. This module must not import Django.
"""

from __future__ import annotations

import os
import re
import socket

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
# (horse pid, its worker's pid) once this process became an RQ work horse.
_horse: tuple[int, int] | None = None


def enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def identifier_for(pid: int) -> str:
    """The file-name identifier of process `pid` on this host (for mark_process_dead)."""
    return f"{_HOST}-{pid}"


def process_identifier() -> str:
    pid = os.getpid()
    if _horse is not None and _horse[0] == pid:
        return f"{_HOST}-rq{_horse[1]}"
    # Also any child a job forks: it inherits `_horse` but has its own PID.
    return identifier_for(pid)


def mark_rq_horse() -> None:
    """Called first thing in a freshly forked RQ work horse."""
    global _horse
    _horse = (os.getpid(), os.getppid())


def configure() -> None:
    """Use our process identifier for multiprocess values (no-op when the mode is off)."""
    if not enabled():
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            # Set but empty (an uncommented `PROMETHEUS_MULTIPROC_DIR=` in .env):
            # prometheus_client would write files to the working directory. Mode off.
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            from prometheus_client import values

            values.ValueClass = values.MutexValue
        return
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    from prometheus_client import values

    if getattr(values.ValueClass, "_configured_by_us", False):
        return
    value_class = values.MultiProcessValue(process_identifier=process_identifier)
    value_class._configured_by_us = True
    values.ValueClass = value_class


def mark_process_dead(pid: int) -> None:
    """gunicorn child_exit: drop the live-gauge files of a dead worker."""
    if not enabled():
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(identifier_for(pid))
