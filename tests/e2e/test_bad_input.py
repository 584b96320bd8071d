"""Bad input of every kind. Every answer is a well-formed EC2 error envelope with a 4xx
status (never 5xx, never a dropped connection), the server keeps answering, and a bad
request changes nothing."""
from __future__ import annotations

import random
import string

import pytest

from helpers import (
    AMI_AL2, REGION, describe_ids, ec2_error, expect_raw_error, raw, running_instance,
    settle, stopped_instance, store_unchanged,
)


@pytest.fixture(scope="module")
def target(server):
    """A running and a stopped instance to aim requests at, and the state to compare."""
    ec2 = server.client(REGION)
    t = {"ec2": ec2, "running": running_instance(ec2, tags={"k": "v"}),
         "stopped": stopped_instance(ec2)}
    settle(ec2)
    return t


@pytest.fixture
def unchanged(target):
    """Fails the test if the store changed during it."""
    with store_unchanged(target["ec2"]):
        yield


def assert_4xx_envelope(resp, context="") -> str:
    assert 400 <= resp.status < 500, f"{context}: status {resp.status}: {resp.body[:300]!r}"
    code, _message, _rid = resp.error
    return code


def modify_params(iid, **kw):
    return {"Action": "ModifyInstanceMetadataOptions", "InstanceId": iid, **kw}


# ----------------------------------------------------------------------------- actions


@pytest.mark.parametrize("action", ["Foo", "DescribeInstance", "ModifyInstanceMetadataOptionz",
                                    "RunInstances2", "Describe Instances", "é"])
def test_invalid_action(server, unchanged, action):
    resp = raw(server.endpoint, {"Action": action})
    expect_raw_error(resp, "InvalidAction", 400,
                     f"The action {action} is not valid for this web service.")


def test_missing_action(server, unchanged):
    for params in ({}, {"InstanceId": "i-0123456789abcdef0"}):
        resp = raw(server.endpoint, params)
        expect_raw_error(resp, "MissingAction", 400)
    resp = raw(server.endpoint, None, body=b"")
    expect_raw_error(resp, "MissingAction", 400)
    resp = raw(server.endpoint, None, method="GET")
    expect_raw_error(resp, "MissingAction", 400)


def test_empty_action(server, unchanged):
    resp = raw(server.endpoint, {"Action": ""})
    assert assert_4xx_envelope(resp) in ("MissingAction", "InvalidAction")
    assert resp.status == 400


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("action,extra", [
    ("DescribeInstances", {"Bogus": "1"}),
    ("GetInstanceMetadataDefaults", {"HttpTokens": "required"}),
    ("ModifyInstanceMetadataDefaults", {"HttpProtocolIpv6": "enabled"}),
    ("DescribeImages", {"Foo": "bar"}),
])
def test_unknown_parameter(server, unchanged, action, extra):
    resp = raw(server.endpoint, {"Action": action, **extra})
    name = next(iter(extra))
    expect_raw_error(resp, "UnknownParameter", 400, f"The parameter {name} is not recognized")


def test_unknown_nested_parameters(server, target, unchanged):
    for params in (
        {"Action": "RunInstances", "ImageId": AMI_AL2, "InstanceType": "t3.micro",
         "MinCount": "1", "MaxCount": "1", "MetadataOptions.State": "applied"},
        {"Action": "RunInstances", "ImageId": AMI_AL2, "InstanceType": "t3.micro",
         "MinCount": "1", "MaxCount": "1", "MetadataOptions.HttpTokensEnforced": "enabled"},
        {"Action": "DescribeInstances", "Filter.1.Name": "instance-type",
         "Filter.1.Value.1": "t3.micro", "Filter.1.Bogus": "x"},
        {"Action": "DescribeInstances", "Filter.0.Name": "instance-type",
         "Filter.0.Value.1": "t3.micro"},
        {"Action": "DescribeInstances", "InstanceId.0": target["running"]},
    ):
        resp = raw(server.endpoint, params)
        expect_raw_error(resp, "UnknownParameter", 400)


@pytest.mark.parametrize("bad_id", ["i-123", "i-0123456789ABCDEF0", "i-0123456789abcdef00",
                                    "i-0123456789abcdefg", "instance", "ami-0abcdef1234567890",
                                    "i_0123456789abcdef0"])
def test_malformed_instance_ids(target, unchanged, bad_id):
    ec2 = target["ec2"]
    with ec2_error("InvalidInstanceID.Malformed", 400, f'Invalid id: "{bad_id}"'):
        ec2.modify_instance_metadata_options(InstanceId=bad_id, HttpTokens="required")
    with ec2_error("InvalidInstanceID.Malformed", 400, f'Invalid id: "{bad_id}"'):
        ec2.describe_instances(InstanceIds=[bad_id])


def test_eight_hex_ids_are_well_formed(target):
    with ec2_error("InvalidInstanceID.NotFound", 400,
                   "The instance ID 'i-1a2b3c4d' does not exist"):
        target["ec2"].modify_instance_metadata_options(InstanceId="i-1a2b3c4d",
                                                       HttpTokens="required")


@pytest.mark.parametrize("param,value", [
    ("HttpPutResponseHopLimit", "abc"),
    ("HttpPutResponseHopLimit", "1.5"),
    ("HttpPutResponseHopLimit", ""),
    ("HttpPutResponseHopLimit", "99999999999999999999999"),
    ("HttpPutResponseHopLimit", "-1"),
    ("HttpPutResponseHopLimit", "0x10"),
    ("DryRun", "maybe"),
    ("DryRun", "1"),
    ("DryRun", ""),
    ("HttpTokens", "Required"),
    ("HttpTokens", "optional "),
    ("HttpEndpoint", "ENABLED"),
    ("HttpProtocolIpv6", "true"),
    ("InstanceMetadataTags", "on"),
])
def test_wrong_types_and_values_on_modify(server, target, unchanged, param, value):
    resp = raw(server.endpoint, modify_params(target["running"], **{param: value}))
    expect_raw_error(resp, "InvalidParameterValue", 400)


@pytest.mark.parametrize("extra", [
    {"MaxCount": "-1", "MinCount": "1"},
    {"MaxCount": "0", "MinCount": "0"},
    {"MaxCount": "abc", "MinCount": "1"},
    {"MaxCount": "1", "MinCount": "x"},
    {"MaxCount": "1", "MinCount": "1", "MetadataOptions.HttpPutResponseHopLimit": "abc"},
    {"MaxCount": "1", "MinCount": "1", "MetadataOptions.HttpTokens": "REQUIRED"},
    {"MaxCount": "1", "MinCount": "1", "DryRun": "maybe"},
])
def test_wrong_types_on_run_instances(server, unchanged, extra):
    resp = raw(server.endpoint, {"Action": "RunInstances", "ImageId": AMI_AL2,
                                 "InstanceType": "t3.micro", **extra})
    expect_raw_error(resp, "InvalidParameterValue", 400)


def test_run_instances_missing_counts(server, unchanged):
    resp = raw(server.endpoint, {"Action": "RunInstances", "ImageId": AMI_AL2,
                                 "InstanceType": "t3.micro"})
    expect_raw_error(resp, "MissingParameter", 400)


def test_min_count_above_max_count(target, unchanged):
    ec2 = target["ec2"]
    with pytest.raises(Exception) as e:
        ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=3, MaxCount=2)
    resp = e.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    # EC2's own wording is not pinned down; either code is an honest answer.
    assert resp["Error"]["Code"] in ("InvalidParameterValue", "InvalidParameterCombination")


def test_unknown_instance_type(target, unchanged):
    with ec2_error("InvalidParameterValue", 400):
        target["ec2"].run_instances(ImageId=AMI_AL2, InstanceType="x9.mega", MinCount=1,
                                    MaxCount=1)


def test_describe_instances_bad_max_results(server, unchanged):
    for value in ("ten", "", "5.0"):
        resp = raw(server.endpoint, {"Action": "DescribeInstances", "MaxResults": value})
        expect_raw_error(resp, "InvalidParameterValue", 400)


# ----------------------------------------------------------------------------- bodies


def test_huge_parameter_value(server, target, unchanged):
    resp = raw(server.endpoint, modify_params(target["running"], HttpTokens="r" * 1_000_000))
    assert_4xx_envelope(resp, "1 MB value")


def test_huge_body(server, unchanged):
    body = b"Action=DescribeInstances&Version=2016-11-15&Junk=" + b"a" * (12 * 1024 * 1024)
    resp = raw(server.endpoint, None, body=body, sign_request=False, timeout=120)
    assert_4xx_envelope(resp, "12 MB body")


def test_many_parameters(server, unchanged):
    body = "Action=DescribeInstances&Version=2016-11-15&" + "&".join(
        f"X{n}=1" for n in range(50_000))
    resp = raw(server.endpoint, None, body=body.encode(), sign_request=False)
    assert_4xx_envelope(resp, "50k parameters")


@pytest.mark.parametrize("body", [
    b"Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:k&Filter.1.Value.1=\xff\xfe",
    b"Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:k&Filter.1.Value.1=%FF%FE",
    b"Action=DescribeInstances&Version=2016-11-15&\xc3\x28=1",
    b"Action=Describe\xffInstances&Version=2016-11-15",
    b"Action=ModifyInstanceMetadataOptions&Version=2016-11-15&InstanceId=i-%E9&HttpTokens=required",
    b"\x00\x01\x02\x03",
])
def test_non_utf8_bodies(server, unchanged, body):
    resp = raw(server.endpoint, None, body=body)
    assert_4xx_envelope(resp, repr(body))
    assert resp.status == 400


def test_json_body(server, unchanged):
    resp = raw(server.endpoint, None, body=b'{"Action": "DescribeInstances"}',
               headers={"Content-Type": "application/json"})
    assert_4xx_envelope(resp, "JSON body")


def test_bad_percent_encoding(server, target, unchanged):
    body = (f"Action=ModifyInstanceMetadataOptions&Version=2016-11-15"
            f"&InstanceId={target['running']}&HttpTokens=requ%zzired").encode()
    resp = raw(server.endpoint, None, body=body)
    assert_4xx_envelope(resp, "bad percent-encoding")


# ----------------------------------------------------------------------------- fuzz

ACTIONS = {
    "ModifyInstanceMetadataOptions": {
        "InstanceId": "id", "HttpTokens": ("optional", "required"),
        "HttpPutResponseHopLimit": "hop", "HttpEndpoint": ("enabled", "disabled"),
        "HttpProtocolIpv6": ("enabled", "disabled"),
        "InstanceMetadataTags": ("enabled", "disabled"), "DryRun": "bool"},
    "RunInstances": {
        "ImageId": "ami", "InstanceType": ("t3.micro", "m5.large"), "MinCount": "count",
        "MaxCount": "count", "MetadataOptions.HttpTokens": ("optional", "required"),
        "MetadataOptions.HttpPutResponseHopLimit": "hop",
        "MetadataOptions.HttpEndpoint": ("enabled", "disabled"), "DryRun": "bool"},
    "DescribeInstances": {
        "InstanceId.1": "id", "MaxResults": "maxresults", "DryRun": "bool",
        "Filter.1.Name": ("instance-type", "metadata-options.http-tokens")},
    "ModifyInstanceMetadataDefaults": {
        "HttpTokens": ("optional", "required", "no-preference"),
        "HttpPutResponseHopLimit": "hop", "HttpEndpoint": ("enabled", "disabled"),
        "InstanceMetadataTags": ("enabled", "disabled"),
        "HttpTokensEnforced": ("enabled", "disabled"), "DryRun": "bool"},
    "StopInstances": {"InstanceId.1": "id", "DryRun": "bool"},
    "TerminateInstances": {"InstanceId.1": "id", "DryRun": "bool"},
    "CreateTags": {"ResourceId.1": "id", "Tag.1.Key": "free:a", "Tag.1.Value": "free:b",
                   "DryRun": "bool"},
    "RegisterImage": {"Name": "free:fuzz", "ImdsSupport": ("v2.0",), "DryRun": "bool"},
    "ModifyImageAttribute": {"ImageId": "ami", "ImdsSupport.Value": ("v2.0",), "DryRun": "bool"},
    "CreateLaunchTemplate": {"LaunchTemplateName": "free:fuzz",
                             "LaunchTemplateData.MetadataOptions.HttpTokens": ("required",),
                             "DryRun": "bool"},
    # What Terraform's provider calls around an instance (issue 5).
    "ModifyInstanceAttribute": {"InstanceId": "id", "DisableApiStop.Value": "bool",
                                "DryRun": "bool"},
    "DescribeInstanceAttribute": {"InstanceId": "id",
                                  "Attribute": ("userData", "disableApiStop"), "DryRun": "bool"},
    "ModifyInstanceCreditSpecification": {
        "InstanceCreditSpecification.1.InstanceId": "free:i-0123456789abcdef9",
        "InstanceCreditSpecification.1.CpuCredits": ("standard", "unlimited"), "DryRun": "bool"},
    "DescribeInstanceTypes": {"InstanceType.1": ("t3.micro", "m5.large"),
                              "MaxResults": "maxresults", "DryRun": "bool"},
    "DescribeVolumes": {"Filter.1.Name": ("volume-id", "attachment.instance-id"),
                        "MaxResults": "maxresults", "DryRun": "bool"},
    "DescribeSubnets": {"Filter.1.Name": ("vpc-id", "default-for-az"),
                        "MaxResults": "maxresults", "DryRun": "bool"},
}
# "free:x" marks a free-form string (any value is valid): never used as the bad parameter.


def _junk(rng, n=None) -> str:
    alphabet = string.ascii_letters + string.digits + "-_.:/ +=&%*?'\"<>\\\t\n" + "éü€\u0000"
    return "".join(rng.choice(alphabet) for _ in range(n if n is not None else rng.randint(0, 40)))


def _bad_value(rng, kind) -> str:
    if kind == "id":
        return rng.choice(["i-", "i-xyz", "i-" + "g" * 17, "I-0123456789ABCDEF0",
                           "i-" + "0" * 30, "vol-0123456789abcdef0", _junk(rng, 5) + "!"])
    if kind == "ami":
        return rng.choice(["ami-", "ami-XYZ", "ami-" + "z" * 17, "i-0123456789abcdef0", "!"])
    if kind in ("hop", "count", "maxresults"):
        return rng.choice(["abc", "1.5", "", "0x1", "9" * 40, "--1", "1e3", _junk(rng, 4) + "!"])
    if kind == "bool":
        return rng.choice(["maybe", "1", "0", "yes", "", "t", "truee"])
    # enum
    return rng.choice([v.upper() for v in kind] + ["", "bogus", kind[0] + " ", _junk(rng, 6) + "!"])


def _good_value(rng, kind, iid) -> str:
    if isinstance(kind, str) and kind.startswith("free:"):
        return kind[5:]
    if kind == "id":
        return iid
    if kind == "ami":
        return AMI_AL2
    if kind == "hop":
        return str(rng.randint(1, 64))
    if kind == "count":
        return "1"
    if kind == "maxresults":
        return "5"
    if kind == "bool":
        return "true"
    return rng.choice(kind)


def fuzz_requests(seed: int, n: int, iid: str):
    """n requests, each guaranteed invalid by construction."""
    rng = random.Random(seed)
    for i in range(n):
        kind = i % 5
        if kind == 0:  # raw garbage bytes, no Action
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
            body = body.replace(b"Action", b"Axtion")
            yield "garbage", None, body
        elif kind == 1:  # unknown action
            action = "X" + _junk(rng, rng.randint(1, 30))
            yield "action", [("Action", action), ("Version", "2016-11-15")], None
        elif kind == 2:  # valid action, an unknown parameter among valid ones
            action = rng.choice(sorted(ACTIONS))
            params = [("Action", action)] + [
                (k, _good_value(rng, v, iid)) for k, v in ACTIONS[action].items()
                if k != "DryRun" and rng.random() < 0.5]
            params.insert(rng.randint(1, len(params)), ("Zq" + _junk(rng, 8).replace("&", "")
                                                        .replace("=", ""), _junk(rng)))
            yield "param", params, None
        elif kind == 3:  # valid action, one known parameter with a value of the wrong kind
            action = rng.choice(sorted(ACTIONS))
            spec = ACTIONS[action]
            bad = rng.choice(sorted(k for k, v in spec.items()
                                    if not (isinstance(v, str) and v.startswith("free:"))))
            params = [("Action", action)]
            for k, v in spec.items():
                if k == bad:
                    params.append((k, _bad_value(rng, v)))
                elif k != "DryRun" and (rng.random() < 0.5 or k in ("MinCount", "MaxCount")):
                    params.append((k, _good_value(rng, v, iid)))
            yield f"value:{action}.{bad}", params, None
        else:  # structural nonsense in the names
            name = rng.choice(["Filter.0.Name", "Filter..Name", "Filter.x.Value.1",
                               "InstanceId.0", "InstanceId.-1", "MetadataOptions.",
                               ".", "MetadataOptions..HttpTokens", "InstanceId.1.2",
                               "Filter.1.Value.0"])
            action = rng.choice(["DescribeInstances", "RunInstances",
                                 "ModifyInstanceMetadataOptions"])
            yield f"struct:{name}", [("Action", action), (name, _junk(rng, 5) or "x")], None


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_fuzz(server, target, unchanged, method):
    codes: dict[str, int] = {}
    for label, params, body in fuzz_requests(seed=20261122 + len(method), n=200,
                                             iid=target["running"]):
        if body is not None and method == "GET":
            continue
        resp = raw(server.endpoint, params, body=body, method=method,
                   sign_request=bool(len(label) % 2))
        code = assert_4xx_envelope(resp, f"{label} {params!r} {body!r}"[:500])
        codes[code] = codes.get(code, 0) + 1
    # The server answered every request and is still answering.
    ok = raw(server.endpoint, {"Action": "DescribeInstances"})
    assert ok.status == 200
    assert codes, "no requests were sent"
    assert "InvalidAction" in codes and "UnknownParameter" in codes
    assert "InvalidParameterValue" in codes


def test_server_still_answers_after_everything(target):
    assert target["running"] in describe_ids(target["ec2"])
