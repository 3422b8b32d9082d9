"""Responses gzipped for clients that accept it (config.middleware.CompressionMiddleware):
the same body once decompressed, the ETag still the uncompressed body's, event streams left
alone."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import cast

import pytest
from django.http import StreamingHttpResponse
from django.test import RequestFactory

from config.middleware import CompressionMiddleware
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/"
GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def _body(response) -> bytes:
    if response.get("Content-Encoding") == "gzip":
        return gzip.decompress(response.content)
    return response.content


def test_an_api_list_is_gzipped_to_the_same_json_with_a_weak_etag(org_a, client_for):
    for _ in range(20):
        LeadFactory(organization=org_a.org)
    client = client_for(org_a.admin)

    plain = client.get(f"{API}leads/")
    packed = client.get(f"{API}leads/", **GZIP)

    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in plain["Vary"]
    assert "Accept-Encoding" in packed["Vary"]
    assert int(packed["Content-Length"]) == len(packed.content) < len(plain.content) / 4
    assert json.loads(_body(packed)) == plain.json()
    # The ETag is the uncompressed body's, weakened (RFC 9110 8.8.1); either form gets a 304.
    assert packed["ETag"] == "W/" + plain["ETag"]
    for etag in (packed["ETag"], plain["ETag"]):
        assert client.get(f"{API}leads/", HTTP_IF_NONE_MATCH=etag, **GZIP).status_code == 304


def test_if_match_takes_the_etag_a_compressed_read_gave(org_a, client_for):
    """A mobile client reads with gzip and sends the (weak) ETag back in If-Match: the update
    goes through, and a stale one is still refused."""
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    client = client_for(org_a.admin)
    url = f"{API}leads/{lead.pk}/"
    read = client.get(url, **GZIP)
    assert read["Content-Encoding"] == "gzip"
    assert read["ETag"].startswith('W/"')

    first = client.patch(
        url, {"empresa": "Nova"}, format="json", HTTP_IF_MATCH=read["ETag"], **GZIP
    )
    assert first.status_code == 200, _body(first)
    assert json.loads(_body(first))["empresa"] == "Nova"
    stale = client.patch(
        url, {"empresa": "Outra"}, format="json", HTTP_IF_MATCH=read["ETag"], **GZIP
    )
    assert stale.status_code == 412
    assert json.loads(_body(stale))["error"]


def test_a_back_office_page_is_gzipped(org_a, client):
    LeadFactory(organization=org_a.org)
    client.force_login(org_a.admin.user)

    page = client.get("/admin/leads/lead/", **GZIP)

    assert page.status_code == 200
    assert page["Content-Encoding"] == "gzip"
    html = _body(page).decode()
    assert "</html>" in html
    assert "Leads" in html


def test_small_answers_and_clients_without_gzip_get_plain_bodies(org_a, client_for):
    client = client_for(org_a.admin)
    assert "Content-Encoding" not in client.get(f"{API}leads/")
    tiny = client.get(f"{API}leads/00000000-0000-0000-0000-000000000000/", **GZIP)
    assert tiny.status_code == 404
    assert len(tiny.content) < 200
    assert "Content-Encoding" not in tiny


def test_an_event_stream_is_not_compressed() -> None:
    request = RequestFactory().get(
        "/api/v1/notifications/stream/", HTTP_ACCEPT_ENCODING=GZIP["HTTP_ACCEPT_ENCODING"]
    )
    events = StreamingHttpResponse(
        iter([b"event: message\ndata: {}\n\n"] * 50), content_type="text/event-stream"
    )
    other = StreamingHttpResponse(iter([b"linha;valor\n"] * 50), content_type="text/csv")
    middleware = CompressionMiddleware(lambda request: events)

    assert "Content-Encoding" not in middleware.process_response(request, events)
    assert middleware.process_response(request, other)["Content-Encoding"] == "gzip"
    chunks = cast("Iterator[bytes]", other.streaming_content)
    assert gzip.decompress(b"".join(chunks)) == b"linha;valor\n" * 50
