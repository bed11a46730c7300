"""Payment providers (adapters of the ``PaymentProvider`` port, as ``csms.store`` is for
PostgreSQL): the built-in manual provider, always there, and the card processor when
``CSMS_CARD_API_URL`` is set (docs/topics/payments.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx

from csms.domain.payments import RetryPolicy
from csms.payments.card import CardProcessor
from csms.payments.manual import ManualProvider
from csms.services.ports import PaymentProvider
from csms.settings import PaymentSettings


class Providers(Mapping[str, PaymentProvider]):
    """The configured providers by name; :meth:`aclose` closes their HTTP client."""

    def __init__(
        self, providers: Mapping[str, PaymentProvider], client: httpx.AsyncClient | None
    ) -> None:
        self._providers = dict(providers)
        self._client = client

    def __getitem__(self, name: str) -> PaymentProvider:
        return self._providers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def open_providers(settings: PaymentSettings) -> Providers:
    """The manual provider, and the card processor if it is configured."""
    manual = ManualProvider()
    found: dict[str, PaymentProvider] = {manual.name: manual}
    client = None
    if settings.card_api_url:
        headers = {"User-Agent": "csms"}
        if settings.card_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.card_api_key.get_secret_value()}"
        client = httpx.AsyncClient(
            base_url=settings.card_api_url.rstrip("/"),
            headers=headers,
            timeout=settings.card_timeout,
        )
        secrets: tuple[str, ...] = ()
        if settings.card_webhook_secret is not None:
            secrets = tuple(
                s.strip() for s in settings.card_webhook_secret.get_secret_value().split(",")
            )
        card = CardProcessor(
            client, webhook_secrets=secrets, webhook_tolerance=settings.card_webhook_tolerance
        )
        found[card.name] = card
    return Providers(found, client)


def retry_policy(settings: PaymentSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.payment_max_attempts,
        first_delay=settings.payment_retry_delay,
        max_delay=settings.payment_retry_max_delay,
        check_after=settings.payment_check_after,
        expire_after=settings.payment_expire_after,
    )


__all__ = ["Providers", "open_providers", "retry_policy"]
