"""Email login, JWT obtain/refresh with throttling, and the membership check at login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.throttling import AnonRateThrottle
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from organizations.models import Membership, User


class EmailBackend(ModelBackend):
    """Authenticates by email, case-insensitively."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = kwargs.get("email", username)
        if not email or password is None:
            return None
        user = User.objects.filter(email__iexact=str(email).strip()).first()
        if user is None:
            # Same cost as a real check, so response time does not reveal which emails exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class AuthRateThrottle(AnonRateThrottle):
    """Per-IP limit on the token endpoints (brute-force protection); 429 with Retry-After."""

    scope = "auth"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class EmailTokenObtainSerializer(TokenObtainPairSerializer):
    default_error_messages = {
        "no_active_account": _("Email ou senha incorretos, ou conta sem acesso ativo."),
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        data = super().validate(attrs)
        # A user whose memberships are all deactivated cannot obtain tokens at all.
        if not Membership.objects.filter(user=self.user, ativo=True).exists():
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
        return data


class TokenObtainView(TokenObtainPairView):
    """POST {email, password} -> {access, refresh}."""

    serializer_class = EmailTokenObtainSerializer
    throttle_classes = [AuthRateThrottle]


class TokenRefreshThrottledView(TokenRefreshView):
    """POST {refresh} -> {access, refresh}; the old refresh token is blacklisted (rotation)."""

    throttle_classes = [AuthRateThrottle]
