"""pybreaker circuit breakers around async operations.

pybreaker guards plain calls and generators (its ``call_async`` needs Tornado). We drive it
through its public generator protocol: ``breaker.call`` on a generator function checks the
state before anything is attempted (raising ``CircuitBreakerError`` while open) and records
success or failure when the generator ends, which happens after our ``await``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import pybreaker

T = TypeVar("T")


def _attempt() -> Generator[None, Any, None]:
    outcome = yield
    if isinstance(outcome, BaseException):
        raise outcome


async def guarded(breaker: pybreaker.CircuitBreaker, operation: Callable[[], Awaitable[T]]) -> T:
    """Run ``operation`` under ``breaker``; raises ``pybreaker.CircuitBreakerError`` if open.

    Exceptions listed in the breaker's ``excluded_exceptions`` pass through without counting
    as failures.
    """
    tracker = breaker.call(_attempt)
    next(tracker)
    try:
        result = await operation()
    except BaseException as exc:
        try:
            tracker.send(exc)
        except BaseException:
            pass
        raise
    try:
        tracker.send(None)
    except StopIteration:
        pass
    return result


class BreakerBox:
    """One breaker per name (node id), created on first use."""

    def __init__(
        self,
        *,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        exclude: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._fail_max = fail_max
        self._reset_timeout = reset_timeout
        self._exclude = list(exclude)
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}

    def get(self, name: str) -> pybreaker.CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = pybreaker.CircuitBreaker(
                fail_max=self._fail_max,
                reset_timeout=self._reset_timeout,
                exclude=self._exclude,
                name=name,
            )
            self._breakers[name] = breaker
        return breaker

    def states(self) -> dict[str, str]:
        return {name: b.current_state for name, b in sorted(self._breakers.items())}

    def failures(self) -> dict[str, tuple[str, int]]:
        """``{name: (state, consecutive failures counted)}`` of every breaker made so far."""
        return {
            name: (b.current_state, b.fail_counter) for name, b in sorted(self._breakers.items())
        }
