"""Roles: each intent needs a role; users hold the highest of own, group and default roles."""

from __future__ import annotations

import pytest

from config.roles import DEFAULT_ROLES_FILE, load_roles
from pipeline.errors import ConfigurationError
from pipeline.nlu import INTENTS
from pipeline.nlu.authz import REQUIRED_ROLE, Role, RoleBook, authorize

BOOK = RoleBook(
    users={"UVIEW": Role.VIEWER, "UOPS": Role.OPERATOR, "UAPP": Role.APPROVER, "UADM": Role.ADMIN},
    groups={"S-SRE": Role.OPERATOR, "S-LEADS": Role.APPROVER},
)


def test_every_intent_needs_a_role():
    api_capabilities = {"ingest", "read", "chat", "kill_switch.engage", "kill_switch.release"}
    assert set(REQUIRED_ROLE) == set(INTENTS) | api_capabilities


@pytest.mark.parametrize(
    ("intent", "needed"),
    [("status", Role.VIEWER), ("list_incidents", Role.VIEWER), ("show_incident", Role.VIEWER),
     ("explain", Role.VIEWER), ("history", Role.VIEWER), ("help", Role.VIEWER),
     ("ack", Role.OPERATOR), ("silence", Role.OPERATOR), ("unsilence", Role.OPERATOR),
     ("escalate", Role.OPERATOR), ("remediate", Role.OPERATOR),
     ("approve", Role.APPROVER), ("deny", Role.APPROVER)],
)
def test_role_needed_per_intent(intent, needed):
    assert REQUIRED_ROLE[intent] is needed


@pytest.mark.parametrize(
    ("user", "intent", "allowed"),
    [("UVIEW", "status", True), ("UVIEW", "remediate", False), ("UOPS", "remediate", True),
     ("UOPS", "approve", False), ("UAPP", "approve", True), ("UADM", "deny", True),
     ("UADM", "silence", True)],
)
def test_a_higher_role_may_do_what_a_lower_one_may(user, intent, allowed):
    assert authorize(user, [], intent, BOOK).allowed is allowed


def test_refusal_names_the_needed_and_held_roles():
    decision = authorize("UOPS", [], "approve", BOOK)
    assert (decision.allowed, decision.needed_role, decision.held_role) == (
        False, Role.APPROVER, Role.OPERATOR)
    assert decision.reason == "approve needs approver; you hold operator"


def test_a_group_grants_its_role():
    assert authorize("ustranger", ["S-LEADS"], "approve", BOOK).held_role is Role.APPROVER


def test_the_highest_of_user_and_group_roles_counts():
    assert authorize("UOPS", ["S-LEADS", "S-SRE"], "deny", BOOK).allowed


def test_a_stranger_without_default_holds_nothing():
    decision = authorize("nobody", [], "status", BOOK)
    assert (decision.allowed, decision.held_role) == (False, None)
    assert decision.reason == "status needs viewer; you hold no role"


def test_the_default_role_applies_to_strangers():
    book = RoleBook(default=Role.VIEWER)
    assert authorize("nobody", [], "status", book).allowed
    assert not authorize("nobody", [], "ack", book).allowed


def test_the_shipped_roles_file_loads():
    book = load_roles(DEFAULT_ROLES_FILE)
    assert book.default is Role.VIEWER
    assert book.users["U01ADMIN001"] is Role.ADMIN
    assert book.groups["sre-leads"] is Role.APPROVER


def test_an_unknown_role_names_file_line_and_field(tmp_path):
    path = tmp_path / "roles.yaml"
    path.write_text("default_role: viewer\nusers:\n  U1: admin\n  U2: superuser\n")
    with pytest.raises(ConfigurationError) as error:
        load_roles(path)
    assert f"{path}:4: users.U2: Input should be 'ingest', 'viewer', 'operator', 'approver' or 'admin'" \
        in str(error.value)


def test_an_unexpected_key_is_reported(tmp_path):
    path = tmp_path / "roles.yaml"
    path.write_text("users: {}\ngroup:\n  S1: admin\n")
    with pytest.raises(ConfigurationError, match=r"roles.yaml:2: group: Extra inputs"):
        load_roles(path)


def test_empty_sections_mean_nobody(tmp_path):
    path = tmp_path / "roles.yaml"
    path.write_text("users:\ngroups:\n")
    assert load_roles(path) == RoleBook()


def test_a_missing_roles_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match=f"{tmp_path / 'nope.yaml'}: cannot read"):
        load_roles(tmp_path / "nope.yaml")
