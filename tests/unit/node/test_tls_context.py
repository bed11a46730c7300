"""The node's TLS context from files (csms.node.tls), without a listener."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from csms.errors import ConfigurationError
from csms.node.tls import ServerTls
from csms.settings import NodeSettings
from tests.pki import Pki


def settings_for(cert: Path, key: Path, **values: object) -> NodeSettings:
    return NodeSettings(tls_port=0, tls_cert_file=cert, tls_key_file=key, **values)  # type: ignore[arg-type]


def test_the_context_follows_the_ocpp_requirements(tmp_path: Path) -> None:
    """A00.FR.313 TLS 1.2+, A00.FR.321 no compression; a client CA asks for a certificate
    without requiring one (profiles 2 and 3 on one port)."""
    pki = Pki(tmp_path)
    server = pki.issue("127.0.0.1", server=True)
    tls = ServerTls(settings_for(server.cert_file, server.key_file, tls_client_ca_file=pki.ca_file))
    context = tls.context
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.verify_mode == ssl.CERT_OPTIONAL
    names = {cipher["name"] for cipher in context.get_ciphers()}
    assert {"ECDHE-ECDSA-AES128-GCM-SHA256", "AES256-GCM-SHA384"} <= names
    assert not any("CBC" in name or name.endswith("-SHA") for name in names)
    without_ca = ServerTls(settings_for(server.cert_file, server.key_file)).context
    assert without_ca.verify_mode == ssl.CERT_NONE


def test_an_encrypted_key_is_refused_at_start_instead_of_prompting(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = pki.issue("127.0.0.1", server=True)
    key = serialization.load_pem_private_key(server.key_file.read_bytes(), None)
    server.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ConfigurationError, match="cannot load the TLS certificate files"):
        ServerTls(settings_for(server.cert_file, server.key_file))


def test_reload_only_when_the_files_changed_unless_forced(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = pki.issue("127.0.0.1", server=True)
    tls = ServerTls(settings_for(server.cert_file, server.key_file))
    assert not tls.reload()
    assert tls.reload(force=True) and tls.reloads == 1
    pki.issue("127.0.0.1", server=True)  # same names: the files change
    assert tls.reload() and tls.reloads == 2
    server.key_file.write_text("not a key")
    assert not tls.reload() and not tls.reload()  # logged once, the old context stays
    assert tls.reloads == 2
