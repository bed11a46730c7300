"""The OCPP 2.0.1 routing table: CSMS-initiated action -> handler.

To add a handler: write ``def my_action(ctx, payload) -> dict`` in the module of its
functional block (or a new one), add it here, and add a case to the handler tests.
"""

from __future__ import annotations

from ocpp.v201.enums import Action

from simulators.context import Routes
from simulators.v201 import device, files, handlers, tariff

ROUTES: Routes = {
    Action.cancel_reservation: handlers.cancel_reservation,
    Action.certificate_signed: files.certificate_signed,
    Action.change_availability: handlers.change_availability,
    Action.clear_cache: handlers.accepted,
    Action.clear_charging_profile: handlers.unknown,
    Action.clear_display_message: handlers.unknown,
    Action.clear_variable_monitoring: device.clear_variable_monitoring,
    Action.cost_updated: tariff.cost_updated,
    Action.customer_information: device.customer_information,
    Action.data_transfer: handlers.data_transfer,
    Action.delete_certificate: files.delete_certificate,
    Action.get_base_report: device.get_base_report,
    Action.get_charging_profiles: handlers.get_charging_profiles,
    Action.get_composite_schedule: handlers.get_composite_schedule,
    Action.get_display_messages: handlers.unknown,
    Action.get_installed_certificate_ids: files.get_installed_certificate_ids,
    Action.get_local_list_version: handlers.get_local_list_version,
    Action.get_log: files.get_log,
    Action.get_monitoring_report: device.get_monitoring_report,
    Action.get_report: device.get_report,
    Action.get_transaction_status: handlers.get_transaction_status,
    Action.get_variables: device.get_variables,
    Action.install_certificate: files.install_certificate,
    Action.publish_firmware: files.publish_firmware,
    Action.request_start_transaction: handlers.request_start_transaction,
    Action.request_stop_transaction: handlers.request_stop_transaction,
    Action.reserve_now: handlers.reserve_now,
    Action.reset: handlers.reset,
    Action.send_local_list: handlers.send_local_list,
    Action.set_charging_profile: handlers.accepted,
    Action.set_display_message: handlers.accepted,
    Action.set_monitoring_base: handlers.accepted,
    Action.set_monitoring_level: handlers.accepted,
    Action.set_network_profile: device.set_network_profile,
    Action.set_variable_monitoring: device.set_variable_monitoring,
    Action.set_variables: device.set_variables,
    Action.trigger_message: handlers.trigger_message,
    Action.unlock_connector: handlers.unlock_connector,
    Action.unpublish_firmware: files.unpublish_firmware,
    Action.update_firmware: files.update_firmware,
}
