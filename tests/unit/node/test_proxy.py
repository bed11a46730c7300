"""PROXY protocol v2 as HAProxy writes it (``send-proxy-v2-ssl-cn``), X-SSL-* headers, and
the trusted proxies, without sockets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.node import proxy
from csms.node.proxy import ClientTls, ProxyError, Start, TrustedProxies

SOURCE, DESTINATION = ("198.51.100.4", 40000), ("10.0.0.2", 9000)
VERIFIED = ClientTls("TLSv1.3", certificate=True, verified=True, common_names=("CP-1",))


def test_a_header_with_the_client_certificate() -> None:
    data = proxy.encode(SOURCE, DESTINATION, tls=VERIFIED)
    assert proxy.classify(data) is Start.PROXY
    assert proxy.header_length(data) == len(data)
    header = proxy.parse(data)
    assert (header.local, header.source, header.tls) == (False, SOURCE, VERIFIED)


def test_an_unverified_certificate_and_no_tls() -> None:
    unverified = ClientTls("TLSv1.2", certificate=True, verified=False, common_names=("CP-1",))
    data = proxy.encode(SOURCE, DESTINATION, tls=unverified, verify=20)
    tls = proxy.parse(data).tls
    assert tls is not None and tls.certificate and not tls.verified
    assert proxy.parse(proxy.encode(SOURCE, DESTINATION)).tls is None


def test_ipv6_addresses() -> None:
    data = proxy.encode(("2001:db8::7", 1234), ("2001:db8::1", 9000), tls=VERIFIED)
    assert proxy.parse(data).source == ("2001:db8::7", 1234)


def test_the_proxys_own_health_checks_are_local() -> None:
    local = proxy.SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    header = proxy.parse(local)
    assert header.local and header.tls is None and header.source is None


@pytest.mark.parametrize(
    ("first_bytes", "start"),
    [
        (b"GET /ocpp/CP-1 HTTP/1.1\r\n", Start.PLAIN),
        (b"\r\n\r\n\x00", Start.MORE),
        (b"", Start.MORE),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", Start.PLAIN),  # v1: not believed
    ],
)
def test_classify(first_bytes: bytes, start: Start) -> None:
    assert proxy.classify(first_bytes) is start


def test_a_header_too_long_or_malformed_is_an_error() -> None:
    too_long = proxy.SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", 60_000)
    with pytest.raises(ProxyError):
        proxy.header_length(too_long)
    version_1 = proxy.SIGNATURE + bytes([0x11, 0x11]) + struct.pack("!H", 0)
    with pytest.raises(ProxyError):
        proxy.parse(version_1)
    data = bytearray(proxy.encode(SOURCE, DESTINATION, tls=VERIFIED))
    data[-1:] = b""  # a truncated TLV, length field unchanged
    with pytest.raises(ProxyError):
        proxy.parse(bytes(data))


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    blob = proxy.SIGNATURE + data
    try:
        length = proxy.header_length(blob)
        if length is not None and len(blob) >= length:
            proxy.parse(blob[:length])
    except ProxyError:
        pass


def test_headers_of_an_http_proxy() -> None:
    headers = {
        proxy.HEADER_PROTOCOL: "TLSv1.3",
        proxy.HEADER_VERIFY: "SUCCESS",
        proxy.HEADER_CN: "CP-1",
        proxy.HEADER_O: "CSO",
    }
    tls = proxy.from_headers(headers)
    assert tls is not None and tls.verified and tls.organizations == ("CSO",)
    assert proxy.from_headers({}) is None
    failed = proxy.from_headers({**headers, proxy.HEADER_VERIFY: "FAILED:expired"})
    assert failed is not None and failed.certificate and not failed.verified
    assert ClientTls("TLSv1.1", False, False, ()).version_too_old
    assert not ClientTls("TLSv1.2", False, False, ()).version_too_old


def test_trusted_proxies() -> None:
    trusted = TrustedProxies("10.0.0.0/24, 127.0.0.1, 2001:db8::/32")
    assert trusted.trusts("10.0.0.77") and trusted.trusts("127.0.0.1")
    assert trusted.trusts("::ffff:10.0.0.5")  # IPv4 on a dual-stack socket
    assert trusted.trusts("2001:db8::5")
    assert not trusted.trusts("10.0.1.1") and not trusted.trusts(None)
    assert not trusted.trusts("not an address")
    assert not TrustedProxies("")
