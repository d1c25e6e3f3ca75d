"""Planning: from an assessed incident (or a person's request) to an ordered, validated plan.

A plan is deterministic: the same incident, rule and parameters give the same plan id and the
same idempotency keys, so a redelivered message plans (and acts) once. Refusals are values
(`PlanRefused`) carrying a reason code for the audit trail, never exceptions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pipeline.catalog import AwsResources, Catalog, Service
from pipeline.policy import (
    ActionName,
    AsgScaleOutSpec,
    Decision,
    Ec2RebootSpec,
    Ec2StartSpec,
    EcsRedeploySpec,
    Policy,
    RdsRebootSpec,
    SsmCommandSpec,
)
from pipeline.predictions import is_predicted
from pipeline.remediation.params import (
    ActionParams,
    AsgSetDesiredCapacityParams,
    Ec2RebootParams,
    Ec2StartParams,
    EcsForceNewDeploymentParams,
    RdsRebootParams,
    RefusedParameter,
    SsmRunCommandParams,
    check_against_catalog,
)
from pipeline.risk import IncidentFacts, RiskAssessment

REQUESTER_PATTERN = re.compile(r"^[A-Za-z0-9@._:+-]{1,128}$")
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class PlanStep:
    index: int
    action: ActionName
    params: ActionParams
    idempotency_key: str

    @property
    def target(self) -> str:
        return self.params.target

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "action": self.action.value,
            "target": self.target,
            "params": self.params.to_dict(),
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class RemediationPlan:
    plan_id: str
    incident_id: str
    service: str
    rule: str | None
    decision: Decision
    steps: tuple[PlanStep, ...]
    requested_by: str | None = None

    def as_dict(self) -> dict:
        """Plain JSON-ready form for storage and the API."""
        return {
            "plan_id": self.plan_id,
            "incident_id": self.incident_id,
            "service": self.service,
            "rule": self.rule,
            "decision": self.decision.value,
            "requested_by": self.requested_by,
            "steps": [step.as_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class PlanRefused:
    incident_id: str
    reason_code: str
    detail: str
    requested_by: str | None = None


@dataclass(frozen=True)
class RemediationRequested:
    """A person asked for an action (chat or API); it plans through the same validation."""

    request_id: str
    service: str
    action: str
    requested_by: str
    instance: str | None = None
    capacity: int | None = None
    incident_id: str | None = None


# Chat verbs (see the chat data set) and our own action names are both accepted.
REQUEST_VERBS: dict[str, ActionName] = {
    "reboot": ActionName.EC2_REBOOT,
    "start": ActionName.EC2_START,
    "scale": ActionName.ASG_SET_DESIRED_CAPACITY,
    "redeploy": ActionName.ECS_FORCE_NEW_DEPLOYMENT,
    **{name.value: name for name in ActionName},
}


def plan(
    incident: IncidentFacts, assessment: RiskAssessment, catalog: Catalog, policy: Policy
) -> RemediationPlan | PlanRefused:
    """Plan the actions of the first matching rule, or refuse with a reason code."""
    service = catalog.service(incident.service)
    if service is None:
        return PlanRefused(
            incident.incident_id, "unknown_service", f"{incident.service!r} is not in the catalog"
        )
    rule = policy.rule_for(incident.alertname, dict(incident.labels), service.name)
    if rule is None:
        return _build(incident.incident_id, service, None, Decision.NOTIFY_ONLY, [], None)
    try:
        params = [p for spec in rule.actions for p in _params_for(spec, incident, service, policy)]
        for p in params:
            check_against_catalog(p, catalog, policy)
    except RefusedParameter as refused:
        return PlanRefused(incident.incident_id, refused.code, refused.detail)
    decision = assessment.decision.at_least(rule.minimum_decision)
    if is_predicted(incident.labels):  # acting on a forecast: a person approves by default
        decision = decision.at_least(policy.predictions.minimum_decision)
    return _checked(
        _build(incident.incident_id, service, rule.name, decision, params, None), catalog, policy
    )


def plan_request(
    request: RemediationRequested, catalog: Catalog, policy: Policy
) -> RemediationPlan | PlanRefused:
    """Plan what a person asked for, through the same validation as alert-driven plans."""
    subject = request.incident_id or f"request-{request.request_id}"
    try:
        _check_requester(request)
        service = catalog.service(request.service)
        if service is None:
            raise RefusedParameter("unknown_service", f"{request.service!r} is not in the catalog")
        params = _request_params(request, service, policy)
        check_against_catalog(params, catalog, policy)
    except RefusedParameter as refused:
        return PlanRefused(subject, refused.code, refused.detail, _safe_requester(request))
    built = _build(
        subject,
        service,
        None,
        policy.requests.decision,
        [params],
        request.requested_by,
        salt=request.request_id,
    )
    return _checked(built, catalog, policy)


def _checked(
    built: RemediationPlan, catalog: Catalog, policy: Policy
) -> RemediationPlan | PlanRefused:
    from pipeline.remediation.guards import check_blast_radius

    verdict = check_blast_radius(built, catalog, policy.guards)
    if not verdict.allowed:
        return PlanRefused(
            built.incident_id, verdict.reason_code, verdict.detail, built.requested_by
        )
    return built


def _build(
    incident_id: str,
    service: Service,
    rule: str | None,
    decision: Decision,
    params: list[ActionParams],
    requested_by: str | None,
    salt: str = "",
) -> RemediationPlan:
    body = [{"action": p.ACTION.value, "params": p.to_dict()} for p in params]
    plan_id = _digest("plan", incident_id, rule or "", salt, _canonical(body))[:32]
    steps = tuple(
        PlanStep(
            i, p.ACTION, p, _digest("step", incident_id, plan_id, str(i), _canonical(body[i]))[:40]
        )
        for i, p in enumerate(params)
    )
    return RemediationPlan(plan_id, incident_id, service.name, rule, decision, steps, requested_by)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# ------------------------------------------------------------ alert-driven parameters


def _instances(incident: IncidentFacts) -> list[str]:
    if not incident.targets:
        raise RefusedParameter("no_target", "the incident names no instance to act on")
    return sorted(set(incident.targets))


def _aws(service: Service) -> AwsResources:
    if service.aws is None:
        raise RefusedParameter("no_resource", f"{service.name} has no AWS resources in the catalog")
    return service.aws


def _region(service: Service) -> str:
    return _aws(service).region


def _ec2(spec, incident: IncidentFacts, service: Service, _: Policy) -> Iterator[ActionParams]:
    cls = Ec2StartParams if isinstance(spec, Ec2StartSpec) else Ec2RebootParams
    for instance_id in _instances(incident):
        yield cls(service=service.name, region=_region(service), instance_id=instance_id)


def _asg(
    spec: AsgScaleOutSpec, _: IncidentFacts, service: Service, __: Policy
) -> Iterator[ActionParams]:
    aws = _aws(service)
    group = aws.autoscaling_group
    if group is None:
        raise RefusedParameter("no_resource", f"{service.name} has no Auto Scaling group")
    yield AsgSetDesiredCapacityParams(
        service=service.name,
        region=aws.region,
        group_name=group.name,
        desired_capacity=group.desired_capacity + spec.scale_out_by,
        min_size=group.min_size,
        max_size=group.max_size,
    )


def _ecs(
    _: EcsRedeploySpec, __: IncidentFacts, service: Service, ___: Policy
) -> Iterator[ActionParams]:
    aws = _aws(service)
    if aws.ecs is None:
        raise RefusedParameter("no_resource", f"{service.name} has no ECS service")
    yield EcsForceNewDeploymentParams(
        service=service.name,
        region=aws.region,
        cluster=aws.ecs.cluster,
        ecs_service=aws.ecs.service,
    )


def _ssm(
    spec: SsmCommandSpec, incident: IncidentFacts, service: Service, policy: Policy
) -> Iterator[ActionParams]:
    document = policy.actions.ssm_document(spec.document)
    if document is None:
        raise RefusedParameter(
            "document_not_allowed", f"SSM document {spec.document} is not allowlisted"
        )
    for instance_id in _instances(incident):
        yield SsmRunCommandParams(
            service=service.name,
            region=_region(service),
            instance_id=instance_id,
            document=document.name,
            unit_parameter=document.unit_parameter,
            unit=spec.unit,
        )


def _rds(
    spec: RdsRebootSpec, _: IncidentFacts, service: Service, __: Policy
) -> Iterator[ActionParams]:
    aws = _aws(service)
    if aws.rds_instance_id is None:
        raise RefusedParameter("no_resource", f"{service.name} has no RDS instance")
    yield RdsRebootParams(
        service=service.name,
        region=aws.region,
        db_instance_id=aws.rds_instance_id,
        force_failover=spec.force_failover,
    )


_BUILDERS: dict[type, Callable[..., Iterator[ActionParams]]] = {
    Ec2RebootSpec: _ec2,
    Ec2StartSpec: _ec2,
    AsgScaleOutSpec: _asg,
    EcsRedeploySpec: _ecs,
    SsmCommandSpec: _ssm,
    RdsRebootSpec: _rds,
}


def _params_for(
    spec, incident: IncidentFacts, service: Service, policy: Policy
) -> Iterator[ActionParams]:
    return _BUILDERS[type(spec)](spec, incident, service, policy)


# ------------------------------------------------------------ requested parameters


def _check_requester(request: RemediationRequested) -> None:
    if not isinstance(request.requested_by, str) or not REQUESTER_PATTERN.fullmatch(
        request.requested_by
    ):
        raise RefusedParameter("invalid_parameter", "requested_by is not a valid identity")
    if not isinstance(request.request_id, str) or not REQUEST_ID_PATTERN.fullmatch(
        request.request_id
    ):
        raise RefusedParameter("invalid_parameter", "request_id is not a valid id")


def _safe_requester(request: RemediationRequested) -> str | None:
    ok = isinstance(request.requested_by, str) and REQUESTER_PATTERN.fullmatch(request.requested_by)
    return request.requested_by if ok else None


def _request_params(
    request: RemediationRequested, service: Service, policy: Policy
) -> ActionParams:
    action = _requested_action(request, service, policy)
    region = _region(service)
    if action in (ActionName.EC2_REBOOT, ActionName.EC2_START):
        cls = Ec2StartParams if action is ActionName.EC2_START else Ec2RebootParams
        return cls(service=service.name, region=region, instance_id=_requested_instance(request))
    if action is ActionName.SSM_RUN_COMMAND:
        return _restart_unit(request, service, policy)
    if action is ActionName.ASG_SET_DESIRED_CAPACITY:
        return _requested_capacity(request, service)
    if action is ActionName.ECS_FORCE_NEW_DEPLOYMENT:
        return next(_ecs(None, None, service, policy))  # type: ignore[arg-type]
    return next(_rds(RdsRebootSpec(action=ActionName.RDS_REBOOT), None, service, policy))  # type: ignore[arg-type]


def _requested_action(
    request: RemediationRequested, service: Service, policy: Policy
) -> ActionName:
    verb = request.action.strip().lower() if isinstance(request.action, str) else ""
    if verb == "restart":
        # Restart means the service's own unit on a host, or a redeploy for a container service.
        if service.systemd_units and request.instance is not None:
            return ActionName.SSM_RUN_COMMAND
        has_ecs = service.aws is not None and service.aws.ecs is not None
        if service.systemd_units and not has_ecs:
            # Say what is missing: "has no ECS service" hid that the catalog knows its units.
            raise RefusedParameter(
                "no_target",
                f"{service.name} runs as systemd units ({', '.join(service.systemd_units)}): "
                f"name the host, e.g. `restart {service.name} on i-…`",
            )
        return ActionName.ECS_FORCE_NEW_DEPLOYMENT
    if verb not in REQUEST_VERBS:
        raise RefusedParameter("action_not_allowed", "unknown action requested")
    return REQUEST_VERBS[verb]


def _requested_instance(request: RemediationRequested) -> str:
    if request.instance is None:
        raise RefusedParameter("no_target", "this action needs an instance id")
    return request.instance  # shape and ownership are checked by the params and the catalog


def _restart_unit(
    request: RemediationRequested, service: Service, policy: Policy
) -> SsmRunCommandParams:
    allowance = policy.actions.ssm_run_command
    if allowance is None or not allowance.enabled:
        raise RefusedParameter("action_not_allowed", "ssm_run_command is not allowlisted")
    document = allowance.documents[0]
    return SsmRunCommandParams(
        service=service.name,
        region=_region(service),
        instance_id=_requested_instance(request),
        document=document.name,
        unit_parameter=document.unit_parameter,
        unit=service.systemd_units[0],  # the catalog's primary unit: chat never names a unit
    )


def _requested_capacity(
    request: RemediationRequested, service: Service
) -> AsgSetDesiredCapacityParams:
    group = service.aws.autoscaling_group if service.aws else None
    if group is None:
        raise RefusedParameter("no_resource", f"{service.name} has no Auto Scaling group")
    if request.capacity is None:
        raise RefusedParameter("invalid_parameter", "scaling needs a capacity")
    return AsgSetDesiredCapacityParams(
        service=service.name,
        region=_region(service),
        group_name=group.name,
        desired_capacity=request.capacity,
        min_size=group.min_size,
        max_size=group.max_size,
    )
