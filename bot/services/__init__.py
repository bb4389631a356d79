"""Use cases over the models. Services never commit: the dispatcher or the job that called
them owns the transaction. `Services` is what a flow step receives."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from bot.messages import Msg
from bot.services.backoffice import BackOfficeService
from bot.services.broadcasts import BroadcastService
from bot.services.context import Context
from bot.services.customers import CustomerService, greeting
from bot.services.dashboard_login import DashboardLoginService
from bot.services.leaderboard import LeaderboardService
from bot.services.missions import MissionService
from bot.services.points import PointsService
from bot.services.memberships import MembershipService
from bot.services.metrics import MetricsService
from bot.services.purchases import PurchaseService
from bot.services.referrals import ReferralService
from bot.services.rewards import RewardService
from bot.services.settings import SettingsService
from bot.services.staff import PinChoice, StaffService
from bot.services.team import TeamService
from bot.services.wheel import WheelService


@dataclass(frozen=True)
class TenantView:
    code: str
    name: str
    greeting: str | Msg


class _Service:
    """A service of `Services`, made on first use: a message uses one or two of them, and
    making them all cost a fortieth of a BAL's CPU."""

    def __init__(self, kind):
        self.kind = kind

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, services, owner=None):
        if services is None:
            return self
        made = services.__dict__[self.name] = self.kind(services.ctx)  # read from there from now on
        return made


class Services:
    customers = _Service(CustomerService)
    points = _Service(PointsService)
    memberships = _Service(MembershipService)
    staff = _Service(StaffService)
    team = _Service(TeamService)
    purchases = _Service(PurchaseService)
    rewards = _Service(RewardService)
    wheel = _Service(WheelService)
    missions = _Service(MissionService)
    referrals = _Service(ReferralService)
    leaderboard = _Service(LeaderboardService)
    settings = _Service(SettingsService)
    dashboard = _Service(DashboardLoginService)
    backoffice = _Service(BackOfficeService)
    broadcasts = _Service(BroadcastService)
    metrics = _Service(MetricsService)

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.pins = PinChoice()

    @cached_property
    def tenant(self) -> TenantView:
        tenant = self.ctx.tenant
        return TenantView(code=tenant.vendor_code, name=tenant.name, greeting=greeting(tenant))

    @property
    def now(self) -> datetime:
        return self.ctx.now

    def local(self, moment: datetime) -> datetime:
        """A stored UTC time in the vendor's timezone, for showing."""
        return moment.astimezone(self.ctx.zone)

    @property
    def member(self) -> bool:
        """Whether this phone has joined the vendor (JOIN creates the membership)."""
        return self.ctx.customer is not None

    @property
    def is_staff(self) -> bool:
        return self.ctx.staff is not None
