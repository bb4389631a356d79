"""What the API takes and gives, as marshmallow schemas: requests are read with them and the
OpenAPI document is generated from them. Amounts are integer minor units (kobo, cents); times
are ISO 8601 in UTC."""
from __future__ import annotations

from datetime import timedelta

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from bot.services.audience import SUPPRESSIONS
from bot.services.broadcast_file import DefinitionSchema
from bot.services.metrics import FIGURES
from bot.services.pages import MAX_LIMIT
from bot.services.settings import EDITABLE
from bot.services.tenant_file import RewardSchema, TenantFileSchema, Text

MAX_METRICS_DAYS = 366


def described(field: fields.Field, description: str) -> fields.Field:
    field.metadata = {**field.metadata, "description": description}
    return field


class Request(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field is an error, never silently ignored


class ProblemSchema(Schema):
    type = described(fields.String(required=True), "A link to this kind of problem on the docs page")
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = described(fields.Dict(keys=fields.String(), values=fields.Raw()), "Messages by field, for bad input")


class PageQuery(Request):
    cursor = described(fields.String(load_default=None), "The `next_cursor` of the previous page")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))


def page_of(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict(
        {
            "data": fields.List(fields.Nested(item), required=True),
            "next_cursor": described(fields.String(allow_none=True, required=True), "null on the last page"),
        },
        name=f"{name}Schema",
    )


# --- customers ------------------------------------------------------------------------------


class CustomerQuery(PageQuery):
    q = described(fields.String(load_default=None, validate=validate.Length(1, 64)),
                  "A phone in any format (0803 123 4567, +234...) or a member code")


class CustomerSchema(Schema):
    id = fields.UUID(required=True)
    phone = described(fields.String(required=True), "E.164")
    member_code = fields.String(allow_none=True)
    name = described(fields.String(allow_none=True), "Their WhatsApp profile name")
    balance = fields.Integer(required=True)
    lifetime_points = described(fields.Integer(required=True), "Points ever earned (tiers go by these)")
    tier = fields.String(allow_none=True)
    opted_in = described(fields.Boolean(required=True), "Agreed to receive offers")
    joined_at = fields.DateTime(required=True)
    language = fields.String()
    total_purchases = fields.Integer()
    total_spent = described(fields.Integer(), "Minor units")
    last_purchase_at = fields.DateTime(allow_none=True)


class ExpirySchema(Schema):
    points = fields.Integer(required=True)
    on = described(fields.Date(required=True), "The day, in the vendor's timezone")


class CustomerDetailSchema(CustomerSchema):
    next_expiry = described(fields.Nested(ExpirySchema, allow_none=True), "The next points to expire, if any")


class LedgerEntrySchema(Schema):
    id = fields.UUID(required=True)
    type = described(fields.String(attribute="transaction_type", required=True),
                     "earned, redeemed, expired, reversed, refunded or adjusted")
    source = fields.String(required=True)
    points = described(fields.Integer(required=True), "Positive for credits, negative for debits")
    remaining = described(fields.Integer(allow_none=True), "For a credit: what is left of it to spend")
    expires_at = fields.DateTime(allow_none=True)
    description = fields.String(allow_none=True)
    purchase_id = fields.UUID(allow_none=True)
    redemption_id = fields.UUID(attribute="reward_redemption_id", allow_none=True)
    created_at = fields.DateTime(required=True)


class AdjustmentIn(Request):
    points = described(
        fields.Integer(required=True, strict=True, validate=[validate.Range(-1_000_000, 1_000_000), validate.NoneOf([0])]),
        "Points to add (positive) or take away (negative); never more than can be spent",
    )
    reason = described(Text(required=True, validate=validate.Length(1, 200)), "Shown to the customer")


class AdjustmentSchema(Schema):
    id = described(fields.UUID(required=True), "The ledger entry")
    customer_id = fields.UUID(required=True)
    points = fields.Integer(required=True)
    reason = fields.String(required=True)
    balance_before = fields.Integer(required=True)
    balance_after = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


# --- purchases ------------------------------------------------------------------------------


class PurchaseIn(Request):
    customer = described(fields.String(required=True, validate=validate.Length(1, 64)),
                         "A phone in any format, or a member code; a new phone is enrolled and welcomed")
    amount = described(fields.Integer(required=True, strict=True), "Minor units: 125050 is ₦1,250.50")


class PurchaseSchema(Schema):
    id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    amount = fields.Integer(required=True)
    points = described(fields.Integer(required=True), "Earned by this purchase")
    balance_after = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


class VoidedPurchaseSchema(PurchaseSchema):
    points = described(fields.Integer(required=True), "Taken back")
    status = fields.String(required=True)
    voided_at = fields.DateTime(required=True)


# --- rewards and redemptions ----------------------------------------------------------------


class RewardOut(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    points = fields.Integer(attribute="points_required", required=True)
    stock = described(fields.Integer(allow_none=True), "Total ever offered; null: unlimited")
    stock_used = fields.Integer()
    stock_left = fields.Integer(allow_none=True)
    max_per_customer = fields.Integer(allow_none=True)
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    active = fields.Boolean(attribute="is_active")
    position = fields.Integer()


class StockIn(Request):
    stock = described(fields.Integer(required=True, strict=True, allow_none=True, validate=validate.Range(0)),
                      "Total offered, never below the units already redeemed; null: unlimited")


class RedemptionSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(required=True)
    reward = fields.String(required=True)
    customer_id = fields.UUID(required=True)
    customer = described(fields.String(required=True), "Name and phone, as staff see them")
    status = described(fields.String(required=True), "pending, fulfilled, cancelled or expired")
    usable = described(fields.Boolean(required=True), "Pending and not past its validity: it can be handed over")
    points = described(fields.Integer(required=True), "Paid for it: 0 for a prize won on the wheel")
    expires_at = fields.DateTime(required=True)
    completed_at = described(fields.DateTime(attribute="when", allow_none=True), "When fulfilled or cancelled")
    created_at = fields.DateTime(required=True)


# --- the vendor -----------------------------------------------------------------------------


class SettingsSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    whatsapp_number = fields.String(required=True)
    country = fields.String(required=True)
    currency = fields.String(required=True)
    timezone = fields.String(required=True)
    language = fields.String()
    greeting = fields.String(allow_none=True)
    welcome_bonus = fields.Integer()
    points_expiry_days = fields.Integer(allow_none=True)
    max_purchase_amount = described(fields.Integer(), "Major units, as in the tenant file")
    redemption_valid_hours = fields.Integer()
    points_rules = fields.List(fields.Dict())
    tiers = fields.List(fields.Dict())
    missions = fields.List(fields.Dict())
    referral = fields.Dict(allow_none=True)
    wheel = described(fields.Dict(allow_none=True), "The wheel's settings (its items are not shown here)")
    editable = described(fields.List(fields.String()), "What PATCH /settings may change")


# The fields PATCH /settings takes, declared as the tenant file declares them (and validated,
# with the whole file, by the same schema).
SettingsChange = Schema.from_dict({name: TenantFileSchema._declared_fields[name] for name in EDITABLE},
                                  name="SettingsChangeSchema")
RewardIn = RewardSchema


class MetricsQuery(Request):
    start = described(fields.Date(required=True), "First day, in the vendor's timezone")
    end = described(fields.Date(required=True), f"Last day (included); at most {MAX_METRICS_DAYS} days from start to end, both included")

    @validates_schema
    def a_range(self, data, **kwargs):
        if data["end"] < data["start"]:
            raise ValidationError({"end": ["must not be before start"]})
        if data["end"] - data["start"] >= timedelta(days=MAX_METRICS_DAYS):  # the range holds end - start + 1 days
            raise ValidationError({"end": [f"at most {MAX_METRICS_DAYS} days, start and end included"]})


DayMetrics = Schema.from_dict(
    {"date": fields.Date(required=True), **{name: fields.Integer(required=True) for name in FIGURES}}, name="DayMetricsSchema",
)
MetricsSchema = Schema.from_dict({"data": fields.List(fields.Nested(DayMetrics), required=True)}, name="MetricsSchema")


# --- broadcasts -----------------------------------------------------------------------------

# A broadcast's definition, as in the broadcast file without its `tenant` (the key's vendor),
# validated by the service with the file's own schema.
BroadcastIn = DefinitionSchema


class BroadcastSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    text = fields.String(required=True)
    template = fields.Dict(allow_none=True)
    media_url = fields.String(allow_none=True)
    segment = described(fields.Dict(required=True), "As given, normalised: phones in E.164, min_spent in minor units")
    send_at = described(fields.DateTime(allow_none=True), "null: when launched")
    quiet_hours = described(fields.List(fields.String(), allow_none=True), "[start, end] in the vendor's local time")
    messages_per_second = fields.Integer(allow_none=True)
    status = described(fields.String(required=True), "draft, scheduled, sending, paused, completed or cancelled")
    pause_reason = fields.String(allow_none=True)
    targeted = described(fields.Integer(attribute="total_recipients", required=True), "Recipients frozen at launch")
    retarget_of = described(fields.UUID(allow_none=True), "A follow-up of this broadcast")
    retarget = described(fields.String(allow_none=True), "not_read or not_replied")
    created_at = fields.DateTime(required=True)
    launched_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)


class SampleSchema(Schema):
    phone = fields.String(required=True)
    text = described(fields.String(required=True), "The message as this member would get it")


PreviewSchema = Schema.from_dict({
    "matched": described(fields.Integer(required=True), "Members the segment matches"),
    "suppressed": described(
        fields.Nested(Schema.from_dict({reason: fields.Integer(required=True) for reason in SUPPRESSIONS}, name="SuppressedSchema"),
                      required=True),
        "Matched but not sent, by the first reason that applies"),
    "recipients": described(fields.Integer(required=True), "Who a launch now would reach"),
    "samples": fields.List(fields.Nested(SampleSchema), required=True),
}, name="PreviewSchema")

def counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class StatsSchema(Schema):
    status = fields.String(required=True)
    targeted = described(fields.Integer(required=True), "sent + failed + skipped + queued")
    sent = described(fields.Integer(required=True), "Taken by Twilio (delivered and read included)")
    delivered = described(fields.Integer(required=True), "Read included")
    read = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    failed_by_code = described(counts(), "By Twilio's error code")
    skipped = fields.Integer(required=True)
    skipped_by_reason = described(counts(), "opted_out, frequency_cap, no_template, unreachable, cancelled")
    queued = described(fields.Integer(required=True), "Not answered yet")
    replied = described(fields.Integer(required=True), "Within 72 hours of their message")
    opted_out = described(fields.Integer(required=True), "Within 72 hours of their message")
    conversions = described(
        fields.Nested(Schema.from_dict({name: fields.Integer(required=True) for name in ("purchases", "redemptions", "revenue")},
                                       name="ConversionsSchema"), required=True),
        "By recipients within 7 days of their message; revenue in minor units")
    pause_reason = fields.String(allow_none=True)
