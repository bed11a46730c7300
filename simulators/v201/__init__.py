"""OCPP 2.0.1: message builders (:mod:`.adapter`), handlers and their routing table."""
