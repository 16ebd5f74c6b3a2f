"""Who may do what: staff roles, the permissions each grants, and the directorate scope.

Staff and directors act on their own directorate's records only; roles whose work spans the
municipality (Public Relations, the IMS office, operators, administrators) hold a `…:all`
permission. Channels (API keys) hold intake for their own channel value and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # call centre / walk-in desk: routes requests by hand, answers callers
    DIRECTORATE_STAFF = "directorate-staff"
    DIRECTOR = "director"
    PUBLIC_RELATIONS = "public-relations"  # closure check, nonconformity decisions
    IMS_OFFICE = "ims-office"  # Strategy Development, IMS office: verifies and closes DİFs
    ADMINISTRATOR = "administrator"


class Permission(StrEnum):
    REQUESTS_READ = "requests:read"
    REQUESTS_READ_ALL = "requests:read-all"
    REQUESTS_PRIORITISE = "requests:prioritise"
    # The citizen's name, phone, e-mail and address on a request's staff page (every read audited).
    REQUESTS_CONTACT = "requests:contact"
    NONCONFORMITIES_REPORT = "nonconformities:report"
    NONCONFORMITIES_READ = "nonconformities:read"
    NONCONFORMITIES_READ_ALL = "nonconformities:read-all"
    DIFS_READ = "difs:read"
    DIFS_READ_ALL = "difs:read-all"
    EVIDENCE_WRITE = "evidence:write"
    RECORDS_DELETE = "records:delete"
    CATALOGUE_READ = "catalogue:read"
    CATALOGUE_WRITE = "catalogue:write"
    SYSTEM_CHECKS_RUN = "system-checks:run"
    TEMPLATES_READ = "templates:read"  # the mail and SMS texts (services/wording.py)
    TEMPLATES_WRITE = "templates:write"
    # The quality office's monitoring page and its exports (services/indicators.py): a director
    # sees their own directorate's figures, the IMS office, Public Relations and the
    # administrator every directorate's.
    MONITORING_READ = "monitoring:read"
    MONITORING_READ_ALL = "monitoring:read-all"


P = Permission
_DIRECTORATE = {
    P.REQUESTS_READ,
    P.REQUESTS_PRIORITISE,
    P.NONCONFORMITIES_REPORT,
    P.NONCONFORMITIES_READ,
    P.DIFS_READ,
    P.CATALOGUE_READ,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        {
            P.REQUESTS_READ,
            P.REQUESTS_READ_ALL,
            P.REQUESTS_PRIORITISE,
            P.REQUESTS_CONTACT,
            P.NONCONFORMITIES_REPORT,
            P.CATALOGUE_READ,
        }
    ),
    # Those who call the citizen back or answer them see the contact; the IMS office does not.
    Role.DIRECTORATE_STAFF: frozenset(_DIRECTORATE | {P.EVIDENCE_WRITE, P.REQUESTS_CONTACT}),
    Role.DIRECTOR: frozenset(_DIRECTORATE | {P.EVIDENCE_WRITE, P.REQUESTS_CONTACT, P.MONITORING_READ}),
    # Public Relations answer citizens: they read the texts citizens get (changing them is the
    # administrator's).
    Role.PUBLIC_RELATIONS: frozenset(
        _DIRECTORATE
        | {
            P.REQUESTS_READ_ALL,
            P.REQUESTS_CONTACT,
            P.NONCONFORMITIES_READ_ALL,
            P.DIFS_READ_ALL,
            P.TEMPLATES_READ,
            P.MONITORING_READ,
            P.MONITORING_READ_ALL,
        }
    ),
    Role.IMS_OFFICE: frozenset(
        _DIRECTORATE
        | {
            P.REQUESTS_READ_ALL,
            P.NONCONFORMITIES_READ_ALL,
            P.DIFS_READ_ALL,
            P.EVIDENCE_WRITE,
            P.RECORDS_DELETE,
            P.MONITORING_READ,
            P.MONITORING_READ_ALL,
        }
    ),
    Role.ADMINISTRATOR: frozenset(Permission),
}
# Reading everything of a kind lifts the directorate scope of its `…:read` permission.
READ_ALL = {
    P.REQUESTS_READ: P.REQUESTS_READ_ALL,
    P.NONCONFORMITIES_READ: P.NONCONFORMITIES_READ_ALL,
    P.DIFS_READ: P.DIFS_READ_ALL,
    P.EVIDENCE_WRITE: P.DIFS_READ_ALL,
    P.REQUESTS_PRIORITISE: P.REQUESTS_READ_ALL,
    P.REQUESTS_CONTACT: P.REQUESTS_READ_ALL,
    P.MONITORING_READ: P.MONITORING_READ_ALL,
}


class Forbidden(Exception):
    """A refusal that names what is missing (the API turns it into a 403)."""

    def __init__(self, permission: str, reason: str) -> None:
        super().__init__(reason)
        self.permission = permission
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a staff member from a bearer token, or a channel from its API key."""

    username: str
    roles: frozenset[Role] = frozenset()
    directorate: str | None = None
    channel: str | None = None
    permissions: frozenset[Permission] = field(default=frozenset())

    @classmethod
    def staff(cls, username: str, roles: set[Role], directorate: str | None) -> Principal:
        granted = frozenset(p for role in roles for p in ROLE_PERMISSIONS[role])
        return cls(username=username, roles=frozenset(roles), directorate=directorate, permissions=granted)

    @property
    def actor(self) -> str:
        """How the caller appears in histories and the audit trail."""
        return f"kanal:{self.username}" if self.channel else self.username

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(permission, f"'{permission}' yetkisi gerekli (rolleriniz: {self._roles()}).")

    def directorate_scope(self, permission: Permission) -> str | None:
        """None when the caller may see every directorate's records of this kind, else their own."""
        self.require(permission)
        if READ_ALL.get(permission) in self.permissions:
            return None
        if self.directorate is None:
            raise Forbidden(
                READ_ALL[permission],
                f"'{READ_ALL[permission]}' yetkisi ya da kullanıcınıza tanımlı bir müdürlük gerekli.",
            )
        return self.directorate

    def check_directorate(self, permission: Permission, directorate: str | None) -> None:
        """Refuse a record (or a filter) outside the caller's directorate."""
        own = self.directorate_scope(permission)
        if own is not None and directorate != own:
            raise Forbidden(
                READ_ALL[permission],
                f"'{READ_ALL[permission]}' yetkisi gerekli: yalnızca kendi müdürlüğünüzün ({own}) "
                "kayıtlarını görebilirsiniz.",
            )

    def filter_directorate(self, permission: Permission, requested: str | None) -> str | None:
        """The directorate a search is limited to: what was asked within the caller's scope."""
        if requested is not None:
            self.check_directorate(permission, requested)
            return requested
        return self.directorate_scope(permission)

    def _roles(self) -> str:
        return ", ".join(sorted(self.roles)) or "yok"
