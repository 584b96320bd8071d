"""The EC2 user guide's guardrails for instance metadata, enforced end to end (issue 4).

Seeds 000/001 point at "Work with instance metadata" (ExamplePolicies_EC2) and at IAM
condition keys / SCPs to: require IMDSv2 at launch, restrict the hop limit, turn off access
to instance metadata, let only one role change metadata options, and require role
credentials delivered through IMDSv2 (`ec2:RoleDelivery`); spec iam.md §3 A–F carries their
essential structure. Each one here is a real policy (identity policy of an IAM user or role,
or an SCP of the account) and a real boto3 call signed with the principal's keys, with the
decision, the 403 `UnauthorizedOperation` and the state read back.

Also: requests signed with temporary credentials (botocore's SigV4 with
X-Amz-Security-Token): accepted; tampered or missing token → AuthFailure 401 (ec2-api.md
§1.2: credentials AWS cannot validate); signature date outside the window → RequestExpired
400; credentials past their expiration → RequestExpired (EC2's answer to expired session
credentials: "Request has expired."); and credentials surviving a restart of the server on
the same data dir.
"""
from __future__ import annotations

import datetime

import pytest

import helpers
from helpers import AMI_AL2, REGION, expect_raw_error
from iam_helpers import (
    ALLOW_EC2,
    FULL_ACCESS,
    Acct,
    Clients,
    Creds,
    assume,
    client_error,
    decode,
    doc,
    dumps,
    exec_unavailable,
    iam_server,
    instance_credentials,
    instance_profile,
    launch,
    make_role,
    make_user,
    running_with_profile,
    signed_request,
    trust_ec2,
    uniq,
    unauthorized,
)

AWS_EC2_FULL = "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
ASSUME_ANY = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})

REQUIRE_V2 = {"Sid": "RequireImdsV2", "Effect": "Deny", "Action": "ec2:RunInstances",
              "Resource": "arn:aws:ec2:*:*:instance/*",
              "Condition": {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}}
MAX_HOP_3 = {"Sid": "MaxImdsHopLimit", "Effect": "Deny", "Action": "ec2:RunInstances",
             "Resource": "arn:aws:ec2:*:*:instance/*",
             "Condition": {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "3"}}}
ENDPOINT_OFF = [
    {"Sid": "LaunchWithImdsOff", "Effect": "Deny", "Action": "ec2:RunInstances",
     "Resource": "arn:aws:ec2:*:*:instance/*",
     "Condition": {"StringNotEquals": {"ec2:MetadataHttpEndpoint": "disabled"}}},
    {"Sid": "NoTurningImdsOn", "Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions",
     "Resource": "*", "Condition": {"StringEquals": {"ec2:Attribute/HttpEndpoint": "enabled"}}},
]
ONLY_ADMINS_MODIFY = {"Sid": "OnlyImdsAdmins", "Effect": "Deny",
                      "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*",
                      "Condition": {"StringNotLike": {
                          "aws:PrincipalARN": "arn:aws:iam::*:role/ec2-imds-admins"}}}
V2_CREDENTIALS = {"Sid": "RequireImdsV2Credentials", "Effect": "Deny", "Action": "*",
                  "Resource": "*", "Condition": {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}}

ID = Acct("111122223333", "AKIAGUARDIDENT000001", "gid/secret/key/0000000000000000000000001",
          scps=[FULL_ACCESS])
# An account whose SCP carries the launch and modify guardrails (A and D merged, as the
# guide suggests) next to the default full access.
SCPD = Acct("222233334444", "AKIAGUARDSCPD0000002", "gsc/secret/key/0000000000000000000000002",
            scps=[FULL_ACCESS, doc(REQUIRE_V2, ONLY_ADMINS_MODIFY)])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("guard"), [ID, SCPD]))


@pytest.fixture(scope="module")
def root(server):
    return Clients(server, ID)


@pytest.fixture(scope="module")
def operator(server, root):
    _, creds = make_user(root.iam(), uniq("operator"), [ASSUME_ANY])
    return creds


def user_ec2(server, root, *statements, managed=()):
    _, creds = make_user(root.iam(), uniq("u"), [doc(*statements)] if statements else [],
                         managed=managed)
    return Clients(server, creds).ec2()


def n_instances(ec2) -> int:
    return len(helpers.describe(ec2))


# --------------------------------------------------------------------------------------
# Launch guardrails
# --------------------------------------------------------------------------------------


def test_require_imdsv2_at_launch(server, root):
    ec2 = user_ec2(server, root, ALLOW_EC2, REQUIRE_V2)
    before = n_instances(root.ec2())
    i = launch(ec2, MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"})
    assert i["MetadataOptions"]["HttpTokens"] == "required"
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "optional", "HttpEndpoint": "enabled"})
    with unauthorized(mutating=True):
        launch(ec2)  # nothing set: the key is absent, StringNotEquals holds
    # Even an AMI that defaults to IMDSv2 does not supply the key (spec iam.md §2).
    with unauthorized(mutating=True):
        launch(ec2, image=helpers.AMI_AL2023)
    # The dry run gives the same answer.
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "optional"}, DryRun=True)
    with client_error("DryRunOperation", 412):
        launch(ec2, MetadataOptions={"HttpTokens": "required"}, DryRun=True)
    after = n_instances(root.ec2())
    assert after == before + 1, "only the IMDSv2 launch happened"
    assert helpers.options(root.ec2(), i["InstanceId"])["HttpTokens"] == "required"


def test_require_imdsv2_sees_the_launch_template(server, root):
    ec2 = user_ec2(server, root, ALLOW_EC2, REQUIRE_V2)

    def template(tokens):
        return ec2.create_launch_template(
            LaunchTemplateName=uniq(f"lt-{tokens}"),
            LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                                "MetadataOptions": {"HttpTokens": tokens}}
        )["LaunchTemplate"]["LaunchTemplateId"]
    good, bad = template("required"), template("optional")
    r = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": good})
    assert r["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"
    with unauthorized(mutating=True):
        ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": bad})
    r = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": bad},
                          MetadataOptions={"HttpTokens": "required"})
    assert r["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"


def test_cap_the_hop_limit(server, root):
    ec2 = user_ec2(server, root, ALLOW_EC2, MAX_HOP_3)
    assert launch(ec2, MetadataOptions={"HttpPutResponseHopLimit": 3}
                  )["MetadataOptions"]["HttpPutResponseHopLimit"] == 3
    assert launch(ec2)["MetadataOptions"]["HttpPutResponseHopLimit"] == 1  # absent: allowed
    for hop in (4, 64):
        with unauthorized(mutating=True):
            launch(ec2, MetadataOptions={"HttpPutResponseHopLimit": hop})
    lt = ec2.create_launch_template(
        LaunchTemplateName=uniq("hop5"),
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpPutResponseHopLimit": 5}})
    with unauthorized(mutating=True):
        ec2.run_instances(MinCount=1, MaxCount=1,
                          LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"]})


def test_require_the_endpoint_off(server, root):
    ec2 = user_ec2(server, root, ALLOW_EC2, *ENDPOINT_OFF)
    i = launch(ec2, MetadataOptions={"HttpEndpoint": "disabled"})
    assert i["MetadataOptions"]["HttpEndpoint"] == "disabled"
    iid = i["InstanceId"]
    for opts in ({"HttpEndpoint": "enabled"}, None):
        with unauthorized(mutating=True):
            launch(ec2, **({"MetadataOptions": opts} if opts else {}))
    helpers.wait_state(root.ec2(), iid, "running")
    with unauthorized(mutating=True):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpEndpoint="enabled")
    helpers.wait_applied(root.ec2(), iid)
    assert helpers.options(root.ec2(), iid)["HttpEndpoint"] == "disabled"
    # Other changes (not turning it on) stay possible.
    r = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required",
                                             HttpEndpoint="disabled")
    assert r["InstanceMetadataOptions"]["HttpEndpoint"] == "disabled"


# --------------------------------------------------------------------------------------
# Who may change metadata options
# --------------------------------------------------------------------------------------


def test_only_the_admin_role_may_modify(server, root, operator):
    iam = root.iam()
    iid = launch(root.ec2(), MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    helpers.wait_state(root.ec2(), iid, "running")
    admins = make_role(iam, "ec2-imds-admins", ID.id, [doc(ALLOW_EC2, ONLY_ADMINS_MODIFY)])
    others = make_role(iam, uniq("ec2-imds-admins-not"), ID.id, [doc(ALLOW_EC2, ONLY_ADMINS_MODIFY)])
    sts = Clients(server, operator).sts()
    admin = Clients(server, assume(sts, admins, "ops")).ec2()
    other = Clients(server, assume(sts, others, "ops")).ec2()
    r = admin.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2,
                                               HttpEndpoint="enabled")
    assert r["InstanceMetadataOptions"]["HttpPutResponseHopLimit"] == 2
    with unauthorized(mutating=True):
        other.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=3)
    with unauthorized(mutating=True):
        other.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=3, DryRun=True)
    # Everything else stays allowed to the other role.
    assert iid in {i["InstanceId"] for i in helpers.describe(other)}
    helpers.wait_applied(root.ec2(), iid)
    assert helpers.options(root.ec2(), iid)["HttpPutResponseHopLimit"] == 2


def test_scp_guardrails_bind_users_roles_and_root(server):
    """A and D merged into an SCP: an IAM user with AmazonEC2FullAccess, and the account's
    root user, are held to it (SCPs restrict every principal of a member account, root
    included); the admin role passes D."""
    root = Clients(server, SCPD)
    iam = root.iam()
    _, ucreds = make_user(iam, uniq("full"), managed=[AWS_EC2_FULL])
    user = Clients(server, ucreds).ec2()
    with unauthorized(mutating=True, reason="with an explicit deny in a service control policy"):
        launch(user, MetadataOptions={"HttpTokens": "optional"})
    iid = launch(user, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    helpers.wait_state(root.ec2(), iid, "running")
    with unauthorized(mutating=True, reason="with an explicit deny in a service control policy"):
        user.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    with unauthorized(mutating=True):
        root.ec2().modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    with unauthorized(mutating=True):
        launch(root.ec2(), MetadataOptions={"HttpTokens": "optional"})
    _, opcreds = make_user(iam, uniq("op"), [ASSUME_ANY])
    admins = make_role(iam, "ec2-imds-admins", SCPD.id, managed=[AWS_EC2_FULL])
    admin = Clients(server, assume(Clients(server, opcreds).sts(), admins)).ec2()
    r = admin.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    assert r["InstanceMetadataOptions"]["HttpPutResponseHopLimit"] == 2


# --------------------------------------------------------------------------------------
# Role credentials delivered through IMDSv2 (ec2:RoleDelivery, ec2:SourceInstanceARN)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exec_ok():
    why = exec_unavailable()
    if why:
        pytest.skip(why)


def profile_instance(root, policies, **launch_kw) -> tuple[str, str]:
    iam = root.iam()
    role = uniq("app")
    make_role(iam, role, ID.id, policies, trust=trust_ec2())
    prof = uniq("prof")
    instance_profile(iam, prof, role)
    return role, running_with_profile(root.ec2(), prof, **launch_kw)


def test_role_delivery_v2_required(server, root, exec_ok):
    role, iid = profile_instance(root, [doc(ALLOW_EC2, V2_CREDENTIALS)])
    v1 = instance_credentials(server, ID, iid, role, v2=False)
    v2 = instance_credentials(server, ID, iid, role, v2=True)
    assert v1["AccessKeyId"] != v2["AccessKeyId"]
    ec2_v1, ec2_v2 = Clients(server, Creds.of(v1)).ec2(), Clients(server, Creds.of(v2)).ec2()
    with unauthorized(mutating=False):
        ec2_v1.describe_instances()
    with unauthorized(mutating=True):
        ec2_v1.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    assert iid in {i["InstanceId"] for i in helpers.describe(ec2_v2)}
    r = ec2_v2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    assert r["InstanceMetadataOptions"]["HttpTokens"] == "required"
    # Both sets act as the role's session named after the instance. (GetCallerIdentity
    # needs no permission and an explicit deny does not stop it: STS API reference.)
    assert Clients(server, Creds.of(v1)).sts().get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ID.id}:assumed-role/{role}/{iid}"


def test_role_credentials_carry_the_source_instance(server, root, exec_ok):
    role, iid = profile_instance(root, [])  # policies added once the instance id is known
    other = launch(root.ec2())["InstanceId"]
    iam = root.iam()
    own = {"Effect": "Allow", "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*",
           "Condition": {"ArnEquals": {"ec2:SourceInstanceARN":
                                       f"arn:aws:ec2:{REGION}:{ID.id}:instance/{iid}"}}}
    iam.put_role_policy(RoleName=role, PolicyName="own", PolicyDocument=dumps(doc(own)))
    helpers.wait_state(root.ec2(), other, "running")
    v2 = instance_credentials(server, ID, iid, role, v2=True)
    ec2 = Clients(server, Creds.of(v2)).ec2()
    assert ec2.modify_instance_metadata_options(InstanceId=other, HttpPutResponseHopLimit=2)
    # The same policy with another instance's ARN grants nothing.
    own["Condition"]["ArnEquals"]["ec2:SourceInstanceARN"] = \
        f"arn:aws:ec2:{REGION}:{ID.id}:instance/{other}"
    iam.put_role_policy(RoleName=role, PolicyName="own", PolicyDocument=dumps(doc(own)))
    with unauthorized(mutating=True):
        ec2.modify_instance_metadata_options(InstanceId=other, HttpPutResponseHopLimit=3)


def test_role_delivery_key_absent_for_other_credentials(server, root, operator):
    """The guide: policy E is safe to attach broadly, as the key is absent for credentials
    that did not come from IMDS (IAM user keys, AssumeRole sessions)."""
    ec2 = user_ec2(server, root, ALLOW_EC2, V2_CREDENTIALS)
    assert "Reservations" in ec2.describe_instances()
    role = make_role(root.iam(), uniq("e"), ID.id, [doc(ALLOW_EC2, V2_CREDENTIALS)])
    sess = Clients(server, assume(Clients(server, operator).sts(), role)).ec2()
    assert "Reservations" in sess.describe_instances()


# --------------------------------------------------------------------------------------
# Temporary credentials on the wire
# --------------------------------------------------------------------------------------


DESCRIBE = {"Action": "DescribeInstances", "Version": "2016-11-15"}


@pytest.fixture(scope="module")
def session_creds(server, root, operator):
    role = make_role(root.iam(), uniq("wire"), ID.id, [doc(ALLOW_EC2)])
    return assume(Clients(server, operator).sts(), role, "wire")


def test_session_token_signed_request_is_accepted(server, session_creds):
    assert session_creds.key.startswith("ASIA") and session_creds.token
    r = signed_request(server, session_creds, DESCRIBE)
    assert r.status == 200, r
    r = signed_request(server, session_creds, DESCRIBE, query=True)
    assert r.status == 200, r


def test_tampered_session_token_is_refused(server, session_creds):
    tok = session_creds.token
    forged = tok[:-6] + ("AAAAAA" if not tok.endswith("AAAAAA") else "BBBBBB")
    # The forged token is what was signed: the signature holds, the token does not.
    bad = Creds(session_creds.key, session_creds.secret, forged)
    expect_raw_error(signed_request(server, bad, DESCRIBE), "AuthFailure", 401)
    with client_error("AuthFailure", 401):
        Clients(server, bad).ec2().describe_instances()
    # The session's keys without their token.
    expect_raw_error(signed_request(server, Creds(session_creds.key, session_creds.secret, None),
                                    DESCRIBE), "AuthFailure", 401)


def test_session_request_outside_the_time_window_is_expired(server, session_creds):
    then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(minutes=20)
    expect_raw_error(signed_request(server, session_creds, DESCRIBE, when=then),
                     "RequestExpired", 400, "Request has expired.")
    past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(minutes=3)
    expect_raw_error(signed_request(server, session_creds, DESCRIBE, when=past, query=True,
                                    expires=60),
                     "RequestExpired", 400)


def test_short_session_credentials_carry_their_expiration(server, root, operator):
    """AssumeRole's shortest session (900 s): the credentials work now and say when they stop.
    That they are refused after it (EC2 RequestExpired) is checked without waiting 15
    minutes by crates/ec2api/src/auth.rs `session_credentials_verify_until_they_expire`,
    which verifies the same credentials at a chosen "now"."""
    role = make_role(root.iam(), uniq("short"), ID.id, [doc(ALLOW_EC2)])
    before = datetime.datetime.now(datetime.timezone.utc)
    r = Clients(server, operator).sts().assume_role(RoleArn=role, RoleSessionName="short",
                                                    DurationSeconds=900)
    creds = Creds.of(r["Credentials"])
    assert "Reservations" in Clients(server, creds).ec2().describe_instances()
    lifetime = (r["Credentials"]["Expiration"] - before).total_seconds()
    assert 895 <= lifetime <= 905, r["Credentials"]["Expiration"]


# --------------------------------------------------------------------------------------
# Restart on the same data dir
# --------------------------------------------------------------------------------------


A2 = Acct("333344445555", "AKIARESTART000000006", "rst/secret/key/0000000000000000000000006",
          scps=[FULL_ACCESS])


def test_credentials_and_iam_state_survive_a_restart(tmp_path):
    srv = iam_server(tmp_path, [A2], data_dir=tmp_path / "data")
    try:
        root = Clients(srv, A2)
        iam = root.iam()
        user_arn, ucreds = make_user(iam, "keeper", [doc(ALLOW_EC2, ASSUME_ANY["Statement"][0])])
        role = make_role(iam, "kept-role", A2.id, [doc(ALLOW_EC2)])
        pol = iam.create_policy(PolicyName="kept-policy",
                                PolicyDocument=dumps(doc(ALLOW_EC2)))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="kept-role", PolicyArn=pol)
        screds = assume(Clients(srv, ucreds).sts(), role, "before")
        inst = None
        if exec_unavailable() is None:
            make_role(iam, "kept-app", A2.id, [doc(ALLOW_EC2, V2_CREDENTIALS)], trust=trust_ec2())
            instance_profile(iam, "kept-prof", "kept-app")
            iid = running_with_profile(root.ec2(), "kept-prof")
            inst = (iid, instance_credentials(srv, A2, iid, "kept-app", v2=True))
        srv.restart()  # new ports: clients are made anew from here on
        iam = Clients(srv, A2).iam()
        # IAM state is still there.
        assert iam.get_user(UserName="keeper")["User"]["Arn"] == user_arn
        assert iam.list_attached_role_policies(RoleName="kept-role")["AttachedPolicies"] == \
            [{"PolicyName": "kept-policy", "PolicyArn": pol}]
        # Keys and session credentials issued before the restart still sign.
        assert Clients(srv, ucreds).sts().get_caller_identity()["Arn"] == user_arn
        assert "Reservations" in Clients(srv, ucreds).ec2().describe_instances()
        me = Clients(srv, screds).sts().get_caller_identity()
        assert me["Arn"] == f"arn:aws:sts::{A2.id}:assumed-role/kept-role/before"
        assert "Reservations" in Clients(srv, screds).ec2().describe_instances()
        if inst:
            iid, c = inst
            got = Clients(srv, Creds.of(c)).ec2()
            assert iid in {i["InstanceId"] for i in helpers.describe(got)}
            # ...still as IMDSv2-delivered credentials (the deny on RoleDelivery < 2 is inert).
            got.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
        # A tampered token is still refused after the restart.
        forged = Creds(screds.key, screds.secret, screds.token[:-4] + "AAAA")
        with client_error("AuthFailure", 401):
            Clients(srv, forged).ec2().describe_instances()
    finally:
        srv.stop()


def _flip(s: str, i: int) -> str:
    c = s[i]
    return s[:i] + ("B" if c != "B" else "C") + s[i + 1:]


def test_session_token_tampered_anywhere_or_swapped_is_refused(server, root, operator):
    role = make_role(root.iam(), uniq("swap"), ID.id, [doc(ALLOW_EC2)])
    sts = Clients(server, operator).sts()
    a, b = assume(sts, role, "one"), assume(sts, role, "two")
    for i in (0, len(a.token) // 3, len(a.token) // 2, len(a.token) - 10):
        bad = Creds(a.key, a.secret, _flip(a.token, i))
        expect_raw_error(signed_request(server, bad, DESCRIBE), "AuthFailure", 401)
    # One session's token with the other session's keys.
    expect_raw_error(signed_request(server, Creds(a.key, a.secret, b.token), DESCRIBE),
                     "AuthFailure", 401)
    # The right token, but the secret of the other session: the signature does not match.
    r = signed_request(server, Creds(a.key, b.secret, a.token), DESCRIBE)
    assert r.status in (401, 403), r
    assert r.error[0] in ("SignatureDoesNotMatch", "AuthFailure"), r.error
    # Sent but not the one signed: the signature covers X-Amz-Security-Token.
    r = signed_request(server, a, DESCRIBE, token_override=b.token)
    assert r.status in (401, 403) and r.error[0] in ("SignatureDoesNotMatch", "AuthFailure"), r
    assert signed_request(server, a, DESCRIBE).status == 200


# --------------------------------------------------------------------------------------
# Launching with an instance profile: iam:PassRole and ec2:InstanceProfile
# --------------------------------------------------------------------------------------


def two_profiles(root) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """Two instance profiles, each with its own role: ((profile, profile ARN, role ARN), ...)."""
    iam = root.iam()
    out = []
    for _ in range(2):
        role, prof = uniq("passed"), uniq("pp")
        role_arn = make_role(iam, role, ID.id, [], trust=trust_ec2())
        out.append((prof, instance_profile(iam, prof, role), role_arn))
    return out[0], out[1]


def test_launch_with_a_profile_needs_pass_role(server, root):
    """RunInstances with an instance profile whose role is passed to EC2 needs iam:PassRole
    on the role (spec iam.md §1 dependent actions; EC2 User Guide "Grant permissions to
    attach an IAM role to an instance": iam:PassRole is required to launch an instance with
    an IAM role)."""
    (prof, prof_arn, role_arn), (other_prof, _, _) = two_profiles(root)
    can_pass = user_ec2(server, root, ALLOW_EC2,
                        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn})
    i = launch(can_pass, IamInstanceProfile={"Name": prof})
    assert helpers.instance(root.ec2(), i["InstanceId"])["IamInstanceProfile"]["Arn"] == prof_arn
    with unauthorized(mutating=True):
        launch(can_pass, IamInstanceProfile={"Name": other_prof})
    no_pass = user_ec2(server, root, ALLOW_EC2)
    with unauthorized(mutating=True) as d:
        launch(no_pass, IamInstanceProfile={"Name": prof})
    if d.reason is not None:
        assert "iam:PassRole" in d.message, d


def test_pass_role_to_ec2_carries_passed_to_service(server, root):
    """The role a launch passes goes to EC2: `iam:PassedToService` is `ec2.amazonaws.com`
    (IAM User Guide, "Grant a user permissions to pass a role to an AWS service": its
    example allows iam:PassRole with StringEquals iam:PassedToService ec2.amazonaws.com).
    A policy so conditioned denied every launch with a profile."""
    (prof, _, role_arn), _ = two_profiles(root)

    def passing_to(service: str) -> dict:
        return {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": service}}}

    to_ec2 = user_ec2(server, root, ALLOW_EC2, passing_to("ec2.amazonaws.com"))
    assert launch(to_ec2, IamInstanceProfile={"Name": prof})["InstanceId"]
    to_lambda = user_ec2(server, root, ALLOW_EC2, passing_to("lambda.amazonaws.com"))
    with unauthorized(mutating=True):
        launch(to_lambda, IamInstanceProfile={"Name": prof})


def test_instance_profile_condition_key(server, root):
    """ec2:InstanceProfile on the instance resource of RunInstances: only this profile."""
    (prof, prof_arn, _), (other_prof, _, _) = two_profiles(root)
    only_this = {"Effect": "Deny", "Action": "ec2:RunInstances",
                 "Resource": "arn:aws:ec2:*:*:instance/*",
                 "Condition": {"ArnNotEquals": {"ec2:InstanceProfile": prof_arn}}}
    pinned = user_ec2(server, root, ALLOW_EC2, only_this,
                      {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})
    assert launch(pinned, IamInstanceProfile={"Name": prof})["InstanceId"]
    with unauthorized(mutating=True):
        launch(pinned, IamInstanceProfile={"Name": other_prof})
    with unauthorized(mutating=True):
        launch(pinned)  # no profile: the key is absent, ArnNotEquals holds


def test_role_delivery_applies_to_iam_calls_too(server, root, exec_ok):
    """spec iam.md §2: ec2:RoleDelivery is in the context of any request signed with the
    instance's role credentials, whatever the service."""
    role, iid = profile_instance(root, [doc({"Effect": "Allow", "Action": "*", "Resource": "*"},
                                            V2_CREDENTIALS)])
    v1 = Clients(server, Creds.of(instance_credentials(server, ID, iid, role, v2=False))).iam()
    v2 = Clients(server, Creds.of(instance_credentials(server, ID, iid, role, v2=True))).iam()
    with client_error("AccessDenied", 403, message_re="explicit deny"):
        v1.get_role(RoleName=role)
    assert v2.get_role(RoleName=role)["Role"]["RoleName"] == role


# --------------------------------------------------------------------------------------
# Tag-on-create (issue 11): EC2 User Guide, "Grant permission to tag Amazon EC2 resources
# during creation" — "If tags are specified in the resource-creating action, Amazon performs
# additional authorization on the ec2:CreateTags action"; "The ec2:CreateTags action is also
# evaluated if tags are provided in a launch template".
# --------------------------------------------------------------------------------------

LAUNCH_ONLY = {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:Describe*",
                                             "ec2:CreateLaunchTemplate"], "Resource": "*"}


def tag_on_create(action: str, **condition) -> dict:
    """The guide's own statement: CreateTags only as part of `action`."""
    return {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*:*:*/*",
            "Condition": {"StringEquals": {"ec2:CreateAction": action, **condition}}}


def tagged(resource_type: str, **tags) -> list[dict]:
    return [{"ResourceType": resource_type,
             "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def test_user_guide_tag_on_create_run_instances_needs_create_tags(server, root):
    ec2 = user_ec2(server, root, LAUNCH_ONLY)
    before = n_instances(root.ec2())
    launch(ec2)  # no tags: ec2:CreateTags is not evaluated
    with unauthorized(mutating=True) as d:
        launch(ec2, TagSpecifications=tagged("instance", Name="web"))
    assert d.action == "ec2:CreateTags", d.message
    assert d.resource == f"arn:aws:ec2:{REGION}:{ID.id}:instance/*", d.message
    context = {c["key"]: [v["value"] for v in c["values"]["items"]]
               for c in decode(root.sts(), d.token)["context"]["conditions"]["items"]}
    assert context["ec2:CreateAction"] == ["RunInstances"], context
    assert context["aws:RequestTag/Name"] == ["web"], context
    # The dry run asks the same question.
    with unauthorized(mutating=True):
        launch(ec2, TagSpecifications=tagged("instance", Name="web"), DryRun=True)
    # Volume tags are checked on volume/*.
    with unauthorized(mutating=True) as d:
        launch(ec2, TagSpecifications=tagged("volume", Backup="daily"))
    assert d.resource.endswith(":volume/*"), d.message
    assert n_instances(root.ec2()) == before + 1, "only the untagged launch happened"


def test_user_guide_tag_on_create_allowed_only_with_create_action(server, root):
    ec2 = user_ec2(server, root, LAUNCH_ONLY, tag_on_create("RunInstances"))
    i = launch(ec2, TagSpecifications=tagged("instance", Name="web"))
    tags = helpers.describe(root.ec2(), [i["InstanceId"]])[0].get("Tags", [])
    assert {"Key": "Name", "Value": "web"} in tags
    # Not a licence to tag existing resources: ec2:CreateAction is absent there.
    with unauthorized(mutating=True) as d:
        ec2.create_tags(Resources=[i["InstanceId"]], Tags=[{"Key": "Env", "Value": "x"}])
    assert d.action == "ec2:CreateTags"
    # Nor to tag what another create action makes.
    with unauthorized(mutating=True) as d:
        ec2.create_launch_template(
            LaunchTemplateName=uniq("lt"), LaunchTemplateData={"ImageId": AMI_AL2},
            TagSpecifications=tagged("launch-template", Team="a"))
    assert d.action == "ec2:CreateTags" and ":launch-template/*" in d.resource, d.message


def test_user_guide_tag_on_create_request_tag_conditions(server, root):
    ec2 = user_ec2(server, root, LAUNCH_ONLY,
                   tag_on_create("RunInstances", **{"aws:RequestTag/Env": "dev"}))
    launch(ec2, TagSpecifications=tagged("instance", Env="dev"))
    with unauthorized(mutating=True) as d:
        launch(ec2, TagSpecifications=tagged("instance", Env="prod"))
    assert d.action == "ec2:CreateTags"


def test_user_guide_tag_on_create_sees_the_launch_template_tags(server, root):
    name = uniq("lt")
    root.ec2().create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "TagSpecifications": tagged("instance", Team="blue")})
    ec2 = user_ec2(server, root, LAUNCH_ONLY)
    with unauthorized(mutating=True) as d:
        ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": name})
    assert d.action == "ec2:CreateTags", d.message
    ok = user_ec2(server, root, LAUNCH_ONLY,
                  tag_on_create("RunInstances", **{"aws:RequestTag/Team": "blue"}))
    i = ok.run_instances(MinCount=1, MaxCount=1,
                         LaunchTemplate={"LaunchTemplateName": name})["Instances"][0]
    tags = helpers.describe(root.ec2(), [i["InstanceId"]])[0].get("Tags", [])
    assert {"Key": "Team", "Value": "blue"} in tags


def test_user_guide_tag_on_create_launch_template(server, root):
    ec2 = user_ec2(server, root, LAUNCH_ONLY)
    # The template data's own TagSpecifications tag nothing at creation.
    ec2.create_launch_template(
        LaunchTemplateName=uniq("lt"),
        LaunchTemplateData={"ImageId": AMI_AL2,
                            "TagSpecifications": tagged("instance", Team="a")})
    with unauthorized(mutating=True) as d:
        ec2.create_launch_template(
            LaunchTemplateName=uniq("lt"), LaunchTemplateData={"ImageId": AMI_AL2},
            TagSpecifications=tagged("launch-template", Team="a"))
    assert d.action == "ec2:CreateTags" and ":launch-template/*" in d.resource, d.message
    ok = user_ec2(server, root, LAUNCH_ONLY, tag_on_create("CreateLaunchTemplate"))
    ok.create_launch_template(
        LaunchTemplateName=uniq("lt"), LaunchTemplateData={"ImageId": AMI_AL2},
        TagSpecifications=tagged("launch-template", Team="a"))
