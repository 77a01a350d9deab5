"""Fixtures shared by unit and integration tests live in tests/fixtures/."""

from tests.fixtures.lab import clean_lab_fixture, lab_fixture
from tests.fixtures.postgres import postgres_cluster, postgres_url
from tests.fixtures.receivers import (
    alertmanager_fixture,
    smtp_server_fixture,
    telegram_api_fixture,
    webhook_receiver_fixture,
)
from tests.fixtures.router import ping_sockets_allowed, ping_sockets_denied, router

__all__ = [
    "alertmanager_fixture",
    "clean_lab_fixture",
    "lab_fixture",
    "ping_sockets_allowed",
    "ping_sockets_denied",
    "postgres_cluster",
    "postgres_url",
    "router",
    "smtp_server_fixture",
    "telegram_api_fixture",
    "webhook_receiver_fixture",
]
