"""A lean load generator: many simulated chargers per process, several processes.

It builds frames with orjson from templates and keeps one coroutine per charger (no
per-message schema work), so one core drives thousands of chargers. See docs/performance.md.
"""
