"""Which chargers ``csms command`` sends to: one id, a list, or a filter over registered ones.

Plain functions over the parsed arguments; no I/O (``select`` takes the charger pages from
its caller), so they are unit-tested without a database.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol

PROTOCOLS = ("1.6", "2.0.1")
# what a filter flag is called on the command line, for messages
FILTER_FLAGS = ("--all", "--connected", "--protocol", "--vendor", "--model", "--firmware")


class UsageError(Exception):
    """The command line names no target, or names them in two ways at once."""


class ChargerFacts(Protocol):
    """What a filter looks at (``csms.store.chargers.Charger`` has it)."""

    @property
    def charge_point_id(self) -> str: ...
    @property
    def connected_protocol(self) -> str | None: ...
    @property
    def vendor(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def firmware_version(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ChargerFilter:
    """Registered chargers that match every given criterion (none given: all of them).

    ``vendor``, ``model`` and ``firmware`` are case-sensitive shell-style patterns (``*``,
    ``?``, ``[...]``) over what the charger reported in its last BootNotification; a charger
    that never reported one does not match them.
    """

    connected: bool = False
    protocol: str | None = None  # "1.6" or "2.0.1": connected with that version
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None

    def matches(self, charger: ChargerFacts) -> bool:
        if (self.connected or self.protocol) and charger.connected_protocol is None:
            return False
        if self.protocol and charger.connected_protocol != f"ocpp{self.protocol}":
            return False
        return (
            _like(charger.vendor, self.vendor)
            and _like(charger.model, self.model)
            and _like(charger.firmware_version, self.firmware)
        )


def _like(value: str | None, pattern: str | None) -> bool:
    return pattern is None or (value is not None and fnmatchcase(value, pattern))


@dataclass(frozen=True, slots=True)
class Targets:
    """Either ``chargers`` (given by id, in order, without repeats) or ``selection``.

    ``single`` is the original form, one id as the first argument: its answer is printed as
    JSON. Any other form prints one row per charger and a summary.
    """

    chargers: tuple[str, ...] = ()
    selection: ChargerFilter | None = None
    single: bool = False


def resolve(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """Set ``args.command_name`` and ``args.targets`` from the positionals and flags;
    return what is left of ``extra`` (the ``--name value`` params).

    ``csms command CP-1 reset``, ``csms command CP-1,CP-2 reset``, ``csms command reset
    --charger CP-1 --charger CP-2`` and ``csms command reset --connected`` are all accepted,
    flags anywhere. argparse (3.11) leaves the command word among the unknown arguments when
    an option comes between the two positionals (``CP-1 --timeout 5 reset``): it is taken
    back from there.
    """
    rest = list(extra)
    words = [args.target] if args.command_name is None else [args.target, args.command_name]
    if len(words) == 1 and rest and not rest[0].startswith("-"):
        words.append(rest.pop(0))
    listed = [*_split(words[0])] if len(words) == 2 else []
    listed += args.charger or []
    selection = _selection(args)
    if listed and selection is not None:
        raise UsageError(
            "give chargers (CP-1,CP-2 or --charger) or a filter "
            f"({', '.join(FILTER_FLAGS)}), not both"
        )
    if not listed and selection is None:
        raise UsageError(
            "no charger given"
            if len(words) == 2
            else "the following arguments are required: command"
        )
    args.command_name = words[-1]
    args.targets = Targets(
        chargers=tuple(dict.fromkeys(listed)),
        selection=selection,
        single=len(words) == 2 and "," not in words[0] and not args.charger,
    )
    return rest


def _split(text: str) -> list[str]:
    return [part for part in (p.strip() for p in text.split(",")) if part]


def _selection(args: argparse.Namespace) -> ChargerFilter | None:
    chosen = ChargerFilter(
        connected=args.connected,
        protocol=args.protocol,
        vendor=args.vendor,
        model=args.model,
        firmware=args.firmware,
    )
    if args.all or chosen != ChargerFilter():
        return chosen
    return None


async def select(pages: AsyncIterable[Sequence[ChargerFacts]], chosen: ChargerFilter) -> list[str]:
    """The ids of the chargers in ``pages`` that ``chosen`` matches, in page order."""
    return [c.charge_point_id async for page in pages for c in page if chosen.matches(c)]
