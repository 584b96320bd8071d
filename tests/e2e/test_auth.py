"""Authentication with --iam-config: every request signed by a known key, signatures verified
(spec ec2-api.md §1.2), and each key acting in its own account."""
from __future__ import annotations

import datetime
import json
import urllib.parse

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

import helpers
from helpers import AMI_AL2, REGION, ec2_error, expect_raw_error, raw
from iam_helpers import Acct, iam_server

A = ("111122223333", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
B = ("444455556666", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("iam"), [Acct(*A), Acct(*B)]))


def client(srv, who, secret=None):
    _, key, real_secret = who
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret or real_secret,
                                 region_name=REGION).client(
        "ec2", endpoint_url=srv.endpoint, config=Config(retries={"total_max_attempts": 1}))


def signed(srv, who, body: str, *, query: bool = False):
    """A request signed by `who`: (url, headers, body)."""
    _, key, secret = who
    url = srv.endpoint + "/"
    req = AWSRequest(method="GET" if query else "POST",
                     url=url + ("?" + body if query else ""),
                     data=None if query else body.encode(),
                     headers={} if query else {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    signer = (SigV4QueryAuth(Credentials(key, secret), "ec2", REGION, expires=300) if query
              else SigV4Auth(Credentials(key, secret), "ec2", REGION))
    signer.add_auth(req)
    return req


def send(srv, req, body_override: bytes | None = None):
    import http.client
    parts = urllib.parse.urlsplit(req.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + ("?" + parts.query if parts.query else "")
        body = body_override if body_override is not None else req.body
        conn.request(req.method, path, body=body, headers=dict(req.headers.items()))
        r = conn.getresponse()
        return helpers.RawResponse(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()},
                                   r.read(), r.getheaders())
    finally:
        conn.close()


def test_known_key_acts_in_its_own_account(server):
    a, b = client(server, A), client(server, B)
    iid = a.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    assert iid["OwnerId"] == A[0]
    mine = iid["Instances"][0]["InstanceId"]
    seen_by_b = [i["InstanceId"] for r in b.describe_instances()["Reservations"] for i in r["Instances"]]
    assert mine not in seen_by_b
    with ec2_error("InvalidInstanceID.NotFound", 400):
        b.describe_instances(InstanceIds=[mine])
    seen_by_a = [i["InstanceId"] for r in a.describe_instances()["Reservations"] for i in r["Instances"]]
    assert mine in seen_by_a


def test_wrong_secret_signature_does_not_match(server):
    with ec2_error("SignatureDoesNotMatch", 403):
        client(server, A, secret="x" * 40).describe_instances()


def test_tampered_body_signature_does_not_match(server):
    req = signed(server, A, "Action=DescribeInstances&Version=2016-11-15")
    ok = send(server, req)
    assert ok.status == 200, ok.body
    bad = send(server, req, body_override=b"Action=DescribeInstances&Version=2016-11-15&MaxResults=5")
    expect_raw_error(bad, "SignatureDoesNotMatch", 403)


def test_unsigned_request_is_refused_missing_parameter_wave2_3_4_case_45(server):
    # wave2 §3.4 corrects ec2-api.md §1.2: EC2 says MissingParameter, not
    # MissingAuthenticationToken (conformance case 45).
    resp = raw(server.endpoint, {"Action": "DescribeInstances"}, sign_request=False)
    expect_raw_error(resp, "MissingParameter", 400,
                     "The request must contain the parameter AWSAccessKeyId")


def test_presigned_query_is_verified(server):
    req = signed(server, B, "Action=DescribeInstances&Version=2016-11-15", query=True)
    ok = send(server, req)
    assert ok.status == 200, ok.body
    tampered = req.url.replace("Action=DescribeInstances", "Action=DescribeImages")
    req2 = AWSRequest(method="GET", url=tampered, headers=dict(req.headers.items()))
    bad = send(server, req2)
    expect_raw_error(bad, "SignatureDoesNotMatch", 403)


def test_old_signature_from_a_known_key_is_expired(server):
    then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    req = AWSRequest(method="POST", url=server.endpoint + "/",
                     data=b"Action=DescribeInstances&Version=2016-11-15",
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    import unittest.mock as mock
    import botocore.auth
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: then):
        SigV4Auth(Credentials(A[1], A[2]), "ec2", REGION).add_auth(req)
    expect_raw_error(send(server, req), "RequestExpired", 400, "Request has expired.")


# SCPs on the account: the reference policies of the EC2 guide (spec iam.md §3 A and C),
# enforced for the account's root through the API.
SCP_A = ('{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"},'
         '{"Sid":"RequireImdsV2","Effect":"Deny","Action":"ec2:RunInstances",'
         '"Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:MetadataHttpTokens":"required"}}},'
         '{"Sid":"NoV1Again","Effect":"Deny","Action":"ec2:ModifyInstanceMetadataOptions",'
         '"Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:Attribute/HttpTokens":"required"},'
         '"Null":{"ec2:Attribute/HttpTokens":"false"}}}]}')


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("scp"),
                                          [Acct(*A, scps=[json.loads(SCP_A)])]))


def launch(ec2, **opts):
    kw = {"ImageId": AMI_AL2, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1}
    if opts:
        kw["MetadataOptions"] = opts
    return ec2.run_instances(**kw)


def test_scp_requires_imdsv2_at_launch(guarded):
    ec2 = client(guarded, A)
    before = len([i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]])
    assert launch(ec2, HttpTokens="required")["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"
    with ec2_error("UnauthorizedOperation", 403) as e:
        launch(ec2, HttpTokens="optional")
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("You are not authorized to perform this operation.")
    assert "with an explicit deny in a service control policy" in msg
    assert "Encoded authorization failure message: " in msg
    with ec2_error("UnauthorizedOperation", 403):
        launch(ec2)  # spec iam.md case 4: no options, the key is absent, the deny applies
    after = len([i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]])
    assert after == before + 1, "only the IMDSv2 launch happened"


def test_scp_forbids_going_back_to_imdsv1(guarded):
    ec2 = client(guarded, A)
    iid = launch(ec2, HttpTokens="required")["Instances"][0]["InstanceId"]
    with ec2_error("UnauthorizedOperation", 403):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional")
    with ec2_error("UnauthorizedOperation", 403):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional", DryRun=True)
    # Not touching HttpTokens stays allowed (the Null clause), and so does a dry run of it.
    with ec2_error("DryRunOperation", 412):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2, DryRun=True)
    r = ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    assert r["InstanceMetadataOptions"]["HttpTokens"] == "required"
    # Read actions are denied without an encoded message; here they are allowed.
    assert ec2.describe_instances(InstanceIds=[iid])["Reservations"]


# Policy E of the EC2 guide (spec iam.md §3 E, cases 15-16) as an SCP: role credentials must
# have been fetched with IMDSv2. The credentials come from the metadata service, fetched from
# inside the instance with `imds exec`, and then sign API calls as the role's session.
SCP_E = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},'
         '{"Sid":"RequireImdsV2Credentials","Effect":"Deny","Action":"*","Resource":"*",'
         '"Condition":{"NumericLessThan":{"ec2:RoleDelivery":"2.0"}}}]}')


@pytest.fixture(scope="module")
def role_delivery(tmp_path_factory):
    import os
    if os.geteuid() != 0:
        pytest.skip("needs root for `imds exec` (network namespaces): run the suite as root")
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("roledelivery"),
                                          [Acct(*A, scps=[json.loads(SCP_E)])]))


def fetch_credentials(srv, iid: str, v2: bool) -> dict:
    import json
    import os
    import subprocess
    path = "http://169.254.169.254/latest/meta-data/iam/security-credentials/app"
    script = (f'T=$(curl -s -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
              f'http://169.254.169.254/latest/api/token); curl -s -m 5 -H "X-aws-ec2-metadata-token: $T" {path}'
              if v2 else f"curl -s -m 5 {path}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": A[1], "AWS_SECRET_ACCESS_KEY": A[2]})
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--endpoint", srv.endpoint, "--region", REGION,
                        "--instance", iid, "--", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p
    return json.loads(p.stdout)


EC2_TRUST = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
             '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}')


def iam_client(srv, who):
    _, key, secret = who
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                 region_name=REGION).client(
        "iam", endpoint_url=srv.endpoint, config=Config(retries={"total_max_attempts": 1}))


def test_role_delivery_requires_imdsv2_credentials(role_delivery):
    root = client(role_delivery, A)
    # The role `app` (allowed to describe) in the instance profile `app`, made through IAM.
    iam = iam_client(role_delivery, A)
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=EC2_TRUST)
    iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName="app")
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
    iid = root.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             IamInstanceProfile={"Name": "app"})["Instances"][0]["InstanceId"]
    helpers.wait_state(root, iid, "running")
    v1, v2 = fetch_credentials(role_delivery, iid, v2=False), fetch_credentials(role_delivery, iid, v2=True)
    assert v1["AccessKeyId"] != v2["AccessKeyId"], "distinct sets per delivery"

    def session(c):
        return boto3.session.Session(
            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["Token"], region_name=REGION).client(
            "ec2", endpoint_url=role_delivery.endpoint, config=Config(retries={"total_max_attempts": 1}))

    with ec2_error("UnauthorizedOperation", 403, message="You are not authorized to perform this operation."):
        session(v1).describe_instances()
    seen = [i["InstanceId"] for r in session(v2).describe_instances()["Reservations"] for i in r["Instances"]]
    assert iid in seen, "the role session acts in the instance's account"
    forged = dict(v2, Token=v2["Token"][:-4] + "AAAA")
    with ec2_error("AuthFailure", 401):
        session(forged).describe_instances()


def sts(srv, who):
    _, key, secret = who
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                 region_name=REGION).client(
        "sts", endpoint_url=srv.endpoint, config=Config(retries={"total_max_attempts": 1}))


def test_sts_get_caller_identity(server):
    me = sts(server, B).get_caller_identity()
    assert (me["Account"], me["Arn"], me["UserId"]) == (B[0], f"arn:aws:iam::{B[0]}:root", B[0])


def test_decode_authorization_message_of_a_denial(guarded):
    """spec iam.md case 28: the token of a denied launch decodes to the decision."""
    import json
    import re
    with ec2_error("UnauthorizedOperation", 403) as e:
        launch(client(guarded, A), HttpTokens="optional")
    token = re.search(r"Encoded authorization failure message: (\S+)", e.value.response["Error"]["Message"]).group(1)
    decoded = json.loads(sts(guarded, A).decode_authorization_message(EncodedMessage=token)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is True
    assert [s["statementId"] for s in decoded["matchedStatements"]["items"]] == ["RequireImdsV2"]
    assert decoded["matchedStatements"]["items"][0]["effect"] == "DENY"
    ctx = decoded["context"]
    assert ctx["resource"] == f"arn:aws:ec2:{REGION}:{A[0]}:instance/*"
    assert ctx["action"] == "ec2:RunInstances"
    conditions = {c["key"]: [v["value"] for v in c["values"]["items"]] for c in ctx["conditions"]["items"]}
    assert conditions["ec2:MetadataHttpTokens"] == ["optional"]
    with pytest.raises(Exception) as bad:
        sts(guarded, A).decode_authorization_message(EncodedMessage="not-a-message")
    assert bad.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_scp_sees_launch_template_options(guarded):
    """spec iam.md case 5: values a launch template supplies count as launch configuration."""
    ec2 = client(guarded, A)
    import uuid
    def template(tokens):
        name = f"lt-{tokens}-{uuid.uuid4().hex[:8]}"
        return ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                                "MetadataOptions": {"HttpTokens": tokens}})["LaunchTemplate"]["LaunchTemplateId"]
    good, bad = template("required"), template("optional")
    r = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": good})
    assert r["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"
    with ec2_error("UnauthorizedOperation", 403):
        ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": bad})
    # The request's own value wins over the template's, for the policy as for the launch.
    r = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": bad},
                          MetadataOptions={"HttpTokens": "required"})
    assert r["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"
