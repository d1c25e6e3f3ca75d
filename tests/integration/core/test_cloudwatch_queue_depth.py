"""The worker's backlog reaches CloudWatch as SmartCloudOps/QueueDepth, over real HTTP to moto's server."""

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto.server import ThreadedMotoServer

from adapters.cloudwatch import QueueDepthPublisher
from tests.conftest import free_port


@pytest.fixture
def cloudwatch():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    client = boto3.client("cloudwatch", region_name="eu-west-1", endpoint_url=f"http://127.0.0.1:{port}",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    yield client
    server.stop()


def test_backlog_of_pipeline_queues_is_published_without_the_dead_letters(cloudwatch):
    depths = {"events": 40, "metrics": 2, "chat": 0, "dead_letter": 500}
    publisher = QueueDepthPublisher(lambda: depths, cloudwatch, namespace="SmartCloudOps", deployment="prod",
                                    queues=["events", "metrics", "chat"])
    assert publisher.publish_once() == 42
    now = datetime.now(timezone.utc)
    stats = cloudwatch.get_metric_statistics(
        Namespace="SmartCloudOps", MetricName="QueueDepth", Dimensions=[{"Name": "Deployment", "Value": "prod"}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5), Period=60, Statistics=["Maximum"])
    assert [point["Maximum"] for point in stats["Datapoints"]] == [42.0]
