"""Benchmark-only routes, mounted when BENCH_ENDPOINTS is on (bench/run turns it on).

`/api/v1/bench/ping/` is the *framework floor* of the benchmark: a trivial JSON answer that goes
through the same middleware, DRF renderer and throttle as every endpoint, but runs no query.
An endpoint's time minus this floor and minus its own SQL is what our code costs.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PingView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [path("bench/ping/", PingView.as_view(), name="bench-ping")]
