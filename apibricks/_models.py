"""The response models of ``GET /invoices/paid``: plain, frozen attrs classes.

Each documented camelCase wire field is one snake_case attribute here, declared once; the
converter (``apibricks._converter``) derives the wire names from these attributes and owns
all (de)serialization, so this module holds data only.

Required or optional, following the OpenAPI rendering of the spec:

* Fields the spec types as nullable (every string and every timestamp) are ``X | None`` and
  default to ``None``: the API may send ``null`` or leave them out.
* The organization ids (``uuid``), the integers (``int64``), the booleans and
  ``Invoice.organization`` are never nullable in the spec and the backend always sends them,
  so they are required: a response without them is a ``DecodeError``, not a silent ``0`` or
  ``False`` that would look like real data in a finance report.

Timestamps are timezone-aware ``datetime`` objects in UTC. Instances are slotted (cheap in
memory), immutable, hashable and compare by value; ``attrs.evolve`` makes modified copies.
"""

import decimal
import uuid
from datetime import datetime

import attrs

__all__ = ["Invoice", "Organization"]


@attrs.frozen(kw_only=True, cache_hash=True)
class Organization:
    """An organization (a customer account), as embedded in each invoice.

    Amounts named ``*_usd`` are US dollars and ``credit_*`` amounts are API credits, both
    integers exactly as the API sends them. Timestamps are aware UTC datetimes.

    Attributes:
        id: the organization's id.
        stripe_id: its customer id at Stripe (``cus_...``).
        name: display name.
        company: legal company name.
        country: country (ISO 3166 alpha-2 code).
        address1: first line of the billing address.
        address2: second line of the billing address.
        city: city.
        postal_code: postal code.
        region: region, state or province.
        purchase_order: purchase order reference to print on invoices.
        billing_email: where invoices are sent.
        auto_recharge_enabled: 1 if credits are recharged automatically, else 0 (an int on
            the wire, kept as sent).
        auto_recharge_balance_goes_below_usd: balance, USD, that triggers an auto recharge.
        auto_recharge_balance_back_up_to_usd: balance, USD, an auto recharge restores.
        credit_balance: current credit balance.
        credit_uninvoiced_current: credits used but not yet invoiced.
        credit_uninvoiced_limit: limit of uninvoiced credits.
        credit_usage_yesterday: credits used yesterday.
        credit_usage_today: credits used today so far.
        credit_usage_today_updated_at: when ``credit_usage_today`` was last updated.
        past_due_usd: amount past due, USD.
        past_due_since: since when an amount is past due.
        api_keys_active_count: number of active API keys.
        tickets_live_wait_on_provider: open support tickets waiting on APIBricks.
        tickets_live_wait_on_customer: open support tickets waiting on the customer.
        tickets_not_live: closed support tickets.
        total_paid_usd: total paid ever, USD.
        total_paid_usd_last_w: paid in the last week, USD.
        total_paid_usd_last_m: paid in the last month, USD.
        total_paid_usd_last_q: paid in the last quarter, USD.
        total_paid_usd_last_y: paid in the last year, USD.
        tier: pricing tier.
        first_payment_date: when the first payment was made.
        last_audit_trail_event: time of the latest audit trail event.
        usage_invoiced_up_to_excl: usage is invoiced up to this instant (exclusive).
        payment_methods_live_count: number of usable payment methods.
        quota_threshold_last_notification: last "quota threshold reached" notification.
        quota_exceeded_last_notification: last "quota exceeded" notification.
        all_notifications_email: address that receives all notifications.
        action_required_notifications_email: address for action-required notifications.
        credits_low_balance_last_notification: last "credits low" notification.
        time_created: when the organization was created.
        domains_csv: the organization's domains, comma-separated.
        team_members_count: number of team members.
        spend_mgmt_enabled: 1 if spend management is on, else 0 (an int on the wire).
        spend_mgmt_credit_usage_daily_hard_limit: daily credit usage hard limit.
        spend_mgmt_credit_usage_daily_notify_threshold: daily credit usage that notifies.
        spend_mgmt_credit_usage_webhook_url: webhook called for spend notifications.
        slack_channel_requested_time: when a shared Slack channel was requested.
        status: account status (e.g. ``active``, ``suspended``).
        status_changed_time: when ``status`` last changed.
        status_suspended_reason: why the account is suspended, if it is.
    """

    id: uuid.UUID
    stripe_id: str | None = None
    name: str | None = None
    company: str | None = None
    country: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    purchase_order: str | None = None
    billing_email: str | None = None
    auto_recharge_enabled: int
    auto_recharge_balance_goes_below_usd: int
    auto_recharge_balance_back_up_to_usd: int
    credit_balance: int
    credit_uninvoiced_current: int
    credit_uninvoiced_limit: int
    credit_usage_yesterday: int
    credit_usage_today: int
    credit_usage_today_updated_at: datetime | None = None
    past_due_usd: int
    past_due_since: datetime | None = None
    api_keys_active_count: int
    tickets_live_wait_on_provider: int
    tickets_live_wait_on_customer: int
    tickets_not_live: int
    total_paid_usd: int
    total_paid_usd_last_w: int
    total_paid_usd_last_m: int
    total_paid_usd_last_q: int
    total_paid_usd_last_y: int
    tier: str | None = None
    first_payment_date: datetime | None = None
    last_audit_trail_event: datetime | None = None
    usage_invoiced_up_to_excl: datetime | None = None
    payment_methods_live_count: int
    quota_threshold_last_notification: datetime | None = None
    quota_exceeded_last_notification: datetime | None = None
    all_notifications_email: str | None = None
    action_required_notifications_email: str | None = None
    credits_low_balance_last_notification: datetime | None = None
    time_created: datetime | None = None
    domains_csv: str | None = None
    team_members_count: int
    spend_mgmt_enabled: int
    spend_mgmt_credit_usage_daily_hard_limit: int
    spend_mgmt_credit_usage_daily_notify_threshold: int
    spend_mgmt_credit_usage_webhook_url: str | None = None
    slack_channel_requested_time: datetime | None = None
    status: str | None = None
    status_changed_time: datetime | None = None
    status_suspended_reason: str | None = None


@attrs.frozen(kw_only=True)
class Invoice:
    """A paid invoice.

    All invoices of one response share a single `Organization` instance per organization.

    Attributes:
        id_organization: id of the organization billed (equals ``organization.id``).
        id: the invoice's id (``in_...``).
        invoice_number: the human-facing invoice number.
        created: when the invoice was created.
        paid_date: when it was paid.
        due_date: when it was due.
        paid: whether it is paid.
        voided: whether it was voided.
        uncollectible: whether it was marked uncollectible.
        status: invoice status (e.g. ``paid``).
        amount_usd_cents: the amount in US **cents**; `amount_usd` gives dollars.
        currency: currency the invoice was issued in (lower-case ISO 4217, e.g. ``usd``).
        organization: the organization billed.
    """

    id_organization: uuid.UUID
    id: str | None = None
    invoice_number: str | None = None
    created: datetime | None = None
    paid_date: datetime | None = None
    due_date: datetime | None = None
    paid: bool
    voided: bool
    uncollectible: bool
    status: str | None = None
    amount_usd_cents: int
    currency: str | None = None
    organization: Organization

    @property
    def amount_usd(self) -> decimal.Decimal:
        """The amount in US dollars, exact (``12345`` cents -> ``Decimal('123.45')``)."""
        return decimal.Decimal(f"{self.amount_usd_cents}e-2")  # exact, whatever the context
