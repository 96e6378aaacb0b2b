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

__all__ = [
    "Application",
    "ApplicationMaterial",
    "Bundle",
    "BundleItem",
    "Channel",
    "Citizen",
    "DataUseLog",
    "Department",
    "Document",
    "DocumentStatus",
    "ELicence",
    "Event",
    "Grade",
    "ItemVersion",
    "LoginFailure",
    "MaterialRequirement",
    "MaterialType",
    "Rating",
    "Role",
    "SatisfiedBy",
    "ServiceItem",
    "Theme",
    "User",
    "VerificationFailure",
    "VersionStatus",
]
