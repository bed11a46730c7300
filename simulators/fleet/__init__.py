"""A lean load generator: many simulated chargers per process, several processes.

Each charger is a callback state machine (charger.py) on a bare asyncio.Protocol that speaks
the client side of RFC 6455 itself (connection.py, codec in wire.py): no task, future or
timeout per message, frames built with orjson from templates (frames.py). See the fleet
section of docs/simulators.md.
"""
