"""Outbound webhooks signed per the Standard Webhooks spec (models, services, API, admin)."""
