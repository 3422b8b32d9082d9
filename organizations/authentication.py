"""JWT authentication that loads the requester's membership in the same query as the user.

simplejwt's `JWTAuthentication` reads the user (one query) and the permission check then reads
the active membership (`organizations.permissions.resolve_membership`, a second one). Here one
query reads the membership the request will use, chosen exactly as the permission check would
(`X-Organization-Id`, else the oldest active one), with its user and organization, and attaches
it to the request. The membership is not kept across requests: a deactivated membership, a
changed role or a deactivated user takes effect on the very next request.

Without an active membership (or with a malformed `X-Organization-Id`, an inactive user, or
`CHECK_REVOKE_TOKEN`) it falls back to simplejwt's own user lookup, so its errors stay the same
and the permission check answers as before (403 not a member, 400 bad header).

The access token's own validation (signature and claims, PyJWT through simplejwt) is kept per
process by the token's exact bytes, up to `VALIDATED_TOKENS` of them: ~0.1 ms a request
(bench/README.md, "Authentication"). An access token is a pure function of its bytes
and the clock (simplejwt checks no blacklist for it), so a kept one is checked again only for
expiry, on every request, with simplejwt's own `check_exp`; an expired one goes through
simplejwt again for its usual error. Only valid tokens are kept: a rejected one raises, and
`lru_cache` keeps no exception.
"""

from __future__ import annotations

import functools
from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from organizations.models import Membership
from organizations.permissions import active_membership, attach_membership, organization_header

# Distinct valid access tokens kept per process: ~1 KB each with its payload (measured with
# tracemalloc), ~5 MB at most.
VALIDATED_TOKENS = 4096


@functools.lru_cache(maxsize=VALIDATED_TOKENS)
def _validated(raw_token: bytes) -> Token:
    return JWTAuthentication().get_validated_token(raw_token)


class MemberJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>`; user and membership in one query."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = _validated(bytes(raw_token))
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:  # expired since it was kept: simplejwt's own answer
            return super().get_validated_token(raw_token)
        return token

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        validated_token = self.get_validated_token(raw_token)
        membership = self._membership(request, validated_token)
        if membership is None:
            return self.get_user(validated_token), validated_token
        attach_membership(request, membership)
        return membership.user, validated_token

    def _membership(self, request: Request, token: Token) -> Membership | None:
        user_id = token.get(api_settings.USER_ID_CLAIM)
        if user_id is None or api_settings.CHECK_REVOKE_TOKEN:
            return None
        try:
            organization_id = organization_header(request)
        except exceptions.ValidationError:
            return None  # the permission check answers the 400
        membership = active_membership(user_id, organization_id)
        if membership is None or not membership.user.is_active:
            return None
        return membership


class MemberJWTScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """The OpenAPI security scheme of simplejwt's class, for this subclass (drf-spectacular
    matches extensions by exact class)."""

    target_class = "organizations.authentication.MemberJWTAuthentication"
