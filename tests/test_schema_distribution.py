"""The schema stays distributable by tenant (Citus): every key of a tenant-scoped table leads
with tenant_id, so that each tenant's rows, and every check a key makes, live on one node."""
from __future__ import annotations

from sqlalchemy import inspect

# Platform-level tables, not split by tenant, and why.
PLATFORM_TABLES = {
    "tenants": "the tenants themselves (a reference table, copied to every node)",
    "phone_routes": "which vendor a phone talks to, looked up before the vendor is known",
    "alembic_version": "the migrations' bookkeeping",
    "api_keys": "a key is found by its hash before its vendor is known (like phone_routes)",
    "dashboard_links": "a dashboard sign-in link is found by its hash before its vendor is known (like api_keys)",
    "dashboard_sessions": "a dashboard session is found by its cookie's hash before its vendor is known (like api_keys)",
    "pin_lockouts": "wrong PINs are counted per phone across all vendors",
    "vendor_invitations": "a shop being set up by chat has no vendor yet",
    "platform_messages": "the platform number's own conversation, before any vendor exists",
}
# SMS voting belongs to TV shows, not to vendors: not tenant-scoped. Its tables are named here so
# that a new vendor table cannot slip through unseen.
SHOW_TABLES = {
    "shows", "vote_shortcodes", "contestants", "episodes", "episode_contestants", "vote_packages", "vote_balances",
    "vote_opt_outs", "episode_voters", "votes", "sms_vote_logs",
}


def keys_of(inspector, table: str) -> list[tuple[str, list[str]]]:
    """(what, columns) of every key of the table: primary key, unique constraints and unique
    indexes, foreign keys (the referring columns and the referred ones)."""
    keys = [("primary key", inspector.get_pk_constraint(table)["constrained_columns"])]
    keys += [(f"unique {u['name']}", u["column_names"]) for u in inspector.get_unique_constraints(table)]
    keys += [(f"unique index {i['name']}", i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]]
    for fk in inspector.get_foreign_keys(table):
        keys.append((f"foreign key {fk['name']}", fk["constrained_columns"]))
        if fk["referred_table"] not in PLATFORM_TABLES:
            keys.append((f"foreign key {fk['name']} -> {fk['referred_table']}", fk["referred_columns"]))
    return keys


def test_every_key_of_a_tenant_scoped_table_leads_with_tenant_id(db):
    inspector = inspect(db.engine)
    tables = [name for name in inspector.get_table_names() if name not in PLATFORM_TABLES.keys() | SHOW_TABLES]
    assert "customers" in tables and "reward_redemptions" in tables  # the migrated schema, not an empty one
    offending = [
        f"{table}: {what} ({', '.join(columns)})"
        for table in tables
        for what, columns in keys_of(inspector, table)
        if not columns or columns[0] != "tenant_id"
    ]
    assert offending == []


def test_every_tenant_scoped_table_has_tenant_id(db):
    inspector = inspect(db.engine)
    missing = [
        name for name in inspector.get_table_names()
        if name not in PLATFORM_TABLES.keys() | SHOW_TABLES and "tenant_id" not in {c["name"] for c in inspector.get_columns(name)}
    ]
    assert missing == []
