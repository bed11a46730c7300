"""Ready-made station flows, used by the CLI and by tests.

Each scenario connects, does its work, disconnects, and returns a summary dict; it raises
:class:`~simulators.errors.ScenarioError` when the CSMS refuses something it needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from simulators.errors import ScenarioError
from simulators.station import Station

DEFAULT_HEARTBEAT_INTERVAL = 60


async def _connect_and_boot(station: Station) -> dict[str, Any]:
    await station.connect()
    if station.subprotocol is None:
        await station.disconnect()
        raise ScenarioError("no subprotocol accepted")
    response = await station.boot()
    if response.get("status") != "Accepted":
        await station.disconnect()
        raise ScenarioError(f"BootNotification answered {response.get('status')!r}")
    return response


def _summary(station: Station, **extra: Any) -> dict[str, Any]:
    return {
        "charge_point_id": station.config.charge_point_id,
        "version": station.config.version,
        "subprotocol": station.subprotocol,
        **extra,
    }


async def run_boot(station: Station) -> dict[str, Any]:
    """Connect, boot, one heartbeat, disconnect."""
    boot = await _connect_and_boot(station)
    heartbeat = await station.heartbeat()
    await station.disconnect()
    return _summary(
        station,
        boot_status=boot["status"],
        heartbeat_interval=station.state.heartbeat_interval,
        current_time=heartbeat.get("currentTime"),
    )


async def run_session(
    station: Station,
    id_token: str,
    meter_values: int,
    *,
    connector_id: int = 1,
    meter_start_wh: int = 0,
    stop_reason: str = "Local",
) -> dict[str, Any]:
    """A whole charging session.

    Connect, boot, StatusNotification Available for every connector, authorize, start on
    ``connector_id``, ``meter_values`` periodic meter values ``meter_interval`` seconds
    apart, stop, StatusNotification Available, disconnect.
    """
    await _connect_and_boot(station)
    for connector in range(1, station.config.connectors + 1):
        await station.status_notification(connector, "Available")
    authorization = station.adapter.authorization_status(await station.authorize(id_token))
    if authorization != "Accepted":
        await station.disconnect()
        raise ScenarioError(f"id token {id_token!r} not accepted: {authorization or 'no status'}")
    await station.status_notification(connector_id, "Preparing")
    tx = await station.start_transaction(connector_id, id_token, meter_start_wh)
    await station.status_notification(connector_id, "Charging")
    for _ in range(meter_values):
        await asyncio.sleep(station.config.meter_interval)
        await station.send_meter_values(tx)
    stop = await station.stop_transaction(tx, stop_reason)
    await station.status_notification(connector_id, "Available")
    display = await _final_display(station, tx.transaction_id)
    await station.disconnect()
    return _summary(
        station,
        authorization=authorization,
        transaction_id=tx.transaction_id,
        meter_values_sent=meter_values,
        energy_wh=round(tx.meter_wh - tx.meter_start_wh, 1),
        stop_response=stop,
        **display,
    )


async def _final_display(station: Station, transaction_id: int | str | None) -> dict[str, Any]:
    """With a display: what it showed; in 1.6, once the CSMS's FinalCost came (if it priced
    the session at all, up to ``call_timeout``)."""
    if not station.config.display_cost_and_price or transaction_id is None:
        return {}
    display = station.display
    if station.adapter.final_cost_follows_stop and display.cost(transaction_id) is not None:
        await display.wait_final_cost(transaction_id, station.config.call_timeout)
    running, final = display.running_cost(transaction_id), display.final_cost(transaction_id)
    return {
        "display": {
            "price_text": display.price_text,
            "running_cost": None if running is None else str(running),
            "final_cost": None if final is None else str(final),
        }
    }


async def run_idle(station: Station, stop: asyncio.Event) -> dict[str, Any]:
    """Boot, then heartbeat at the interval the CSMS asked for until ``stop`` is set.

    CSMS-initiated CALLs are answered meanwhile. Raises
    :class:`~simulators.errors.ScenarioError` if the CSMS closes the connection.
    """
    await _connect_and_boot(station)
    heartbeats = 0
    while True:
        interval = station.state.heartbeat_interval or DEFAULT_HEARTBEAT_INTERVAL
        stop_waiter = asyncio.ensure_future(stop.wait())
        closed_waiter = asyncio.ensure_future(station.wait_closed())
        done, pending = await asyncio.wait(
            {stop_waiter, closed_waiter}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if stop_waiter in done:
            await station.disconnect()
            return _summary(station, heartbeats=heartbeats)
        if closed_waiter in done:
            code, reason = closed_waiter.result()
            detail = f"code {code}, {reason}" if reason else f"code {code}"
            raise ScenarioError(f"connection closed by the CSMS ({detail})")
        await station.heartbeat()
        heartbeats += 1
