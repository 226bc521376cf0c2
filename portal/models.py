"""Import every domain's models so the metadata (and Alembic) sees all tables."""

from portal.accounts.models import ApiToken, RoleAssignment, User
from portal.audit.models import AuditEntry
from portal.communities.models import Building, Community, Ownership, Unit

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Building",
    "Community",
    "Ownership",
    "RoleAssignment",
    "Unit",
    "User",
]
