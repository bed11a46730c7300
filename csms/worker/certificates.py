"""The worker's certificate renewal: a schedule (``CSMS_CERT_RENEW_SCHEDULE``) that asks
every charger whose certificate expires within ``CSMS_CERT_RENEW_BEFORE_DAYS`` for a new
CSR, through the command bus (docs/topics/certificates.md, "Renewal")."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pgqueuer.models import Schedule

from csms.services import Services
from csms.services.ports import ChargerCommands
from csms.settings import WorkerSettings

log = logging.getLogger(__name__)

RENEW_SWEEP = "certificates.renew_sweep"


AddSchedule = Callable[[str, str, Callable[[Schedule], Awaitable[None]]], None]


def attach_renewal(
    add_schedule: AddSchedule,
    services: Services,
    commands: ChargerCommands,
    settings: WorkerSettings,
) -> None:
    """Register the renewal sweep with ``add_schedule`` (``csms.worker.runtime.schedule``:
    a queue started again after an outage has it too)."""

    async def renew(schedule: Schedule) -> None:
        outcomes = await services.certificates.renew_due(
            commands, timeout=settings.job_command_timeout
        )
        failed = [o for o in outcomes if not o.ok]
        if outcomes:
            log.info(
                "certificate renewal: %d asked, %d failed", len(outcomes) - len(failed), len(failed)
            )

    add_schedule(RENEW_SWEEP, settings.cert_renew_schedule, renew)
