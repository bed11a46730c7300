"""Redis-backed cluster services: registry, routing (ownership + fencing), bus, events.

Redis holds only what can be rebuilt: losing it never loses billing data, and nodes
re-register and re-own their chargers when it comes back.
"""
