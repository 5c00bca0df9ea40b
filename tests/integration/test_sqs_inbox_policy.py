"""Worker inboxes are TLS-only, like the jobs queues of the template (moto's server)."""

from __future__ import annotations

import json
from typing import Any

from shared.queue import SqsJobQueue
from shared.queue.sqs import INBOX_VISIBILITY_S, inbox_name
from tests.fixtures_aws import MotoServer

DENY_PLAIN_HTTP = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sqs:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def policy_of(moto_server: MotoServer, queue_url: str) -> dict[str, Any]:
    attributes = moto_server.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["Policy", "QueueArn"]
    )["Attributes"]
    policy: dict[str, Any] = json.loads(attributes["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Resource"] == attributes["QueueArn"]
    return policy


async def test_a_new_inbox_refuses_plain_http(moto_server: MotoServer) -> None:
    # GIVEN the jobs queue
    queue_url, _ = moto_server.create_fifo_queue()
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        # WHEN a worker creates its inbox (twice: a restart with the same worker id)
        inbox_url = await jobs.create_inbox("worker-tls")
        assert await jobs.create_inbox("worker-tls") == inbox_url
    finally:
        await jobs.aclose()
    # THEN the inbox carries the deny-unless-TLS statement for exactly its own ARN
    policy = policy_of(moto_server, inbox_url)
    (statement,) = policy["Statement"]
    assert {k: v for k, v in statement.items() if k != "Resource"} == DENY_PLAIN_HTTP
    assert policy["Version"] == "2012-10-17"


async def test_an_inbox_from_before_the_policy_gets_it(moto_server: MotoServer) -> None:
    # GIVEN an inbox a worker of an older version created under the same worker id, no policy
    queue_url, _ = moto_server.create_fifo_queue()
    old = moto_server.client("sqs").create_queue(
        QueueName=inbox_name(queue_url, "worker-old"),
        Attributes={  # what create_inbox asked for before the policy
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": str(INBOX_VISIBILITY_S),
            "MessageRetentionPeriod": str(4 * 24 * 3600),
        },
    )["QueueUrl"]
    assert "Policy" not in moto_server.client("sqs").get_queue_attributes(
        QueueUrl=old, AttributeNames=["Policy"]
    ).get("Attributes", {})
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        # WHEN that worker id starts again
        assert await jobs.create_inbox("worker-old") == old
    finally:
        await jobs.aclose()
    # THEN the existing inbox is TLS-only too
    (statement,) = policy_of(moto_server, old)["Statement"]
    assert {k: v for k, v in statement.items() if k != "Resource"} == DENY_PLAIN_HTTP
