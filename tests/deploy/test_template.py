"""What the deployment must guarantee, read from the template `osls package` renders.

scripts/check_deploy.sh renders .serverless/cloudformation-template-update-stack.json and runs
these; without the rendered file they are skipped (the rendering needs node and osls).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.queue.sqs import inbox_name, tls_only_policy
from shared.settings import Settings
from shared.state import table_definition
from voice_worker.fleet_signals import ACTIVE_SESSIONS, COUNTER_METRICS, NO_DIMENSIONS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(
    os.environ.get(
        "DEPLOY_TEMPLATE", ROOT / ".serverless" / "cloudformation-template-update-stack.json"
    )
)

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        not TEMPLATE.exists(),
        reason=f"no rendered template at {TEMPLATE}: run scripts/check_deploy.sh",
    ),
]

# The only IAM statements allowed Resource "*": AWS offers no resource type for these actions.
# Each must carry its condition, and docs/deploy.md must list it (test below).
WILDCARD_EXCEPTIONS: dict[str, str] = {
    "ecr:GetAuthorizationToken": "aws:RequestedRegion",
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "sqs:ListQueues": "aws:RequestedRegion",
}
# What `osls package --stage ci` names things (serverless.yml: service musicbot, stage ci).
STAGE = "ci"
JOBS_QUEUE_NAME = f"musicbot-{STAGE}-jobs.fifo"

Template = dict[str, Any]


@pytest.fixture(scope="module")
def template() -> Template:
    loaded: Template = json.loads(TEMPLATE.read_text())
    return loaded


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def props(template: Template, name: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][name]["Properties"]
    return properties


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every policy document in the template (identity and resource)."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"PolicyDocument", "AssumeRolePolicyDocument"} and isinstance(
                    value, dict
                ):
                    for statement in as_list(value.get("Statement", [])):
                        yield f"{where}.{key}", statement
                else:
                    yield from walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{where}[{index}]")

    yield from walk(template["Resources"], "Resources")


def all_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from all_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_strings(value)


# --- the queue -----------------------------------------------------------------------


def test_jobs_queue_is_fifo_encrypted_with_app_set_dedup_and_a_redrive(template: Template) -> None:
    queue = props(template, "JobsQueue")
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is False
    assert queue.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    assert 1 <= int(redrive["maxReceiveCount"]) <= 10


def test_dead_letter_queue_is_fifo_and_encrypted(template: Template) -> None:
    dlq = props(template, "JobsDeadLetterQueue")
    assert dlq["FifoQueue"] is True
    assert dlq.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in dlq
    assert dlq["MessageRetentionPeriod"] >= props(template, "JobsQueue")["MessageRetentionPeriod"]


def test_an_alarm_fires_on_any_dead_lettered_job(template: Template) -> None:
    dlq_name = {"Fn::GetAtt": ["JobsDeadLetterQueue", "QueueName"]}
    matching = [
        alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": dlq_name} in alarm["Properties"].get("Dimensions", [])
    ]
    assert len(matching) == 1
    alarm = matching[0]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"]


# --- the state table -----------------------------------------------------------------


def test_state_table_is_on_demand_with_ttl_pitr_and_sse(template: Template) -> None:
    table = props(template, "StateTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_state_table_matches_the_code_s_table_definition(template: Template) -> None:
    table = props(template, "StateTable")
    expected = table_definition("any")
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    assert table.get("GlobalSecondaryIndexes", []) == expected.get("GlobalSecondaryIndexes", [])
    assert table["BillingMode"] == expected["BillingMode"]


# --- workers and scaling -------------------------------------------------------------


def test_worker_service_and_scalable_target_start_at_zero(template: Template) -> None:
    (service,) = resources(template, "AWS::ECS::Service").values()
    assert service["Properties"]["DesiredCount"] == 0
    (target,) = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["MinCapacity"] == 0
    assert target["Properties"]["MaxCapacity"] >= 1
    assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"


def test_scale_out_on_backlog_and_scale_in_to_zero_when_idle(template: Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    backlog = alarms["JobsBacklogAlarm"]["Properties"]
    assert backlog["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert backlog["AlarmActions"] == [{"Ref": "WorkerScaleOutPolicy"}]
    idle = alarms["WorkersIdleAlarm"]["Properties"]
    assert idle["AlarmActions"] == [{"Ref": "WorkerScaleInPolicy"}]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in idle["Metrics"] if "MetricStat" in m}
    assert {"ActiveSessions", "ApproximateNumberOfMessagesVisible"} <= names
    (expression,) = [m["Expression"] for m in idle["Metrics"] if m.get("ReturnData")]
    assert "sessions" in expression and "visible" in expression
    scale_in = props(template, "WorkerScaleInPolicy")["StepScalingPolicyConfiguration"]
    assert scale_in["AdjustmentType"] == "ExactCapacity"
    assert [step["ScalingAdjustment"] for step in scale_in["StepAdjustments"]] == [0]


def test_worker_task_is_arm64_fargate_with_health_check_and_clean_stop(
    template: Template,
) -> None:
    (task,) = resources(template, "AWS::ECS::TaskDefinition").values()
    properties = task["Properties"]
    assert properties["RequiresCompatibilities"] == ["FARGATE"]
    assert properties["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    (container,) = properties["ContainerDefinitions"]
    assert container["StopTimeout"] >= 60
    assert container["HealthCheck"]["Command"] == ["CMD", "musicbot", "worker", "--check"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"


# --- the Lambda and its API ----------------------------------------------------------


def test_lambda_is_python312_on_arm64_from_the_prebuilt_bundle(template: Template) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    assert set(functions) == {"InteractionsLambdaFunction"}
    function = functions["InteractionsLambdaFunction"]["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "interactions.lambda_entry.handler"
    assert function["Code"]["S3Key"].endswith("/lambda.zip")
    # Lambda sets these itself and refuses a function that tries to.
    reserved = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert not reserved & set(function["Environment"]["Variables"])


def test_cold_start_switches_are_off_by_default(template: Template) -> None:
    function = props(template, "InteractionsLambdaFunction")
    assert "SnapStart" not in function
    assert not resources(template, "AWS::Lambda::Alias")


def test_discord_reaches_the_lambda_by_one_post_route(template: Template) -> None:
    routes = [
        r["Properties"]["RouteKey"]
        for r in resources(template, "AWS::ApiGatewayV2::Route").values()
    ]
    assert routes == ["POST /interactions"]


def test_every_log_group_has_a_retention(template: Template) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert {"InteractionsLogGroup", "WorkerLogGroup"} <= set(groups)
    for name, group in groups.items():
        assert 1 <= group["Properties"].get("RetentionInDays", 0) <= 400, name


# --- IAM and secrets -----------------------------------------------------------------


def test_no_iam_statement_allows_every_resource_except_the_documented_ones(
    template: Template,
) -> None:
    for where, statement in policy_statements(template):
        if statement.get("Effect") != "Allow" or "Resource" not in statement:
            continue
        actions = as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), where
        if "*" not in as_list(statement["Resource"]):
            continue
        assert len(actions) == 1 and actions[0] in WILDCARD_EXCEPTIONS, (where, actions)
        condition_keys = {
            key for operator in statement.get("Condition", {}).values() for key in operator
        }
        assert WILDCARD_EXCEPTIONS[actions[0]] in condition_keys, (where, actions)


def test_the_wildcard_exceptions_are_documented() -> None:
    deploy_doc = (ROOT / "docs" / "deploy.md").read_text()
    for action, condition in WILDCARD_EXCEPTIONS.items():
        assert action in deploy_doc and condition in deploy_doc


def test_no_role_carries_managed_policies(template: Template) -> None:
    for name, role in resources(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name
    # The framework's shared default role is not generated: each function has its own.
    assert "IamRoleLambdaExecution" not in template["Resources"]


def test_lambda_may_wake_only_its_own_worker_service(template: Template) -> None:
    statements = [s for _, s in policy_statements(template) if s.get("Sid") == "WakeWorkers"]
    assert statements == [
        {
            "Sid": "WakeWorkers",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": {"Ref": "WorkerService"},
        }
    ]


def test_worker_may_protect_only_tasks_of_its_cluster(template: Template) -> None:
    (statement,) = [
        s
        for _, s in policy_statements(template)
        if "ecs:UpdateTaskProtection" in as_list(s["Action"])
    ]
    resource = json.dumps(statement["Resource"])
    assert ":task/${WorkerCluster}/*" in resource


def test_bot_token_is_never_a_plain_environment_variable(template: Template) -> None:
    function = props(template, "InteractionsLambdaFunction")
    variables = function["Environment"]["Variables"]
    assert "DISCORD_BOT_TOKEN" not in variables
    # The Lambda gets the parameter's NAME only.
    assert variables["DISCORD_BOT_TOKEN_PARAMETER"].startswith("/")
    (task,) = resources(template, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert "DISCORD_BOT_TOKEN" not in {env["Name"] for env in container.get("Environment", [])}
    (secret,) = [s for s in container["Secrets"] if s["Name"] == "DISCORD_BOT_TOKEN"]
    assert ":ssm:" in json.dumps(secret["ValueFrom"]) and ":parameter/" in json.dumps(
        secret["ValueFrom"]
    )
    # Nothing shaped like a bot token anywhere (three base64url parts: id.timestamp.hmac).
    token_shape = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}")
    assert not [s for s in all_strings(template) if token_shape.search(s)]
    assert not [p for p in template.get("Parameters", {}) if "token" in p.lower()]


def statements_with_sid(template: Template, sid: str) -> list[dict[str, Any]]:
    return [s for _, s in policy_statements(template) if s.get("Sid") == sid]


def sub_text(value: Any) -> str:
    """The text of a string or a `Fn::Sub` with AWS pseudo parameters made concrete."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    assert isinstance(text, str)
    return (
        text.replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${AWS::AccountId}", "111122223333")
    )


def worker_environment(template: Template) -> dict[str, Any]:
    (task,) = resources(template, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    return {env["Name"]: env["Value"] for env in container["Environment"]}


# --- routing between workers ---------------------------------------------------------


def test_worker_may_manage_only_this_stack_s_inboxes(template: Template) -> None:
    (statement,) = statements_with_sid(template, "WorkerInboxes")
    assert sorted(as_list(statement["Action"])) == sorted(
        [
            "sqs:CreateQueue",
            "sqs:DeleteQueue",
            "sqs:GetQueueUrl",
            "sqs:GetQueueAttributes",
            "sqs:SetQueueAttributes",
            "sqs:SendMessage",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
        ]
    )
    (resource,) = as_list(statement["Resource"])
    pattern = sub_text(resource)
    arn = "arn:aws:sqs:us-east-1:111122223333:"
    assert pattern == f"{arn}musicbot-{STAGE}-jobs-inbox-*"
    # The names the code gives inboxes fall under it; the shared queues do not.
    jobs_url = f"https://sqs.us-east-1.amazonaws.com/111122223333/{JOBS_QUEUE_NAME}"
    for worker_id in ("w1", "ip-10-0-1-23.ec2.internal", "9f" * 20):
        assert fnmatch.fnmatchcase(arn + inbox_name(jobs_url, worker_id), pattern), worker_id
    for shared in (JOBS_QUEUE_NAME, f"musicbot-{STAGE}-jobs-dlq.fifo"):
        assert not fnmatch.fnmatchcase(arn + shared, pattern)


def test_worker_inboxes_get_the_jobs_queues_tls_only_policy(template: Template) -> None:
    # The policy the worker sets on its inbox at runtime is the template's, bar the queue.
    (deployed,) = statements_with_sid(template, "DenyInsecureTransport")
    (runtime,) = json.loads(tls_only_policy("arn:aws:sqs:us-east-1:111122223333:x"))["Statement"]
    assert {k: v for k, v in runtime.items() if k != "Resource"} == {
        k: v for k, v in deployed.items() if k != "Resource"
    }


def test_worker_can_list_inboxes_only_in_its_region(template: Template) -> None:
    (statement,) = statements_with_sid(template, "FindDeadInboxes")
    assert (statement["Action"], statement["Resource"]) == ("sqs:ListQueues", "*")
    assert statement["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}
    }


def test_worker_consumes_the_jobs_queue_with_visibility_changes(template: Template) -> None:
    (statement,) = statements_with_sid(template, "ConsumeJobs")
    assert statement["Resource"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    } <= set(as_list(statement["Action"]))


# --- what the Lambda may read and write ----------------------------------------------


def test_lambda_reads_the_state_table(template: Template) -> None:
    role = props(template, "InteractionsRole")
    (statement,) = [
        s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if s.get("Sid") == "ReadState"
    ]
    assert {"dynamodb:GetItem", "dynamodb:Query"} <= set(as_list(statement["Action"]))
    assert statement["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}


def test_lambda_writes_only_guild_partitions(template: Template) -> None:
    (statement,) = statements_with_sid(template, "WriteGuildSettingsAndPlaylists")
    assert sorted(as_list(statement["Action"])) == ["dynamodb:DeleteItem", "dynamodb:PutItem"]
    assert statement["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["GUILD#*"]}
    }
    # No other statement of the Lambda's role writes to DynamoDB.
    role = props(template, "InteractionsRole")
    writers = [
        s.get("Sid")
        for s in role["Policies"][0]["PolicyDocument"]["Statement"]
        if any(
            a.startswith("dynamodb:") and not a.endswith(("GetItem", "Query"))
            for a in as_list(s["Action"])
        )
    ]
    assert writers == ["WriteGuildSettingsAndPlaylists"]


# --- settings each side gets ---------------------------------------------------------


def test_every_environment_variable_is_a_setting(template: Template) -> None:
    # A typo in a variable name would be silently ignored by pydantic-settings.
    fields = set(Settings.model_fields)
    lambda_env = props(template, "InteractionsLambdaFunction")["Environment"]["Variables"]
    unknown = {name for name in lambda_env if name.lower() not in fields}
    assert not unknown
    # XDG_CACHE_HOME is for yt-dlp, not for our settings.
    unknown = {n for n in worker_environment(template) if n.lower() not in fields}
    assert unknown == {"XDG_CACHE_HOME"}


def test_each_side_gets_the_settings_it_needs(template: Template) -> None:
    lambda_env = props(template, "InteractionsLambdaFunction")["Environment"]["Variables"]
    assert {
        "JOBS_QUEUE_URL",
        "STATE_TABLE",
        "WORKER_CLUSTER",
        "WORKER_SERVICE",
        "DISCORD_BOT_TOKEN_PARAMETER",
    } <= set(lambda_env)
    worker_env = worker_environment(template)
    assert worker_env["METRICS_NAMESPACE"] == f"MusicBot/{STAGE}"
    assert int(worker_env["WORKER_MAX_GUILDS"]) >= 1
    assert {"JOBS_QUEUE_URL", "JOBS_DEAD_LETTER_QUEUE_URL", "STATE_TABLE"} <= set(worker_env)


# --- the metric contract between the workers and the alarms --------------------------


def test_scale_in_alarm_reads_the_metric_the_workers_emit(template: Template) -> None:
    idle = props(template, "WorkersIdleAlarm")
    (sessions,) = [
        m["MetricStat"]["Metric"]
        for m in idle["Metrics"]
        if m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == ACTIVE_SESSIONS
    ]
    # Same namespace as the workers' METRICS_NAMESPACE; no dimensions, as fleet_signals emits.
    assert sessions["Namespace"] == worker_environment(template)["METRICS_NAMESPACE"]
    assert NO_DIMENSIONS == [[]]
    assert "Dimensions" not in sessions
    # Scale-in needs sessions, waiting and in-flight jobs at zero, for scaleInIdleMinutes.
    assert idle["EvaluationPeriods"] == idle["DatapointsToAlarm"] >= 5


def dashboard(template: Template) -> tuple[dict[str, Any], dict[str, Any]]:
    body, variables = props(template, "Dashboard")["DashboardBody"]["Fn::Sub"]
    concrete = re.sub(r"\$\{([^}]+)\}", lambda m: f"<{m.group(1)}>", body)
    parsed: dict[str, Any] = json.loads(concrete)
    return parsed, variables


def dashboard_metrics(parsed: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, metric name) of every graph, with the "." / "..." shorthand expanded."""
    found: set[tuple[str, str]] = set()
    for widget in parsed["widgets"]:
        previous: list[Any] = []
        for row in widget.get("properties", {}).get("metrics", []):
            given = previous if row[0] == "..." else [f for f in row if not isinstance(f, dict)]
            fields = [previous[i] if f == "." else f for i, f in enumerate(given)]
            found.add((fields[0], fields[1]))
            previous = fields
    return found


def test_dashboard_shows_latency_queues_sessions_workers_and_errors(template: Template) -> None:
    parsed, variables = dashboard(template)
    assert variables["Namespace"] == worker_environment(template)["METRICS_NAMESPACE"]
    shown = dashboard_metrics(parsed)
    assert {
        ("AWS/Lambda", "Duration"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("AWS/ApiGateway", "5xx"),
        ("<Namespace>", ACTIVE_SESSIONS),
        ("ECS/ContainerInsights", "RunningTaskCount"),
    } <= shown
    assert {("<Namespace>", metric) for metric in COUNTER_METRICS.values()} <= shown
    # Both queues are graphed: the jobs queue and the dead-letter queue.
    text = json.dumps(parsed)
    assert "<JobsQueueName>" in text and "<DeadLetterQueueName>" in text
