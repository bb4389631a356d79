"""The hand-written floor of a purchase: the rows the app writes, in raw SQL, as BAL's floor is.

A measuring stick beside shared/reference/floor_webhook.py, to tell what issue 9's purchase
target asks of hand-written code: staff with their PIN session open log a purchase for a new
phone in two messages, `LOG <phone> <amount>` (answered with the points it earns, 1. Confirm,
2. Cancel) and `1`. Each message is one transaction on this process's one connection, its
statements prepared once, sent in as few round trips as the answers allow (BEGIN and COMMIT
with the first and last statements, as the app sends them):

- both: BEGIN with the staff row locked, its state, a replay's stored answer (a replay
  answers that and writes nothing) and, for LOG, whether the phone is a member, in one
  statement; at the end, the state saved with the inbound message and its reply, and COMMIT:
  LOG takes these 2 round trips;
- `1`: in one round trip the customer, its balance row, the welcome and purchase lots, the
  purchase, the phone's route, the spin, the two audit rows and the reward catalog for the
  progress line; then the welcome and the purchase notices in the outbox with the reply and
  COMMIT; 3 round trips, and after COMMIT the notices' ids pushed to a Redis list (waiting
  for its answer) for a sender.

The customer's row is inserted without ON CONFLICT, as the app's is: a phone enrolled
meanwhile, or a member code taken, fails the transaction (a 500), where the app runs the
message once more, looking the member up first. It knows the bench vendor (read once a
process) and only that conversation, for new phones: no menus, no amounts like `15k`, no
void, no rate limits (BAL's floor has none either). The rows are the app's own, so the
ledger check holds after it. Env: REF_DSN, REF_REDIS_URL, TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL.
"""
import json
import os
import secrets
import uuid
from datetime import datetime, timedelta, timezone

import phonenumbers
import psycopg2
import psycopg2.errors
import psycopg2.extras
import redis
from flask import Flask, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

app = Flask(__name__)
psycopg2.extras.register_uuid()
_state = {}  # this process's connection, its Redis, and the vendors by number

STATEMENTS = {
    "load": """SELECT u.id, u.conversation_state, u.session_expires_at > now(),
                 (SELECT reply FROM whatsapp_messages WHERE message_sid = $3 AND direction = 'inbound' LIMIT 1),
                 EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = $1 AND c.phone_number = $4)
               FROM vendor_users u WHERE u.tenant_id = $1 AND u.phone_number = $2 AND u.is_active FOR UPDATE""",
    "customer": """INSERT INTO customers (tenant_id, id, phone_number, member_code, source, opted_in, conversation_state,
                     total_purchases, total_spent, last_purchase_at, spin_credits, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, 'staff', false, '{}', 1, $5, $6, $7, $6, $6)""",
    "balance": """INSERT INTO customer_points_balance (tenant_id, customer_id, current_balance, total_earned, total_redeemed,
                    total_expired, updated_at) VALUES ($1, $2, $3, $3, 0, 0, $4)""",
    "lot": """INSERT INTO points_transactions (tenant_id, id, customer_id, transaction_type, source, points, remaining,
                expires_at, purchase_id, description, details, created_by_user_id, created_at)
              VALUES ($1, $2, $3, 'earned', $4, $5, $5, $6, $7, $8, '{}', $9, $10)""",
    "purchase": """INSERT INTO purchases (tenant_id, id, customer_id, amount, currency, source, logged_by_user_id, logged_via,
                     points_awarded, points_breakdown, status, created_at)
                   VALUES ($1, $2, $3, $4, $5, 'whatsapp', $6, 'staff_pin', $7, $8, 'completed', $9)""",
    "route": "INSERT INTO phone_routes (phone_number, tenant_id, updated_at) VALUES ($1, $2, $3) ON CONFLICT (phone_number) DO NOTHING",
    "spin": """INSERT INTO spin_credits (tenant_id, id, customer_id, kind, spins, purchase_id, created_at)
               VALUES ($1, $2, $3, 'earned', $4, $5, $6)""",
    "audit": """INSERT INTO audit_logs (tenant_id, id, actor_type, actor_id, action, entity_type, entity_id, details, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
    "rewards": """SELECT points_required, name FROM rewards WHERE tenant_id = $1 AND is_active
                  AND (valid_from IS NULL OR valid_from <= $2) AND (valid_until IS NULL OR valid_until > $2)
                  AND (stock IS NULL OR stock_used < stock)""",
    "notice": """INSERT INTO whatsapp_messages (tenant_id, id, customer_id, direction, channel, from_number, to_number, body,
                   media, status, triggered_by, created_at, category, enqueued_at)
                 VALUES ($1, $2, $3, 'outbound', 'whatsapp', $4, $5, $6, '[]', 'queued', $7, $8, 'transactional', $8)""",
    "answer": """WITH saved AS (UPDATE vendor_users SET conversation_state = $1, last_inbound_at = $2, updated_at = $2
                   WHERE tenant_id = $3 AND id = $4)
                 INSERT INTO whatsapp_messages (tenant_id, id, direction, channel, from_number, to_number, body, media,
                   message_sid, status, reply, created_at)
                 VALUES ($3, $5, 'inbound', 'whatsapp', $6, $7, $8, '[]', $9, 'received', $10, $2)""",
}


def connections():
    """This process's connection (autocommit: it sends BEGIN and COMMIT itself), its statements
    prepared, and its Redis."""
    if not _state:
        conn = psycopg2.connect(os.environ["REF_DSN"])
        conn.autocommit = True
        with conn.cursor() as cur:
            for name, text in STATEMENTS.items():
                cur.execute(f"PREPARE {name} AS {text}")
        _state.update(conn=conn, redis=redis.Redis.from_url(os.environ["REF_REDIS_URL"]), vendors={})
    return _state["conn"], _state["redis"]


def vendor(cur, number: str):
    """(id, name, country, settings) of the vendor on `number`, read once; None if none."""
    vendors = _state["vendors"]
    if number not in vendors:
        cur.execute("SELECT id, name, country, settings FROM tenants WHERE whatsapp_number = %s AND is_active", (number,))
        vendors[number] = cur.fetchone()
    return vendors[number]


def execute(cur, calls, before: str = "", after: str = "") -> None:
    """Several prepared statements in one round trip, `before` and `after` them; the last
    statement's rows are the cursor's."""
    sql = [cur.mogrify(f"EXECUTE {name} ({', '.join(['%s'] * len(args))})", args).decode() for name, args in calls]
    cur.execute(";".join([before] * bool(before) + sql + [after] * bool(after)))


@app.post("/webhooks/twilio/inbound")
def inbound():
    form = request.form.to_dict()
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    url = os.environ["PUBLIC_BASE_URL"] + "/webhooks/twilio/inbound"
    if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
        return "forbidden", 403
    conn, queue = connections()
    with conn.cursor() as cur:
        shop = vendor(cur, form["To"].removeprefix("whatsapp:"))
        if shop is None:
            return twiml("This number belongs to no shop.")
        try:
            reply, notices = converse(cur, shop, form)
        except psycopg2.errors.UniqueViolation as error:
            cur.execute("ROLLBACK")
            if error.diag.constraint_name != "uq_whatsapp_messages_tenant_id_message_sid":
                raise
            reply, notices = stored_reply(cur, form["MessageSid"]), []  # answered meanwhile by another process
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    if notices:
        queue.lpush("floor:outbox", *(str(args[1]) for _, args in notices))
    return twiml(reply)


def converse(cur, shop, form):
    """The message's transaction: the reply, and the notices it queued (to hand to Redis)."""
    tenant_id, name, country, settings = shop
    staff, to, body = form["From"].removeprefix("whatsapp:"), form["To"].removeprefix("whatsapp:"), form["Body"]
    phone = read_phone(body, country) if body.startswith("LOG ") else None
    execute(cur, [("load", (tenant_id, staff, form["MessageSid"], phone))], before="BEGIN")
    found = cur.fetchone()
    if found is None:
        cur.execute("ROLLBACK")
        return "Staff only: send LOG from a staff phone.", []
    user_id, state, in_session, stored, member = found
    if stored is not None:
        cur.execute("ROLLBACK")
        return stored[0]["body"], []
    now, notices = datetime.now(timezone.utc), []
    if not in_session:
        reply, state = "Send LOG and your PIN.", {}
    elif body.startswith("LOG "):
        reply, state = log(settings, phone, member, body.split()[-1])
    elif body == "1" and state.get("step") == "confirm":
        reply, notices = confirm(cur, tenant_id, name, settings, user_id, state, now, to)
        state = {}
    else:
        reply, state = "Send LOG <phone> <amount>.", {}
    execute(cur, [*notices, ("answer", (
        json.dumps(state), now, tenant_id, user_id, uuid.uuid4(), staff, to, body, form["MessageSid"],
        json.dumps([{"body": reply, "media_url": None}]),
    ))], after="COMMIT")
    return reply, notices


def stored_reply(cur, sid: str) -> str:
    cur.execute("SELECT reply FROM whatsapp_messages WHERE message_sid = %s AND direction = 'inbound'", (sid,))
    return cur.fetchone()[0][0]["body"]


def read_phone(body: str, country: str) -> str | None:
    """The phone of `LOG <phone> <amount>` in E.164, None if it is none."""
    try:
        number = phonenumbers.parse("".join(body.split()[1:-1]), country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def log(settings, phone, member, amount):
    """LOG <phone> <amount>: the points it earns, and the purchase kept in the staff's state."""
    if phone is None:
        return "That is no phone number.", {}
    if member:
        return "This floor logs new phones only.", {}
    minor = int(amount.replace(",", "")) * 100
    earned = points(settings, minor, first=True)
    shown = f"₦{minor // 100:,}"
    reply = f"Log {shown} for {phone}? They are new: they'll be enrolled and earn {earned} points.\n1. Confirm\n2. Cancel"
    return reply, {"step": "confirm", "customer": phone, "amount": minor}


def points(settings, minor, first):
    return sum(given for _, given in breakdown(settings, minor, first))


def breakdown(settings, minor, first):
    """What each of the bench vendor's two rules gives: a point per `per_amount`, a first-purchase bonus."""
    per_amount, bonus = settings["points_rules"]
    return [
        (per_amount["type"], minor // 100 // per_amount["per_amount"] * per_amount["points"]),
        (bonus["type"], bonus["points"] if first else 0),
    ]


def confirm(cur, tenant_id, name, settings, user_id, state, now, number):
    """`1`: the new phone enrolled with its welcome bonus, the purchase and its points, the
    notices queued; the reply and the notices' statements."""
    phone, minor = state["customer"], state["amount"]
    earned, welcome = points(settings, minor, first=True), settings["welcome_bonus"]
    customer_id, purchase_id, expires = uuid.uuid4(), uuid.uuid4(), now + timedelta(days=settings["points_expiry_days"])
    spins = settings["wheel"]["spins_per_purchase"]
    balance, shown = welcome + earned, f"₦{minor // 100:,}"
    rules = json.dumps([{"rule": rule, "points": given} for rule, given in breakdown(settings, minor, first=True)])
    execute(cur, [
        ("customer", (tenant_id, customer_id, phone, member_code(), minor, now, spins)),
        ("balance", (tenant_id, customer_id, balance, now)),
        ("lot", (tenant_id, uuid.uuid4(), customer_id, "welcome", welcome, expires, None, "Welcome bonus", None, now)),
        ("purchase", (tenant_id, purchase_id, customer_id, minor, "NGN", user_id, earned, rules, now)),
        ("lot", (tenant_id, uuid.uuid4(), customer_id, "purchase", earned, expires, purchase_id, f"Purchase {shown}", user_id, now)),
        ("route", (phone, tenant_id, now)),
        ("spin", (tenant_id, uuid.uuid4(), customer_id, spins, purchase_id, now)),
        ("audit", (tenant_id, uuid.uuid4(), "customer", customer_id, "customer.joined", "customer", customer_id, '{"source": "staff"}', now)),
        ("audit", (tenant_id, uuid.uuid4(), "vendor_user", user_id, "purchase.logged", "purchase", purchase_id,
                   json.dumps({"amount": minor, "points": earned, "before": {"balance": welcome}, "after": {"balance": balance}}), now)),
        ("rewards", (tenant_id, now)),
    ])
    welcome_text = f"{settings['greeting']}\nYou've been enrolled at the counter and got {welcome} welcome points."
    notice = f"Thanks for shopping at *{name}*! {shown} earned you {earned} points. Balance: {balance} points.\n"
    notices = [
        ("notice", (tenant_id, uuid.uuid4(), customer_id, number, phone, text, key, now))
        for text, key in ((welcome_text, "welcome_by_staff"), (notice + progress(cur.fetchall(), balance), "purchase_notice"))
    ]
    return f"Logged {shown} for {phone}: {earned} points. Their balance: {balance} points.", notices


def progress(rewards, balance: int) -> str:
    """As the app's: the cheapest reward not yet affordable, else the dearest affordable one."""
    missing = min(((cost - balance, reward) for cost, reward in rewards if cost > balance), default=None)
    if missing:
        return f"{missing[0]} more points for {missing[1]}."
    if rewards:
        return f"You can redeem {max(rewards)[1]}."
    return ""


def member_code() -> str:
    return "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(6))


def twiml(reply: str):
    resp = MessagingResponse()
    resp.message(reply)
    return str(resp), 200, {"Content-Type": "text/xml"}
