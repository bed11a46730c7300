"""The charger-facing WebSocket node."""
