"""Who may do what: the one role and permission table of the API, the chat and the worker's re-check.

Roles are ingest, viewer, operator, approver and admin. viewer < operator < approver < admin
rank: a higher one may do everything a lower one may. `ingest` stands apart: it may only
put alerts and samples in (what an Alertmanager or Prometheus key needs), it reads nothing and
approves nothing, and no human role needs it to be granted ingest (admin excepted).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Role(enum.IntEnum):
    """Roles, ordered by rank; INGEST ranks lowest and grants only the `ingest` permission."""

    INGEST = 0
    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The role as written in config/roles.yaml."""
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> Role:
        """The role named `label` (case-insensitive); ValueError when there is none."""
        try:
            return cls[label.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {label!r}") from None


def _from(lowest: Role) -> frozenset[Role]:
    return frozenset(role for role in Role if role >= lowest and role is not Role.INGEST)


HUMANS = _from(Role.VIEWER)
OPERATORS = _from(Role.OPERATOR)
APPROVERS = _from(Role.APPROVER)
ADMINS = frozenset({Role.ADMIN})

# The permission table: each action (an API capability or a chat intent) and the roles that may do it.
PERMISSIONS: Mapping[str, frozenset[Role]] = {
    # API capabilities
    "ingest": frozenset({Role.INGEST, Role.ADMIN}),
    "read": HUMANS,
    "chat": HUMANS,  # send a chat line; the worker then checks the intent below
    "kill_switch.engage": OPERATORS,
    "kill_switch.release": ADMINS,
    # chat intents (and the API's approve/deny)
    "status": HUMANS,
    "list_incidents": HUMANS,
    "show_incident": HUMANS,
    "explain": HUMANS,
    "history": HUMANS,
    "help": HUMANS,
    "unknown": HUMANS,
    "ack": OPERATORS,
    "silence": OPERATORS,
    "unsilence": OPERATORS,
    "escalate": OPERATORS,
    "remediate": OPERATORS,
    "approve": APPROVERS,
    "deny": APPROVERS,
}

# The lowest role each action needs (what a refusal names).
REQUIRED_ROLE: Mapping[str, Role] = {action: min(roles) for action, roles in PERMISSIONS.items()}


def permits(action: str, held: Iterable[Role]) -> bool:
    """Whether any of the roles `held` may do `action`; an action nobody mapped is admin's only."""
    allowed = PERMISSIONS.get(action, ADMINS)
    return any(role in allowed for role in held)


@dataclass(frozen=True)
class RoleBook:
    """Roles granted to user ids and to groups; `default` is anyone else's (None: nothing)."""

    users: Mapping[str, Role] = field(default_factory=dict)
    groups: Mapping[str, Role] = field(default_factory=dict)
    default: Role | None = None

    def roles_of(self, user: str, groups: Iterable[str] = ()) -> frozenset[Role]:
        """Every role `user` holds: directly, through any of `groups`, or by default."""
        held = [self.users.get(user), *(self.groups.get(group) for group in groups), self.default]
        return frozenset(role for role in held if role is not None)

    def role_of(self, user: str, groups: Iterable[str] = ()) -> Role | None:
        """The highest role `user` holds directly, through a group, or by default."""
        held = self.roles_of(user, groups)
        return max(held) if held else None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from, once proven: subject (stable id), display name, groups, roles, source."""

    subject: str
    display_name: str
    groups: tuple[str, ...] = ()
    roles: frozenset[Role] = frozenset()
    source: str = ""  # "jwt", "api_key", "slack", "static_token"

    def may(self, action: str) -> bool:
        """Whether this principal's roles permit `action`."""
        return permits(action, self.roles)

    @property
    def top_role(self) -> Role | None:
        return max(self.roles) if self.roles else None

    def as_audit(self) -> dict[str, object]:
        """The principal as written into events and audit rows."""
        return {
            "subject": self.subject,
            "display_name": self.display_name,
            "groups": list(self.groups),
            "roles": sorted(role.label for role in self.roles),
            "source": self.source,
        }


@dataclass(frozen=True)
class Decision:
    """Whether a user may run an intent, the role it needs, the role they hold, and why."""

    allowed: bool
    needed_role: Role
    held_role: Role | None
    reason: str


def authorize(
    user: str, groups: Iterable[str], intent: str, roles: RoleBook, granted: Iterable[Role] = ()
) -> Decision:
    """Decide whether `user` (member of `groups`, plus roles `granted` by an API key) may run `intent`."""
    needed = REQUIRED_ROLE.get(intent, Role.ADMIN)  # an intent nobody mapped needs the top role
    held_roles = roles.roles_of(user, tuple(groups)) | frozenset(granted)
    held = max(held_roles) if held_roles else None
    if permits(intent, held_roles):
        return Decision(True, needed, held, f"{held.label if held else 'nobody'} may {intent}")
    holding = f"hold {held.label}" if held is not None else "hold no role"
    return Decision(False, needed, held, f"{intent} needs {needed.label}; you {holding}")
