"""Simulated OCPP 1.6J and 2.0.1 charging stations.

An honest client: it speaks OCPP-J over ``websockets`` with the ``ocpp`` package's JSON
schemas and never imports the CSMS. Entry points:

- :class:`simulators.station.Station` -- one charging station, driven from Python;
- :mod:`simulators.scenarios` -- ready-made flows (boot, a charging session, idle);
- :mod:`simulators.cli` -- the ``csms-sim`` command line.
"""
