"""The contract checker used on rules and dashboard catches the mistakes it exists for."""

import pytest

from sco_metric_contract import Selector, contract_problems, families_used, parse


def test_parse_finds_selectors_with_matchers_and_grouping_labels():
    parsed = parse(
        'sum by (route) (rate(smartcloudops_http_requests_total{status=~"5..", route!="/x"}[5m]))'
        " / on (route) group_left"
        " sum by (route) (rate(smartcloudops_http_requests_total[$__rate_interval]))"
    )

    assert parsed.selectors == (
        Selector(
            "smartcloudops_http_requests_total", (("status", "=~", "5.."), ("route", "!=", "/x"))
        ),
        Selector("smartcloudops_http_requests_total", ()),
    )
    assert parsed.grouping_labels == {"route"}


def test_a_correct_histogram_query_has_no_problems():
    expr = (
        "histogram_quantile(0.99, sum by (task, le) "
        '(rate(smartcloudops_task_duration_seconds_bucket{job="smartcloudops-worker"}[5m])))'
    )

    assert contract_problems(expr, recorded=set()) == []
    assert families_used(expr) == {"smartcloudops_task_duration_seconds"}


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        (
            "rate(smartcloudops_http_request_total[5m])",
            "metric smartcloudops_http_request_total is not in the contract",
        ),
        (
            "smartcloudops_queue_depth_count",
            "metric smartcloudops_queue_depth_count is not in the contract",
        ),
        (
            'smartcloudops_queue_depth{queues="events"}',
            "smartcloudops_queue_depth has no label 'queues'",
        ),
        (
            'smartcloudops_queue_depth{queue="event"}',
            "smartcloudops_queue_depth{queue} never takes 'event'",
        ),
        (
            'smartcloudops_remediation_steps_total{outcome=~"succeeded|failure"}',
            "smartcloudops_remediation_steps_total{outcome} never takes 'failure'",
        ),
        (
            'smartcloudops_events_consumed_total{outcome="dry_run"}',
            "smartcloudops_events_consumed_total{outcome} never takes 'dry_run'",
        ),
        (
            "sum by (result) (smartcloudops_remediation_steps_total)",
            "unknown label 'result' in grouping",
        ),
        (
            "queue:smartcloudops_queue_depth:min > 0",
            "recording rule queue:smartcloudops_queue_depth:min is not defined",
        ),
        ("node_cpu_seconds_total", "metric node_cpu_seconds_total is not in the contract"),
    ],
)
def test_contract_mistakes_are_reported(expr, problem):
    assert contract_problems(expr, recorded={"queue:smartcloudops_queue_depth:max"}) == [problem]


def test_an_expression_that_cannot_be_tokenized_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="cannot tokenize"):
        parse("smartcloudops_queue_depth ? 3")
