"""The station's security profile and the ways it may connect (OCPP 2.0.1 part 2 A00/A05,
the OCPP 1.6 security whitepaper).

The profile follows from how the station connects: ``wss://`` with a client certificate is
3, ``wss://`` with the password 2, ``ws://`` with the password 1, nothing 0. An upgrade
works as real stations do:

* 1.6: ChangeConfiguration ``SecurityProfile`` to a higher value is accepted when the
  prerequisites are there (A05.FR.01-05); the station reconnects with it (to
  ``StationConfig.secure_url`` for 2 and 3), and falls back to the old way when that fails
  (A05.FR.08).
* 2.0.1: SetNetworkProfile stores a slot; ``OCPPCommCtrlr.NetworkConfigurationPriority``
  orders the slots (a slot the station cannot use is rejected: A05.FR.02/03); after a
  reboot the station tries them in that order (A05.FR.05) and, connected with a higher
  profile, raises ``SecurityCtrlr.SecurityProfile`` and forgets lower slots (A05.FR.06).

Pure: no I/O (the station opens the sockets).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from simulators.config import StationConfig


@dataclass(frozen=True)
class Endpoint:
    """One way to connect: the CSMS URL and the security profile used with it."""

    url: str
    security_profile: int

    @property
    def tls(self) -> bool:
        return self.url.startswith("wss://")


def initial_profile(config: StationConfig) -> int:
    if config.url.startswith("wss://"):
        return 3 if config.client_cert_file else 2
    return 1 if config.password else 0


def ssl_context(config: StationConfig, endpoint: Endpoint) -> ssl.SSLContext | None:
    """The client TLS context of ``endpoint`` (None for ws://): the CSMS certificate is
    checked against ``ca_file`` (the system's CAs without one), TLS 1.2 or above
    (A00.FR.313), the client certificate presented with profile 3."""
    if not endpoint.tls:
        return None
    context = ssl.create_default_context(cafile=config.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if endpoint.security_profile >= 3 and config.client_cert_file:
        context.load_cert_chain(config.client_cert_file, config.client_key_file)
    return context


class StationSecurity:
    """The profile in force, the network profile slots (2.0.1) and what to connect to next."""

    def __init__(
        self,
        config: StationConfig,
        configuration: dict[str, str],
        *,
        profile_key: str,
        priority_key: str | None,
    ) -> None:
        self.config = config
        self._configuration = configuration
        self._profile_key = profile_key
        self._priority_key = priority_key
        self.endpoint = Endpoint(config.url, initial_profile(config))
        self.slots: dict[int, Endpoint] = {0: self.endpoint}
        self._next: Endpoint | None = None  # 1.6: accepted, not yet connected with
        configuration[profile_key] = str(self.endpoint.security_profile)
        if priority_key is not None:
            configuration[priority_key] = "0"

    def reconfigure(self, config: StationConfig) -> None:
        """The station was given another configuration (tests move it to another node):
        its URL and credentials are the way to connect from now on."""
        self.config = config
        self.endpoint = Endpoint(config.url, initial_profile(config))
        self.slots[0] = self.endpoint
        self._next = None

    @property
    def profile(self) -> int:
        return int(self._configuration[self._profile_key])

    def missing(self, profile: int, url: str) -> str | None:
        """What the station lacks to connect with ``profile`` at ``url`` (None: nothing)."""
        if profile in (1, 2) and not self.config.password:
            return "no Basic authentication password"
        if profile >= 2 and not url.startswith("wss://"):
            return "profiles 2 and 3 need a wss:// URL"
        if profile <= 1 and url.startswith("wss://"):
            return "profiles 0 and 1 use ws://"
        if profile == 3 and not (self.config.client_cert_file and self.config.client_key_file):
            return "no charging station certificate"
        return None

    # -- 1.6: the SecurityProfile configuration key --------------------------------------

    def change_profile(self, value: str) -> str:
        """ChangeConfiguration ``SecurityProfile``: the status to answer."""
        try:
            profile = int(value)
        except ValueError:
            return "Rejected"
        if not 0 <= profile <= 3 or profile <= self.profile:  # A05.FR.01
            return "Rejected"
        url = self.endpoint.url
        if profile >= 2 and not self.endpoint.tls:
            url = self.config.secure_url or ""
        if self.missing(profile, url) is not None:  # A05.FR.02-04
            return "Rejected"
        self._next = Endpoint(url, profile)
        return "Accepted"

    # -- 2.0.1: network connection profiles ------------------------------------------------

    def set_network_profile(self, slot: int, data: dict[str, Any]) -> str:
        """SetNetworkProfile: the status to answer."""
        profile, url = data.get("securityProfile"), data.get("ocppCsmsUrl")
        if not isinstance(profile, int) or not isinstance(url, str) or slot < 0:
            return "Rejected"
        if profile < self.profile or not 0 <= profile <= 3:  # never lower (A00.FR.005)
            return "Rejected"
        self.slots[slot] = Endpoint(url, profile)
        return "Accepted"

    def accepts_priority(self, value: str) -> bool:
        """Whether ``NetworkConfigurationPriority`` may become ``value``."""
        try:
            slots = [int(part) for part in value.split(",")]
        except ValueError:
            return False
        if not slots or len(set(slots)) != len(slots):
            return False
        for slot in slots:
            endpoint = self.slots.get(slot)
            if endpoint is None:
                return False
            profile = endpoint.security_profile
            if profile > self.profile and self.missing(profile, endpoint.url) is not None:
                return False  # A05.FR.02/03
        return True

    def _priority(self) -> list[int]:
        if self._priority_key is None:
            return [0]
        text = self._configuration.get(self._priority_key, "0")
        return [int(part) for part in text.split(",") if part.strip()]

    # -- connecting --------------------------------------------------------------------------

    def connection_order(self) -> list[Endpoint]:
        """What to try, in order, when (re)connecting after a reboot or a profile change."""
        if self._next is not None:
            return [self._next, self.endpoint]  # A05.FR.07, then A05.FR.08's fallback
        if self._priority_key is not None:
            return [self.slots[s] for s in self._priority() if s in self.slots] or [self.endpoint]
        return [self.endpoint]

    def connected(self, endpoint: Endpoint) -> None:
        """``endpoint`` worked: it is the way to connect from now on."""
        self._next = None
        self.endpoint = endpoint
        if endpoint.security_profile <= self.profile:
            return
        self._configuration[self._profile_key] = str(endpoint.security_profile)
        if self._priority_key is not None:  # A05.FR.06
            self.slots = {
                slot: e
                for slot, e in self.slots.items()
                if e.security_profile >= endpoint.security_profile
            }
            kept = [str(s) for s in self._priority() if s in self.slots]
            self._configuration[self._priority_key] = ",".join(kept)
