"""2.0.1 firmware (L), log (N) and certificate (A, M) commands."""

from __future__ import annotations

from csms.domain.commands import ParamReader
from csms.node.command_types import Entry, Payload, with_optional
from csms.node.v201.commands_common import retrieve_date

LOG_TYPES = {"diagnostics": "DiagnosticsLog", "security": "SecurityLog"}
DIAGNOSTICS_LOG = "DiagnosticsLog"
# Either version's spelling is accepted for values the versions name differently.
INSTALL_TYPES = {
    "CSMSRootCertificate": "CSMSRootCertificate",
    "CentralSystemRootCertificate": "CSMSRootCertificate",  # the 1.6 name
    "ManufacturerRootCertificate": "ManufacturerRootCertificate",
    "V2GRootCertificate": "V2GRootCertificate",
    "MORootCertificate": "MORootCertificate",
}
LIST_TYPES = {**INSTALL_TYPES, "V2GCertificateChain": "V2GCertificateChain"}


def _retries(p: ParamReader, payload: Payload) -> Payload:
    return with_optional(
        payload, retries=p.opt_integer("retries"), retryInterval=p.opt_integer("retry_interval")
    )


# -- firmware ---------------------------------------------------------------------------------


def update_firmware(p: ParamReader) -> Payload:
    firmware = with_optional(
        {"location": p.text("location"), "retrieveDateTime": retrieve_date(p)},
        installDateTime=p.opt_text("install_date"),
    )
    return _retries(p, {"requestId": p.request_id(), "firmware": firmware})


def signed_update_firmware(p: ParamReader) -> Payload:
    firmware = with_optional(
        {
            "location": p.text("location"),
            "retrieveDateTime": retrieve_date(p),
            "signingCertificate": p.text("certificate"),
            "signature": p.text("signature"),
        },
        installDateTime=p.opt_text("install_date"),
    )
    return _retries(p, {"requestId": p.request_id(), "firmware": firmware})


def publish_firmware(p: ParamReader) -> Payload:
    return _retries(
        p,
        {
            "location": p.text("location"),
            "checksum": p.text("checksum"),
            "requestId": p.request_id(),
        },
    )


def unpublish_firmware(p: ParamReader) -> Payload:
    return {"checksum": p.text("checksum")}


# -- logs -------------------------------------------------------------------------------------


def _get_log(p: ParamReader, log_type: str) -> Payload:
    log = with_optional(
        {"remoteLocation": p.text("location")},
        oldestTimestamp=p.opt_text("oldest_timestamp"),
        latestTimestamp=p.opt_text("latest_timestamp"),
    )
    return _retries(p, {"logType": log_type, "requestId": p.request_id(), "log": log})


def get_log(p: ParamReader) -> Payload:
    return _get_log(p, p.choice("log_type", LOG_TYPES, default="diagnostics"))


def get_diagnostics(p: ParamReader) -> Payload:
    return _get_log(p, DIAGNOSTICS_LOG)


# -- certificates -----------------------------------------------------------------------------


def install_certificate(p: ParamReader) -> Payload:
    return {
        "certificateType": p.choice("certificate_type", INSTALL_TYPES),
        "certificate": p.text("certificate"),
    }


def delete_certificate(p: ParamReader) -> Payload:
    return {"certificateHashData": p.mapping("certificate_hash_data")}


def get_installed_certificate_ids(p: ParamReader) -> Payload:
    if not p.has("certificate_type"):
        return {}
    types = p.texts("certificate_type")
    unknown = [t for t in types if t not in LIST_TYPES]
    if unknown:
        raise p.error("certificate_type must be among " + ", ".join(sorted(LIST_TYPES)))
    return {"certificateType": [LIST_TYPES[t] for t in types]}


def certificate_signed(p: ParamReader) -> Payload:
    return with_optional(
        {"certificateChain": p.text("certificate_chain")},
        certificateType=p.opt_text("certificate_type"),
    )


ENTRIES: tuple[Entry, ...] = (
    ("update_firmware", "UpdateFirmware", update_firmware, None),
    ("signed_update_firmware", "UpdateFirmware", signed_update_firmware, None),
    ("publish_firmware", "PublishFirmware", publish_firmware, None),
    ("unpublish_firmware", "UnpublishFirmware", unpublish_firmware, None),
    ("get_log", "GetLog", get_log, None),
    ("get_diagnostics", "GetLog", get_diagnostics, None),
    ("install_certificate", "InstallCertificate", install_certificate, None),
    ("delete_certificate", "DeleteCertificate", delete_certificate, None),
    (
        "get_installed_certificate_ids",
        "GetInstalledCertificateIds",
        get_installed_certificate_ids,
        None,
    ),
    ("certificate_signed", "CertificateSigned", certificate_signed, None),
)
