"""Who may ask for what: chat roles (viewer < operator < approver < admin) and intent needs."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Role(enum.IntEnum):
    """Chat roles, ordered: a higher role may do everything a lower one may."""

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


REQUIRED_ROLE: Mapping[str, Role] = {
    "status": Role.VIEWER,
    "list_incidents": Role.VIEWER,
    "show_incident": Role.VIEWER,
    "explain": Role.VIEWER,
    "history": Role.VIEWER,
    "help": Role.VIEWER,
    "unknown": Role.VIEWER,
    "ack": Role.OPERATOR,
    "silence": Role.OPERATOR,
    "unsilence": Role.OPERATOR,
    "escalate": Role.OPERATOR,
    "remediate": Role.OPERATOR,
    "approve": Role.APPROVER,
    "deny": Role.APPROVER,
}


@dataclass(frozen=True)
class RoleBook:
    """Roles granted to chat user ids and to groups; `default` is anyone else's (None: nothing)."""

    users: Mapping[str, Role] = field(default_factory=dict)
    groups: Mapping[str, Role] = field(default_factory=dict)
    default: Role | None = None

    def role_of(self, user: str, groups: Iterable[str] = ()) -> Role | None:
        """The highest role `user` holds directly, through a group, or by default."""
        held = [self.users.get(user), *(self.groups.get(group) for group in groups), self.default]
        granted = [role for role in held if role is not None]
        return max(granted) if granted else None


@dataclass(frozen=True)
class Decision:
    """Whether a user may run an intent, the role it needs, the role they hold, and why."""

    allowed: bool
    needed_role: Role
    held_role: Role | None
    reason: str


def authorize(user: str, groups: Iterable[str], intent: str, roles: RoleBook) -> Decision:
    """Decide whether `user` (member of `groups`) may run `intent` under `roles`."""
    needed = REQUIRED_ROLE.get(intent, Role.ADMIN)  # an intent nobody mapped needs the top role
    held = roles.role_of(user, tuple(groups))
    if held is not None and held >= needed:
        return Decision(True, needed, held, f"{held.label} may {intent}")
    holding = f"hold {held.label}" if held is not None else "hold no role"
    return Decision(False, needed, held, f"{intent} needs {needed.label}; you {holding}")
