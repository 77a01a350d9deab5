"""`--web-config FILE`: TLS and basic auth for the HTTP port, in Prometheus's format.

The same YAML as Prometheus's own `--web.config.file` (the exporter-toolkit
format), so one file and one habit serve Prometheus, its exporters and
examnet:

    tls_server_config:
      cert_file: /etc/examnet/tls.crt
      key_file: /etc/examnet/tls.key
      # client_auth_type: RequireAndVerifyClientCert
      # client_ca_file: /etc/examnet/clients-ca.crt
      # min_version: TLS12
    basic_auth_users:
      prometheus: $2b$12$...   # bcrypt, e.g. htpasswd -nBC 12 prometheus

Relative paths are relative to the file. Every problem is reported with the
file and the key; keys examnet does not implement are refused, not ignored
(a `cipher_suites` silently dropped would be a weaker server than asked).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

_T = TypeVar("_T")

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
            "max_version"}  # fmt: skip
TOP_KEYS = {"tls_server_config", "basic_auth_users"}
# modular crypt format of bcrypt: $2a$, $2b$ or $2y$ (htpasswd), cost, 53 characters
BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")


class WebConfigError(ValueError):
    """The web config file cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    client_auth: ssl.VerifyMode = ssl.CERT_NONE
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.min_version
        context.maximum_version = self.max_version
        context.load_cert_chain(self.cert_file, self.key_file)
        context.verify_mode = self.client_auth
        if self.client_ca_file is not None:
            context.load_verify_locations(cafile=self.client_ca_file)
        return context


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TlsSettings | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash


def load_web_config(path: Path) -> WebConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WebConfigError(f"{path}: cannot read the web config: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WebConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_web_config(data or {}, path)


def parse_web_config(data: object, path: Path) -> WebConfig:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise WebConfigError(f"{path}: expected a mapping of settings at the top")
    problems += [
        f"{path}: key {k!r}: not supported by examnet (supported: {', '.join(sorted(TOP_KEYS))})"
        for k in data
        if k not in TOP_KEYS
    ]
    tls = _tls(data.get("tls_server_config"), path, problems)
    users = _users(data.get("basic_auth_users"), path, problems)
    if problems:
        raise WebConfigError("\n".join(problems))
    return WebConfig(tls=tls, users=users)


def _tls(section: object, path: Path, problems: list[str]) -> TlsSettings | None:
    if section is None:
        return None
    where = f"{path}: tls_server_config"
    if not isinstance(section, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    problems += [
        f"{where}: key {k!r}: not supported by examnet (supported: {', '.join(sorted(TLS_KEYS))})"
        for k in section
        if k not in TLS_KEYS
    ]
    cert = _file(section, "cert_file", path, problems, required=True)
    key = _file(section, "key_file", path, problems, required=True)
    ca = _file(section, "client_ca_file", path, problems, required=False)
    auth = _choice(section, "client_auth_type", CLIENT_AUTH, "NoClientCert", where, problems)
    low = _choice(section, "min_version", VERSIONS, "TLS12", where, problems)
    high = _choice(section, "max_version", VERSIONS, "TLS13", where, problems)
    if auth is not ssl.CERT_NONE and ca is None:
        problems.append(f"{where}: client_auth_type needs client_ca_file")
    if cert is None or key is None or auth is None or low is None or high is None:
        return None
    settings = TlsSettings(cert, key, ca, auth, low, high)
    try:
        settings.context()
    except (OSError, ssl.SSLError, ValueError) as exc:
        problems.append(f"{where}: cannot use the certificate and key: {exc}")
    return settings


def _file(
    section: Mapping[str, Any], key: str, path: Path, problems: list[str], *, required: bool
) -> Path | None:
    value = section.get(key)
    where = f"{path}: tls_server_config.{key}"
    if value is None:
        if required:
            problems.append(f"{where}: required (a file name)")
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: expected a file name, got {value!r}")
        return None
    found = (path.parent / value).resolve()
    if not found.is_file():
        problems.append(f"{where}: no such file {found}")
        return None
    return found


def _choice(  # noqa: PLR0917 - one call per key reads best as a table
    section: Mapping[str, Any],
    key: str,
    choices: Mapping[str, _T],
    default: str,
    where: str,
    problems: list[str],
) -> _T | None:
    value = section.get(key, default)
    if value not in choices:
        problems.append(f"{where}.{key}: expected one of {', '.join(choices)}, got {value!r}")
        return None
    return choices[value]


def _users(section: object, path: Path, problems: list[str]) -> dict[str, bytes]:
    if section is None:
        return {}
    where = f"{path}: basic_auth_users"
    if not isinstance(section, dict) or not section:
        problems.append(f"{where}: expected a mapping of user names to bcrypt hashes")
        return {}
    users = {}
    for user, hashed in section.items():
        if not isinstance(user, str) or not user or ":" in user:
            problems.append(f"{where}: user {user!r}: expected a name without ':'")
        elif not isinstance(hashed, str) or not BCRYPT.fullmatch(hashed):
            # never echo the value: it is a password hash
            problems.append(
                f"{where}.{user}: expected a bcrypt hash ($2b$ or $2y$, "
                "e.g. from `htpasswd -nBC 12 USER`)"
            )
        else:
            users[user] = hashed.encode()
    return users
