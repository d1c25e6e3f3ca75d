"""Load config/roles.yaml (chat user ids and groups to roles); errors name file, line, field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.yaml_lines import validate_yaml_file
from pipeline.nlu.authz import Role, RoleBook

DEFAULT_ROLES_FILE = Path(__file__).with_name("roles.yaml")

RoleLabel = Literal["ingest", "viewer", "operator", "approver", "admin"]


class RolesFile(BaseModel):
    """The shape of roles.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_role: RoleLabel | None = None
    users: dict[str, RoleLabel] = Field(default_factory=dict)
    groups: dict[str, RoleLabel] = Field(default_factory=dict)

    @field_validator("users", "groups", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        # `users:` with nothing under it is YAML null; it means "nobody", not an error.
        return {} if value is None else value

    @field_validator("users", "groups")
    @classmethod
    def _ids_are_plain(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.strip() or key != key.strip():
                raise ValueError(f"id {key!r} must be non-empty with no surrounding blanks")
        return value


def role_book(roles: RolesFile) -> RoleBook:
    """The validated file as the domain's RoleBook."""
    return RoleBook(
        users={user: Role.parse(label) for user, label in roles.users.items()},
        groups={group: Role.parse(label) for group, label in roles.groups.items()},
        default=Role.parse(roles.default_role) if roles.default_role else None,
    )


def load_roles(path: str | Path = DEFAULT_ROLES_FILE) -> RoleBook:
    """Read and validate a roles file; ConfigurationError names the file, line and field."""
    return role_book(validate_yaml_file(path, RolesFile))
