"""CloudWatch's reads of EC2's IMDS metrics (issue 15; spec wave2.md §1, cases 1-23):
`MetadataNoToken` and `MetadataNoTokenRejected` by `InstanceId`, through boto3 and the aws CLI
(AWS JSON 1.0, as botocore >= 1.42.6 sends it) and through the Query protocol older clients
send (signed here for `monitoring` by botocore's SigV4). The figures are the metadata
service's own counts: tokenless calls made here on the instances' own loopback endpoints."""
from __future__ import annotations

import datetime
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.credentials
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

import helpers
from helpers import REGION
from iam_helpers import Acct, iam_server, make_user
from imds_helpers import get, loopback_only, token

NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
UTC = datetime.timezone.utc


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


def cloudwatch(srv, **kw):
    return boto3.client("cloudwatch", endpoint_url=srv.endpoint, region_name=REGION,
                        aws_access_key_id=helpers.ACCESS_KEY,
                        aws_secret_access_key=helpers.SECRET_KEY,
                        config=Config(retries={"total_max_attempts": 1}), **kw)


def endpoint_of(srv, iid: str) -> str:
    with urllib.request.urlopen(f"{srv.endpoint}/_imds/instances/{iid}/endpoint", timeout=30) as r:
        return r.read().decode().strip()[len("http://"):]


def minute(t: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(t) // 60 * 60, UTC)


def burst(addr: str, n: int, tok: str | None = None, expect: int = 200) -> datetime.datetime:
    """`n` calls within one UTC minute (again if the minute turned meanwhile): that minute."""
    while True:
        before = time.time()
        for _ in range(n):
            assert get(addr, "/latest/meta-data/instance-id", tok).status == expect
        after = time.time()
        if minute(before) == minute(after):
            return minute(before)


def query(srv, params: dict, region: str = REGION) -> tuple[int, dict, bytes]:
    """A CloudWatch call in the Query protocol, signed for `monitoring`."""
    body = urllib.parse.urlencode({**params, "Version": "2010-08-01"})
    url = srv.endpoint + "/"
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(helpers.CREDS, "monitoring", region).add_auth(req)
    r = urllib.request.Request(url, data=body.encode(), headers=dict(req.headers.items()),
                               method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def iso(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def fleet(server):
    """Three instances: `optional` with 3 tokenless calls, `required` with 2 refused
    tokenless calls, `tokens` with token-bearing calls only; each call's minute."""
    ec2 = server.client(REGION)
    ids = helpers.run_ids(ec2, 3)
    for iid in ids:
        helpers.wait_state(ec2, iid, "running")
        helpers.wait_applied(ec2, iid)
    optional, required, tokens = ids
    ec2.modify_instance_metadata_options(InstanceId=required, HttpTokens="required")
    helpers.wait_applied(ec2, required)
    out = {"optional": optional, "required": required, "tokens": tokens}
    out["optional_minute"] = burst(endpoint_of(server, optional), 3)
    out["required_minute"] = burst(endpoint_of(server, required), 2, expect=401)
    addr = endpoint_of(server, tokens)
    out["tokens_minute"] = burst(addr, 2, token(addr))
    return out


def stats(server, iid, metric, at, period=60, statistics=("Sum",), **kw):
    if statistics:
        kw["Statistics"] = list(statistics)
    return cloudwatch(server).get_metric_statistics(
        Namespace="AWS/EC2", MetricName=metric,
        Dimensions=[{"Name": "InstanceId", "Value": iid}],
        StartTime=at, EndTime=at + datetime.timedelta(seconds=period), Period=period, **kw)


def test_boto3_speaks_aws_json_and_gets_the_tokenless_calls(server, fleet):
    """Cases 1 and 3: botocore sends AWS JSON 1.0 (its target, content type and query-mode
    header, signed for `monitoring`) and gets 3 tokenless calls of one minute back."""
    cw = cloudwatch(server)
    seen = {}
    cw.meta.events.register("before-send.cloudwatch", lambda request, **_: seen.update(
        {k.lower(): v for k, v in request.headers.items()}))
    at = fleet["optional_minute"]
    out = cw.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="MetadataNoToken",
        Dimensions=[{"Name": "InstanceId", "Value": fleet["optional"]}],
        StartTime=at, EndTime=at + datetime.timedelta(minutes=1), Period=60,
        Statistics=["Sum"])
    assert seen["x-amz-target"] == b"GraniteServiceVersion20100801.GetMetricStatistics"
    assert seen["content-type"] == b"application/x-amz-json-1.0"
    assert b"/monitoring/aws4_request" in seen["authorization"]
    assert out["Label"] == "MetadataNoToken"
    assert [(d["Timestamp"], d["Sum"], d["Unit"]) for d in out["Datapoints"]] == [(at, 3.0, "Count")]


def test_five_statistics_of_one_minute(server, fleet):
    """Case 4: one sample a minute: SampleCount 1, and Sum = Average = Minimum = Maximum."""
    out = stats(server, fleet["optional"], "MetadataNoToken", fleet["optional_minute"],
                statistics=("SampleCount", "Average", "Sum", "Minimum", "Maximum"))
    [d] = out["Datapoints"]
    assert {k: d[k] for k in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")} == {
        "SampleCount": 1.0, "Average": 3.0, "Sum": 3.0, "Minimum": 3.0, "Maximum": 3.0}


def test_refused_tokenless_calls_count_as_rejected(server, fleet):
    """Cases 5 and 6."""
    at = fleet["required_minute"]
    assert [d["Sum"] for d in stats(server, fleet["required"], "MetadataNoTokenRejected", at)[
        "Datapoints"]] == [2.0]
    assert all(d["Sum"] == 0 for d in stats(server, fleet["required"], "MetadataNoToken", at)[
        "Datapoints"])
    at = fleet["tokens_minute"]
    assert stats(server, fleet["tokens"], "MetadataNoTokenRejected", at)["Datapoints"] == []
    assert all(d["Sum"] == 0 for d in stats(server, fleet["tokens"], "MetadataNoToken", at)[
        "Datapoints"])


def test_what_matches_nothing_answers_no_datapoints(server, fleet):
    """Cases 7, 8 and 15: an unknown instance, a namespace in another case, another unit."""
    at = fleet["optional_minute"]
    out = stats(server, "i-0000000000000dead", "MetadataNoToken", at)
    assert (out["Label"], out["Datapoints"]) == ("MetadataNoToken", [])
    out = cloudwatch(server).get_metric_statistics(
        Namespace="aws/ec2", MetricName="MetadataNoToken",
        Dimensions=[{"Name": "InstanceId", "Value": fleet["optional"]}],
        StartTime=at, EndTime=at + datetime.timedelta(minutes=1), Period=60, Statistics=["Sum"])
    assert out["Datapoints"] == []
    assert stats(server, fleet["optional"], "MetadataNoToken", at, Unit="Seconds")[
        "Datapoints"] == []


def test_the_account_aggregate_without_dimensions(server, fleet):
    """Without dimensions: every instance's samples of the account and Region (UNCONFIRMED
    that AWS publishes it for these metrics; the issue asks for it)."""
    at = fleet["optional_minute"]
    out = cloudwatch(server).get_metric_statistics(
        Namespace="AWS/EC2", MetricName="MetadataNoToken",
        StartTime=at - datetime.timedelta(minutes=5), EndTime=at + datetime.timedelta(minutes=5),
        Period=600, Statistics=["Sum"])
    assert sum(d["Sum"] for d in out["Datapoints"]) >= 3.0


def test_window_errors_over_json(server):
    """Cases 9, 10, 11, 13, 14 through boto3: codes from `x-amzn-query-error`."""
    cw = cloudwatch(server)
    now = datetime.datetime.now(UTC).replace(second=0, microsecond=0)
    base = dict(Namespace="AWS/EC2", MetricName="MetadataNoToken")

    def error(**kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.get_metric_statistics(**{**base, **kw})
        return (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"],
                e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value)

    code, msg, status, _ = error(StartTime=now, EndTime=now, Period=60, Statistics=["Sum"])
    assert (code, msg, status) == ("InvalidParameterValue",
                                   "The parameter StartTime must be less than the parameter EndTime.", 400)
    day = dict(StartTime=now - datetime.timedelta(days=1), EndTime=now)
    code, msg, status, exc = error(Period=1, Statistics=["Sum"], **day)
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert msg == ("You have requested up to 86400 datapoints, which exceeds the limit of 1440. "
                   "You may reduce the datapoints requested by increasing Period, or decreasing the time range.")
    assert isinstance(exc, cw.exceptions.InvalidParameterCombinationException)
    assert "Datapoints" in cw.get_metric_statistics(**base, Period=60, Statistics=["Sum"], **day)
    code, _, _, _ = error(Period=60, **day)
    assert code == "InvalidParameterCombination"
    assert error(Period=60, Statistics=["Sum"], ExtendedStatistics=["p90"], **day)[0] == \
        "InvalidParameterCombination"


def test_query_protocol_answers_and_errors(server, fleet):
    """Cases 2, 12, 13, 22 (Query side): XML in CloudWatch's namespace, ISO timestamps."""
    at = fleet["optional_minute"]
    status, headers, body = query(server, {
        "Action": "GetMetricStatistics", "Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
        "Dimensions.member.1.Name": "InstanceId", "Dimensions.member.1.Value": fleet["optional"],
        "StartTime": iso(at), "EndTime": iso(at + datetime.timedelta(minutes=1)), "Period": "60",
        "Statistics.member.1": "Sum"})
    assert status == 200 and headers["content-type"].startswith("text/xml"), body
    root = ET.fromstring(body)
    assert root.tag == f"{NS}GetMetricStatisticsResponse"
    result = root.find(f"{NS}GetMetricStatisticsResult")
    assert result.findtext(f"{NS}Label") == "MetadataNoToken"
    [point] = result.findall(f"{NS}Datapoints/{NS}member")
    assert [c.tag[len(NS):] for c in point] == ["Timestamp", "Sum", "Unit"]
    assert point.findtext(f"{NS}Timestamp") == iso(at)
    assert float(point.findtext(f"{NS}Sum")) == 3.0
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
    # Errors: the plain Query envelope, `Sender`.
    now = datetime.datetime.now(UTC).replace(second=0, microsecond=0)
    status, _, body = query(server, {
        "Action": "GetMetricStatistics", "Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
        "StartTime": iso(now - datetime.timedelta(days=1)), "EndTime": iso(now), "Period": "1",
        "Statistics.member.1": "Sum"})
    root = ET.fromstring(body)
    assert status == 400 and root.tag == f"{NS}ErrorResponse", body
    assert root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    assert root.findtext(f"{NS}Error/{NS}Code") == "InvalidParameterCombination"
    assert root.findtext(f"{NS}RequestId")
    status, _, body = query(server, {
        "Action": "GetMetricStatistics", "Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
        "StartTime": iso(now - datetime.timedelta(hours=1)), "EndTime": iso(now), "Period": "60",
        "Statistics.member.1": "Median"})
    assert status == 400
    assert ET.fromstring(body).findtext(f"{NS}Error/{NS}Code") == "InvalidParameterValue"
    assert b"Statistics.member.1 must be a value in the set" in body


def test_json_timestamps_are_numbers(server, fleet):
    """Case 22 (JSON side), read off the wire."""
    cw = cloudwatch(server)
    raw = {}
    cw.meta.events.register("after-call.cloudwatch", lambda http_response, **_: raw.update(
        body=http_response.content, headers=dict(http_response.headers)))
    stats_via(cw, fleet)
    doc = json.loads(raw["body"])
    assert isinstance(doc["Datapoints"][0]["Timestamp"], float), doc
    headers = {k.lower(): v for k, v in raw["headers"].items()}
    assert headers["content-type"] == "application/x-amz-json-1.0"


def stats_via(cw, fleet):
    at = fleet["optional_minute"]
    return cw.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="MetadataNoToken",
        Dimensions=[{"Name": "InstanceId", "Value": fleet["optional"]}],
        StartTime=at, EndTime=at + datetime.timedelta(minutes=1), Period=60, Statistics=["Sum"])


def test_start_time_rounds_down_to_the_minute(server, fleet):
    """Case 16: a StartTime 30 s into the minute of the data still finds it, at the minute."""
    at = fleet["optional_minute"]
    out = cloudwatch(server).get_metric_statistics(
        Namespace="AWS/EC2", MetricName="MetadataNoToken",
        Dimensions=[{"Name": "InstanceId", "Value": fleet["optional"]}],
        StartTime=at + datetime.timedelta(seconds=30), EndTime=at + datetime.timedelta(seconds=90),
        Period=60, Statistics=["Sum"])
    assert [(d["Timestamp"], d["Sum"]) for d in out["Datapoints"]] == [(at, 3.0)]


def test_list_metrics(server, fleet):
    """Cases 17 and 18."""
    cw = cloudwatch(server)
    out = cw.list_metrics(Namespace="AWS/EC2", MetricName="MetadataNoToken")
    dims = {m["Dimensions"][0]["Value"]: m["Dimensions"] for m in out["Metrics"]}
    assert {fleet["optional"], fleet["required"], fleet["tokens"]} <= set(dims)
    assert all(len(d) == 1 and d[0]["Name"] == "InstanceId" for d in dims.values())
    assert "NextToken" not in out
    rejected = cw.list_metrics(Namespace="AWS/EC2", MetricName="MetadataNoTokenRejected")
    assert [m["Dimensions"][0]["Value"] for m in rejected["Metrics"]] == [fleet["required"]]
    only = cw.list_metrics(Dimensions=[{"Name": "InstanceId", "Value": fleet["optional"]}])
    assert {(m["MetricName"], m["Dimensions"][0]["Value"]) for m in only["Metrics"]} == {
        ("MetadataNoToken", fleet["optional"])}


def test_get_metric_data(server, fleet):
    """Cases 19, 20, 21."""
    cw = cloudwatch(server)
    at = fleet["optional_minute"]
    q = {"Id": "m1", "MetricStat": {"Metric": {
        "Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
        "Dimensions": [{"Name": "InstanceId", "Value": fleet["optional"]}]},
        "Period": 60, "Stat": "Sum"}}
    window = dict(StartTime=at - datetime.timedelta(minutes=2), EndTime=at + datetime.timedelta(minutes=3))
    [r] = cw.get_metric_data(MetricDataQueries=[q], **window)["MetricDataResults"]
    assert (r["Id"], r["StatusCode"], r["Label"]) == ("m1", "Complete", "MetadataNoToken")
    assert len(r["Timestamps"]) == len(r["Values"]) >= 1
    assert r["Timestamps"] == sorted(r["Timestamps"], reverse=True)
    assert dict(zip(r["Timestamps"], r["Values"]))[at] == 3.0
    [up] = cw.get_metric_data(MetricDataQueries=[q], ScanBy="TimestampAscending", **window)[
        "MetricDataResults"]
    assert up["Timestamps"] == sorted(r["Timestamps"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data(MetricDataQueries=[{"Id": "m1"}], **window)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "MetricDataQueries.member.1.MetricStat is required" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data(MetricDataQueries=[q], StartTime=at, EndTime=at)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert e.value.response["Error"]["Message"].startswith(
        "The parameter StartTime must not equal parameter EndTime.")


@pytest.mark.cli
def test_aws_cli_get_metric_statistics_equals_the_services_own_counts(server, fleet):
    """The aws CLI, unmodified; its figure over a window holding every call equals the
    metadata service's own count of the instance (`/metrics`)."""
    at = fleet["optional_minute"]
    cmd = [helpers.AWS_CLI, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2",
           "--metric-name", "MetadataNoToken",
           "--dimensions", f"Name=InstanceId,Value={fleet['optional']}",
           "--start-time", iso(at - datetime.timedelta(hours=1)),
           "--end-time", iso(at + datetime.timedelta(hours=1)),
           "--period", "3600", "--statistics", "Sum",
           "--endpoint-url", server.endpoint, "--region", REGION, "--output", "json"]
    proc = subprocess.run(cmd, env=helpers.cli_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc
    out = json.loads(proc.stdout)
    total = sum(d["Sum"] for d in out["Datapoints"])
    with urllib.request.urlopen(f"{server.endpoint}/metrics", timeout=30) as r:
        text = r.read().decode()
    own = [line for line in text.splitlines()
           if line.startswith("imds_metadata_no_token_total") and fleet["optional"] in line]
    assert own and float(own[0].rsplit(" ", 1)[1]) == total == 3.0, (own, out)


@pytest.fixture(scope="module")
def iam_srv(tmp_path_factory):
    acct = Acct(helpers.ACCOUNT, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    srv = iam_server(tmp_path_factory.mktemp("cw-iam"), [acct])
    try:
        yield srv, acct
    finally:
        srv.stop()


def test_reads_need_cloudwatch_permissions(iam_srv):
    """Case 23: a user without `cloudwatch:GetMetricStatistics` is refused (403 AccessDenied);
    one allowed it on `*` is answered."""
    srv, acct = iam_srv
    iam = boto3.client("iam", endpoint_url=srv.endpoint, region_name=REGION,
                       aws_access_key_id=acct.key, aws_secret_access_key=acct.secret)
    now = datetime.datetime.now(UTC).replace(second=0, microsecond=0)
    call = dict(Namespace="AWS/EC2", MetricName="MetadataNoToken", StartTime=now - datetime.timedelta(hours=1),
                EndTime=now, Period=60, Statistics=["Sum"])
    for name, allowed in (("cw-none", False), ("cw-reader", True)):
        policies = ([{"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
            "Resource": "*"}]}] if allowed else [])
        _, key = make_user(iam, name, policies)
        cw = boto3.client("cloudwatch", endpoint_url=srv.endpoint, region_name=REGION,
                          aws_access_key_id=key.key, aws_secret_access_key=key.secret,
                          config=Config(retries={"total_max_attempts": 1}))
        if allowed:
            helpers.wait_until(lambda cw=cw: "Datapoints" in cw.get_metric_statistics(**call), 5)
            assert "Metrics" in cw.list_metrics()
        else:
            with pytest.raises(botocore.exceptions.ClientError) as e:
                cw.get_metric_statistics(**call)
            err = e.value.response
            assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
            assert "cloudwatch:GetMetricStatistics" in err["Error"]["Message"]


def test_percentiles(server, fleet):
    """ExtendedStatistics (percentiles over the period's samples) through JSON and Query, and a
    percentile `Stat` in GetMetricData."""
    at = fleet["optional_minute"]
    out = stats(server, fleet["optional"], "MetadataNoToken", at, statistics=(),
                ExtendedStatistics=["p50", "p99.9"])
    [d] = out["Datapoints"]
    assert d["ExtendedStatistics"] == {"p50": 3.0, "p99.9": 3.0} and "Sum" not in d, d
    status, _, body = query(server, {
        "Action": "GetMetricStatistics", "Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
        "Dimensions.member.1.Name": "InstanceId", "Dimensions.member.1.Value": fleet["optional"],
        "StartTime": iso(at), "EndTime": iso(at + datetime.timedelta(minutes=1)), "Period": "60",
        "ExtendedStatistics.member.1": "p90"})
    assert status == 200, body
    entry = ET.fromstring(body).find(
        f"{NS}GetMetricStatisticsResult/{NS}Datapoints/{NS}member/{NS}ExtendedStatistics/{NS}entry")
    assert (entry.findtext(f"{NS}key"), float(entry.findtext(f"{NS}value"))) == ("p90", 3.0)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stats(server, fleet["optional"], "MetadataNoToken", at, statistics=(),
              ExtendedStatistics=["tm90"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    q = {"Id": "p", "MetricStat": {"Metric": {
        "Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
        "Dimensions": [{"Name": "InstanceId", "Value": fleet["optional"]}]},
        "Period": 60, "Stat": "p90"}}
    [r] = cloudwatch(server).get_metric_data(
        MetricDataQueries=[q], StartTime=at, EndTime=at + datetime.timedelta(minutes=1))[
        "MetricDataResults"]
    assert r["Values"] == [3.0], r


def test_refusals_at_the_front_door_in_cloudwatchs_words(iam_srv):
    """Spec cases 54 and 55: a Query request signed for `ec2` is SignatureDoesNotMatch (403)
    with Coral's scope message; an unsigned JSON request is MissingAuthenticationToken, the
    `__type` ending MissingAuthenticationTokenException, with x-amzn-query-error."""
    srv, acct = iam_srv
    body = urllib.parse.urlencode({"Action": "ListMetrics", "Version": "2010-08-01"})
    url = srv.endpoint + "/"
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(botocore.credentials.Credentials(acct.key, acct.secret), "ec2", REGION).add_auth(req)
    r = urllib.request.Request(url, data=body.encode(), headers=dict(req.headers.items()),
                               method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=30)
    root = ET.fromstring(e.value.read())
    assert e.value.code == 403 and root.tag == f"{NS}ErrorResponse"
    assert root.findtext(f"{NS}Error/{NS}Code") == "SignatureDoesNotMatch"
    assert root.findtext(f"{NS}Error/{NS}Message") == \
        "Credential should be scoped to correct service: 'monitoring'. "
    unsigned = urllib.request.Request(url, data=b"{}", method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(unsigned, timeout=30)
    doc = json.loads(e.value.read())
    assert 400 <= e.value.code < 500
    assert doc["__type"].endswith("#MissingAuthenticationTokenException"), doc
    assert doc["message"] == "Request is missing Authentication Token"
    assert e.value.headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"
