"""examnet's HTTP port: uvicorn + FastAPI in a thread of its own (see server.py)."""

from monitor.web.access import Access, TokenError, check_token
from monitor.web.app import web_app
from monitor.web.config import TlsSettings, WebConfig, WebConfigError, load_web_config
from monitor.web.scrape import Scrape
from monitor.web.server import DEFAULT_LISTEN, WebServer, is_loopback, parse_listen

__all__ = [
    "DEFAULT_LISTEN",
    "Access",
    "Scrape",
    "TlsSettings",
    "TokenError",
    "WebConfig",
    "WebConfigError",
    "WebServer",
    "check_token",
    "is_loopback",
    "load_web_config",
    "parse_listen",
    "web_app",
]
