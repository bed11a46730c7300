"""C. Authorize: the decision in 2.0.1 words; contract certificates without a PKI."""

from __future__ import annotations

from datetime import UTC, datetime

from v201_harness import Harness

from csms.node.context import Context, Payload
from csms.node.v201 import SCHEMAS
from csms.node.v201.authorization import authorize

TAG = {"idToken": "TAG-1", "type": "ISO14443"}


async def call(ctx: Context, payload: Payload) -> Payload:
    SCHEMAS.validate("Authorize", payload)
    response = await authorize(ctx, payload)
    SCHEMAS.validate("Authorize", response, response=True)
    return response


async def test_c01_accepted_with_cache_expiry_and_group(ctx: Context, store: Harness) -> None:
    """C01 / C09 (TC_C_39_CSMS): the group is answered as groupIdToken."""
    store.add_token("TAG-1", expiry_date=datetime(2027, 1, 1, tzinfo=UTC), parent_id_token="G")
    assert await call(ctx, {"idToken": TAG}) == {
        "idTokenInfo": {
            "status": "Accepted",
            "cacheExpiryDateTime": "2027-01-01T00:00:00.000Z",
            "groupIdToken": {"idToken": "G", "type": "Central"},
        }
    }


async def test_c01_unknown_token_is_unknown(ctx: Context, store: Harness) -> None:
    """TC_C_02_CSMS accepts Invalid or Unknown; 2.0.1 has Unknown, so we say it."""
    assert await call(ctx, {"idToken": TAG}) == {"idTokenInfo": {"status": "Unknown"}}


async def test_c01_blocked_and_expired(ctx: Context, store: Harness) -> None:
    """TC_C_06_CSMS / TC_C_07_CSMS."""
    store.add_token("TAG-1", status="Blocked")
    store.add_token("TAG-2", expiry_date=datetime(2020, 1, 1, tzinfo=UTC))
    assert (await call(ctx, {"idToken": TAG}))["idTokenInfo"]["status"] == "Blocked"
    expired = {"idToken": {"idToken": "TAG-2", "type": "ISO14443"}}
    assert (await call(ctx, expired))["idTokenInfo"]["status"] == "Expired"


async def test_c07_fr_17_contract_certificate_we_cannot_verify(
    ctx: Context, store: Harness
) -> None:
    """C07.FR.17: a chain that cannot be verified -> CertChainError and Invalid, even for
    an eMAID we know (we have no OCSP / PKI yet)."""
    store.add_token("EMAID1", token_type="eMAID")
    hash_data = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a" * 64,
        "issuerKeyHash": "b" * 64,
        "serialNumber": "01",
        "responderURL": "http://ocsp.example.com",
    }
    for extra in (
        {"iso15118CertificateHashData": [hash_data]},
        {"certificate": "-----BEGIN CERTIFICATE-----"},
    ):
        payload = {"idToken": {"idToken": "EMAID1", "type": "eMAID"}, **extra}
        assert await call(ctx, payload) == {
            "idTokenInfo": {"status": "Invalid"},
            "certificateStatus": "CertChainError",
        }
