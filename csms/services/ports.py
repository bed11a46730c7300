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
from csms.domain.certificates import CertificateFacts, IssuedCertificate
from csms.domain.charger_logs import LogRequest
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence
from csms.domain.credentials import PasswordRotation
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
from csms.domain.fleet_config import (
    ApplyItem,
    ChargerFacts,
    ConfigApply,
    ConfigProfile,
    HistoryEntry,
    NewItem,
    ProfileSpec,
    RefreshState,
    Reported,
    SettingId,
)
from csms.domain.id_tokens import IdToken
from csms.domain.invoices import ChargedSession, Draft, Invoice, Issued
from csms.domain.ledger import Entry
from csms.domain.meter_values import MeterSample, SampleBatch
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

    async def record_and_apply(
        self, event: EventRecord, samples: SampleBatch | None = None
    ) -> bool:
        """Record a sequenced message and apply its changes (both or neither; the changes
        are not applied to an ended session, but the message is kept). False, and nothing
        changes, if its seqNo was recorded for the session before. Events of one session
        apply in call order. Durable.

        ``samples`` (the message's, of session ``event.pk``) are stored with it, atomically,
        as ``MeterStore.add_samples`` would (a replayed sample adds nothing), whether or not
        the event is fresh: one write instead of two."""
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

    async def charger_sites(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> dict[str, str | None]:
        """Every registered charger (or those of ``charge_point_ids``) and its site id."""
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

    async def display_assignments(
        self, charge_point_ids: Sequence[str], site_ids: Sequence[str]
    ) -> list[Assignment]:
        """What can decide these chargers' display tariff: the default and the assignments
        to these chargers and these sites (groups never do: no driver is known). In
        ``list_assignments``' order."""
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
        self,
        *,
        tariff_id: str | None = None,
        charge_point_id: str | None = None,
        charge_point_ids: Sequence[str] | None = None,
    ) -> list[TariffPush]:
        """By charger; ``charge_point_ids``: only these chargers'."""
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
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        """1.6 keys; a None readonly keeps what was known. A value that changes is kept in the
        history with ``source`` (reported / applied) and ``by``; a key reported for the first
        time is not a change, a first value applied is."""
        ...

    async def forget_configuration(
        self, charge_point_id: str, *, keeping: Sequence[str], by: str | None = None
    ) -> None:
        """After a full read: the 1.6 keys not in ``keeping`` are gone (history: removed)."""
        ...

    async def forget_keys(
        self, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
    ) -> None:
        """1.6 keys the charger said it does not have (history: removed)."""
        ...

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        """By key."""
        ...

    async def upsert_variables(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        """2.0.1 device-model attributes; a None mutability or characteristics keeps what
        was known. History as ``upsert_configuration`` (settings as ``variable_setting``)."""
        ...

    async def forget_variables(
        self, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
    ) -> None:
        """After a full report: the attributes whose ``variable_setting`` is not in
        ``keeping`` are gone (history: removed)."""
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


class ConfigStore(Protocol):
    """Configuration baselines: profiles, applies with per-charger per-key outcomes, the
    configuration history, charger configuration reads and 2.0.1 report assembly."""

    async def add_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        """AlreadyExists."""
        ...

    async def update_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        """Replace everything but the id and creation; NotFound."""
        ...

    async def get_profile(self, profile_id: str) -> ConfigProfile | None: ...

    async def list_profiles(self) -> list[ConfigProfile]:
        """By id."""
        ...

    async def remove_profile(self, profile_id: str) -> None:
        """With its applies; NotFound."""
        ...

    async def charger_facts(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> list[ChargerFacts]:
        """Registered chargers (all, or these), by id; the OCPP version is the connection's,
        else the pinned one, else the one of its last boot (``set_protocol``)."""
        ...

    async def reported(
        self, charge_point_ids: Sequence[str]
    ) -> dict[str, dict[SettingId, Reported]]:
        """What each charger reported (1.6 keys, 2.0.1 Actual attributes with readonly from
        the mutability); a charger that reported nothing is absent."""
        ...

    async def set_protocol(self, charge_point_id: str, protocol: str) -> None: ...

    async def refresh_requested(
        self, charge_point_id: str, *, request_id: int | None, by: str | None, at: datetime
    ) -> None:
        """A configuration read was asked (status Requested)."""
        ...

    async def refresh_status(
        self,
        charge_point_id: str,
        status: str,
        detail: str,
        *,
        at: datetime,
        request_id: int | None = None,
        from_status: str | None = None,
    ) -> bool:
        """What became of the read (Complete sets ``refreshed_at``); with ``request_id``
        only while it is the read asked last, with ``from_status`` only from that status
        (False, nothing changes, otherwise)."""
        ...

    async def refresh_state(self, charge_point_id: str) -> RefreshState | None: ...

    async def report_requested(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        report_base: str,
        by: str | None,
        at: datetime,
    ) -> None:
        """A 2.0.1 report was asked (its parts are collected afresh)."""
        ...

    async def report_requester(self, charge_point_id: str, request_id: int) -> str | None: ...

    async def report_part(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        seq_no: int,
        last: bool,
        settings: Sequence[str],
        at: datetime,
    ) -> tuple[str | None, list[str]] | None:
        """One NotifyReport part (a part seen before adds nothing). When it completes the
        report (seqNo 0 up to the one with tbc false, each seen), once: (the report base it
        was asked with, or None; every setting the parts reported). None otherwise."""
        ...

    async def create_apply(
        self,
        profile_id: str,
        *,
        reason: str,
        by: str | None,
        items: Sequence[NewItem],
        at: datetime,
    ) -> int:
        """A new apply and its items; items of earlier applies still waiting (Pending,
        Offline) for the same charger and setting become Superseded."""
        ...

    async def get_apply(self, apply_id: int) -> ConfigApply | None: ...

    async def list_applies(
        self, *, profile_id: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[ConfigApply]:
        """Newest first."""
        ...

    async def apply_items(
        self,
        apply_id: int,
        *,
        charge_point_id: str | None = None,
        outcomes: Sequence[str] | None = None,
    ) -> list[ApplyItem]:
        """By charger, then setting."""
        ...

    async def waiting_items(self, charge_point_id: str) -> list[ApplyItem]:
        """Items still to send to the charger (Pending, Offline), by apply, then setting."""
        ...

    async def chargers_waiting(self) -> list[str]:
        """Chargers with items still to send, by id."""
        ...

    async def record_outcomes(
        self,
        apply_id: int,
        charge_point_id: str,
        outcomes: Sequence[tuple[str, str, str]],
        *,
        at: datetime,
    ) -> None:
        """(setting, outcome, detail) for items still waiting; others keep theirs."""
        ...

    async def finish_apply(self, apply_id: int, at: datetime) -> None:
        """Once (a later call changes nothing)."""
        ...

    async def reboot_pending(self, charge_point_id: str) -> list[ApplyItem]:
        """RebootRequired items whose reboot was not seen, by apply, then setting."""
        ...

    async def mark_rebooted(
        self, charge_point_id: str, items: Sequence[tuple[int, str, str]], at: datetime
    ) -> None:
        """(apply id, setting, detail) of RebootRequired items: the reboot was seen."""
        ...

    async def latest_outcomes(self, charge_point_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Per charger and setting text, the outcome of the newest item that is not
        Superseded (``RebootRequired (rebooted)`` once the reboot was seen)."""
        ...

    async def history(
        self,
        charge_point_id: str,
        *,
        setting: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        """Newest first."""
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
    def config(self) -> ConfigStore: ...

    @property
    def logs(self) -> LogStore: ...

    @property
    def security_profiles(self) -> SecurityProfileStore: ...

    @property
    def certificates(self) -> CertificateStore: ...

    @property
    def passwords(self) -> PasswordRotationStore: ...


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


# -- certificates and credentials (docs/topics/certificates.md) -------------------------------


class CertificateStore(Protocol):
    """Certificates the CSMS's authority issued to chargers."""

    async def add_issued(
        self,
        charge_point_id: str,
        certificate_type: str,
        certificate: CertificateFacts,
        *,
        issued_at: datetime,
    ) -> IssuedCertificate:
        """Record an issued certificate; AlreadyExists for an issuer and serial seen before.
        Durable."""
        ...

    async def record_delivery(self, certificate_id: int, status: str, at: datetime) -> None:
        """The charger's answer to CertificateSigned. Accepted supersedes (``at``) the
        older certificates of the same charger and type it had accepted."""
        ...

    async def get_issued(self, certificate_id: int) -> IssuedCertificate | None: ...

    async def list_issued(
        self,
        *,
        charge_point_id: str | None = None,
        current_only: bool = False,
        expiring_before: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[IssuedCertificate]:
        """Newest first (by id); ``current_only``: accepted and not superseded."""
        ...

    async def due_for_renewal(
        self, *, expiring_before: datetime, attempted_before: datetime, limit: int = 500
    ) -> list[IssuedCertificate]:
        """Current certificates that expire before ``expiring_before`` and were not asked
        to be renewed since ``attempted_before``; soonest expiry first."""
        ...

    async def record_renewal(self, certificate_id: int, at: datetime, error: str | None) -> None:
        """A renewal was asked for (``error`` None) or could not be (its reason)."""
        ...


class PasswordRotationStore(Protocol):
    """Basic-auth passwords being rotated (at most one per charger)."""

    async def begin(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        """Store the new password's hash (status sending), replacing a rotation under way;
        NotFound for an unknown charger. Durable."""
        ...

    async def get(self, charge_point_id: str) -> PasswordRotation | None: ...

    async def answered(
        self, charge_point_id: str, password_hash: str, status: str, at: datetime
    ) -> bool:
        """Set the status of the rotation to ``password_hash`` (False: it is gone)."""
        ...

    async def cancel(self, charge_point_id: str, password_hash: str) -> bool:
        """Drop the rotation to ``password_hash`` (False: it is gone or another one)."""
        ...

    async def promote(self, charge_point_id: str, password_hash: str) -> bool:
        """Make ``password_hash`` the charger's password and end its rotation, atomically;
        False if no rotation to that hash exists any more."""
        ...


class ChargerCommands(Protocol):
    """Neutral commands sent to wherever a charger is connected (``csms.cluster.bus``'s
    ``CommandClient``): the charger's answer as ``{action, request, response, protocol}``,
    or a :class:`~csms.errors.CommandError`."""

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        by: str | None = None,
    ) -> dict[str, Any]: ...


CommandSender = ChargerCommands  # the name configuration services know it by


class LogStore(Protocol):
    """Diagnostics and log upload requests (the uploads are the backoffice's)."""

    async def create_request(
        self,
        charge_point_id: str,
        *,
        log_type: str,
        action: str,
        request_id: int,
        token_hash: bytes,
        expires_at: datetime,
        oldest_at: datetime | None,
        latest_at: datetime | None,
        by: str | None,
        at: datetime,
    ) -> LogRequest:
        """Status Requested; NotFound (charger), AlreadyExists (the token, or the requestId
        for the charger, is taken)."""
        ...

    async def remove_request(self, log_id: int) -> None:
        """A request whose command did not reach the charger."""
        ...

    async def set_file_name(self, log_id: int, file_name: str | None) -> None: ...

    async def record_status(
        self, charge_point_id: str, status: str, *, request_id: int | None, at: datetime
    ) -> int | None:
        """Append a status to the request with ``request_id``, or (None) to the charger's
        newest GetDiagnostics request not in a final status; its id, or None if none."""
        ...

    async def get_request(self, log_id: int) -> LogRequest | None: ...

    async def list_requests(
        self, charge_point_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[LogRequest]:
        """Newest first."""
        ...


class CertificateAuthority(Protocol):
    """Signs chargers' certificates: the built-in one (``csms.authority``) or an external
    one plugged in with ``CSMS_CA_FACTORY`` (docs/topics/certificates.md)."""

    async def sign(self, csr_pem: str, charge_point_id: str) -> str:
        """The certificate chain for a checked CSR, PEM, the charger's certificate first
        (then intermediates, if any). Raise on failure: the charger gets no certificate
        and the failure is recorded."""
        ...


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
        transaction_pk: int | None = None,
    ) -> list[Invoice]:
        """Newest first, without lines; ``transaction_pk``: the invoice of that session."""
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
