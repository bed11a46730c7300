"""An external certificate authority plugged in with CSMS_CA_FACTORY signs what the node
accepts (A02.FR.04: the CSMS forwards the CSR to a dedicated CA server); settings that
cannot work are refused at start-up, naming the setting, never quoting a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from csms.authority import load_authority
from csms.errors import ConfigurationError
from csms.node.runtime import running_node
from csms.settings import NodeSettings
from tests.integration.certificates import external_ca
from tests.integration.certificates.conftest import (
    PASSPHRASE,
    Authority,
    NewCharger,
    node_settings,
    online,
)
from tests.integration.ocpp_client import eventually


async def test_a02_fr_04_an_external_authority_signs(
    database_url: str, new_charger: NewCharger, authority: Authority
) -> None:
    settings = node_settings(
        "external:",
        ca_factory="tests.integration.certificates.external_ca:authority",
        # ignored: the factory takes precedence over the built-in authority's files
        ca_cert_file=authority.certificate_file,
        ca_key_file=authority.key_file,
        ca_key_passphrase=PASSPHRASE,
    )
    charge_point_id = await new_charger()
    async with running_node(settings, database_url) as node:
        sim = await online(node, charge_point_id, "2.0.1")
        try:
            assert (await sim.sign_certificate())["status"] == "Accepted"

            async def kept() -> object:
                return sim.state.security.certificate

            certificate = await eventually(kept)
        finally:
            await sim.disconnect()
    certificate.verify_directly_issued_by(external_ca.INSTANCE.certificate)
    assert charge_point_id in external_ca.INSTANCE.signed


def test_unusable_settings_are_refused(authority: Authority, tmp_path: Path) -> None:
    def refused(**settings: object) -> str:
        with pytest.raises(ConfigurationError) as info:
            load_authority(NodeSettings(**settings))  # type: ignore[arg-type]
        return str(info.value)

    assert "go together" in refused(ca_cert_file=authority.certificate_file)
    wrong = refused(
        ca_cert_file=authority.certificate_file,
        ca_key_file=authority.key_file,
        ca_key_passphrase="not-the-passphrase",
    )
    assert "CSMS_CA_KEY_FILE" in wrong and "not-the-passphrase" not in wrong
    missing = refused(
        ca_cert_file=authority.certificate_file, ca_key_file=authority.key_file
    )  # encrypted key, no passphrase
    assert "CSMS_CA_KEY_PASSPHRASE" in missing
    other = tmp_path / "other.pem"
    other.write_text("nothing here")
    assert "CSMS_CA_CERT_FILE" in refused(ca_cert_file=other, ca_key_file=authority.key_file)
    assert "package.module:function" in refused(ca_factory="no.such.module:factory")
    assert load_authority(NodeSettings()) is None
