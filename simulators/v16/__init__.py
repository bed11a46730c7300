"""OCPP 1.6J: message builders (:mod:`.adapter`), handlers and their routing table."""
