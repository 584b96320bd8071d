"""spec/iam.md §6, conformance cases 1–28, end to end (issue 4).

Each case builds its principal with the IAM API (a role holding the case's identity policy,
assumed through STS by an operator user of the account whose identity policy allows
sts:AssumeRole), makes the EC2 call with the session's credentials and checks the decision,
the 403 `UnauthorizedOperation` and the message form of §5. Where the policy simulator
applies, `SimulateCustomPolicy` (the identity policies, the boundary for case 21, the
context keys the live call carries) and `SimulatePrincipalPolicy` must reach the same
decision (`allowed` / `explicitDeny` / `implicitDeny`).

Accounts (spec: "an Organizations member with the default full-access SCP"):
  MEM   111122223333  scps = [FullAWSAccess]                    cases 1–17, 21–28
  OTHER 444455556666  scps = [FullAWSAccess]                    case 14 (role names are
                       case-insensitive within an account, so EC2-IMDS-Admins lives here)
  OU_A  555566667777  levels [FullAWSAccess] → [FullAWSAccess, Policy A]       case 18
  OU_D  666677778888  levels [FullAWSAccess] → [Allow ec2:Describe*]           case 19
                       (its root is the caller: the SCP leaves no IAM/STS to build a role)
  MGMT  777788889999  the same levels, management_account = true              case 20

SimulatePrincipalPolicy includes the SCPs of the simulated principal's account
(IAM API reference, EvaluationResult.OrganizationsDecisionDetail: "how Organizations and its
service control policies affect the results of the simulation ... if the simulated user's
account is part of an organization"); SimulateCustomPolicy has no account and sees only the
documents given.
"""
from __future__ import annotations

import pytest

import helpers
from helpers import AMI_AL2, REGION
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
    sim_custom,
    sim_principal,
    trust_ec2,
    uniq,
    unauthorized,
)

R = REGION
MEM = Acct("111122223333", "AKIAMEMBER0000000001", "mem/secret/key/0000000000000000000000001",
           scps=[FULL_ACCESS])
OTHER = Acct("444455556666", "AKIAOTHER00000000002", "oth/secret/key/0000000000000000000000002",
             scps=[FULL_ACCESS])
ASSUME_ANY = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})

# --- Reference policies (spec iam.md §3), as statements -----------------------------------

A_STMT = {"Sid": "RequireImdsV2", "Effect": "Deny", "Action": "ec2:RunInstances",
          "Resource": "arn:aws:ec2:*:*:instance/*",
          "Condition": {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}}
A_STAR = dict(A_STMT, Resource="*")
B_STMT = {"Sid": "MaxHop3", "Effect": "Deny", "Action": "ec2:RunInstances",
          "Resource": "arn:aws:ec2:*:*:instance/*",
          "Condition": {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "3"}}}
C_STMT = {"Sid": "NoImdsV1Again", "Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions",
          "Resource": "arn:aws:ec2:*:*:instance/*",
          "Condition": {"StringNotEquals": {"ec2:Attribute/HttpTokens": "required"},
                        "Null": {"ec2:Attribute/HttpTokens": "false"}}}
C_NO_NULL = {k: v for k, v in C_STMT.items() if k != "Condition"} | {
    "Condition": {"StringNotEquals": {"ec2:Attribute/HttpTokens": "required"}}}
D_STMT = {"Sid": "OnlyImdsAdmins", "Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions",
          "Resource": "*",
          "Condition": {"StringNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/ec2-imds-admins"}}}
E_STMT = {"Sid": "RequireImdsV2Credentials", "Effect": "Deny", "Action": "*", "Resource": "*",
          "Condition": {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}}
E_IFEXISTS = dict(E_STMT, Condition={"NumericLessThanIfExists": {"ec2:RoleDelivery": "2.0"}})
G_STMT = {"Sid": "LockDefaults", "Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataDefaults",
          "Resource": "*",
          "Condition": {"StringNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/ec2-imds-admins"},
                        "Null": {"ec2:Attribute/HttpTokensEnforced": "false"}}}

DESCRIBE_ONLY = doc({"Sid": "DescribeOnly", "Effect": "Allow", "Action": "ec2:Describe*",
                     "Resource": "*"})
SCP_A = doc(A_STMT)
OU_A = Acct("555566667777", "AKIAOUAAAA0000000003", "oua/secret/key/0000000000000000000000003",
            scp_levels=[[FULL_ACCESS], [FULL_ACCESS, SCP_A]])
OU_D = Acct("666677778888", "AKIAOUDDDD0000000004", "oud/secret/key/0000000000000000000000004",
            scp_levels=[[FULL_ACCESS], [DESCRIBE_ONLY]])
MGMT = Acct("777788889999", "AKIAMGMTMG0000000005", "mgm/secret/key/0000000000000000000000005",
            scp_levels=[[FULL_ACCESS], [DESCRIBE_ONLY]], management=True)


def inst_arn(acct: Acct, iid: str = "*", region: str = R) -> str:
    return f"arn:aws:ec2:{region}:{acct.id}:instance/{iid}"


IMAGE_ARN = f"arn:aws:ec2:{R}::image/{AMI_AL2}"


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("iamspec"), [MEM, OTHER, OU_A, OU_D, MGMT]))


class Org:
    """One account: root clients and an operator user allowed to assume roles."""

    def __init__(self, srv, acct: Acct):
        self.srv, self.acct = srv, acct
        self.root = Clients(srv, acct)
        self.iam = self.root.iam()
        self.ec2 = self.root.ec2()
        _, self.op_creds = make_user(self.iam, uniq("operator"), [ASSUME_ANY])
        self.sts = Clients(srv, self.op_creds).sts()

    def role(self, policies, name: str | None = None, session: str = "s1",
             boundary: str | None = None, region: str = R) -> tuple[str, Clients]:
        """A role with `policies` (inline), assumed: (role ARN, the session's clients)."""
        name = name or uniq("dev")
        arn = make_role(self.iam, name, self.acct.id, policies, boundary=boundary)
        return arn, Clients(self.srv, assume(self.sts, arn, session), region)


@pytest.fixture(scope="module")
def mem(server):
    return Org(server, MEM)


@pytest.fixture(scope="module")
def target(mem):
    """A running instance of MEM (options required, hop 1), launched by the account root."""
    iid = launch(mem.ec2, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    helpers.wait_state(mem.ec2, iid, "running")
    return iid


def sim(iam, policies, action, resource="*", ctx=None, boundary=()):
    return sim_custom(iam, [doc(*p) if isinstance(p, list) else p for p in policies],
                      action, resource, ctx, boundary)


def describe_ok(ec2) -> None:
    assert "Reservations" in ec2.describe_instances()


# --------------------------------------------------------------------------------------
# Cases 1–8: identity policies, RunInstances and DescribeInstances
# --------------------------------------------------------------------------------------


def test_case_01_no_policies_implicit_deny(mem):
    arn, dev = mem.role([])
    with unauthorized(mutating=False):
        dev.ec2().describe_instances()
    assert sim(mem.iam, [], "ec2:DescribeInstances") == "implicitDeny"
    assert sim_principal(mem.iam, arn, "ec2:DescribeInstances") == "implicitDeny"


def test_case_02_policy_a_required_allowed(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, A_STMT)])
    i = launch(dev.ec2(), MetadataOptions={"HttpTokens": "required"})
    assert i["MetadataOptions"]["HttpTokens"] == "required"
    ctx = {"ec2:MetadataHttpTokens": "required"}
    assert sim(mem.iam, [[ALLOW_EC2, A_STMT]], "ec2:RunInstances", inst_arn(MEM), ctx) == "allowed"
    assert sim_principal(mem.iam, arn, "ec2:RunInstances", inst_arn(MEM), ctx) == "allowed"


def count(ec2) -> int:
    return len(helpers.describe(ec2))


def test_case_03_policy_a_optional_explicit_deny(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, A_STMT)], session="c3")
    ec2 = dev.ec2()
    before = count(mem.ec2)
    with unauthorized(mutating=True) as d:
        launch(ec2, MetadataOptions={"HttpTokens": "optional"})
    assert count(mem.ec2) == before, "a denied launch launched something"
    if d.reason is not None:  # the newer message form names principal, action and reason
        assert d.principal == f"arn:aws:sts::{MEM.id}:assumed-role/{arn.rsplit('/', 1)[1]}/c3"
        assert d.action == "ec2:RunInstances"
        assert "with an explicit deny in an identity-based policy" in d.reason
    ctx = {"ec2:MetadataHttpTokens": "optional"}
    assert sim(mem.iam, [[ALLOW_EC2, A_STMT]], "ec2:RunInstances", inst_arn(MEM), ctx) == "explicitDeny"
    assert sim_principal(mem.iam, arn, "ec2:RunInstances", inst_arn(MEM), ctx) == "explicitDeny"


def test_case_04_policy_a_no_options_denied(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, A_STMT)])
    with unauthorized(mutating=True):
        launch(dev.ec2())
    # Key absent from the context: StringNotEquals is true.
    assert sim(mem.iam, [[ALLOW_EC2, A_STMT]], "ec2:RunInstances", inst_arn(MEM)) == "explicitDeny"


def test_case_05_policy_a_launch_template_required_allowed(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, A_STMT)])
    ec2 = dev.ec2()
    lt = ec2.create_launch_template(
        LaunchTemplateName=uniq("req"),
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpTokens": "required"}})["LaunchTemplate"]
    r = ec2.run_instances(MinCount=1, MaxCount=1,
                          LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]})
    assert r["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"
    ctx = {"ec2:MetadataHttpTokens": "required"}
    assert sim(mem.iam, [[ALLOW_EC2, A_STMT]], "ec2:RunInstances", inst_arn(MEM), ctx) == "allowed"


def test_case_06_policy_a_on_every_resource_denies_every_launch(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, A_STAR)])
    with unauthorized(mutating=True):
        launch(dev.ec2(), MetadataOptions={"HttpTokens": "required"})
    # The instance check passes; the image check (no ec2:MetadataHttpTokens there) is denied.
    pol = [[ALLOW_EC2, A_STAR]]
    assert sim(mem.iam, pol, "ec2:RunInstances", inst_arn(MEM),
               {"ec2:MetadataHttpTokens": "required"}) == "allowed"
    assert sim(mem.iam, pol, "ec2:RunInstances", IMAGE_ARN) == "explicitDeny"


def test_case_07_policy_b_hop_limit(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, B_STMT)])
    ec2 = dev.ec2()
    i = launch(ec2, MetadataOptions={"HttpPutResponseHopLimit": 3})
    assert i["MetadataOptions"]["HttpPutResponseHopLimit"] == 3
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpPutResponseHopLimit": 4})
    pol = [[ALLOW_EC2, B_STMT]]
    hop = "ec2:MetadataHttpPutResponseHopLimit"
    assert sim(mem.iam, pol, "ec2:RunInstances", inst_arn(MEM), {hop: 3}) == "allowed"
    assert sim(mem.iam, pol, "ec2:RunInstances", inst_arn(MEM), {hop: 4}) == "explicitDeny"
    assert sim_principal(mem.iam, arn, "ec2:RunInstances", inst_arn(MEM), {hop: 4}) == "explicitDeny"


def test_case_08_policy_b_no_hop_limit_allowed(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, B_STMT)])
    assert launch(dev.ec2())["InstanceId"]
    assert sim(mem.iam, [[ALLOW_EC2, B_STMT]], "ec2:RunInstances", inst_arn(MEM)) == "allowed"


# --------------------------------------------------------------------------------------
# Cases 9–14: ModifyInstanceMetadataOptions
# --------------------------------------------------------------------------------------


def test_case_09_policy_c_optional_denied(mem, target):
    arn, dev = mem.role([doc(ALLOW_EC2, C_STMT)])
    with unauthorized(mutating=True):
        dev.ec2().modify_instance_metadata_options(InstanceId=target, HttpTokens="optional")
    assert helpers.options(mem.ec2, target)["HttpTokens"] == "required", "denied call changed it"
    ctx = {"ec2:Attribute/HttpTokens": "optional"}
    assert sim(mem.iam, [[ALLOW_EC2, C_STMT]], "ec2:ModifyInstanceMetadataOptions",
               inst_arn(MEM, target), ctx) == "explicitDeny"


def test_case_10_policy_c_required_allowed(mem, target):
    arn, dev = mem.role([doc(ALLOW_EC2, C_STMT)])
    r = dev.ec2().modify_instance_metadata_options(InstanceId=target, HttpTokens="required")
    assert r["InstanceMetadataOptions"]["HttpTokens"] == "required"
    ctx = {"ec2:Attribute/HttpTokens": "required"}
    assert sim(mem.iam, [[ALLOW_EC2, C_STMT]], "ec2:ModifyInstanceMetadataOptions",
               inst_arn(MEM, target), ctx) == "allowed"


def test_case_11_policy_c_hop_limit_only_allowed(mem, target):
    arn, dev = mem.role([doc(ALLOW_EC2, C_STMT)])
    r = dev.ec2().modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=2)
    assert r["InstanceMetadataOptions"]["HttpPutResponseHopLimit"] == 2
    ctx = {"ec2:Attribute/HttpPutResponseHopLimit": "2"}
    assert sim(mem.iam, [[ALLOW_EC2, C_STMT]], "ec2:ModifyInstanceMetadataOptions",
               inst_arn(MEM, target), ctx) == "allowed"


def test_case_12_policy_c_without_null_denies_hop_limit_only(mem, target):
    arn, dev = mem.role([doc(ALLOW_EC2, C_NO_NULL)])
    with unauthorized(mutating=True):
        dev.ec2().modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=3)
    ctx = {"ec2:Attribute/HttpPutResponseHopLimit": "3"}
    assert sim(mem.iam, [[ALLOW_EC2, C_NO_NULL]], "ec2:ModifyInstanceMetadataOptions",
               inst_arn(MEM, target), ctx) == "explicitDeny"


def test_case_13_policy_d_only_the_admin_role(mem, target):
    admin_arn, admin = mem.role([doc(ALLOW_EC2, D_STMT)], name="ec2-imds-admins", session="s1")
    assert admin.sts().get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{MEM.id}:assumed-role/ec2-imds-admins/s1"
    r = admin.ec2().modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=2)
    assert r["InstanceId"] == target
    dev_arn, dev = mem.role([doc(ALLOW_EC2, D_STMT)], name=uniq("dev"))
    with unauthorized(mutating=True):
        dev.ec2().modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=2)
    pol = [[ALLOW_EC2, D_STMT]]
    act = "ec2:ModifyInstanceMetadataOptions"
    # aws:PrincipalArn is the role ARN, not the session ARN.
    assert sim(mem.iam, pol, act, inst_arn(MEM, target), {"aws:PrincipalArn": admin_arn}) == "allowed"
    assert sim(mem.iam, pol, act, inst_arn(MEM, target), {"aws:PrincipalArn": dev_arn}) == "explicitDeny"


def test_case_14_policy_d_principal_arn_is_case_sensitive(server):
    other = Org(server, OTHER)
    iid = launch(other.ec2, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    helpers.wait_state(other.ec2, iid, "running")
    arn, caller = other.role([doc(ALLOW_EC2, D_STMT)], name="EC2-IMDS-Admins")
    assert arn == f"arn:aws:iam::{OTHER.id}:role/EC2-IMDS-Admins"
    with unauthorized(mutating=True):
        caller.ec2().modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    assert sim(other.iam, [[ALLOW_EC2, D_STMT]], "ec2:ModifyInstanceMetadataOptions",
               inst_arn(OTHER, iid), {"aws:PrincipalArn": arn}) == "explicitDeny"


# --------------------------------------------------------------------------------------
# Cases 15–17, 27: ec2:RoleDelivery
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exec_ok():
    why = exec_unavailable()
    if why:
        pytest.skip(why)


def profile_instance(mem, policies) -> tuple[str, str]:
    """(role name, running instance id) for a role with `policies` in an instance profile."""
    role = uniq("app")
    make_role(mem.iam, role, MEM.id, policies, trust=trust_ec2())
    prof = uniq("prof")
    instance_profile(mem.iam, prof, role)
    return role, running_with_profile(mem.ec2, prof)


def test_case_15_policy_e_role_delivery(server, mem, exec_ok):
    role, iid = profile_instance(mem, [doc(ALLOW_EC2, E_STMT)])
    v1 = instance_credentials(server, MEM, iid, role, v2=False)
    v2 = instance_credentials(server, MEM, iid, role, v2=True)
    s1, s2 = Clients(server, _creds(v1)), Clients(server, _creds(v2))
    with unauthorized(mutating=False):
        s1.ec2().describe_instances()
    with unauthorized(mutating=True):
        s1.ec2().modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    assert iid in {i["InstanceId"] for i in helpers.describe(s2.ec2())}
    s2.ec2().modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    me = s2.sts().get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{MEM.id}:assumed-role/{role}/{iid}"
    pol = [[ALLOW_EC2, E_STMT]]
    assert sim(mem.iam, pol, "ec2:DescribeInstances", "*",
               {"ec2:RoleDelivery": ("1.0", "numeric")}) == "explicitDeny"
    assert sim(mem.iam, pol, "ec2:DescribeInstances", "*",
               {"ec2:RoleDelivery": ("2.0", "numeric")}) == "allowed"


def _creds(c):
    return Creds.of(c)


def test_case_16_policy_e_user_keys_allowed(server, mem):
    _, creds = make_user(mem.iam, uniq("u16"), [doc(ALLOW_EC2, E_STMT)])
    describe_ok(Clients(server, creds).ec2())
    assert sim(mem.iam, [[ALLOW_EC2, E_STMT]], "ec2:DescribeInstances") == "allowed"


def test_case_17_policy_e_ifexists_user_keys_denied(server, mem):
    user_arn, creds = make_user(mem.iam, uniq("u17"), [doc(ALLOW_EC2, E_IFEXISTS)])
    with unauthorized(mutating=False):
        Clients(server, creds).ec2().describe_instances()
    assert sim(mem.iam, [[ALLOW_EC2, E_IFEXISTS]], "ec2:DescribeInstances") == "explicitDeny"
    assert sim_principal(mem.iam, user_arn, "ec2:DescribeInstances") == "explicitDeny"


def test_case_27_numeric_equals_2_matches_role_delivery_2_0(server, mem, exec_ok):
    only_v2 = {"Sid": "OnlyV2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*",
               "Condition": {"NumericEquals": {"ec2:RoleDelivery": "2"}}}
    role, iid = profile_instance(mem, [doc(only_v2)])
    v1 = instance_credentials(server, MEM, iid, role, v2=False)
    v2 = instance_credentials(server, MEM, iid, role, v2=True)
    describe_ok(Clients(server, _creds(v2)).ec2())
    with unauthorized(mutating=False):
        Clients(server, _creds(v1)).ec2().describe_instances()
    assert sim(mem.iam, [doc(only_v2)], "ec2:DescribeInstances", "*",
               {"ec2:RoleDelivery": ("2.0", "numeric")}) == "allowed"
    assert sim(mem.iam, [doc(only_v2)], "ec2:DescribeInstances", "*",
               {"ec2:RoleDelivery": ("1.0", "numeric")}) == "implicitDeny"


# --------------------------------------------------------------------------------------
# Cases 18–20: SCP levels and the management account
# --------------------------------------------------------------------------------------


def _org_decision(r: dict):
    return (r["EvalDecision"], r.get("OrganizationsDecisionDetail", {}).get("AllowedByOrganizations"))


def test_case_18_scp_on_the_ou_explicit_deny(server):
    org = Org(server, OU_A)
    arn, dev = org.role([doc(ALLOW_EC2)])
    ec2 = dev.ec2()
    with unauthorized(mutating=True, reason="with an explicit deny in a service control policy"):
        launch(ec2, MetadataOptions={"HttpTokens": "optional"})
    assert launch(ec2, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    ctx = {"ec2:MetadataHttpTokens": "optional"}
    # The identity policy alone allows; the simulator with the principal sees the SCP.
    assert sim(org.iam, [[ALLOW_EC2]], "ec2:RunInstances", inst_arn(OU_A), ctx) == "allowed"
    r = sim_principal(org.iam, arn, "ec2:RunInstances", inst_arn(OU_A), ctx, full=True)
    assert _org_decision(r) == ("explicitDeny", False), r


def test_case_19_ou_scp_allows_only_describe(server, mem):
    """The OU's SCP allows only ec2:Describe*. SCPs bind every principal of a member account,
    the root user included, and that also rules out creating IAM users or roles there or
    assuming one (iam:*, sts:AssumeRole are not allowed at the OU level): the account root is
    the principal (it has every permission an identity policy could give)."""
    root = Clients(server, OU_D)
    ec2 = root.ec2()
    before = len(helpers.describe(ec2))
    with unauthorized(mutating=True,
                      reason="because no service control policy allows the ec2:RunInstances action"):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})
    assert len(helpers.describe(ec2)) == before
    with client_error("AccessDenied", 403):
        root.iam().create_user(UserName=uniq("blocked"))
    # The SCP alone, as the simulator sees a document: RunInstances is not allowed by it.
    assert sim(mem.iam, [DESCRIBE_ONLY], "ec2:RunInstances", inst_arn(OU_D),
               {"ec2:MetadataHttpTokens": "required"}) == "implicitDeny"
    assert sim(mem.iam, [DESCRIBE_ONLY], "ec2:DescribeInstances") == "allowed"


def test_case_20_management_account_is_exempt(server):
    org = Org(server, MGMT)  # IAM and STS work here: the same SCPs do not apply
    assert launch(org.ec2, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    arn, dev = org.role([doc(ALLOW_EC2)])
    i = launch(dev.ec2(), MetadataOptions={"HttpTokens": "required"})
    assert i["InstanceId"]
    assert sim_principal(org.iam, arn, "ec2:RunInstances", inst_arn(MGMT),
                         {"ec2:MetadataHttpTokens": "required"}) == "allowed"


# --------------------------------------------------------------------------------------
# Cases 21–24: boundary, resource ARNs, actions without resource types, Policy G
# --------------------------------------------------------------------------------------


def test_case_21_permissions_boundary(mem, target):
    boundary = mem.iam.create_policy(PolicyName=uniq("describe-only"),
                                     PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    arn, dev = mem.role([doc(ALLOW_EC2)], boundary=boundary)
    ec2 = dev.ec2()
    with unauthorized(mutating=True) as d:
        ec2.modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=2)
    if d.reason is not None:
        assert d.reason.startswith(
            "because no permissions boundary allows the ec2:ModifyInstanceMetadataOptions action"), d
    describe_ok(ec2)
    act = "ec2:ModifyInstanceMetadataOptions"
    res = inst_arn(MEM, target)
    ctx = {"ec2:Attribute/HttpPutResponseHopLimit": "2"}
    assert sim(mem.iam, [[ALLOW_EC2]], act, res, ctx, boundary=[DESCRIBE_ONLY]) == "implicitDeny"
    assert sim(mem.iam, [[ALLOW_EC2]], "ec2:DescribeInstances", "*",
               boundary=[DESCRIBE_ONLY]) == "allowed"
    assert sim_principal(mem.iam, arn, act, res, ctx) == "implicitDeny"
    assert sim_principal(mem.iam, arn, "ec2:DescribeInstances") == "allowed"


def test_case_22_identity_policy_on_one_instance_arn(mem):
    a = launch(mem.ec2)["InstanceId"]
    b = launch(mem.ec2)["InstanceId"]
    for i in (a, b):
        helpers.wait_state(mem.ec2, i, "running")
    only_a = {"Effect": "Allow", "Action": "ec2:ModifyInstanceMetadataOptions",
              "Resource": inst_arn(MEM, a)}
    arn, dev = mem.role([doc(only_a)])
    ec2 = dev.ec2()
    with unauthorized(mutating=True) as d:
        ec2.modify_instance_metadata_options(InstanceId=b, HttpTokens="required")
    if d.reason is not None:
        assert d.resource == inst_arn(MEM, b), d
        assert d.reason.startswith(
            "because no identity-based policy allows the ec2:ModifyInstanceMetadataOptions action"), d
    r = ec2.modify_instance_metadata_options(InstanceId=a, HttpTokens="required")
    assert r["InstanceMetadataOptions"]["HttpTokens"] == "required"
    act = "ec2:ModifyInstanceMetadataOptions"
    assert sim(mem.iam, [doc(only_a)], act, inst_arn(MEM, a)) == "allowed"
    assert sim(mem.iam, [doc(only_a)], act, inst_arn(MEM, b)) == "implicitDeny"
    assert sim_principal(mem.iam, arn, act, inst_arn(MEM, b)) == "implicitDeny"


def test_case_23_defaults_action_has_no_resource_type(mem):
    on_instances = {"Effect": "Allow", "Action": "ec2:ModifyInstanceMetadataDefaults",
                    "Resource": "arn:aws:ec2:*:*:instance/*"}
    arn, dev = mem.role([doc(on_instances)], region="ap-southeast-2")
    with unauthorized(mutating=True):
        dev.ec2().modify_instance_metadata_defaults(HttpPutResponseHopLimit=2)
    assert "HttpPutResponseHopLimit" not in \
        mem.root.ec2("ap-southeast-2").get_instance_metadata_defaults().get("AccountLevel", {})
    assert sim(mem.iam, [doc(on_instances)], "ec2:ModifyInstanceMetadataDefaults", "*") == "implicitDeny"


def test_case_24_policy_g_locks_enforcement(mem):
    region = "eu-west-1"  # account defaults change here only
    arn, dev = mem.role([doc(ALLOW_EC2, G_STMT)], region=region)
    ec2 = dev.ec2()
    with unauthorized(mutating=True):
        ec2.modify_instance_metadata_defaults(HttpTokensEnforced="disabled")
    assert ec2.modify_instance_metadata_defaults(HttpPutResponseHopLimit=2)["Return"] is True
    got = mem.root.ec2(region).get_instance_metadata_defaults()["AccountLevel"]
    assert got.get("HttpPutResponseHopLimit") == 2 and "HttpTokensEnforced" not in got, got
    mem.root.ec2(region).modify_instance_metadata_defaults(HttpPutResponseHopLimit=-1)
    act = "ec2:ModifyInstanceMetadataDefaults"
    pol = [[ALLOW_EC2, G_STMT]]
    assert sim(mem.iam, pol, act, "*", {"ec2:Attribute/HttpTokensEnforced": "disabled",
                                        "aws:PrincipalArn": arn}) == "explicitDeny"
    assert sim(mem.iam, pol, act, "*", {"ec2:Attribute/HttpPutResponseHopLimit": "2",
                                        "aws:PrincipalArn": arn}) == "allowed"


# --------------------------------------------------------------------------------------
# Cases 25–26, 28
# --------------------------------------------------------------------------------------


def test_case_25_dry_run(mem, target):
    _, ok = mem.role([doc(ALLOW_EC2)])
    before = helpers.options(mem.ec2, target)
    with client_error("DryRunOperation", 412, helpers.DRY_RUN_MESSAGE):
        ok.ec2().modify_instance_metadata_options(InstanceId=target, HttpTokens="optional",
                                                  DryRun=True)
    _, guarded = mem.role([doc(ALLOW_EC2, C_STMT)])
    with unauthorized(mutating=True):
        guarded.ec2().modify_instance_metadata_options(InstanceId=target, HttpTokens="optional",
                                                       DryRun=True)
    after = helpers.options(mem.ec2, target)
    assert after["HttpTokens"] == before["HttpTokens"] == "required", (before, after)


def test_case_26_key_names_case_insensitive_values_case_sensitive(mem):
    upper = dict(A_STMT, Condition={"StringNotEquals": {"EC2:METADATAHTTPTOKENS": "required"}})
    _, dev = mem.role([doc(ALLOW_EC2, upper)])
    ec2 = dev.ec2()
    assert launch(ec2, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "optional"})
    capital = dict(A_STMT, Condition={"StringNotEquals": {"ec2:MetadataHttpTokens": "Required"}})
    _, dev2 = mem.role([doc(ALLOW_EC2, capital)])
    with unauthorized(mutating=True):
        launch(dev2.ec2(), MetadataOptions={"HttpTokens": "required"})
    res = inst_arn(MEM)
    req = {"ec2:MetadataHttpTokens": "required"}
    assert sim(mem.iam, [[ALLOW_EC2, upper]], "ec2:RunInstances", res, req) == "allowed"
    assert sim(mem.iam, [[ALLOW_EC2, upper]], "ec2:RunInstances", res,
               {"ec2:MetadataHttpTokens": "optional"}) == "explicitDeny"
    assert sim(mem.iam, [[ALLOW_EC2, capital]], "ec2:RunInstances", res, req) == "explicitDeny"


def test_case_28_decode_authorization_message(mem):
    arn, dev = mem.role([doc(ALLOW_EC2, A_STMT)], session="c28")
    role_name = arn.rsplit("/", 1)[1]
    with unauthorized(mutating=True) as d:
        launch(dev.ec2(), MetadataOptions={"HttpTokens": "optional"})
    # The caller needs sts:DecodeAuthorizationMessage: the dev session (ec2:* only) lacks it.
    with client_error("AccessDenied", 403):
        dev.sts().decode_authorization_message(EncodedMessage=d.token)
    m = decode(mem.root.sts(), d.token)
    assert m["allowed"] is False and m["explicitDeny"] is True, m
    items = m["matchedStatements"]["items"]
    assert [s["statementId"] for s in items] == ["RequireImdsV2"], items
    st = items[0]
    assert st["effect"] == "DENY"
    assert [a["value"] for a in st["actions"]["items"]] == ["ec2:RunInstances"]
    assert [r["value"] for r in st["resources"]["items"]] == ["arn:aws:ec2:*:*:instance/*"], st
    role_id = mem.iam.get_role(RoleName=role_name)["Role"]["RoleId"]
    # As in spec §5's example: the statement's principal is the role's id (AROA...).
    assert [p["value"] for p in st["principals"]["items"]] == [role_id], st
    assert st["principalGroups"]["items"] == []
    assert m["failures"]["items"] == []
    conds = {c["key"]: [v["value"] for v in c["values"]["items"]] for c in st["conditions"]["items"]}
    assert conds == {"ec2:MetadataHttpTokens": ["required"]}, st
    c = m["context"]
    assert c["principal"]["arn"] == f"arn:aws:sts::{MEM.id}:assumed-role/{role_name}/c28"
    assert c["principal"]["id"] == f"{role_id}:c28"
    assert c["action"] in ("ec2:RunInstances", "RunInstances"), c["action"]
    assert c["resource"] == inst_arn(MEM)
    ctx = {x["key"]: [v["value"] for v in x["values"]["items"]] for x in c["conditions"]["items"]}
    assert ctx.get("ec2:MetadataHttpTokens") == ["optional"], ctx
    with client_error("InvalidAuthorizationMessageException", 400):
        mem.root.sts().decode_authorization_message(EncodedMessage="bm90IGEgdG9rZW4=")


# --------------------------------------------------------------------------------------
# Around the numbered cases: §1 action matching, §5 message forms and implicit-deny tokens
# --------------------------------------------------------------------------------------


def test_action_names_case_insensitive_with_wildcards(mem, target):
    """§1: action names in policies are case-insensitive and take * / ? wildcards."""
    odd = {"Effect": "Allow", "Action": ["EC2:modify*metadataOPTIONS", "ec2:Describe?nstances"],
           "Resource": "*"}
    _, dev = mem.role([doc(odd)])
    ec2 = dev.ec2()
    describe_ok(ec2)
    assert ec2.modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=2)
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})
    assert sim(mem.iam, [doc(odd)], "ec2:ModifyInstanceMetadataOptions",
               inst_arn(MEM, target)) == "allowed"


def test_not_action_and_not_resource(mem, target):
    everything_but_run = {"Effect": "Allow", "NotAction": "ec2:RunInstances", "Resource": "*"}
    not_target = {"Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions",
                  "NotResource": inst_arn(MEM, target)}
    other = launch(mem.ec2)["InstanceId"]
    helpers.wait_state(mem.ec2, other, "running")
    _, dev = mem.role([doc(everything_but_run, not_target)])
    ec2 = dev.ec2()
    describe_ok(ec2)
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})
    assert ec2.modify_instance_metadata_options(InstanceId=target, HttpPutResponseHopLimit=2)
    with unauthorized(mutating=True):
        ec2.modify_instance_metadata_options(InstanceId=other, HttpPutResponseHopLimit=2)


def test_read_and_write_denials_of_the_defaults_actions(mem):
    """§5: GetInstanceMetadataDefaults (List) is denied with the bare sentence;
    ModifyInstanceMetadataDefaults (Write) with an encoded message."""
    _, nothing = mem.role([])
    ec2 = nothing.ec2()
    with unauthorized(mutating=False):
        ec2.get_instance_metadata_defaults()
    with unauthorized(mutating=True):
        ec2.modify_instance_metadata_defaults(HttpTokens="required")
    with unauthorized(mutating=False):
        ec2.describe_instances(DryRun=True)


def test_implicit_deny_token_decodes_without_matched_statements(mem):
    """§5: explicitDeny false and no matched statements is an implicit deny."""
    describe_only = doc({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})
    arn, dev = mem.role([describe_only], session="imp")
    with unauthorized(mutating=True) as d:
        launch(dev.ec2(), MetadataOptions={"HttpTokens": "required"})
    m = decode(mem.root.sts(), d.token)
    assert m["allowed"] is False and m["explicitDeny"] is False, m
    assert m["matchedStatements"]["items"] == [], m
    assert m["context"]["principal"]["arn"] == \
        f"arn:aws:sts::{MEM.id}:assumed-role/{arn.rsplit('/', 1)[1]}/imp"


def test_policy_changes_apply_to_live_sessions(mem, target):
    """Identity policies are evaluated per request: changing the role's policies changes
    what an already-issued session may do."""
    name = uniq("live")
    arn, dev = mem.role([], name=name)
    ec2 = dev.ec2()
    with unauthorized(mutating=False):
        ec2.describe_instances()
    mem.iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    describe_ok(ec2)
    mem.iam.put_role_policy(RoleName=name, PolicyName="deny-describe", PolicyDocument=dumps(
        doc({"Effect": "Deny", "Action": "ec2:DescribeInstances", "Resource": "*"})))
    with unauthorized(mutating=False):
        ec2.describe_instances()
    mem.iam.delete_role_policy(RoleName=name, PolicyName="deny-describe")
    describe_ok(ec2)
    mem.iam.detach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    with unauthorized(mutating=False):
        ec2.describe_instances()


def test_user_permissions_boundary_caps_administrator_access(server, mem):
    name = uniq("capped")
    _, creds = make_user(mem.iam, name, managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    bound = mem.iam.create_policy(PolicyName=uniq("b"), PolicyDocument=dumps(DESCRIBE_ONLY))
    mem.iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=bound["Policy"]["Arn"])
    ec2 = Clients(server, creds).ec2()
    describe_ok(ec2)
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})
    mem.iam.delete_user_permissions_boundary(UserName=name)
    assert launch(ec2, MetadataOptions={"HttpTokens": "required"})["InstanceId"]


def test_region_keys(mem):
    """§2: ec2:Region and aws:RequestedRegion carry the request's Region."""
    west_only = {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:RequestedRegion": R}}}
    _, dev = mem.role([doc(ALLOW_EC2, west_only)])
    describe_ok(dev.ec2())
    with unauthorized(mutating=False):
        dev.ec2("eu-central-1").describe_instances()
    ec2_region = {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*",
                  "Condition": {"StringEquals": {"ec2:Region": "eu-central-1"}}}
    _, dev2 = mem.role([doc(ec2_region)])
    describe_ok(dev2.ec2("eu-central-1"))
    with unauthorized(mutating=False):
        dev2.ec2().describe_instances()


def test_request_tags_and_instance_type_at_launch(mem):
    """§1: RunInstances' instance resource carries aws:RequestTag/${TagKey}, aws:TagKeys and
    ec2:InstanceType."""
    need_team = {"Sid": "TagTeam", "Effect": "Deny", "Action": "ec2:RunInstances",
                 "Resource": "arn:aws:ec2:*:*:instance/*",
                 "Condition": {"Null": {"aws:RequestTag/team": "true"}}}
    small = {"Sid": "Small", "Effect": "Deny", "Action": "ec2:RunInstances",
             "Resource": "arn:aws:ec2:*:*:instance/*",
             "Condition": {"StringNotEquals": {"ec2:InstanceType": "t3.micro"}}}
    only_keys = {"Sid": "Keys", "Effect": "Deny", "Action": "ec2:RunInstances",
                 "Resource": "arn:aws:ec2:*:*:instance/*",
                 "Condition": {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team", "Name"]}}}
    _, dev = mem.role([doc(ALLOW_EC2, need_team, small, only_keys)])
    ec2 = dev.ec2()
    tags = helpers.tag_spec({"team": "blue"})
    assert launch(ec2, TagSpecifications=tags)["InstanceId"]
    with unauthorized(mutating=True):
        launch(ec2)
    with unauthorized(mutating=True):
        launch(ec2, InstanceType="t3.small", TagSpecifications=tags)
    with unauthorized(mutating=True):
        launch(ec2, TagSpecifications=helpers.tag_spec({"team": "blue", "cost": "x"}))


def test_resource_tags_on_modify(mem):
    """§1: ModifyInstanceMetadataOptions' instance carries aws:ResourceTag/${TagKey} and
    ec2:ResourceTag/${TagKey} (the instance's tags)."""
    dev_i = launch(mem.ec2, TagSpecifications=helpers.tag_spec({"env": "dev"}))["InstanceId"]
    prod_i = launch(mem.ec2, TagSpecifications=helpers.tag_spec({"env": "prod"}))["InstanceId"]
    for i in (dev_i, prod_i):
        helpers.wait_state(mem.ec2, i, "running")
    for key in ("aws:ResourceTag/env", "ec2:ResourceTag/env"):
        only_dev = {"Effect": "Allow", "Action": "ec2:ModifyInstanceMetadataOptions",
                    "Resource": "*", "Condition": {"StringEquals": {key: "dev"}}}
        _, dev = mem.role([doc(only_dev)])
        ec2 = dev.ec2()
        assert ec2.modify_instance_metadata_options(InstanceId=dev_i, HttpPutResponseHopLimit=2)
        with unauthorized(mutating=True):
            ec2.modify_instance_metadata_options(InstanceId=prod_i, HttpPutResponseHopLimit=2)


def test_set_operators_in_the_simulator(mem):
    """§4.3 set operators on a multivalued key (aws:TagKeys), as IAM documents them
    ("Conditions with multiple context keys or values"; per-request-value semantics also
    tabulated at iam.cloudcopilot.io/resources/operators/ForAnyValue:StringNotEquals):
    ForAnyValue:StringNotEquals is true iff some request value equals none of the policy
    values; ForAllValues:StringEquals is true iff every request value equals one of them,
    and also when the key is absent."""
    def decide(op, keys):
        pol = doc({"Effect": "Allow", "Action": "*", "Resource": "*"},
                  {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
                   "Condition": {op: {"aws:TagKeys": ["team", "Name"]}}})
        kw = {"PolicyInputList": [dumps(pol)], "ActionNames": ["ec2:RunInstances"]}
        if keys is not None:
            kw["ContextEntries"] = [{"ContextKeyName": "aws:TagKeys", "ContextKeyValues": keys,
                                     "ContextKeyType": "stringList"}]
        return mem.iam.simulate_custom_policy(**kw)["EvaluationResults"][0]["EvalDecision"]
    assert decide("ForAnyValue:StringNotEquals", ["team"]) == "allowed"
    assert decide("ForAnyValue:StringNotEquals", ["team", "cost"]) == "explicitDeny"
    assert decide("ForAnyValue:StringNotEquals", None) == "allowed"
    assert decide("ForAnyValue:StringEquals", ["cost", "Name"]) == "explicitDeny"
    assert decide("ForAnyValue:StringEquals", ["cost"]) == "allowed"
    assert decide("ForAllValues:StringEquals", ["team", "Name"]) == "explicitDeny"
    assert decide("ForAllValues:StringEquals", ["team", "cost"]) == "allowed"
    assert decide("ForAllValues:StringEquals", None) == "explicitDeny"


def test_launch_is_checked_on_the_key_pair_and_the_attribute_names(mem):
    """§1: RunInstances is also authorized on the key pair it names
    (arn:aws:ec2:<region>:<account>:key-pair/<name>); ModifyInstanceMetadataOptions carries
    `ec2:Attribute` with the names of the attributes it sets."""
    no_key = {"Sid": "NoKey", "Effect": "Deny", "Action": "ec2:RunInstances",
              "Resource": f"arn:aws:ec2:*:{MEM.id}:key-pair/forbidden"}
    only_hops = {"Sid": "OnlyHops", "Effect": "Deny",
                 "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*",
                 "Condition": {"ForAnyValue:StringNotEquals": {
                     "ec2:Attribute": ["HttpPutResponseHopLimit"]}}}
    _, dev = mem.role([doc(ALLOW_EC2, no_key, only_hops)], session="keys")
    ec2 = dev.ec2()
    iid = launch(ec2, KeyName="allowed", MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    with unauthorized(mutating=True) as d:
        launch(ec2, KeyName="forbidden", MetadataOptions={"HttpTokens": "required"})
    if d.resource is not None:
        assert d.resource == f"arn:aws:ec2:{R}:{MEM.id}:key-pair/forbidden"
    helpers.wait_state(ec2, iid, "running")
    assert ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2)
    with unauthorized(mutating=True):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=2,
                                             HttpTokens="required")
