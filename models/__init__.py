"""Typed SQLAlchemy models. Every tenant-scoped table leads its keys with tenant_id."""
from models.base import Base
from models.broadcast import Broadcast, BroadcastRecipient
from models.customer import Customer
from models.delivery import DailyMetrics, ExpiryReminder
from models.engagement import MissionCompletion, Referral, SpinHistory, WheelItem
from models.message import AuditLog, WhatsAppMessage
from models.points import CustomerPointsBalance, PointsLotAllocation, PointsTransaction
from models.purchase import Purchase
from models.reward import Reward, RewardRedemption
from models.tenant import PhoneRoute, Tenant, VendorUser

__all__ = [
    "AuditLog",
    "Base",
    "Broadcast",
    "BroadcastRecipient",
    "Customer",
    "CustomerPointsBalance",
    "DailyMetrics",
    "ExpiryReminder",
    "MissionCompletion",
    "PhoneRoute",
    "PointsLotAllocation",
    "PointsTransaction",
    "Purchase",
    "Referral",
    "Reward",
    "RewardRedemption",
    "SpinHistory",
    "Tenant",
    "VendorUser",
    "WhatsAppMessage",
    "WheelItem",
]
