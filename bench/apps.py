from __future__ import annotations

from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark tooling: the `bench_data` command and the framework-floor route.

    Installed only when the BENCH setting is on (bench/run and the test suite), never in
    production; the Docker image leaves bench/ out.
    """

    name = "bench"
    verbose_name = "Benchmark"
