"""The store ports: what the services need from storage, as ``typing.Protocol``s.

Two implementations pass the same contract tests (tests/contract/): PostgreSQL
(``csms.store.postgres``, asyncpg, with writes batched across chargers) and in memory
(``csms.store.memory``, for unit tests and as an executable statement of the rules).
Every method's docstring is its contract; "durable" means committed when the call returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from csms.domain.accounts import Standing
from csms.domain.billing import Account, Bill, Charge, LedgerEntry, Review, SettlementFacts
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence
from csms.domain.firmware import Target
from csms.domain.firmware_campaigns import (
    Artifact,
    Campaign,
    CampaignEvent,
    CampaignOptions,
    CandidateCharger,
    Dispatchable,
    NewArtifact,
    NewTarget,
    Selector,
    TargetRow,
    Wave,
    WavePlan,
    WaveProgress,
)
from csms.domain.id_tokens import IdToken
from csms.domain.invoices import ChargedSession, Draft, Invoice, Issued
from csms.domain.ledger import Entry
from csms.domain.meter_values import MeterSample
from csms.domain.payments import (
    Applied,
    Decide,
    Payment,
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    StoredEvent,
    WebhookEvent,
    WebhookRecord,
)
from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
)
from csms.domain.security_profiles import Admission, SecurityState, Upgrade
from csms.domain.sites import Assignment, Scope, Site
from csms.domain.tariff_catalog import (
    Resolved,
    SessionCost,
    TariffInfo,
    TariffPush,
    TariffVersion,
)
from csms.domain.transactions import Ending, EventRecord, NewSession, SessionChanges, Transaction


class ChargerStore(Protocol):
    """Chargers: registration (operators) and what their connections report (the node)."""

    async def add(
        self,
        charge_point_id: str,
        *,
        password_hash: str | None,
        boot_policy: str,
        ocpp_version: str | None,
        description: str,
    ) -> Charger:
        """Register a charger (auth mode "basic" with a hash, else "none"); AlreadyExists."""
        ...

    async def get(self, charge_point_id: str) -> Charger | None: ...

    async def update(self, charge_point_id: str, **changes: Any) -> Charger:
        """Change operator-set fields (password_hash, auth_mode, boot_policy, ocpp_version,
        description); NotFound."""
        ...

    async def remove(self, charge_point_id: str) -> None:
        """Delete the charger and everything recorded about it; NotFound."""
        ...

    async def record_boot(self, boot: Boot) -> str:
        """Store the identity; the registration status its boot policy gives (Rejected for
        a charger that is not registered). Durable."""
        ...

    async def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        """Keep the newest status per connector; an older (replayed) one changes nothing."""
        ...

    async def list_connectors(self, charge_point_id: str) -> list[ConnectorStatus]:
        """By EVSE, then connector."""
        ...

    async def record_presence(self, presence: Presence) -> None:
        """A connection marks the charger connected to its node and epoch; a disconnection
        clears that only if the charger is still marked connected by the same node and
        epoch. Applied in call order."""
        ...

    async def list_presence(
        self, *, node_id: str | None = None, excluding_nodes: Sequence[str] | None = None
    ) -> list[Presence]:
        """Chargers recorded as connected: to ``node_id``, or to a node not in
        ``excluding_nodes``; by charger id (``at``: when the charger was last seen)."""
        ...

    async def clear_presence(self, stale: Sequence[Presence]) -> list[str]:
        """Mark these connections gone, each only while the charger is still recorded as
        connected by that node and epoch; last seen stays. The chargers cleared, by id."""
        ...

    def note_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        """Last heartbeat and last seen; best effort, not awaited (nothing of value is lost
        if it never lands)."""
        ...

    async def record_charger_status(
        self,
        charge_point_id: str,
        *,
        firmware_status: str | None = None,
        diagnostics_status: str | None = None,
    ) -> None:
        """The latest firmware / diagnostics status; None leaves a status as it is."""
        ...


class TokenStore(Protocol):
    async def get(self, id_token: str) -> IdToken | None:
        """Case-insensitive."""
        ...

    async def get_with_standing(self, id_token: str) -> tuple[IdToken | None, Standing | None]:
        """The token (case-insensitive) and, in the same round trip, the standing of the
        billing account it bills to (its own, else its driver's): status, kind, hold amount
        and the wallet balance available (holds are out of it). The standing is None when
        the token bills to no account."""
        ...


class SessionStore(Protocol):
    """Charging sessions (``transactions``) and their sequenced messages."""

    async def find_started(self, charge_point_id: str, start_key: str) -> Transaction | None:
        """The session a CSMS-named start with this key created."""
        ...

    async def create_started(
        self, charge_point_id: str, new: NewSession
    ) -> tuple[Transaction, bool]:
        """A new session with a random positive 31-bit transaction id unique across chargers
        (created True), or the one with the same start key (False)."""
        ...

    async def open_named(
        self,
        charge_point_id: str,
        transaction_id: str,
        *,
        protocol: str,
        started_at: datetime,
        evse_id: int,
        connector_id: int,
    ) -> Transaction:
        """The session the charger named ``transaction_id``; created with the given values
        if it does not exist, else returned unchanged."""
        ...

    async def get(self, charge_point_id: str, transaction_id: str) -> Transaction | None: ...

    async def get_by_pk(self, pk: int) -> Transaction | None: ...

    async def record_and_apply(self, event: EventRecord) -> bool:
        """Record a sequenced message and apply its changes (both or neither; the changes
        are not applied to an ended session, but the message is kept). False, and nothing
        changes, if its seqNo was recorded for the session before. Events of one session
        apply in call order. Durable."""
        ...

    async def record_event(self, event: EventRecord) -> bool:
        """Record a sequenced message without applying it; False if its seqNo was
        recorded before."""
        ...

    async def apply(self, pk: int, changes: SessionChanges) -> None:
        """Apply changes to a session that has not ended (first token wins, newest state
        wins, the earliest start wins, offline sticks, a later stop token wins)."""
        ...

    async def finish(self, pk: int, ending: Ending) -> bool:
        """End a session (keeps a meter start it had; flags are added, replacing the ones an
        end decides). A charger's end (no ``close_reason``) applies to a session that has
        not ended, or that the CSMS closed (the charger's true stop wins, once); a CSMS
        close only to one that has not ended. False, and nothing changes, otherwise."""
        ...

    async def count_active_for_token(
        self, id_token: str, *, excluding_pk: int | None = None
    ) -> int:
        """Sessions of the token (case-insensitive) that have not ended and whose
        authorization status is Accepted, on any charger."""
        ...

    async def open_sessions(self, charge_point_id: str) -> list[Transaction]:
        """A charger's sessions that have not ended, by start time."""
        ...

    async def last_activity(self, pk: int) -> datetime | None:
        """The latest of the session's start, its meter samples' and its events' times."""
        ...

    async def open_after_boot(self, booted_before: datetime) -> list[Transaction]:
        """Sessions not ended of chargers whose last boot is before ``booted_before``, whose
        last activity is before that boot; by row id."""
        ...


class PricingStore(Protocol):
    """What pricing keeps on a session: its tariff version, its cost, its charging states."""

    async def set_tariff(
        self, pk: int, *, tariff_id: str, tariff_version: int, currency: str
    ) -> bool:
        """Fix the tariff version a session is priced with; once (False if it had one).
        Only a published version: NotFound for a draft or a version that does not exist."""
        ...

    async def session_cost(self, pk: int) -> SessionCost | None: ...

    async def store_cost(
        self,
        pk: int,
        *,
        excl_vat: Decimal,
        vat: Decimal,
        incl_vat: Decimal,
        breakdown: dict[str, Any],
        at: datetime,
        final: bool,
        replace_final: bool = False,
    ) -> bool:
        """Keep the cost: a running one only while no final one is kept, a final one once
        (or again with ``replace_final``). False, and nothing changes, otherwise."""
        ...

    async def add_state(self, pk: int, at: datetime, charging: bool) -> None:
        """When the session started or stopped charging; a second state at the same time
        adds nothing."""
        ...

    async def states(self, pk: int) -> list[tuple[datetime, bool]]:
        """By time."""
        ...

    async def register_readings(self, pk: int) -> list[tuple[datetime, Decimal]]:
        """The session's energy import register readings in Wh (phase total; unit Wh, kWh
        or none), by time."""
        ...


class TariffStore(Protocol):
    """Sites, tariffs and their versions, assignments, and pushes to chargers."""

    async def add_site(self, site: Site) -> Site:
        """AlreadyExists."""
        ...

    async def get_site(self, site_id: str) -> Site | None: ...

    async def list_sites(self) -> list[Site]:
        """By id."""
        ...

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        """NotFound."""
        ...

    async def remove_site(self, site_id: str) -> None:
        """Its chargers keep no site, its tariff assignment goes; NotFound."""
        ...

    async def set_charger_site(self, charge_point_id: str, site_id: str | None) -> None:
        """NotFound (the charger or the site)."""
        ...

    async def site_of(self, charge_point_id: str) -> Site | None: ...

    async def charger_sites(self) -> dict[str, str | None]:
        """Every registered charger and its site id."""
        ...

    async def add_tariff(
        self,
        tariff_id: str,
        *,
        description: str,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
    ) -> TariffVersion:
        """A new tariff with version 1 as its draft; AlreadyExists."""
        ...

    async def save_draft(
        self,
        tariff_id: str,
        *,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
        description: str | None = None,
    ) -> TariffVersion:
        """Replace the draft, or start the next version as the draft; NotFound."""
        ...

    async def publish(
        self, tariff_id: str, *, published_by: str | None, at: datetime
    ) -> TariffVersion:
        """The draft becomes the current version; NotFound, InvalidInput (no draft)."""
        ...

    async def get_version(self, tariff_id: str, version: int) -> TariffVersion | None: ...

    async def current_version(self, tariff_id: str) -> TariffVersion | None:
        """The latest published version."""
        ...

    async def list_versions(self, tariff_id: str) -> list[TariffVersion]: ...

    async def list_tariffs(self) -> list[TariffInfo]:
        """By id."""
        ...

    async def describe(self, tariff_id: str, description: str) -> None:
        """Change the description (no new version: it prices nothing); NotFound."""
        ...

    async def remove_tariff(self, tariff_id: str) -> None:
        """NotFound; InvalidInput when sessions were priced with it."""
        ...

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        """Replaces what was assigned there; NotFound (the tariff)."""
        ...

    async def unassign(self, scope: Scope, target: str) -> None:
        """NotFound."""
        ...

    async def list_assignments(self) -> list[Assignment]:
        """By scope, then target."""
        ...

    async def request_pushes(self, targets: Sequence[tuple[str, str | None, int | None]]) -> None:
        """(charger, tariff, version) each charger's display should show, pending; replaces
        an older request (of a charger named twice, the later one counts); chargers not
        registered are skipped."""
        ...

    async def resolve(self, charge_point_id: str, groups: Sequence[str]) -> Resolved:
        """The charger's site, the assignment that applies to a session of a driver in
        ``groups`` (:func:`csms.domain.sites.applicable`) and that tariff's current
        published version."""
        ...

    async def pending_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool = False
    ) -> list[TariffPush]:
        """Pending pushes of these chargers (and failed ones with ``retry_failed``)."""
        ...

    async def record_push(
        self, charge_point_id: str, *, requested_at: datetime, status: str, detail: str
    ) -> bool:
        """What became of the push requested at ``requested_at``; False if a newer request
        replaced it (nothing changes)."""
        ...

    async def list_pushes(
        self, *, tariff_id: str | None = None, charge_point_id: str | None = None
    ) -> list[TariffPush]:
        """By charger."""
        ...


class MeterStore(Protocol):
    async def add_samples(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        transaction_pk: int | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Durable. A sample with the same charger, EVSE, connector, time, measurand, phase,
        location and context as a stored one is a replay: it adds nothing."""
        ...

    async def register_readings_wh(
        self, transaction_pk: int
    ) -> tuple[Decimal | None, Decimal | None]:
        """The first and last energy import register readings of a session, in Wh (phase
        total, unit Wh, kWh or none)."""
        ...


class ReportStore(Protocol):
    """What chargers report besides sessions."""

    async def record_notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: str | None = None,
        occurred_at: datetime | None = None,
    ) -> None: ...

    async def list_notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        """Newest first."""
        ...

    async def upsert_configuration(
        self, charge_point_id: str, rows: Sequence[ConfigurationRow]
    ) -> None:
        """1.6 keys; a None readonly keeps what was known."""
        ...

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        """By key."""
        ...

    async def upsert_variables(self, charge_point_id: str, rows: Sequence[VariableRow]) -> None:
        """2.0.1 device-model attributes; a None mutability or characteristics keeps what
        was known."""
        ...

    async def list_variables(self, charge_point_id: str) -> list[ConfigurationValue]:
        """By component, instance, EVSE, connector, variable, instance, attribute."""
        ...

    async def record_availability(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None: ...

    async def list_availability(self, charge_point_id: str) -> list[Availability]:
        """By EVSE, then connector."""
        ...


class Stores(Protocol):
    """One implementation of every port."""

    @property
    def chargers(self) -> ChargerStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def meters(self) -> MeterStore: ...

    @property
    def reports(self) -> ReportStore: ...

    @property
    def pricing(self) -> PricingStore: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def tariffs(self) -> TariffStore: ...

    @property
    def security_profiles(self) -> SecurityProfileStore: ...


class JobQueue(Protocol):
    """Durable jobs (PgQueuer in PostgreSQL, run by ``csms worker``; ADR 0004)."""

    async def enqueue(
        self,
        entrypoint: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        delay: float = 0.0,
    ) -> bool:
        """Queue a job (False: one with ``dedupe_key`` is queued or running already)."""
        ...


class BillingStore(Protocol):
    """Billing accounts, the ledger, charges and the settlement review queue."""

    async def add_account(self, **fields: Any) -> Account:
        """``kind``, ``currency``, ``name`` and any of the other fields; NotFound (user),
        InvalidInput (the user has an account)."""
        ...

    async def get_account(self, account_id: int) -> Account | None: ...

    async def account_of_user(self, user_id: int) -> Account | None: ...

    async def list_accounts(
        self, *, after_id: int = 0, limit: int = 100, status: str | None = None
    ) -> list[Account]: ...

    async def update_account(self, account_id: int, **changes: Any) -> Account:
        """NotFound."""
        ...

    async def account_of_token(self, id_token: str) -> Account | None:
        """The account a token bills to: its own, else its driver's."""
        ...

    async def link_token(self, id_token: str, account_id: int | None) -> None:
        """NotFound (token or account)."""
        ...

    async def post(self, entry: Entry) -> int | None:
        """Record a ledger entry; None when its idempotency key was recorded before."""
        ...

    async def balances(self, account: Account) -> dict[str, Decimal]:
        """``wallet``, ``held``, ``receivable`` on their normal sides."""
        ...

    async def entries(
        self, *, account_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> list[LedgerEntry]: ...

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]: ...

    async def settlement_facts(self, transaction_pk: int) -> SettlementFacts | None: ...

    async def record_charge(
        self,
        *,
        transaction_pk: int,
        account: Account,
        bill: Bill,
        source: str,
        entry: Entry,
        release: Entry | None,
        resolve_review: tuple[str, dict[str, Any] | None, str | None] | None = None,
        at: datetime,
    ) -> Charge | None:
        """The session's one charge with its entries, atomically; None if charged before."""
        ...

    async def record_review(self, transaction_pk: int, reason: str, detail: str) -> bool: ...

    async def review_of(self, transaction_pk: int) -> Review | None: ...

    async def list_reviews(
        self, *, status: str | None = "open", after_pk: int = 0, limit: int = 100
    ) -> list[Review]: ...

    async def waive(
        self,
        transaction_pk: int,
        *,
        detail: dict[str, Any],
        by: str | None,
        at: datetime,
        release: Entry | None,
    ) -> bool: ...

    async def set_session_energy(self, transaction_pk: int, energy_wh: Decimal) -> None: ...

    async def unsettled(self, *, ended_before: datetime, limit: int = 500) -> list[int]: ...

    async def find_accounts(
        self,
        *,
        after_id: int = 0,
        limit: int = 100,
        status: str | None = None,
        kind: str | None = None,
        currency: str | None = None,
        user_id: int | None = None,
        text: str | None = None,
    ) -> list[Account]:
        """By id; ``text`` is found in the name or e-mail, in any case."""
        ...

    async def list_charges(
        self,
        *,
        account_id: int | None = None,
        uninvoiced: bool = False,
        created_before: datetime | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Charge]: ...


class FirmwareStore(Protocol):
    """Firmware artifacts (their bytes streamed in and out, never whole in memory),
    campaigns, waves, targets and their history (csms.store.firmware)."""

    async def add_artifact(
        self,
        new: NewArtifact,
        chunks: AsyncIterator[bytes],
        seal: Callable[[], tuple[int, str]],
    ) -> Artifact:
        """Store the file and its row atomically; ``seal`` (after the last chunk) gives
        (size, sha256) or raises, and then nothing is kept. InvalidInput (a duplicate)."""
        ...

    async def get_artifact(self, artifact_id: int) -> Artifact | None: ...

    async def list_artifacts(self, *, after_id: int = 0, limit: int = 100) -> list[Artifact]: ...

    async def remove_artifact(self, artifact_id: int) -> None:
        """NotFound; InvalidInput when a campaign uses it."""
        ...

    def read_artifact(self, artifact_id: int, start: int, length: int) -> AsyncIterator[bytes]:
        """``length`` bytes from ``start``, chunk by chunk."""
        ...

    async def candidates(self, selector: Selector) -> list[CandidateCharger]: ...

    async def active_elsewhere(self, charge_point_ids: Sequence[str]) -> dict[str, int]:
        """Chargers of the list in a campaign not finished with them -> that campaign."""
        ...

    async def create_campaign(
        self,
        *,
        artifact_id: int,
        selector: dict[str, Any],
        options: CampaignOptions,
        waves: Sequence[WavePlan],
        targets: Sequence[NewTarget],
        created_by: str | None,
    ) -> int: ...

    async def get_campaign(self, campaign_id: int) -> Campaign | None: ...

    async def list_campaigns(
        self, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[Campaign]: ...

    async def active_campaigns(self) -> list[int]:
        """Running, paused or halted."""
        ...

    async def cancel_targets(self, campaign_id: int, actor: str | None) -> int: ...

    async def retry_failed(self, campaign_id: int, actor: str | None) -> tuple[int, int]:
        """(retried, skipped: in another campaign now)."""
        ...

    async def set_status(
        self,
        campaign_id: int,
        status: str,
        *,
        only_from: Sequence[str],
        actor: str | None,
        detail: str | None = None,
        halted_reason: str | None = None,
    ) -> bool:
        """Change the status if it is one of ``only_from``; False otherwise."""
        ...

    async def start_wave(self, campaign_id: int, number: int) -> bool: ...

    async def finish_waves(self, campaign_id: int, numbers: Sequence[int]) -> None: ...

    async def accept_failures(self, campaign_id: int, up_to_wave: int) -> None: ...

    async def waves(self, campaign_id: int) -> list[Wave]: ...

    async def wave_progress(self, campaign_id: int) -> list[WaveProgress]: ...

    async def state_counts(self, campaign_id: int) -> dict[str, int]: ...

    async def get_target(self, campaign_id: int, charge_point_id: str) -> TargetRow | None: ...

    async def active_target(self, charge_point_id: str) -> TargetRow | None: ...

    async def update_target(
        self,
        row: TargetRow,
        target: Target,
        *,
        note: str | None,
        actor: str | None = None,
        waiting: str | None = None,
    ) -> bool:
        """Write ``target`` if the row is still at ``row.revision``; False: read it again."""
        ...

    async def mark_sent(self, campaign_id: int, charge_point_id: str, request_id: int) -> bool:
        """Claim the one send of update ``request_id``."""
        ...

    async def set_waiting(self, campaign_id: int, waiting: dict[str, str | None]) -> None: ...

    async def dispatchable(
        self, campaign_id: int, *, up_to_wave: int, now: datetime, limit: int
    ) -> list[Dispatchable]: ...

    async def in_flight(self, campaign_id: int) -> int: ...

    async def due(self, campaign_id: int, now: datetime) -> list[TargetRow]: ...

    async def targets(
        self,
        campaign_id: int,
        *,
        states: Sequence[str] | None = None,
        after_position: int = -1,
        limit: int = 100,
    ) -> list[TargetRow]: ...

    async def events(
        self,
        campaign_id: int,
        *,
        charge_point_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[CampaignEvent]: ...

    async def record_event(
        self,
        campaign_id: int,
        kind: str,
        *,
        charge_point_id: str | None = None,
        state: str | None = None,
        detail: str | None = None,
        actor: str | None = None,
    ) -> None: ...


class InvoiceStore(Protocol):
    """Invoices and credit notes: numbered without gaps per series, immutable once issued
    (docs/topics/invoices.md)."""

    async def issue_invoice(
        self,
        *,
        series: str,
        account_id: int,
        compose: Callable[[Account, list[ChargedSession]], Draft | None],
        charge_ids: Sequence[int] | None = None,
        ended_before: datetime | None = None,
        period: tuple[datetime, datetime] | None = None,
    ) -> Issued:
        """In one transaction: lock the account's uninvoiced charges (``charge_ids``, or
        those of sessions ended before ``ended_before``), compose the invoice from them,
        take the series' next number, store it and mark the charges. ``already`` when the
        account has the ``period``'s invoice; ``nothing`` when no charge is left (or
        ``compose`` declined). NotFound (account)."""
        ...

    async def issue_credit_note(
        self,
        *,
        series: str,
        invoice_id: int,
        compose: Callable[[Invoice, list[Invoice]], Draft],
        entry_of: Callable[[int, Draft, Account], Entry],
    ) -> Invoice:
        """In one transaction with the invoice locked: compose the credit note from the
        invoice and its credit notes so far, number it, store it with its ledger entry.
        NotFound (invoice); what ``compose`` raises."""
        ...

    async def get_invoice(self, invoice_id: int) -> Invoice | None: ...

    async def find_number(self, series: str, number: int) -> int | None:
        """The id of invoice ``number`` of ``series``."""
        ...

    async def list_invoices(
        self,
        *,
        account_id: int | None = None,
        kind: str | None = None,
        period: tuple[datetime, datetime] | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Invoice]:
        """Newest first, without lines."""
        ...

    async def accounts_to_invoice(
        self, *, ended_before: datetime, period: tuple[datetime, datetime]
    ) -> list[int]:
        """Accounts invoiced per period with uninvoiced charges of sessions that ended
        before ``ended_before``, and no invoice of ``period``."""
        ...

    async def uninvoiced_session_charges(
        self, *, created_before: datetime, limit: int = 500
    ) -> list[int]: ...

    async def charge_account(self, charge_id: int) -> int | None: ...


class SecurityProfileStore(Protocol):
    """Chargers' recorded security profiles (``csms.domain.security_profiles``). A
    registered charger never seen has minimum 0 and no last profile."""

    async def get(self, charge_point_id: str) -> SecurityState | None:
        """None if the charger is not registered."""
        ...

    async def admit(self, charge_point_id: str, profile: int, at: datetime) -> Admission:
        """A connection that proved ``profile``, decided by ``domain.security_profiles.admit``
        and durable when admitted (the minimum raised, a pending upgrade it reaches
        completed); two connections of one charger are decided one after the other.
        NotFound if the charger is not registered."""
        ...

    async def set_minimum(self, charge_point_id: str, minimum: int) -> SecurityState:
        """The operator sets the minimum (raised or lowered). NotFound."""
        ...

    async def start_upgrade(self, charge_point_id: str, upgrade: Upgrade) -> SecurityState:
        """Record ``upgrade`` as the charger's last one, replacing any earlier. NotFound."""
        ...

    async def finish_upgrade(
        self, charge_point_id: str, upgrade_id: str, state: str, detail: str, at: datetime
    ) -> bool:
        """End upgrade ``upgrade_id`` with ``state`` if it is still the charger's last one
        and pending (True); otherwise change nothing (False)."""
        ...

    async def note_upgrade(
        self,
        charge_point_id: str,
        upgrade_id: str,
        detail: str,
        *,
        restore: dict[str, Any] | None = None,
    ) -> None:
        """Replace the detail (and ``restore`` when given) of upgrade ``upgrade_id`` if it
        is the charger's last one, whatever its state."""
        ...


class PaymentProvider(Protocol):
    """A payment provider (``csms.payments``): the built-in manual provider (an operator
    records money received) or a card processor. Every call that asks for money carries an
    idempotency key: asking twice with the same key asks once."""

    @property
    def name(self) -> str:
        """Its name in URLs, payments and the ledger (``clearing:<name>``)."""
        ...

    @property
    def takes_webhooks(self) -> bool: ...

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        """Ask for money (a payment intent). ProviderUnavailable (safe to ask again with the
        same key), PaymentError (refused)."""
        ...

    async def capture(self, ref: str, *, idempotency_key: str) -> ProviderPayment:
        """Take the money of an authorized (capturable) payment."""
        ...

    async def cancel(self, ref: str, *, idempotency_key: str) -> ProviderPayment: ...

    async def refund(
        self,
        ref: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ProviderRefund:
        """Pay back ``amount`` of the succeeded payment ``ref``."""
        ...

    async def status(self, ref: str) -> ProviderPayment:
        """What became of a payment (when its webhook did not come)."""
        ...

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: float
    ) -> WebhookEvent:
        """The event a webhook carries, if its signature and timestamp are the provider's;
        WebhookRejected otherwise."""
        ...


class PaymentStore(Protocol):
    """Payments and their webhook events (their ledger entries go with them)."""

    async def add_payment(
        self,
        *,
        account_id: int,
        provider: str,
        kind: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        invoice_id: int | None = None,
        created_by: str | None = None,
    ) -> tuple[Payment, bool]:
        """A new pending payment (True), or the one with that key (False)."""
        ...

    async def add_refund(
        self,
        payment_id: int,
        *,
        amount: Decimal | None,
        idempotency_key: str,
        created_by: str | None,
    ) -> tuple[Payment, bool]:
        """A pending refund of a succeeded payment, never more than is left to refund (even
        when asked concurrently); None: all that is left. InvalidInput, NotFound."""
        ...

    async def get(self, payment_id: int) -> Payment | None: ...

    async def by_ref(self, provider: str, provider_ref: str) -> Payment | None: ...

    async def by_key(self, idempotency_key: str) -> Payment | None: ...

    async def list_payments(
        self,
        *,
        account_id: int | None = None,
        status: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Payment]:
        """Newest first."""
        ...

    async def refunds_of(self, payment_id: int) -> list[Payment]: ...

    async def refunded_total(self, payment_id: int) -> Decimal: ...

    async def invoice_account(self, invoice_id: int) -> int | None: ...

    async def claim_attempt(
        self, payment_id: int, attempt: int, *, check_at: datetime
    ) -> Payment | None:
        """Start attempt ``attempt`` (None: started elsewhere, or no longer pending)."""
        ...

    async def set_provider_ref(self, payment_id: int, provider_ref: str) -> None: ...

    async def reschedule(self, payment_id: int, at: datetime, *, failure: str | None) -> bool: ...

    async def due(self, *, now: datetime, limit: int = 500) -> list[tuple[int, datetime]]: ...

    async def apply(
        self, targets: Sequence[tuple[int, Decide]], *, event: WebhookRecord | None = None
    ) -> Applied:
        """Atomically: keep ``event`` once (a duplicate changes nothing), lock each payment,
        decide, store its new state and post its entry."""
        ...

    async def events_of(self, payment_id: int) -> list[StoredEvent]: ...

    async def entries_of(self, payment_id: int) -> list[LedgerEntry]: ...
