"""A web worker's long-lived objects kept out of the cyclic garbage collector's full walks.

A loaded worker holds ~190,000 container objects for its whole life: modules, classes, the
URL resolver, translation catalogues. Python's collector walks all of them on each full (oldest
generation) collection, which comes every few hundred requests and took 113-124 ms on the
2-core machine (bench/README.md, "Garbage collection pauses"): one request in a few hundred
waited that long, on every endpoint (the leads list's p99 at concurrency 8: 186 ms, 58 ms
frozen). `gc.freeze()` moves every object alive at that moment to a permanent generation the
collector never walks; objects made by requests are collected as before. Called by gunicorn's
`post_worker_init` (gunicorn.conf.py), once the worker has loaded the application.
"""

from __future__ import annotations

import gc


def freeze_loaded() -> int:
    """Builds what Django otherwise builds on a worker's first request (the URL resolver's
    reverse tables, ~22,000 objects), collects once, then freezes what is left; returns how
    many objects are frozen."""
    from django.urls import get_resolver

    get_resolver().reverse_dict  # noqa: B018 (populates the resolver)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
