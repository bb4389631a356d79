"""Scheduled jobs: the one schedule, expiry reminders, daily metrics."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import fakeredis
import pytest
from rq.cron import CronScheduler
from rq.timeouts import JobTimeoutException
from sqlalchemy import select, update

from bot.services.context import Context
from bot.services.metrics import MetricsService
from bot.services.reminders import ReminderService
from bot.services.tenant_file import TenantFileError
from bot.services.tenants import load_tenant
from models import Customer, DailyMetrics, ExpiryReminder, PointsTransaction, Message
from models.base import utcnow
from tests.conftest import connection_lost, count, run_jobs, tenant_file
from tests.test_broadcasts import LAGOS
from tests.test_rewards import CODE
from workers import schedule
from workers.scheduled import compute_metrics, send_reminders

CUSTOMER = "+2348031234567"
BAYO, BAYO_PIN = "+2348030000002", "731205"
# 10:30 in Lagos (UTC+1) on a fixed day; the welcome bonus is moved to expire a few days later.
TODAY = date(2026, 11, 26)
MORNING = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)


def test_rq_cron_loads_the_one_schedule():
    scheduler = CronScheduler(connection=fakeredis.FakeRedis())
    scheduler.load_config_from_file("workers.schedule")
    loaded = {(job.func_name, job.cron) for job in scheduler.get_jobs()}
    listed = {(f"{p.job.__module__}.{p.job.__name__}", p.cron) for p in schedule.SCHEDULE}
    assert loaded == listed
    assert ("workers.outbound.reconcile", "* * * * *") in loaded
    assert ("workers.points.expire_points", "0 * * * *") in loaded


def test_the_dev_server_runs_the_same_schedule_in_process(app):
    jobs = schedule.in_process_jobs()
    assert [(job.func, job.cron) for job in jobs] == [(p.job, p.cron) for p in schedule.SCHEDULE]


# Reminders


@pytest.fixture
def member(phone, mama, db):
    phone(CUSTOMER).send("JOIN MAMA")
    expire_welcome_on(db, datetime(2026, 11, 29, 18, 0, tzinfo=timezone.utc))  # 29 Nov, 19:00 in Lagos
    with db.sessions() as session:
        return session.scalars(select(Customer)).one()


def expire_welcome_on(db, when: datetime) -> None:
    with db.transaction() as session:
        session.execute(update(PointsTransaction).where(PointsTransaction.source == "welcome").values(expires_at=when))


def reminders_sent(db) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(Message.body).where(Message.triggered_by == "expiry_reminder")))


def remind(app, now=MORNING) -> int:
    with app.app_context():
        count_ = send_reminders(now)
    run_jobs(app)
    return count_


def test_a_member_with_points_expiring_soon_gets_one_reminder(app, member, db):
    assert remind(app) == 1
    [body] = reminders_sent(db)
    assert body.startswith("*Mama Put Kitchen*: 50 points expire on 29 Nov 2026. 50 more points for Free Zobo drink.")
    assert count(db, Message, Message.triggered_by == "expiry_reminder", Message.category == "marketing") == 1


def test_a_reminders_nearest_reward_leaves_out_points_past_their_expiry(app, member, phone, db):
    """A purchase's 170 points expired yesterday, and the hourly job has not taken them yet: the
    balance row still counts them, what can be spent (as BAL says it) does not."""
    staff = phone(BAYO)
    staff.send(f"LOG {CUSTOMER} 15000")
    staff.send(BAYO_PIN)
    staff.send("1")
    with db.transaction() as session:
        session.execute(update(PointsTransaction).where(PointsTransaction.source != "welcome")
                        .values(expires_at=MORNING - timedelta(days=1)))
    assert remind(app) == 1
    [body] = reminders_sent(db)
    assert body.startswith("*Mama Put Kitchen*: 50 points expire on 29 Nov 2026. 50 more points for Free Zobo drink.")


def test_reminders_are_never_sent_twice_for_the_same_points(app, member, db):
    remind(app)
    app.extensions["runtime"].redis.flushdb()  # even without the day's marker, or from another scheduler
    assert remind(app) == 0
    assert remind(app, MORNING + timedelta(days=1)) == 0
    assert len(reminders_sent(db)) == 1 and count(db, ExpiryReminder) == 1


def test_a_new_timezone_does_not_remind_the_same_points_again(app, member, db):
    assert remind(app) == 1  # "50 points expire on 29 Nov 2026" (19:00 in Lagos)
    with db.transaction() as session:
        load_tenant(session, tenant_file(timezone="Pacific/Auckland"))  # there, they expire on 30 Nov
    assert remind(app, datetime(2026, 11, 26, 21, 30, tzinfo=timezone.utc)) == 0  # 10:30 on 27 Nov in Auckland
    assert len(reminders_sent(db)) == 1


def fail_at_mama(monkeypatch, service, method: str, statement: str) -> None:
    """`service.method` loses its database connection at MAMA (during `statement`), and works
    as usual at every other vendor."""
    as_usual = getattr(service, method)

    def mamas_database_goes_away(self, *args):
        if self.ctx.tenant.vendor_code == "MAMA":
            raise connection_lost(statement)
        return as_usual(self, *args)

    monkeypatch.setattr(service, method, mamas_database_goes_away)

def test_a_vendor_whose_run_fails_is_reminded_at_the_next_run_and_the_others_at_once(app, member, phone, db, monkeypatch):
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="SALON", name="Glow Salon", whatsapp_number="+2349010000000", staff=[]))
    phone(CUSTOMER).send("JOIN SALON")
    expire_welcome_on(db, datetime(2026, 11, 29, 18, 0, tzinfo=timezone.utc))
    fail_at_mama(monkeypatch, ReminderService, "remind", "INSERT INTO expiry_reminders")
    assert remind(app) == 1
    assert [body.split("*")[1] for body in reminders_sent(db)] == ["Glow Salon"]
    monkeypatch.undo()
    assert remind(app, MORNING + timedelta(minutes=15)) == 1
    assert sorted(body.split("*")[1] for body in reminders_sent(db)) == ["Glow Salon", "Mama Put Kitchen"]


def test_a_run_out_of_time_stops_and_gives_the_vendors_day_back(app, member, db, monkeypatch):
    """RQ's timeout stops the job (the vendors left wait for the next run), not just the vendor's run."""
    def out_of_time(self, due):
        raise JobTimeoutException("Task exceeded maximum timeout value (1800 seconds)")

    monkeypatch.setattr(ReminderService, "remind", out_of_time)
    with pytest.raises(JobTimeoutException):
        remind(app)
    monkeypatch.undo()
    assert remind(app, MORNING + timedelta(minutes=15)) == 1


class Killed(BaseException):
    """The run dies where it stands (SIGKILL, out of memory, a restart): none of its handlers runs."""


def test_a_run_killed_outright_holds_the_vendors_day_only_until_its_lease_ends(app, member, db, monkeypatch):
    def killed(self, due):
        raise Killed

    monkeypatch.setattr(ReminderService, "remind", killed)
    with pytest.raises(Killed):
        remind(app)
    monkeypatch.undo()
    assert remind(app, MORNING + timedelta(minutes=15)) == 0  # it may still be at work: the day is its own
    assert remind(app, MORNING + timedelta(minutes=45)) == 1  # past its timeout: it died
    assert len(reminders_sent(db)) == 1


def test_a_finished_run_keeps_later_runs_that_day_from_reminding_points_earned_since(app, member, phone, db):
    assert remind(app) == 1
    phone("+2348039990000").send("JOIN MAMA")
    expire_welcome_on(db, datetime(2026, 11, 29, 18, 0, tzinfo=timezone.utc))
    assert remind(app, MORNING + timedelta(hours=2)) == 0
    assert remind(app, MORNING + timedelta(days=1)) == 1  # the next day's run


def test_reminders_wait_for_ten_oclock_in_the_vendors_timezone(app, member, db):
    assert remind(app, MORNING - timedelta(hours=1)) == 0  # 09:30 in Lagos
    assert remind(app) == 1


def test_no_reminder_to_someone_who_said_stop(app, member, phone, db):
    phone(CUSTOMER).send("STOP")
    assert remind(app) == 0


def test_no_reminder_for_points_spent_or_already_expired(app, member, db):
    with db.transaction() as session:
        session.execute(update(PointsTransaction).values(remaining=0))
    assert remind(app) == 0


def test_no_reminder_beyond_the_vendors_horizon(app, member, db):
    expire_welcome_on(db, MORNING + timedelta(days=9))
    assert remind(app) == 0
    app.extensions["runtime"].redis.flushdb()
    with db.transaction() as session:
        load_tenant(session, tenant_file(expiry_reminder_days=10))
    assert remind(app) == 1


def test_the_reminders_command_queues_what_is_due(app, member, db):
    result = app.test_cli_runner().invoke(args=["reminders", "send", "--tenant", "MAMA"])
    assert result.exit_code == 0, result.output
    # Its last line; from 10:00 in Lagos the console sender prints the reminder before it.
    last = result.output.splitlines()[-1]
    assert last.startswith("Queued ") and last.endswith("expiry reminder(s).")


def test_the_jobs_act_at_the_apps_time(app, mama, member, db, clock):
    """The clock moved ten days on, to 10:30 in Lagos: there, points expire in two days."""
    later = datetime.combine(datetime.now(LAGOS).date() + timedelta(days=10), time(10, 30), tzinfo=LAGOS)
    clock.advance(seconds=(later - clock()).total_seconds())
    expire_welcome_on(db, later + timedelta(days=2))
    with app.app_context():
        assert send_reminders() == 1
        assert compute_metrics() == 1
    assert metrics_row(db, mama, later.date() - timedelta(days=1)) is not None


def test_tenant_file_checks_templates_and_delivery_settings():
    with pytest.raises(TenantFileError, match="content_sid"):
        tenant_file(templates={"purchase_notice": {"content_sid": "nope"}})
    with pytest.raises(TenantFileError, match="not a message the bot sends"):
        tenant_file(templates={"no_such_message": {"content_sid": "HX" + "0" * 32}})
    with pytest.raises(TenantFileError, match="sms_number"):
        tenant_file(sms_number="12")
    parsed = tenant_file(sms_number="+1 415 555 0100", messages_per_second=0)
    assert (parsed["sms_number"], parsed["messages_per_second"], parsed["expiry_reminder_days"]) == ("+14155550100", 0, 7)


# Daily metrics


def local_today() -> date:
    return datetime.now(LAGOS).date()


def metrics_row(db, tenant, day: date) -> DailyMetrics:
    with db.sessions() as session:
        return session.get(DailyMetrics, (tenant.id, day))


def test_daily_metrics_count_the_vendors_day_and_recomputing_replaces_it(app, phone, mama, db):
    phone(CUSTOMER).send("JOIN MAMA")
    staff = phone("+2348030000002")
    staff.send("LOG 0803 123 4567 15000")
    staff.send("731205")
    staff.send("1")
    phone(CUSTOMER).send("BAL")
    today = datetime.now(timezone(timedelta(hours=1))).date()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["metrics", "daily", "--date", today.isoformat(), "--tenant", "MAMA"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split()[:6] == ["vendor", "date", "new_members", "active_members", "purchases", "revenue"]
    assert row.split()[2:6] == ["1", "1", "1", "₦15,000"]  # the revenue in naira, as broadcasts stats shows it
    figures = metrics_row(db, mama, today)
    assert (figures.new_members, figures.active_members, figures.purchases, figures.revenue) == (1, 1, 1, 1_500_000)
    assert figures.points_issued == 50 + 150 + 20 and figures.messages_in >= 5
    runner.invoke(args=["metrics", "daily", "--date", today.isoformat()])
    assert count(db, DailyMetrics) == 1


def logged_purchase(phone) -> None:
    """The member joins (50 welcome points) and Bayo logs 15,000 naira for them (170 points)."""
    phone(CUSTOMER).send("JOIN MAMA")
    staff = phone(BAYO)
    staff.send("LOG 0803 123 4567 15000")
    staff.send(BAYO_PIN)
    staff.send("1")


def test_daily_metrics_take_a_voided_purchases_points_off_what_was_issued(app, phone, mama, db):
    logged_purchase(phone)
    assert "1. Confirm" in phone(BAYO).send("VOID").text
    phone(BAYO).send("1")
    with db.transaction() as session:
        figures = MetricsService(Context.at(session, mama, utcnow())).figures(local_today())
    assert (figures["purchases"], figures["revenue"], figures["points_issued"]) == (0, 0, 50)


def test_daily_metrics_take_a_cancelled_codes_points_off_what_was_redeemed(app, phone, mama, db):
    logged_purchase(phone)
    me = phone(CUSTOMER)
    me.send("REWARDS")
    me.send("1")  # Free Zobo drink, 100 points
    code = CODE.search(me.send("1").text).group()
    phone(BAYO).send(f"VERIFY {code}")
    assert "points are back" in phone(BAYO).send("2").text  # cancelled, with a refund
    with db.transaction() as session:
        figures = MetricsService(Context.at(session, mama, utcnow())).figures(local_today())
    assert (figures["redemptions"], figures["points_redeemed"], figures["points_issued"]) == (1, 0, 220)


def test_a_void_after_midnight_takes_the_points_off_the_purchases_day(app, phone, mama, db, clock):
    now = clock().astimezone(LAGOS)
    clock.advance(seconds=(datetime.combine(now.date(), time(23, 55), tzinfo=LAGOS) - now).total_seconds())
    day = clock().astimezone(LAGOS).date()
    logged_purchase(phone)
    clock.advance(minutes=10)  # 00:05 the next day
    staff = phone(BAYO)
    staff.send("VOID")
    assert "1. Confirm" in staff.send(BAYO_PIN).text  # a new day, a new PIN session
    assert "Voided" in staff.send("1").text
    clock.advance(minutes=11)
    with app.app_context():
        assert compute_metrics(clock()) == 1
    stored = metrics_row(db, mama, day)
    assert (stored.purchases, stored.points_issued) == (0, 50)
    with db.transaction() as session:
        assert MetricsService(Context.at(session, mama, clock())).figures(day + timedelta(days=1))["points_issued"] == 0


def test_a_day_is_computed_again_until_a_void_of_its_last_minutes_can_no_longer_come(app, mama, db):
    midnight = datetime(2026, 11, 25, 23, 0, tzinfo=timezone.utc)  # 26 Nov begins in Lagos
    with app.app_context():
        assert compute_metrics(midnight + timedelta(seconds=30)) == 1
        assert compute_metrics(midnight + timedelta(minutes=10)) == 1  # within the 15 minutes a void may come
        assert compute_metrics(midnight + timedelta(minutes=16)) == 1  # the last run was still inside them
        assert compute_metrics(midnight + timedelta(minutes=30)) == 0
    with db.sessions() as session:
        stored = session.get(DailyMetrics, (mama.id, date(2026, 11, 25)))
    assert stored.computed_at == midnight + timedelta(minutes=16)


def test_a_vendor_whose_metrics_fail_is_computed_at_the_next_run_and_the_others_at_once(app, mama, db, monkeypatch):
    with db.transaction() as session:
        salon = load_tenant(session, tenant_file(code="SALON", name="Glow Salon", whatsapp_number="+2349010000000", staff=[])).tenant
    fail_at_mama(monkeypatch, MetricsService, "compute", "INSERT INTO daily_metrics")
    with app.app_context():
        assert compute_metrics(MORNING) == 1
    assert metrics_row(db, mama, TODAY - timedelta(days=1)) is None
    assert metrics_row(db, salon, TODAY - timedelta(days=1)) is not None
    monkeypatch.undo()
    with app.app_context():
        assert compute_metrics(MORNING + timedelta(minutes=15)) == 1
    assert metrics_row(db, mama, TODAY - timedelta(days=1)) is not None


def test_the_metrics_job_computes_each_vendors_yesterday_once(app, mama, db):
    with app.app_context():
        assert compute_metrics(MORNING) == 1
        assert compute_metrics(MORNING) == 0
    assert metrics_row(db, mama, TODAY - timedelta(days=1)).new_members == 0
