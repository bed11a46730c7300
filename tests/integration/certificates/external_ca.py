"""An "external" certificate authority for CSMS_CA_FACTORY: what a deployment plugs in to
have a PKI of its own sign chargers' certificates (docs/topics/certificates.md). This one
keeps a CA in memory and counts what it signs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from csms.authority import BuiltinAuthority, create_authority
from csms.settings import NodeSettings


class CountingAuthority:
    def __init__(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="external-ca-"))
        created = create_authority(directory, common_name="External PKI", organization="PKI Inc")
        self._inner = BuiltinAuthority.from_files(created.certificate_file, created.key_file)
        self.certificate = self._inner.certificate
        self.signed: list[str] = []

    async def sign(self, csr_pem: str, charge_point_id: str) -> str:
        self.signed.append(charge_point_id)
        return await self._inner.sign(csr_pem, charge_point_id)

    def __repr__(self) -> str:
        return "CountingAuthority(External PKI)"


INSTANCE = CountingAuthority()


def authority(settings: NodeSettings) -> CountingAuthority:
    """The factory CSMS_CA_FACTORY names: called with the node's settings."""
    return INSTANCE
