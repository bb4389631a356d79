"""Use cases over the models. Services never commit: the dispatcher or the job that called
them owns the transaction. `Services` is what a flow step receives."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


class Services:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.tenant = TenantView(
            code=ctx.tenant.vendor_code,
            name=ctx.tenant.name,
            greeting=greeting(ctx.tenant),
        )
        self.customers = CustomerService(ctx)
        self.points = PointsService(ctx)
        self.memberships = MembershipService(ctx)
        self.staff = StaffService(ctx)
        self.team = TeamService(ctx)
        self.pins = PinChoice()
        self.purchases = PurchaseService(ctx)
        self.rewards = RewardService(ctx)
        self.wheel = WheelService(ctx)
        self.missions = MissionService(ctx)
        self.referrals = ReferralService(ctx)
        self.leaderboard = LeaderboardService(ctx)
        self.settings = SettingsService(ctx)
        self.dashboard = DashboardLoginService(ctx)
        self.backoffice = BackOfficeService(ctx)
        self.broadcasts = BroadcastService(ctx)
        self.metrics = MetricsService(ctx)

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
