"""Which allowed actions tend to fix an incident like this one: the ranking shown beside a plan.

Only actions the policy enables and the service's catalog entry can take part (an action never
becomes possible because it once worked elsewhere). Each carries learner (a)'s estimate and its
explanation; when no action was ever tried on incidents of this alert name or wider, there is
nothing to say and the advice is empty. When the classifier (learner b) was chosen, it orders the
same actions and learner (a) still explains each one: the classifier reorders, never adds. When the
training run chose the rule (no learner beat the playbook's order), the actions of the incident's
plan come first, in the plan's order, and the rest keep the order the policy lists them in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.catalog import Service
from pipeline.learning.outcomes import Signature
from pipeline.learning.rates import Estimate, OutcomeRates
from pipeline.policy import ActionName, Policy

if TYPE_CHECKING:  # numpy comes with them: the HTTP server ranks by the rates unless a model is loaded
    from pipeline.learning.classifier import OutcomeClassifier
    from pipeline.learning.features import IncidentContext


def possible_actions(service: Service, policy: Policy) -> tuple[str, ...]:
    """The actions the allowlist enables that this service has something to act on."""
    aws = service.aws
    has = {
        ActionName.EC2_REBOOT: bool(aws and aws.instance_ids),
        ActionName.EC2_START: bool(aws and aws.instance_ids),
        ActionName.ASG_SET_DESIRED_CAPACITY: bool(aws and aws.autoscaling_group),
        ActionName.ECS_FORCE_NEW_DEPLOYMENT: bool(aws and aws.ecs),
        ActionName.SSM_RUN_COMMAND: bool(aws and aws.instance_ids and service.systemd_units),
        ActionName.RDS_REBOOT: bool(aws and aws.rds_instance_id),
    }
    return tuple(action.value for action, present in has.items() if present and policy.actions.allows(action))


def advise(rates: OutcomeRates, signature: Signature, actions: tuple[str, ...]) -> list[Estimate]:
    """The actions, most likely to fix first; empty when none was ever tried on anything alike."""
    ranked = rates.rank(signature, actions)
    return ranked if any(estimate.tried for estimate in ranked) else []


def advise_by_classifier(
    rates: OutcomeRates, classifier: OutcomeClassifier, context: IncidentContext, actions: Sequence[str]
) -> list[tuple[Estimate, float | None]]:
    """`advise`'s actions ordered by the classifier's chance of a fix (one scoring call), each with
    that chance; an action the classifier never saw (or scores NaN) follows in the rates' order."""
    ranked = advise(rates, context.signature, tuple(actions))
    known = [e.action for e in ranked if e.action in classifier.space.actions]
    scored = classifier.probabilities([context] * len(known), known) if known else []
    chance = {a: float(p) for a, p in zip(known, scored) if math.isfinite(float(p))}
    first = sorted((e for e in ranked if e.action in chance), key=lambda e: -chance[e.action])
    rest = [e for e in ranked if e.action not in chance]
    return [(e, chance[e.action]) for e in first] + [(e, None) for e in rest]


def advise_in_rule_order(
    rates: OutcomeRates, signature: Signature, actions: tuple[str, ...], planned: Sequence[str]
) -> list[Estimate]:
    """`advise`'s actions with the plan's (the rule's choice) first, then the rest as `actions` lists
    them: learning explains each one and reorders nothing; empty as `advise` is."""
    ranked = advise(rates, signature, actions)
    if not ranked:
        return []
    by_action = {e.action: e for e in ranked}
    first = [a for a in dict.fromkeys(planned) if a in by_action]
    return [by_action[a] for a in first] + [by_action[a] for a in actions if a not in first]
