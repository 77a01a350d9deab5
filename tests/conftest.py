"""Fixtures shared by unit and integration tests live in tests/fixtures/."""

from tests.fixtures.lab import clean_lab_fixture, lab_fixture
from tests.fixtures.postgres import postgres_cluster, postgres_url
from tests.fixtures.router import ping_sockets_allowed, ping_sockets_denied, router

__all__ = [
    "clean_lab_fixture",
    "lab_fixture",
    "ping_sockets_allowed",
    "ping_sockets_denied",
    "postgres_cluster",
    "postgres_url",
    "router",
]
