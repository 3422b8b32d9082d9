"""Public (no login) follow-up pages: the unsubscribe link of every follow-up email."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from followup import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="followup-unsubscribe"),
]
