"""A finished request's reference cycles broken, so that reference counting frees what it held.

Django, DRF and django-filter leave a request's objects in reference cycles:

- `AuthenticationMiddleware` sets `request.auser = partial(auser, request)` and
  `request.user = SimpleLazyObject(lambda: get_user(request))`; `MessageMiddleware`'s storage
  keeps the request that keeps it;
- DRF's `Request` keeps itself and the view in its `parser_context`; its `Response` keeps
  itself in its `renderer_context`; `as_view` binds the handlers to the view (`self.get =
  self.list`), and the view keeps the response;
- a serializer's output keeps the serializer, whose fields (a list serializer's child) point
  back to it; a FilterSet's filters point back to it, its form's bound fields to the form.

Whatever those objects reach (the view, its page of rows, the serializers) then outlived the
request until Python's cyclic collector found it: ~350-500 objects a list request, walked again
by each young collection they survived and freed by a middle-generation collection of ~5 ms
inside some later request, one in ~16 (bench/README.md, "A request's cycles").

`ReleaseCyclesMiddleware` registers `release` as one of the response's closers, which Django
runs in `HttpResponse.close()` once the server has sent the body (the test client calls it
before handing the response over). Nothing of the request runs after that, and what a caller
may still read is kept: the request's user (its value replaces the lazy object), a message
storage that was used, the response's data, the renderer context's request and view. The
filter backend (`config.api.filters.FilterBackend`) releases its FilterSet once its queryset is
made, and the dashboards their query serializers once read. `tests/test_request_cycles.py`
checks that none of a request's objects is left to the collector.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import MethodType
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty


def release(request: HttpRequest, response: HttpResponseBase) -> None:
    """Breaks the cycles listed above; safe to call more than once."""
    state = request.__dict__
    state.pop("auser", None)
    storage = state.get("_messages")
    if storage is not None and _untouched(storage):
        del state["_messages"]
    user = state.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is not empty:
        state["user"] = user._wrapped
    data = getattr(response, "data", None)
    # A serializer's output (DRF's ReturnDict, ReturnList) keeps the serializer: the answer
    # itself, or a page's rows one level down ({"data": [...], "pagination": {...}}).
    for value in (data, *(data.values() if isinstance(data, dict) else ())):
        serializer = getattr(value, "serializer", None)
        if serializer is not None:
            release_serializer(serializer)
    context = getattr(response, "renderer_context", None)
    if isinstance(context, dict):
        context.pop("response", None)
        view = context.get("view")
        if view is not None:
            _release_view(view)
        drf_request = context.get("request")
        parser_context = getattr(drf_request, "parser_context", None)
        if isinstance(parser_context, dict):
            parser_context.pop("request", None)
            parser_context.pop("view", None)


def release_filterset(filterset: Any) -> None:
    """A django-filter FilterSet done with: its filters point back to it (`filter.parent`), its
    form's bound fields to the form; the set keeps the request and the queryset."""
    for each in filterset.filters.values():
        each.__dict__.pop("parent", None)
    form = filterset.__dict__.get("_form")
    if form is not None:
        form._bound_fields_cache.clear()
        # An invalid parameter's ValidationError is in a cycle of its own (Django's
        # `error_list = [self]`) and keeps its traceback, whose frames hold the form and the
        # set; the 400's body is made from them already.
        for errors in (form._errors or {}).values():
            for error in getattr(errors, "data", ()):
                error.__traceback__ = None
        form._errors = None


def release_serializer(serializer: Any) -> None:
    """A DRF serializer (or field) whose output is made: a list serializer's child points back
    to it (`child.parent`), a serializer's bound fields to it (`field.parent`,
    `fields.serializer`). Its instance (a page of rows) stays reachable only from what holds
    the output."""
    child = serializer.__dict__.get("child")
    if child is not None:
        child.__dict__.pop("parent", None)
        release_serializer(child)
    fields = serializer.__dict__.pop("fields", None) or {}
    for field in fields.values():
        field.__dict__.pop("parent", None)
        release_serializer(field)  # a nested serializer, a ListField's child


def _untouched(storage: Any) -> bool:
    """A message storage nothing added to, read or loaded (every API request's): it and its
    backends keep the request, which keeps them."""
    return not (
        getattr(storage, "used", True)
        or getattr(storage, "_queued_messages", True)
        or hasattr(storage, "_loaded_data")
    )


def _release_view(view: Any) -> None:
    state = view.__dict__
    state.pop("response", None)
    # DRF's `as_view` binds the handlers to the instance (`self.head = self.get`, a viewset's
    # `self.get = self.list`): bound methods of the view kept on the view.
    for name, value in list(state.items()):
        if isinstance(value, MethodType) and value.__self__ is view:
            del state[name]


class ReleaseCyclesMiddleware:
    """Registers `release` to run when the response is closed (`config.settings.MIDDLEWARE`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        # Django's own list of what `close()` runs (its handler adds `request.close` to it);
        # the list is cleared after running, which drops this partial too.
        closers: list[Any] = response._resource_closers  # type: ignore[attr-defined]
        closers.append(partial(release, request, response))
        return response
