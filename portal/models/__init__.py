"""Typed SQLAlchemy models. Import from here: ``from portal.models import Application``."""

from portal.models.accounts import Citizen, Department, LoginFailure, Role, User
from portal.models.applications import (
    Application,
    ApplicationMaterial,
    Channel,
    Event,
    Rating,
    SatisfiedBy,
)
from portal.models.calendar import CalendarDay, DailyCounter
from portal.models.catalogue import (
    Bundle,
    BundleItem,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    ServiceItem,
    Theme,
    VersionStatus,
)
from portal.models.data_use import DataUseLog, VerificationFailure
from portal.models.documents import Document, DocumentStatus, ELicence, Grade
from portal.models.messages import Authorisation, Message, OutboxMessage
from portal.models.workflow import (
    CorrectionException,
    CorrectionRequest,
    FollowUpTicket,
    JobClaim,
    Notice,
    PostCheckTask,
    StaffReminder,
    Suspension,
    Visit,
)

__all__ = [
    "Application",
    "Authorisation",
    "ApplicationMaterial",
    "Bundle",
    "BundleItem",
    "CalendarDay",
    "Channel",
    "Citizen",
    "CorrectionException",
    "CorrectionRequest",
    "DailyCounter",
    "DataUseLog",
    "Department",
    "Document",
    "DocumentStatus",
    "ELicence",
    "Event",
    "FollowUpTicket",
    "Grade",
    "ItemVersion",
    "JobClaim",
    "LoginFailure",
    "MaterialRequirement",
    "MaterialType",
    "Message",
    "Notice",
    "OutboxMessage",
    "PostCheckTask",
    "Rating",
    "Role",
    "SatisfiedBy",
    "ServiceItem",
    "StaffReminder",
    "Suspension",
    "Theme",
    "User",
    "VerificationFailure",
    "VersionStatus",
    "Visit",
]
