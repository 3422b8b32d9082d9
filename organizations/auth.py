"""Email login, JWT obtain/refresh with throttling, and the membership check at login."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from config.api.throttling import AnonRateThrottle
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


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for login requests.

    `authenticate()` without a request (a management command, the test client's `login()`)
    is no login route anyone can hammer, so there is nothing to count or refuse.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a login attempt names, as django-axes counts it (email, case-insensitive).

    The admin and browsable-API forms post `username`; the token endpoint posts `email`.
    """
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if not value:
        post = getattr(request, "POST", {}) or {}
        value = post.get("username") or post.get("email") or ""
    return str(value).strip().lower()


def client_ip(request: HttpRequest) -> str:
    """The client address for django-axes: the same as the DRF throttles' (NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)  # type: ignore[arg-type]


class LoginLockedOut(exceptions.APIException):
    """429: too many failed logins for this account or from this address (django-axes)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = _(
        "Acesso bloqueado temporariamente: muitas tentativas de login sem sucesso. "
        "Tente novamente mais tarde ou peça a um administrador para desbloquear."
    )
    default_code = "login_locked_out"


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
        try:
            data = super().validate(attrs)
        except exceptions.AuthenticationFailed:
            # django-axes' backend refused before checking the password: say so (429), as
            # the admin's lockout page does, instead of "wrong password".
            if getattr(self.context.get("request"), "axes_locked_out", False):
                raise LoginLockedOut() from None
            raise
        # A user whose memberships are all deactivated cannot obtain tokens at all.
        if not Membership.objects.filter(user=self.user, ativo=True).exists():
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
        return data


_TOKEN_PAIR = inline_serializer(
    "TokenPair",
    {
        "access": serializers.CharField(help_text=_("JWT de acesso (Bearer).")),
        "refresh": serializers.CharField(
            help_text=_("JWT de renovação (troque em /auth/token/refresh/).")
        ),
    },
)


class TokenObtainView(TokenObtainPairView):
    """POST {email, password} -> {access, refresh}."""

    serializer_class = EmailTokenObtainSerializer
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        summary=_("Obtém um par de tokens JWT com email e senha"),
        responses={200: _TOKEN_PAIR},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except (exceptions.AuthenticationFailed, LoginLockedOut) as exc:
            # Answered here rather than raised: a raised error rolls the request's transaction
            # back, and django-axes' record of this failed login must be committed.
            response = Response({"error": str(exc.detail), "details": {}}, status=exc.status_code)
            if isinstance(exc, exceptions.AuthenticationFailed):
                response["WWW-Authenticate"] = self.get_authenticate_header(request) or "Bearer"
            return response
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenRefreshThrottledView(TokenRefreshView):
    """POST {refresh} -> {access, refresh}; the old refresh token is blacklisted (rotation)."""

    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        summary=_("Troca o token de renovação por um novo par (rotação)"),
        responses={200: _TOKEN_PAIR},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
