"""The numbered conformance cases of spec/ec2-api.md §9, one test each."""
from __future__ import annotations

import datetime
import hashlib
import uuid

import pytest

from helpers import (
    AMI_AL2, AMI_AL2023, DRY_RUN_MESSAGE, ENFORCED_MESSAGE, NS, OPTION_ELEMENT_ORDER, REGION,
    XEN_IPV6_MESSAGE, BUILTIN_OPTS, assert_options, assert_stays, describe, describe_ids,
    ec2_error, expect_raw_error, instance, local, options, raw, run, run_one, running_instance,
    sign, stopped_instance, wait_applied,
)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def modify(ec2, iid, **kw):
    return ec2.modify_instance_metadata_options(InstanceId=iid, **kw)


# ------------------------------------------------------------------------ 1.x wire / auth


CASE1_BODY = ("Action=ModifyInstanceMetadataOptions&Version=2016-11-15"
              "&InstanceId=i-0123456789abcdef0&HttpTokens=required")
CASE1_HOST = "ec2.us-east-1.amazonaws.com"
CASE1_DATE = datetime.datetime(2026, 1, 15, 12, 0, 0)
CASE1_PAYLOAD_HASH = "21cb6b0ef129ab1c574774bbf2ead839a233686a95452b306c9901a3e8170eb1"
CASE1_SIGNATURE = "9e7759a3f770c401d8ee620ea6dfc0615c91ca452eb13b1a36b3901f76e3b5e5"


def test_case_1_sigv4_vector(server):
    # The vector itself (verified byte for byte by a Rust unit test) agrees with botocore.
    assert hashlib.sha256(CASE1_BODY.encode()).hexdigest() == CASE1_PAYLOAD_HASH
    ctype = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    _, headers = sign("POST", f"https://{CASE1_HOST}/", ctype, CASE1_BODY.encode(),
                      "us-east-1", when=CASE1_DATE)
    assert headers["X-Amz-Date"] == "20260115T120000Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260115/us-east-1/ec2/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={CASE1_SIGNATURE}")

    # That exact request on the wire (Host header of the vector) is answered: the only
    # possible objection is the clock (the server checks skew, §1.2), otherwise the
    # well-formed but absent instance.
    resp = raw(server.endpoint, body=CASE1_BODY, sign_request=False, headers=headers,
               host=CASE1_HOST)
    if abs(utcnow() - CASE1_DATE) > datetime.timedelta(minutes=15):
        expect_raw_error(resp, "RequestExpired", 400, "Request has expired.")
    else:
        expect_raw_error(resp, "InvalidInstanceID.NotFound", 400)

    # The same request signed now (same host, same body) gets past authentication.
    _, headers_now = sign("POST", f"https://{CASE1_HOST}/", ctype, CASE1_BODY.encode(),
                          "us-east-1")
    resp = raw(server.endpoint, body=CASE1_BODY, sign_request=False, headers=headers_now,
               host=CASE1_HOST)
    expect_raw_error(resp, "InvalidInstanceID.NotFound", 400,
                     "The instance ID 'i-0123456789abcdef0' does not exist")


def test_case_2_request_expired(server):
    params = {"Action": "DescribeInstances"}
    old = raw(server.endpoint, params, when=utcnow() - datetime.timedelta(minutes=20))
    expect_raw_error(old, "RequestExpired", 400, "Request has expired.")
    future = raw(server.endpoint, params, when=utcnow() + datetime.timedelta(minutes=20))
    expect_raw_error(future, "RequestExpired", 400, "Request has expired.")
    # Within the 15-minute window the same request is fine.
    recent = raw(server.endpoint, params, when=utcnow() - datetime.timedelta(minutes=10))
    assert recent.status == 200, recent
    assert local(recent.xml.tag) == "DescribeInstancesResponse"


IAM_ACCOUNT = "111122223333"
IAM_ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
IAM_ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def iam_config(tmp_path, scps: dict[str, str] | None = None):
    """An --iam-config file (the format of the IAM issue) with one account whose root key is
    IAM_ROOT_KEY, and the given SCP documents."""
    lines = ["[[accounts]]", f'id = "{IAM_ACCOUNT}"',
             f'root_access_key_id = "{IAM_ROOT_KEY}"',
             f'root_secret_access_key = "{IAM_ROOT_SECRET}"']
    names = []
    for name, doc in (scps or {}).items():
        (tmp_path / name).write_text(doc)
        names.append(f'"{name}"')
    lines.append(f"scps = [{', '.join(names)}]")
    path = tmp_path / "iam.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_case_3_unknown_access_key_auth_failure(server_factory, tmp_path):
    srv = server_factory(extra_args=["--iam-config", str(iam_config(tmp_path))])
    # AKIDEXAMPLE is not a key of any configured account.
    resp = srv.raw({"Action": "DescribeInstances"})
    expect_raw_error(resp, "AuthFailure", 401)


def test_case_4_invalid_action(server):
    resp = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptionz",
                                 "InstanceId": "i-0123456789abcdef0"})
    expect_raw_error(resp, "InvalidAction", 400,
                     "The action ModifyInstanceMetadataOptionz is not valid for this web service.")


def test_case_5_missing_instance_id(server):
    msg = "The request must contain the parameter InstanceId"
    absent = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions",
                                   "HttpTokens": "required"})
    expect_raw_error(absent, "MissingParameter", 400, msg)
    empty = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions", "InstanceId": "",
                                  "HttpTokens": "required"})
    expect_raw_error(empty, "MissingParameter", 400, msg)


def test_case_6_malformed_instance_id(ec2):
    with ec2_error("InvalidInstanceID.Malformed", 400, 'Invalid id: "foo"'):
        modify(ec2, "foo", HttpTokens="required")


def test_case_7_unknown_instance_id(ec2):
    with ec2_error("InvalidInstanceID.NotFound", 400,
                   "The instance ID 'i-0123456789abcdef9' does not exist"):
        modify(ec2, "i-0123456789abcdef9", HttpTokens="required")


def test_case_8_enum_is_case_sensitive(ec2):
    iid = running_instance(ec2)
    before = options(ec2, iid)
    with ec2_error("InvalidParameterValue", 400,
                   "A value of 'REQUIRED' is not valid for HttpTokens. "
                   "Specify either 'optional' or 'required' and try again."):
        modify(ec2, iid, HttpTokens="REQUIRED")
    assert options(ec2, iid) == before


def _assert_hop_rejected(ec2, hop):
    iid = running_instance(ec2)
    before = options(ec2, iid)
    with ec2_error("InvalidParameterValue", 400):
        modify(ec2, iid, HttpPutResponseHopLimit=hop)
    assert options(ec2, iid) == before
    assert before["HttpPutResponseHopLimit"] == 1


def test_case_9_hop_limit_0(ec2):
    _assert_hop_rejected(ec2, 0)


def test_case_10_hop_limit_65(ec2):
    _assert_hop_rejected(ec2, 65)


def test_case_11_hop_limit_64(ec2):
    iid = running_instance(ec2)
    resp = modify(ec2, iid, HttpPutResponseHopLimit=64)
    assert resp["InstanceId"] == iid
    assert_options(resp["InstanceMetadataOptions"], State="pending", HttpPutResponseHopLimit=64)
    after = wait_applied(ec2, iid)
    assert after["HttpPutResponseHopLimit"] == 64


def test_case_12_tokens_required_only(ec2):
    iid = running_instance(ec2)
    assert_options(options(ec2, iid), State="applied", **BUILTIN_OPTS)
    resp = modify(ec2, iid, HttpTokens="required")
    assert resp["InstanceId"] == iid
    assert resp["InstanceMetadataOptions"] == {
        "State": "pending",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }


def test_case_13_hop_only_keeps_tokens(ec2):
    iid = running_instance(ec2)
    modify(ec2, iid, HttpTokens="required")
    resp = modify(ec2, iid, HttpPutResponseHopLimit=3)
    assert resp["InstanceMetadataOptions"] == {
        "State": "pending",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 3,
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }
    applied = wait_applied(ec2, iid)
    assert_options(applied, HttpTokens="required", HttpPutResponseHopLimit=3)


def test_case_14_pending_then_applied(server_factory):
    # A server with a long apply delay so that "immediately" is unambiguous.
    srv = server_factory(apply_delay="2000ms")
    ec2 = srv.client(REGION)
    iid = running_instance(ec2)
    modify(ec2, iid, HttpTokens="required")
    now = options(ec2, iid)
    assert now["State"] == "pending", now
    assert now["HttpTokens"] == "required", "DescribeInstances shows the new values at once"
    applied = wait_applied(ec2, iid, timeout=15)
    assert_options(applied, State="applied", HttpTokens="required", HttpPutResponseHopLimit=1,
                   HttpEndpoint="enabled")


def test_case_15_modify_stopped_instance(ec2):
    iid = stopped_instance(ec2)
    resp = modify(ec2, iid, HttpTokens="required", HttpPutResponseHopLimit=2)
    assert_options(resp["InstanceMetadataOptions"], State="pending", HttpTokens="required",
                   HttpPutResponseHopLimit=2)
    inst = instance(ec2, iid)
    assert inst["State"]["Name"] == "stopped"
    assert_options(inst["MetadataOptions"], State="pending", HttpTokens="required",
                   HttpPutResponseHopLimit=2)
    # A stopped instance keeps `pending` (and stays stopped) until it is started.
    assert_stays(lambda: (lambda i: i["State"]["Name"] == "stopped"
                          and i["MetadataOptions"]["State"] == "pending")(instance(ec2, iid)),
                 duration=1.0, desc="stopped + pending")


def test_case_16_dry_run_allowed(ec2):
    iid = running_instance(ec2)
    before = options(ec2, iid)
    with ec2_error("DryRunOperation", 412, DRY_RUN_MESSAGE):
        modify(ec2, iid, HttpTokens="required", DryRun=True)
    assert_stays(lambda: options(ec2, iid) == before, duration=0.6, desc="options unchanged")


@pytest.mark.needs_iam
def test_case_17_dry_run_denied(server_factory, tmp_path):
    deny = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", '
            '"Resource": "*"}, {"Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions", '
            '"Resource": "*"}]}')
    srv = server_factory(extra_args=["--iam-config", str(iam_config(tmp_path, {"deny.json": deny}))])
    import boto3
    from botocore.config import Config
    ec2 = boto3.session.Session(aws_access_key_id=IAM_ROOT_KEY, aws_secret_access_key=IAM_ROOT_SECRET,
                                region_name=REGION).client(
        "ec2", endpoint_url=srv.endpoint, config=Config(retries={"total_max_attempts": 1}))
    iid = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1,
                            MaxCount=1)["Instances"][0]["InstanceId"]
    # Settled first: a launch's own options go pending → applied by themselves, which a slow
    # machine could otherwise catch between the two reads.
    wait_applied(ec2, iid, timeout=30)
    before = options(ec2, iid)
    with ec2_error("UnauthorizedOperation", 403):
        modify(ec2, iid, HttpTokens="required", DryRun=True)
    assert options(ec2, iid) == before


def test_case_18_dry_run_validates_first(ec2):
    iid = running_instance(ec2)
    before = options(ec2, iid)
    with ec2_error("InvalidParameterValue", 400):
        modify(ec2, iid, HttpPutResponseHopLimit=99, DryRun=True)
    assert options(ec2, iid) == before


def test_case_19_unknown_parameter(server, ec2):
    iid = running_instance(ec2)
    before = options(ec2, iid)
    resp = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions", "InstanceId": iid,
                                 "HttpTokens": "required", "Foo": "bar"})
    expect_raw_error(resp, "UnknownParameter", 400, "The parameter Foo is not recognized")
    assert options(ec2, iid) == before


def test_case_20_http_tokens_enforced_is_not_a_modify_parameter(server, ec2):
    iid = running_instance(ec2)
    before = options(ec2, iid)
    resp = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions", "InstanceId": iid,
                                 "HttpTokensEnforced": "enabled"})
    expect_raw_error(resp, "UnknownParameter", 400,
                     "The parameter HttpTokensEnforced is not recognized")
    assert options(ec2, iid) == before


def test_case_21_enforcement_rejects_optional(fresh_ec2):
    ec2 = fresh_ec2
    iid = running_instance(ec2, metadata={"HttpTokens": "required", "HttpEndpoint": "enabled"})
    assert ec2.modify_instance_metadata_defaults(HttpTokensEnforced="enabled")["Return"] is True
    before = options(ec2, iid)
    assert before["HttpTokens"] == "required"
    with ec2_error("UnsupportedOperation", 400, ENFORCED_MESSAGE):
        modify(ec2, iid, HttpTokens="optional")
    assert_stays(lambda: options(ec2, iid) == before, duration=0.6, desc="instance unchanged")


def test_case_22_xen_ipv6(ec2):
    iid = running_instance(ec2, itype="t2.micro")
    before = options(ec2, iid)
    with ec2_error("UnsupportedOperation", 400, XEN_IPV6_MESSAGE):
        modify(ec2, iid, HttpProtocolIpv6="enabled")
    assert options(ec2, iid) == before


def test_case_23_success_body(server, ec2):
    iid = running_instance(ec2)
    resp = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions", "InstanceId": iid,
                                 "HttpTokens": "required"})
    assert resp.status == 200, resp
    root = resp.xml
    assert root.tag == f"{{{NS}}}ModifyInstanceMetadataOptionsResponse"
    assert [c.tag for c in root] == [f"{{{NS}}}requestId", f"{{{NS}}}instanceId",
                                    f"{{{NS}}}instanceMetadataOptions"]
    assert resp.text("instanceId") == iid
    assert resp.find("metadataOptions") is None
    opts = resp.find("instanceMetadataOptions")
    assert [local(c.tag) for c in opts] == OPTION_ELEMENT_ORDER
    assert resp.text("instanceMetadataOptions/state") == "pending"
    assert resp.text("instanceMetadataOptions/httpTokens") == "required"


def test_case_24_error_body(server):
    cases = [
        ({"Action": "ModifyInstanceMetadataOptions", "InstanceId": "i-0123456789abcdef9"},
         "InvalidInstanceID.NotFound", 400),
        ({"Action": "NoSuchAction"}, "InvalidAction", 400),
        ({"Action": "ModifyInstanceMetadataOptions", "InstanceId": "i-0123456789abcdef9",
          "Bogus": "1"}, "UnknownParameter", 400),
        ({"Action": "DescribeInstances", "DryRun": "true"}, "DryRunOperation", 412),
    ]
    for params, code, status in cases:
        resp = raw(server.endpoint, params)
        assert resp.status == status, resp
        got_code, message, request_id = resp.error  # checks Response/Errors/Error + RequestID
        assert got_code == code
        assert message
        assert resp.xml.find("requestId") is None and resp.xml.find(f"{{{NS}}}requestId") is None
        assert resp.headers.get("content-type", "").startswith("text/xml"), resp.headers


# ------------------------------------------------------------------------ launch (§4, §5)


def test_case_25_builtin_defaults(ec2):
    inst = run(ec2, image=AMI_AL2)[0]
    assert_options(inst["MetadataOptions"], **BUILTIN_OPTS)
    assert_options(wait_applied(ec2, inst["InstanceId"]), **BUILTIN_OPTS)


def _set_defaults(ec2, **kw):
    assert ec2.modify_instance_metadata_defaults(**kw)["Return"] is True


def test_case_26_v2_ami_no_preference(fresh_ec2):
    _set_defaults(fresh_ec2, HttpTokens="no-preference", HttpPutResponseHopLimit=-1,
                  HttpEndpoint="no-preference", InstanceMetadataTags="no-preference")
    inst = run(fresh_ec2, image=AMI_AL2023)[0]
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=2)
    assert_options(options(fresh_ec2, inst["InstanceId"]), HttpTokens="required",
                   HttpPutResponseHopLimit=2, HttpEndpoint="enabled")


def test_case_27_v2_ami_account_optional(fresh_ec2):
    _set_defaults(fresh_ec2, HttpTokens="optional")
    inst = run(fresh_ec2, image=AMI_AL2023)[0]
    assert_options(inst["MetadataOptions"], HttpTokens="optional", HttpPutResponseHopLimit=2)


def test_case_28_v2_ami_account_hop_1(fresh_ec2):
    _set_defaults(fresh_ec2, HttpPutResponseHopLimit=1)
    inst = run(fresh_ec2, image=AMI_AL2023)[0]
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=1)


def test_case_29_launch_value_beats_account_and_ami(fresh_ec2):
    _set_defaults(fresh_ec2, HttpTokens="required")
    inst = run(fresh_ec2, image=AMI_AL2023, metadata={"HttpTokens": "optional"})[0]
    assert_options(inst["MetadataOptions"], HttpTokens="optional")
    assert options(fresh_ec2, inst["InstanceId"])["HttpTokens"] == "optional"


def test_case_30_account_required_plain_ami(fresh_ec2):
    _set_defaults(fresh_ec2, HttpTokens="required")
    inst = run(fresh_ec2, image=AMI_AL2)[0]
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=1)


def test_case_31_enforced_rejects_optional_launch(fresh_ec2):
    _set_defaults(fresh_ec2, HttpTokens="required", HttpTokensEnforced="enabled")
    with ec2_error("UnsupportedOperation", 400, ENFORCED_MESSAGE):
        run(fresh_ec2, image=AMI_AL2, metadata={"HttpTokens": "optional"})
    assert describe(fresh_ec2) == [], "nothing is launched"


def test_case_32_enforced_without_token_default(fresh_ec2):
    _set_defaults(fresh_ec2, HttpTokens="no-preference", HttpTokensEnforced="enabled")
    with ec2_error("UnsupportedOperation", 400, ENFORCED_MESSAGE):
        run(fresh_ec2, image=AMI_AL2)
    assert describe(fresh_ec2) == [], "nothing is launched"


def test_case_33_empty_http_endpoint_at_launch(server, ec2):
    before = describe_ids(ec2)
    resp = raw(server.endpoint, {
        "Action": "RunInstances", "ImageId": AMI_AL2, "InstanceType": "t3.micro",
        "MinCount": "1", "MaxCount": "1", "MetadataOptions.HttpEndpoint": "",
    })
    expect_raw_error(resp, "InvalidParameterValue", 400,
                     "A value of '' is not valid for HttpEndpoint. "
                     "Specify either 'enabled' or 'disabled' and try again.")
    assert describe_ids(ec2) == before


def test_case_34_template_and_request_merge_per_field(ec2):
    name = f"case34-{uuid.uuid4().hex[:8]}"
    lt = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpTokens": "required",
                                                "HttpPutResponseHopLimit": 3}},
    )["LaunchTemplate"]
    resp = ec2.run_instances(MinCount=1, MaxCount=1,
                             LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
                             MetadataOptions={"HttpPutResponseHopLimit": 2})
    inst = resp["Instances"][0]
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=2)
    assert_options(options(ec2, inst["InstanceId"]), HttpTokens="required",
                   HttpPutResponseHopLimit=2)


# ------------------------------------------------------------------------ describe (§6)


def test_case_35_max_results_with_instance_ids(ec2):
    iid = run_one(ec2)
    with ec2_error("InvalidParameterCombination", 400,
                   "The parameter instancesSet cannot be used with the parameter maxResults"):
        ec2.describe_instances(InstanceIds=[iid], MaxResults=5)


def test_case_36_max_results_below_5(server):
    ec2 = server.client(REGION, validate=False)
    with ec2_error("InvalidParameterValue", 400,
                   "Value ( 3 ) for parameter maxResults is invalid. "
                   "Expecting a value greater than 5."):
        ec2.describe_instances(MaxResults=3)


def test_case_37_pagination_7_by_5(fresh_ec2):
    ec2 = fresh_ec2
    ids = set()
    for _ in range(7):  # separate reservations, so pages cannot be counted in reservations
        ids.add(run_one(ec2))
    first = ec2.describe_instances(MaxResults=5)
    page1 = [i["InstanceId"] for r in first["Reservations"] for i in r["Instances"]]
    assert len(page1) == 5
    assert first.get("NextToken")
    second = ec2.describe_instances(MaxResults=5, NextToken=first["NextToken"])
    page2 = [i["InstanceId"] for r in second["Reservations"] for i in r["Instances"]]
    assert len(page2) == 2
    assert "NextToken" not in second
    assert set(page1) | set(page2) == ids
    assert not set(page1) & set(page2)


def test_case_38_filter_http_tokens_and_state(ec2):
    tag = uuid.uuid4().hex
    a = running_instance(ec2, tags={"case38": tag}, metadata={"HttpTokens": "required"})
    b = running_instance(ec2, tags={"case38": tag}, metadata={"HttpTokens": "optional"})
    c = stopped_instance(ec2, tags={"case38": tag})
    ec2.modify_instance_metadata_options(InstanceId=c, HttpTokens="required")  # pending: stopped
    mine = {a, b, c}
    f1 = [{"Name": "metadata-options.http-tokens", "Values": ["required"]}]
    got = describe(ec2, filters=f1)
    assert {i["InstanceId"] for i in got} & mine == {a, c}
    assert all(i["MetadataOptions"]["HttpTokens"] == "required" for i in got)
    f2 = f1 + [{"Name": "metadata-options.state", "Values": ["applied"]}]
    got = describe(ec2, filters=f2)
    assert {i["InstanceId"] for i in got} & mine == {a}
    assert all(i["MetadataOptions"]["HttpTokens"] == "required"
               and i["MetadataOptions"]["State"] == "applied" for i in got)


def test_case_39_filter_hop_limit_two_values(ec2):
    ids = {hop: run_one(ec2, metadata={"HttpPutResponseHopLimit": hop}) for hop in (1, 2, 3, 4)}
    got = describe(ec2, filters=[{"Name": "metadata-options.http-put-response-hop-limit",
                                  "Values": ["2", "3"]}])
    assert {i["InstanceId"] for i in got} & set(ids.values()) == {ids[2], ids[3]}
    assert all(i["MetadataOptions"]["HttpPutResponseHopLimit"] in (2, 3) for i in got)


def test_case_40_unknown_filter(ec2):
    with ec2_error("InvalidParameterValue", 400,
                   "The filter 'metadata-options.bogus' is invalid"):
        ec2.describe_instances(Filters=[{"Name": "metadata-options.bogus", "Values": ["x"]}])


# ------------------------------------------------------------------------ defaults (§7)


def test_case_41_account_defaults(fresh_ec2):
    ec2 = fresh_ec2
    existing = running_instance(ec2)
    before = options(ec2, existing)
    resp = ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpPutResponseHopLimit=2)
    assert resp["Return"] is True
    level = ec2.get_instance_metadata_defaults()["AccountLevel"]
    assert level.get("HttpTokens") == "required"
    assert level.get("HttpPutResponseHopLimit") == 2
    assert level.get("ManagedBy") == "account"
    assert_stays(lambda: options(ec2, existing) == before, duration=0.6,
                 desc="existing instance unchanged")


def test_case_42_hop_minus_one_clears(fresh_ec2):
    ec2 = fresh_ec2
    _set_defaults(ec2, HttpPutResponseHopLimit=1)
    assert ec2.get_instance_metadata_defaults()["AccountLevel"]["HttpPutResponseHopLimit"] == 1
    _set_defaults(ec2, HttpPutResponseHopLimit=-1)
    level = ec2.get_instance_metadata_defaults().get("AccountLevel", {})
    assert "HttpPutResponseHopLimit" not in level, level
    inst = run(ec2, image=AMI_AL2023)[0]
    assert inst["MetadataOptions"]["HttpPutResponseHopLimit"] == 2


def test_case_43_account_hop_0_rejected(fresh_ec2):
    ec2 = fresh_ec2
    _set_defaults(ec2, HttpPutResponseHopLimit=3)
    with ec2_error("InvalidParameterValue", 400):
        ec2.modify_instance_metadata_defaults(HttpPutResponseHopLimit=0)
    assert ec2.get_instance_metadata_defaults()["AccountLevel"]["HttpPutResponseHopLimit"] == 3


# ------------------------------------------------------------------------ images (§8)


def test_case_44_modify_image_imds_support(server, ec2):
    image_id = ec2.register_image(Name=f"case44-{uuid.uuid4().hex[:8]}")["ImageId"]
    before = ec2.describe_image_attribute(ImageId=image_id, Attribute="imdsSupport")
    assert before.get("ImdsSupport", {}).get("Value") is None
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="imdsSupport")
    assert attr["ImageId"] == image_id
    assert attr["ImdsSupport"] == {"Value": "v2.0"}
    # and on the wire: imdsSupport/value
    resp = raw(server.endpoint, {"Action": "DescribeImageAttribute", "ImageId": image_id,
                                 "Attribute": "imdsSupport"})
    assert resp.status == 200, resp
    assert resp.text("imdsSupport/value") == "v2.0"
    assert resp.text("imageId") == image_id
