"""Secrets at rest: encrypted columns, key rotation, nothing readable leaks."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from integrations.fields import DecryptionError, decrypt, encrypt
from integrations.models import CRMConnection, WhatsAppAccount
from tests.integrations.factories import CRMConnectionFactory, WhatsAppAccountFactory

pytestmark = pytest.mark.django_db


def raw_value(table: str, column: str, pk: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        row = cursor.fetchone()
        assert row is not None
        return str(row[0])


def test_it_stores_secrets_encrypted_and_reads_them_back(org_a):
    account = WhatsAppAccountFactory(
        organization=org_a.org, access_token="token-super-secreto", app_secret="segredo-do-app"
    )
    connection_row = CRMConnectionFactory(organization=org_a.org, token="pat-secreto")

    for table, column, pk, plain in (
        ("whatsapp_accounts", "access_token", account.pk, "token-super-secreto"),
        ("whatsapp_accounts", "app_secret", account.pk, "segredo-do-app"),
        ("crm_connections", "token", connection_row.pk, "pat-secreto"),
    ):
        stored = raw_value(table, column, pk)
        assert plain not in stored
        assert stored.startswith("gAAAAA")  # a Fernet token

    fresh = WhatsAppAccount.objects.get(pk=account.pk)
    assert (fresh.access_token, fresh.app_secret) == ("token-super-secreto", "segredo-do-app")
    assert CRMConnection.objects.get(pk=connection_row.pk).token == "pat-secreto"


def test_it_uses_a_fresh_iv_for_every_encryption():
    assert encrypt("mesmo valor") != encrypt("mesmo valor")
    assert decrypt(encrypt("ação")) == "ação"


def test_it_encrypts_with_the_first_key_and_decrypts_with_any(settings):
    settings.FIELD_ENCRYPTION_KEY = "chave-antiga-0123456789"
    old_token = encrypt("segredo")
    settings.FIELD_ENCRYPTION_KEY = "chave-nova-abcdefghij, chave-antiga-0123456789"
    assert decrypt(old_token) == "segredo"
    new_token = encrypt("segredo")

    settings.FIELD_ENCRYPTION_KEY = "chave-nova-abcdefghij"
    assert decrypt(new_token) == "segredo"
    with pytest.raises(DecryptionError):
        decrypt(old_token)


def test_it_rotates_every_stored_secret_with_the_management_command(settings, org_a):
    settings.FIELD_ENCRYPTION_KEY = "chave-antiga-0123456789"
    account = WhatsAppAccountFactory(organization=org_a.org, access_token="tok-1")
    crm = CRMConnectionFactory(organization=org_a.org, token="tok-2")
    before = raw_value("whatsapp_accounts", "access_token", account.pk)

    settings.FIELD_ENCRYPTION_KEY = "chave-nova-abcdefghij,chave-antiga-0123456789"
    out = io.StringIO()
    call_command("rotate_field_encryption", stdout=out)
    assert "3 secret(s) re-encrypted" in out.getvalue()
    assert raw_value("whatsapp_accounts", "access_token", account.pk) != before

    settings.FIELD_ENCRYPTION_KEY = "chave-nova-abcdefghij"  # the old key is gone
    assert WhatsAppAccount.objects.get(pk=account.pk).access_token == "tok-1"
    assert CRMConnection.objects.get(pk=crm.pk).token == "tok-2"


def test_it_names_no_secret_when_a_value_cannot_be_decrypted(settings, org_a):
    settings.FIELD_ENCRYPTION_KEY = "chave-antiga-0123456789"
    account = WhatsAppAccountFactory(organization=org_a.org, access_token="tok-vazando")
    stored = raw_value("whatsapp_accounts", "access_token", account.pk)
    settings.FIELD_ENCRYPTION_KEY = "outra-chave-qualquer-99"
    with pytest.raises(DecryptionError) as caught:
        WhatsAppAccount.objects.get(pk=account.pk)
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert "tok-vazando" not in text
    assert stored not in text
    assert caught.value.__cause__ is None


def test_it_refuses_lookups_on_encrypted_columns(org_a):
    WhatsAppAccountFactory(organization=org_a.org)
    with pytest.raises(FieldError):
        list(WhatsAppAccount.objects.filter(access_token="x"))
    assert WhatsAppAccount.objects.filter(access_token__isnull=False).count() == 1


def test_it_keeps_secrets_out_of_str_and_repr(org_a):
    account = WhatsAppAccountFactory(organization=org_a.org, access_token="tok-nao-mostrar")
    crm = CRMConnectionFactory(organization=org_a.org, token="pat-nao-mostrar")
    for text in (str(account), repr(account), str(crm), repr(crm)):
        assert "nao-mostrar" not in text
