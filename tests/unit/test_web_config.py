"""`--web-config`: Prometheus's web config format, refused loudly when wrong (issue 10.10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.web.config import WebConfigError, load_web_config


def test_it_refuses_a_key_it_does_not_implement_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n")
    with pytest.raises(WebConfigError) as caught:
        load_web_config(path)
    assert str(path) in str(caught.value)
    assert "cipher_suites" in str(caught.value)


def test_it_refuses_tls_without_a_certificate(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("tls_server_config:\n  key_file: missing.key\n")
    with pytest.raises(WebConfigError) as caught:
        load_web_config(path)
    assert "cert_file" in str(caught.value)


def test_an_empty_file_means_neither_tls_nor_basic_auth(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("{}\n")
    assert load_web_config(path).tls is None
