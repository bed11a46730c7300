"""Certificates on chargers, certificates issued to them, password rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from csms.domain.certificates import HashData

# the root types of both versions (each charger's version takes its own; either spelling
# of the CSMS root is accepted)
RootType = Literal[
    "CentralSystemRootCertificate",
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
]
ListedType = Literal[
    "CentralSystemRootCertificate",
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
    "V2GCertificateChain",
]
PEM_MAX = 10_000  # 1.6 InstallCertificate takes 5,500; 2.0.1 5,500 too (chains: 10,000)


class HashDataPublic(BaseModel):
    """CertificateHashDataType: how OCPP names an installed certificate."""

    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"]
    issuer_name_hash: str = Field(min_length=1, max_length=128)
    issuer_key_hash: str = Field(min_length=1, max_length=128)
    serial_number: str = Field(min_length=1, max_length=40)

    @classmethod
    def of(cls, data: HashData) -> HashDataPublic:
        return cls(
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number,
        )

    def domain(self) -> HashData:
        return HashData(
            self.hash_algorithm, self.issuer_name_hash, self.issuer_key_hash, self.serial_number
        )


class InstalledCertificatePublic(BaseModel):
    certificate_type: str
    hash_data: HashDataPublic
    child_certificates: list[HashDataPublic] = []


class InstalledCertificates(BaseModel):
    """What the charger answered to GetInstalledCertificateIds (read live)."""

    charge_point_id: str
    items: list[InstalledCertificatePublic]


class CertificateInstall(BaseModel):
    certificate_type: RootType
    certificate: str = Field(
        min_length=1, max_length=PEM_MAX, description="One PEM root (CA) certificate"
    )


class CertificateDelete(BaseModel):
    """Which certificate to delete: its PEM (its hash data is computed; a certificate that is
    not self-signed needs its issuer's certificate appended), or its hash data."""

    certificate: str | None = Field(None, min_length=1, max_length=PEM_MAX)
    certificate_hash_data: HashDataPublic | None = None
    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"] = Field(
        "SHA256", description="With `certificate`: the hash algorithm of the hash data"
    )

    @model_validator(mode="after")
    def _one(self) -> CertificateDelete:
        if (self.certificate is None) == (self.certificate_hash_data is None):
            raise ValueError("give exactly one of certificate and certificate_hash_data")
        return self


class CertificateAnswerPublic(BaseModel):
    """The charger's answer: Accepted, Rejected, Failed (install), NotFound (delete)."""

    charge_point_id: str
    status: str
    reason: str | None = Field(None, description="statusInfo the charger gave, if any")
    hash_data: HashDataPublic | None = Field(
        None, description="The certificate the charger was asked about"
    )


class IssuedCertificatePublic(BaseModel):
    """A certificate the CSMS's authority signed for a charger (public parts only)."""

    id: int
    charge_point_id: str
    certificate_type: str
    serial_number: str
    common_name: str | None
    organization: str | None
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    issued_at: datetime
    delivery_status: str | None = Field(description="The charger's answer to CertificateSigned")
    delivered_at: datetime | None
    current: bool = Field(description="Accepted by the charger and not superseded")
    superseded_at: datetime | None
    renewal_requested_at: datetime | None
    renewal_attempts: int
    renewal_error: str | None
    pem: str


class RenewalPublic(BaseModel):
    charge_point_id: str
    ok: bool = Field(description="The charger accepted the trigger: a CSR follows")
    detail: str


class PasswordRotationPublic(BaseModel):
    """``accepted``: the charger took the new password (the old one is accepted until it
    connects with the new one); ``rejected``: it keeps the old one; ``unanswered``: no
    answer, both stay valid. The password itself is never shown."""

    charge_point_id: str
    status: Literal["accepted", "rejected", "unanswered"]
    detail: str
