"""The OCPP 1.6 routing table: CSMS-initiated action -> handler.

To add a handler: write ``def my_action(ctx, payload) -> dict`` in :mod:`.handlers` (or a
module of its own), add it here, and add a case to the handler tests.
"""

from __future__ import annotations

from ocpp.v16.enums import Action

from simulators.context import Routes
from simulators.v16 import files, handlers

ROUTES: Routes = {
    Action.cancel_reservation: handlers.cancel_reservation,
    Action.certificate_signed: files.certificate_signed,
    Action.change_availability: handlers.change_availability,
    Action.change_configuration: handlers.change_configuration,
    Action.clear_cache: handlers.clear_cache,
    Action.clear_charging_profile: handlers.clear_charging_profile,
    Action.data_transfer: handlers.data_transfer,
    Action.delete_certificate: files.delete_certificate,
    Action.extended_trigger_message: files.extended_trigger_message,
    Action.get_composite_schedule: handlers.get_composite_schedule,
    Action.get_configuration: handlers.get_configuration,
    Action.get_diagnostics: files.get_diagnostics,
    Action.get_installed_certificate_ids: files.get_installed_certificate_ids,
    Action.get_local_list_version: handlers.get_local_list_version,
    Action.get_log: files.get_log,
    Action.install_certificate: files.install_certificate,
    Action.remote_start_transaction: handlers.remote_start_transaction,
    Action.remote_stop_transaction: handlers.remote_stop_transaction,
    Action.reserve_now: handlers.reserve_now,
    Action.reset: handlers.reset,
    Action.send_local_list: handlers.send_local_list,
    Action.set_charging_profile: handlers.set_charging_profile,
    Action.signed_update_firmware: files.signed_update_firmware,
    Action.trigger_message: handlers.trigger_message,
    Action.unlock_connector: handlers.unlock_connector,
    Action.update_firmware: files.update_firmware,
}
