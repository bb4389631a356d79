"""Typed SQLAlchemy models. Every tenant-scoped table leads its keys with tenant_id."""
from models.api import ApiIdempotencyKey, ApiKey
from models.base import Base
from models.customer import Customer
from models.dashboard import DashboardLink, DashboardSession
from models.delivery import DailyMetrics, ExpiryReminder
from models.engagement import MissionCompletion, Referral, SpinCredit, SpinHistory, WheelItem
from models.message import AuditLog, WhatsAppMessage
from models.onboarding import PlatformMessage, VendorInvitation
from models.points import CustomerPointsBalance, PointsLotAllocation, PointsTransaction
from models.purchase import Purchase
from models.reward import Reward, RewardRedemption
from models.tenant import PhoneRoute, PinLockout, Tenant, VendorUser

__all__ = [
    "ApiIdempotencyKey",
    "ApiKey",
    "AuditLog",
    "Base",
    "Customer",
    "CustomerPointsBalance",
    "DashboardLink",
    "DashboardSession",
    "DailyMetrics",
    "ExpiryReminder",
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
    "SpinCredit",
    "SpinHistory",
    "Tenant",
    "VendorInvitation",
    "VendorUser",
    "WhatsAppMessage",
    "WheelItem",
]
