"""Typed SQLAlchemy models. Every tenant-scoped table leads its keys with tenant_id."""
from models.api import ApiIdempotencyKey, ApiKey
from models.base import Base
from models.broadcast import Broadcast, BroadcastRecipient
from models.customer import Customer
from models.delivery import DailyMetrics, ExpiryReminder
from models.dashboard import DashboardFormNonce, DashboardLink, DashboardSession
from models.engagement import MissionCompletion, Referral, SpinCredit, SpinHistory, WheelItem
from models.message import AuditLog, Message
from models.onboarding import PlatformMessage, SetupInvitation
from models.points import CustomerPointsBalance, PointsLotAllocation, PointsTransaction
from models.purchase import Purchase
from models.reward import Reward, RewardRedemption
from models.tenant import PhoneRoute, PinLockout, Tenant, Staff
from models.voting import (
    Contestant, Episode, EpisodeContestant, EpisodeVoter, Show, SmsVoteLog, Vote, VoteBalance, VoteOptOut, VotePackage,
    VoteShortCode,
)

__all__ = [
    "ApiIdempotencyKey",
    "ApiKey",
    "AuditLog",
    "Base",
    "Contestant",
    "Broadcast",
    "BroadcastRecipient",
    "Customer",
    "CustomerPointsBalance",
    "DailyMetrics",
    "ExpiryReminder",
    "Episode",
    "EpisodeContestant",
    "EpisodeVoter",
    "DashboardFormNonce",
    "DashboardLink",
    "DashboardSession",
    "MissionCompletion",
    "PhoneRoute",
    "PinLockout",
    "PlatformMessage",
    "PointsLotAllocation",
    "PointsTransaction",
    "Purchase",
    "Referral",
    "Reward",
    "RewardRedemption",
    "Show",
    "SmsVoteLog",
    "SpinCredit",
    "SpinHistory",
    "Tenant",
    "SetupInvitation",
    "Staff",
    "Vote",
    "VoteBalance",
    "VoteOptOut",
    "VotePackage",
    "VoteShortCode",
    "Message",
    "WheelItem",
]
