"""IAM instance profile associations (issue 11): AssociateIamInstanceProfile,
ReplaceIamInstanceProfileAssociation, DisassociateIamInstanceProfile and
DescribeIamInstanceProfileAssociations, EC2's way to give a role to an instance after launch.

One `imds serve --iam-config` whose account 123456789012 holds the default instance (the one
a loopback connection to the metadata service is served as): roles and instance profiles are
made through the IAM API, the associations through boto3 (and the aws CLI once), and the
metadata service is read back over loopback from the server's metadata port: after an
association it serves the new role's credentials (which STS accepts as that role's) and
`iam/info`; after a replace the other role; after a disassociation `iam/` is gone (404).

Sources: EC2 API Reference (the four actions: `associating` from Associate and Replace, a new
association id from Replace, `disassociating` from Disassociate); IncorrectState "There is an
existing association for instance …" (aws-samples/one-observability-demo#201); Replace on a
stopped instance "The association … is not the active association" (aws/aws-cli#5251);
"Invalid value for associationId." (aws/aws-cli#2570); an unknown profile
"Invalid IAM Instance Profile ARN" (lacework/go-sdk#1045); iam:PassRole for Associate and
Replace (EC2 User Guide, "Grant permissions to attach an IAM role to an instance").
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

import helpers
import imds_helpers as im
from helpers import API_VERSION, DEFAULT_REGION, REGION, expect_raw_error
from iam_helpers import (
    ALLOW_EC2,
    FULL_ACCESS,
    Acct,
    Clients,
    Creds,
    client_error,
    NS_GUARD,
    decode,
    doc,
    exec_unavailable,
    iam_server,
    instance_credentials,
    launch,
    make_role,
    make_user,
    signed_request,
    trust_ec2,
    unauthorized,
)

# The default account (holds the default instance).
A = Acct(helpers.ACCOUNT, "AKIAPROFILEA00000001", "pfa/secret/key/0000000000000000000000001",
         scps=[FULL_ACCESS])
B = Acct("444455556666", "AKIAPROFILEB00000001", "pfb/secret/key/0000000000000000000000001",
         scps=[FULL_ACCESS])

ASSOC_RE = re.compile(r"^iip-assoc-[0-9a-f]{17}$")
CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
INFO_PATH = "/latest/meta-data/iam/info"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("profiles"), [A, B]))


@pytest.fixture(scope="module")
def root(server):
    return Clients(server, A)


@pytest.fixture(scope="module")
def ec2(root):
    """Root of account A in us-west-2 (helpers.REGION), held to botocore's model."""
    c = root.ec2()
    c.meta.events.register("after-call.ec2", helpers._model_check_hook)
    return c


@pytest.fixture(scope="module")
def ec2_east(root):
    c = root.ec2(DEFAULT_REGION)
    c.meta.events.register("after-call.ec2", helpers._model_check_hook)
    return c


class Profile:
    def __init__(self, name: str, arn: str, id: str, role: str, role_arn: str):
        self.name, self.arn, self.id, self.role, self.role_arn = name, arn, id, role, role_arn


_N = iter(range(1000))


def profile(root, tag: str) -> Profile:
    """A role trusted by EC2 and an instance profile holding it, made through IAM."""
    iam = root.iam()
    n = next(_N)
    role = f"{tag}-role-{n}"
    role_arn = make_role(iam, role, A.id, trust=trust_ec2())
    name = f"{tag}-prof-{n}"
    p = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return Profile(name, p["Arn"], p["InstanceProfileId"], role, role_arn)


def running(ec2, **kw) -> str:
    iid = launch(ec2, **kw)["InstanceId"]
    helpers.wait_state(ec2, iid, "running")
    return iid


def associations(ec2, **kw) -> list[dict]:
    return ec2.describe_iam_instance_profile_associations(**kw)["IamInstanceProfileAssociations"]


def association_of(ec2, iid: str) -> dict | None:
    found = associations(ec2, Filters=[{"Name": "instance-id", "Values": [iid]}])
    assert len(found) <= 1, found
    return found[0] if found else None


def wait_association_state(ec2, assoc_id: str, state: str) -> dict:
    return helpers.wait_until(
        lambda: next((a for a in associations(ec2, AssociationIds=[assoc_id])
                      if a["State"] == state), None),
        desc=f"{assoc_id} {state}")


def profile_arn_of(ec2, iid: str) -> str | None:
    return (helpers.instance(ec2, iid).get("IamInstanceProfile") or {}).get("Arn")


# ------------------------------------------------------------------------- metadata service


def md_get(server, path: str) -> im.Reply:
    addr = im.imds_address(server)
    return im.get(addr, path, im.token(addr))


def served_role(server) -> str | None:
    """The role the default instance's metadata service lists (None: iam/ is 404)."""
    r = md_get(server, CREDS_PATH)
    if r.status == 404:
        return None
    assert r.status == 200, r
    return r.text


def assert_serves_role(server, root, iid: str, p: Profile) -> None:
    """The metadata service serves `p`'s role: listed, its credentials STS accepts as that
    role's session for this instance, and iam/info naming the profile."""
    helpers.wait_until(lambda: served_role(server) == p.role, desc=f"{p.role} served")
    r = md_get(server, CREDS_PATH + p.role)
    assert r.status == 200, r
    c = json.loads(r.text)
    assert (c["Code"], c["Type"]) == ("Success", "AWS-HMAC"), c
    who = Clients(server, Creds.of(c)).sts().get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{A.id}:assumed-role/{p.role}/{iid}", who
    info = json.loads(md_get(server, INFO_PATH).text)
    assert (info["Code"], info["InstanceProfileArn"], info["InstanceProfileId"]) == (
        "Success", p.arn, p.id), info


def assert_no_role(server) -> None:
    helpers.wait_until(lambda: served_role(server) is None, desc="iam/ gone")
    for path in (INFO_PATH, "/latest/meta-data/iam/", CREDS_PATH):
        assert md_get(server, path).status == 404, path
    assert "iam/" not in md_get(server, "/latest/meta-data/").text.split("\n")


# ------------------------------------------------------------------------- the whole flow


def test_associate_replace_disassociate_on_the_default_instance(server, root, ec2_east):
    """A running instance launched without a profile gets a role after launch; the metadata
    service serves it, then the replacement's, then none."""
    iid = im.default_instance(ec2_east)
    assert association_of(ec2_east, iid) is None
    assert_no_role(server)
    first, second = profile(root, "flow"), profile(root, "flow")

    a = ec2_east.associate_iam_instance_profile(
        InstanceId=iid, IamInstanceProfile={"Name": first.name})["IamInstanceProfileAssociation"]
    assert ASSOC_RE.match(a["AssociationId"]), a
    assert (a["InstanceId"], a["State"], a["IamInstanceProfile"]) == (
        iid, "associating", {"Arn": first.arn, "Id": first.id}), a
    assert a["Timestamp"]
    settled = wait_association_state(ec2_east, a["AssociationId"], "associated")
    assert settled["IamInstanceProfile"] == {"Arn": first.arn, "Id": first.id}
    assert profile_arn_of(ec2_east, iid) == first.arn
    assert_serves_role(server, root, iid, first)

    r = ec2_east.replace_iam_instance_profile_association(
        AssociationId=a["AssociationId"],
        IamInstanceProfile={"Arn": second.arn})["IamInstanceProfileAssociation"]
    assert ASSOC_RE.match(r["AssociationId"]) and r["AssociationId"] != a["AssociationId"], r
    assert (r["InstanceId"], r["State"], r["IamInstanceProfile"]["Arn"]) == (
        iid, "associating", second.arn), r
    wait_association_state(ec2_east, r["AssociationId"], "associated")
    assert profile_arn_of(ec2_east, iid) == second.arn
    assert_serves_role(server, root, iid, second)
    assert md_get(server, CREDS_PATH + first.role).status == 404, "the old role is gone"
    # The replaced association is no longer one.
    with client_error("InvalidAssociationID.NotFound", 400):
        ec2_east.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])

    d = ec2_east.disassociate_iam_instance_profile(
        AssociationId=r["AssociationId"])["IamInstanceProfileAssociation"]
    assert (d["AssociationId"], d["State"], d["IamInstanceProfile"]["Arn"]) == (
        r["AssociationId"], "disassociating", second.arn), d
    wait_association_state(ec2_east, r["AssociationId"], "disassociated")
    assert profile_arn_of(ec2_east, iid) is None
    assert_no_role(server)
    with client_error("InvalidAssociationID.NotFound", 400,
                      f"An invalid association-id of '{r['AssociationId']}' was given"):
        ec2_east.disassociate_iam_instance_profile(AssociationId=r["AssociationId"])


def aws_json(server, *args: str) -> dict:
    """`aws ec2 ARGS` signed as account A's root."""
    env = helpers.cli_env()
    env.update({"AWS_ACCESS_KEY_ID": A.key, "AWS_SECRET_ACCESS_KEY": A.secret})
    cmd = [helpers.AWS_CLI, "ec2", *args, "--endpoint-url", server.endpoint,
           "--region", REGION, "--output", "json"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p
    return json.loads(p.stdout)


def test_aws_cli_associate_and_describe(server, root, ec2):
    """`aws ec2 associate-iam-instance-profile` and `describe-iam-instance-profile-associations`
    (the EC2 API Reference's CLI examples)."""
    p = profile(root, "cli")
    iid = running(ec2)
    out = aws_json(server, "associate-iam-instance-profile", "--instance-id", iid,
                          "--iam-instance-profile", f"Name={p.name}")
    a = out["IamInstanceProfileAssociation"]
    assert (a["InstanceId"], a["State"], a["IamInstanceProfile"]) == (
        iid, "associating", {"Arn": p.arn, "Id": p.id}), out
    listed = helpers.wait_until(lambda: [
        x for x in aws_json(server, "describe-iam-instance-profile-associations",
                            "--association-ids", a["AssociationId"])
        ["IamInstanceProfileAssociations"] if x["State"] == "associated"])
    assert listed[0]["InstanceId"] == iid
    out = aws_json(server, "disassociate-iam-instance-profile", "--association-id",
                   a["AssociationId"])
    assert out["IamInstanceProfileAssociation"]["State"] == "disassociating"


# ------------------------------------------------------------------------- launch


def test_run_instances_with_a_profile_makes_an_association(root, ec2):
    p = profile(root, "launch")
    iid = running(ec2, IamInstanceProfile={"Name": p.name})
    a = association_of(ec2, iid)
    assert a is not None and ASSOC_RE.match(a["AssociationId"]), a
    assert (a["State"], a["IamInstanceProfile"]) == ("associated", {"Arn": p.arn, "Id": p.id})
    with client_error("IncorrectState", 400,
                      f"There is an existing association for instance {iid}"):
        ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": p.name})
    # A launch without one makes none.
    assert association_of(ec2, running(ec2)) is None


# ------------------------------------------------------------------------- errors


def test_second_association_is_incorrect_state_and_changes_nothing(root, ec2):
    p, q = profile(root, "twice"), profile(root, "twice")
    iid = running(ec2)
    a = ec2.associate_iam_instance_profile(
        InstanceId=iid, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
    with client_error("IncorrectState", 400,
                      f"There is an existing association for instance {iid}"):
        ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": q.name})
    wait_association_state(ec2, a["AssociationId"], "associated")
    assert association_of(ec2, iid)["IamInstanceProfile"]["Arn"] == p.arn
    assert profile_arn_of(ec2, iid) == p.arn


def test_unknown_instance(root, ec2):
    p = profile(root, "noinst")
    with client_error("InvalidInstanceID.NotFound", 400,
                      "The instance ID 'i-0123456789abcdef9' does not exist"):
        ec2.associate_iam_instance_profile(InstanceId="i-0123456789abcdef9",
                                           IamInstanceProfile={"Name": p.name})
    with client_error("InvalidInstanceID.Malformed", 400, 'Invalid id: "bogus"'):
        ec2.associate_iam_instance_profile(InstanceId="bogus",
                                           IamInstanceProfile={"Name": p.name})


def test_unknown_profile_by_name_or_arn(ec2):
    iid = running(ec2)
    with client_error("InvalidParameterValue", 400,
                      "Value (nope) for parameter iamInstanceProfile.name is invalid. "
                      "Invalid IAM Instance Profile name"):
        ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": "nope"})
    arn = f"arn:aws:iam::{A.id}:instance-profile/nope"
    with client_error("InvalidParameterValue", 400,
                      f"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. "
                      "Invalid IAM Instance Profile ARN"):
        ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Arn": arn})
    assert association_of(ec2, iid) is None
    assert profile_arn_of(ec2, iid) is None


def test_unknown_and_malformed_association_ids(root, ec2):
    p = profile(root, "noassoc")
    unknown = "iip-assoc-0123456789abcdef0"
    with client_error("InvalidAssociationID.NotFound", 400,
                      f"An invalid association-id of '{unknown}' was given"):
        ec2.replace_iam_instance_profile_association(AssociationId=unknown,
                                                     IamInstanceProfile={"Name": p.name})
    with client_error("InvalidAssociationID.NotFound", 400):
        ec2.disassociate_iam_instance_profile(AssociationId=unknown)
    with client_error("InvalidAssociationID.NotFound", 400):
        associations(ec2, AssociationIds=[unknown])
    # An instance id where an association id belongs (aws/aws-cli#2570).
    iid = running(ec2)
    for call in (lambda: ec2.replace_iam_instance_profile_association(
                     AssociationId=iid, IamInstanceProfile={"Name": p.name}),
                 lambda: ec2.disassociate_iam_instance_profile(AssociationId=iid)):
        with client_error("InvalidParameterValue", 400, "Invalid value for associationId."):
            call()


def test_replace_needs_a_running_instance_and_a_known_profile(root, ec2):
    p, q = profile(root, "rep"), profile(root, "rep")
    iid = running(ec2, IamInstanceProfile={"Name": p.name})
    a = association_of(ec2, iid)
    with client_error("InvalidParameterValue", 400,
                      "Value (nope) for parameter iamInstanceProfile.name is invalid. "
                      "Invalid IAM Instance Profile name"):
        ec2.replace_iam_instance_profile_association(AssociationId=a["AssociationId"],
                                                     IamInstanceProfile={"Name": "nope"})
    ec2.stop_instances(InstanceIds=[iid])
    helpers.wait_state(ec2, iid, "stopped")
    with client_error("IncorrectState", 400,
                      f"The association {a['AssociationId']} is not the active association"):
        ec2.replace_iam_instance_profile_association(AssociationId=a["AssociationId"],
                                                     IamInstanceProfile={"Name": q.name})
    assert association_of(ec2, iid) == a, "nothing changed"
    # A stopped instance can be disassociated and associated again (EC2 API Reference:
    # "running or stopped instance"; aws/aws-cli#5251's way around Replace).
    ec2.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])
    wait_association_state(ec2, a["AssociationId"], "disassociated")
    b = ec2.associate_iam_instance_profile(
        InstanceId=iid, IamInstanceProfile={"Name": q.name})["IamInstanceProfileAssociation"]
    wait_association_state(ec2, b["AssociationId"], "associated")
    assert profile_arn_of(ec2, iid) == q.arn


def test_terminated_instance_refuses(root, ec2):
    p = profile(root, "term")
    iid = running(ec2)
    ec2.terminate_instances(InstanceIds=[iid])
    with client_error("IncorrectInstanceState", 400):
        ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": p.name})


def test_missing_parameters_and_no_dry_run(server, root, ec2):
    """Required members (botocore's model) are MissingParameter; the four actions have no
    DryRun member in EC2's model, so DryRun is an unknown parameter, not a dry run."""
    p = profile(root, "params")
    iid = running(ec2)
    cases = [
        ({"Action": "AssociateIamInstanceProfile", "IamInstanceProfile.Name": p.name},
         "MissingParameter"),
        ({"Action": "AssociateIamInstanceProfile", "InstanceId": iid}, "MissingParameter"),
        ({"Action": "DisassociateIamInstanceProfile"}, "MissingParameter"),
        ({"Action": "ReplaceIamInstanceProfileAssociation",
          "AssociationId": "iip-assoc-0123456789abcdef0"}, "MissingParameter"),
        ({"Action": "AssociateIamInstanceProfile", "InstanceId": iid,
          "IamInstanceProfile.Name": p.name, "DryRun": "true"}, "UnknownParameter"),
        ({"Action": "DescribeIamInstanceProfileAssociations", "DryRun": "true"},
         "UnknownParameter"),
    ]
    for params, code in cases:
        r = signed_request(server, Creds(A.key, A.secret), {**params, "Version": API_VERSION},
                           region=REGION)
        expect_raw_error(r, code, 400)
    assert association_of(ec2, iid) is None, "nothing associated"


# ------------------------------------------------------------------------- describe


def test_describe_filters_and_pages(root, ec2):
    p = profile(root, "desc")
    iids = [running(ec2) for _ in range(6)]
    made = {}
    for iid in iids:
        a = ec2.associate_iam_instance_profile(
            InstanceId=iid, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
        made[a["AssociationId"]] = iid
    for assoc in made:
        wait_association_state(ec2, assoc, "associated")
    gone = next(iter(made))
    ec2.disassociate_iam_instance_profile(AssociationId=gone)
    wait_association_state(ec2, gone, "disassociated")

    by_instance = associations(ec2, Filters=[{"Name": "instance-id", "Values": iids[1:3]}])
    assert sorted(a["InstanceId"] for a in by_instance) == sorted(iids[1:3])
    ids = list(made)[1:4]
    assert sorted(a["AssociationId"] for a in associations(ec2, AssociationIds=ids)) == sorted(ids)
    states = {a["AssociationId"]: a["State"] for a in associations(ec2, Filters=[
        {"Name": "instance-id", "Values": iids}])}
    assert states == {k: ("disassociated" if k == gone else "associated") for k in made}
    assert [a["AssociationId"] for a in associations(ec2, Filters=[
        {"Name": "state", "Values": ["disassociated"]},
        {"Name": "instance-id", "Values": iids}])] == [gone]
    assert len(associations(ec2, Filters=[{"Name": "state", "Values": ["dis*"]},
                                          {"Name": "instance-id", "Values": iids}])) == 1

    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        page = ec2.describe_iam_instance_profile_associations(**kw)
        assert len(page["IamInstanceProfileAssociations"]) <= 5
        seen += [a["AssociationId"] for a in page["IamInstanceProfileAssociations"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages >= 2 and len(seen) == len(set(seen)) and set(made) <= set(seen)

    with client_error("InvalidParameterValue", 400):
        associations(ec2, Filters=[{"Name": "profile", "Values": ["x"]}])
    with client_error("InvalidParameterValue", 400):
        associations(root.ec2(validate=False), MaxResults=4)
    with client_error("InvalidPaginationToken", 400):
        associations(ec2, NextToken="garbage!")


def test_accounts_do_not_see_each_other(server, root, ec2):
    p = profile(root, "acct")
    iid = running(ec2)
    a = ec2.associate_iam_instance_profile(
        InstanceId=iid, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
    other_root = Clients(server, B)
    other = other_root.ec2()
    b_iam = other_root.iam()
    make_role(b_iam, "b-role", B.id, trust=trust_ec2())
    b_iam.create_instance_profile(InstanceProfileName="b-prof")
    b_iam.add_role_to_instance_profile(InstanceProfileName="b-prof", RoleName="b-role")
    assert all(x["AssociationId"] != a["AssociationId"] for x in associations(other))
    with client_error("InvalidAssociationID.NotFound", 400):
        other.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])
    with client_error("InvalidInstanceID.NotFound", 400):
        other.associate_iam_instance_profile(InstanceId=iid,
                                             IamInstanceProfile={"Name": "b-prof"})
    # And A's profile is not one B can name.
    with client_error("InvalidParameterValue", 400):
        other.associate_iam_instance_profile(InstanceId=iid,
                                             IamInstanceProfile={"Arn": p.arn})
    assert association_of(ec2, iid)["AssociationId"] == a["AssociationId"]


# ------------------------------------------------------------------------- authorization


def user_ec2(server, root, *statements):
    _, creds = make_user(root.iam(), f"u{next(_N)}", [doc(*statements)])
    return Clients(server, creds).ec2()


def test_associate_and_replace_need_pass_role(server, root, ec2):
    """iam:PassRole on the profile's role (EC2 User Guide, "Grant permissions to attach an
    IAM role to an instance"); denied → UnauthorizedOperation and nothing changed."""
    p, q = profile(root, "pass"), profile(root, "pass")
    can_pass_p = user_ec2(server, root, ALLOW_EC2,
                          {"Effect": "Allow", "Action": "iam:PassRole", "Resource": p.role_arn})
    iid = running(ec2)
    with unauthorized(mutating=True) as d:
        can_pass_p.associate_iam_instance_profile(InstanceId=iid,
                                                  IamInstanceProfile={"Name": q.name})
    assert (d.action, d.resource) == ("iam:PassRole", q.role_arn), d
    assert association_of(ec2, iid) is None and profile_arn_of(ec2, iid) is None

    a = can_pass_p.associate_iam_instance_profile(
        InstanceId=iid, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
    wait_association_state(ec2, a["AssociationId"], "associated")
    with unauthorized(mutating=True) as d:
        can_pass_p.replace_iam_instance_profile_association(
            AssociationId=a["AssociationId"], IamInstanceProfile={"Arn": q.arn})
    assert d.action == "iam:PassRole", d
    assert association_of(ec2, iid)["AssociationId"] == a["AssociationId"], "nothing changed"
    # Disassociating passes no role.
    can_pass_p.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])


def test_actions_are_checked_on_the_instance(server, root, ec2):
    """Each change is ec2:<Action> on arn:aws:ec2:REGION:ACCOUNT:instance/ID with the
    instance's condition keys (here its tags); Describe is a read on `*`."""
    p = profile(root, "onitself")
    pass_any = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
    no_prod = {"Effect": "Deny", "Action": ["ec2:AssociateIamInstanceProfile",
                                             "ec2:DisassociateIamInstanceProfile",
                                             "ec2:ReplaceIamInstanceProfileAssociation"],
               "Resource": "*", "Condition": {"StringEquals": {"ec2:ResourceTag/env": "prod"}}}
    user = user_ec2(server, root, ALLOW_EC2, pass_any, no_prod)
    prod = running(ec2, TagSpecifications=helpers.tag_spec({"env": "prod"}))
    dev = running(ec2, TagSpecifications=helpers.tag_spec({"env": "dev"}))
    with unauthorized(mutating=True) as d:
        user.associate_iam_instance_profile(InstanceId=prod, IamInstanceProfile={"Name": p.name})
    assert (d.action, d.resource) == (
        "ec2:AssociateIamInstanceProfile", f"arn:aws:ec2:{REGION}:{A.id}:instance/{prod}"), d
    assert "explicit deny" in d.message
    assert association_of(ec2, prod) is None
    user.associate_iam_instance_profile(InstanceId=dev, IamInstanceProfile={"Name": p.name})

    a = ec2.associate_iam_instance_profile(
        InstanceId=prod, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
    with unauthorized(mutating=True) as d:
        user.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])
    assert (d.action, d.resource) == (
        "ec2:DisassociateIamInstanceProfile",
        f"arn:aws:ec2:{REGION}:{A.id}:instance/{prod}"), d
    decoded = decode(root.sts(), d.token)
    assert decoded["context"]["action"] == "ec2:DisassociateIamInstanceProfile"
    assert association_of(ec2, prod)["State"] in ("associating", "associated")

    reader = user_ec2(server, root, {"Effect": "Allow", "Action": "ec2:Describe*",
                                     "Resource": "*"})
    assert any(x["InstanceId"] == prod for x in associations(reader))
    with unauthorized(mutating=True):
        reader.associate_iam_instance_profile(InstanceId=dev,
                                              IamInstanceProfile={"Name": p.name})
    nobody = user_ec2(server, root, {"Effect": "Allow", "Action": "ec2:RunInstances",
                                     "Resource": "*"})
    with unauthorized(mutating=False):
        associations(nobody)


# ------------------------------------------------------------------------- settling


def test_role_served_only_once_settled_and_settling_survives_a_restart(tmp_path):
    """`associating` lasts until the metadata host serves the association (here an apply
    delay of a minute: the role is not served, the association stays `associating`); a server
    restarted on the same data dir settles what was left unsettled."""
    srv = iam_server(tmp_path, [A], data_dir=tmp_path / "data", apply_delay="60s")
    try:
        root = Clients(srv, A)
        east = root.ec2(DEFAULT_REGION)
        iid = im.default_instance(east)
        p = profile(root, "slow")
        a = east.associate_iam_instance_profile(
            InstanceId=iid, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
        helpers.assert_stays(
            lambda: association_of(east, iid)["State"] == "associating"
            and served_role(srv) is None, 1.5, desc="associating, no role served")
        srv.stop()
        srv.apply_delay = helpers.APPLY_DELAY
        srv.start()  # on a new port: new clients
        root = Clients(srv, A)
        east = root.ec2(DEFAULT_REGION)
        wait_association_state(east, a["AssociationId"], "associated")
        assert_serves_role(srv, root, iid, p)
    finally:
        srv.stop()


# ------------------------------------------------------------------------- inside an instance


def status_inside(server, iid: str, path: str) -> int:
    """The HTTP status an IMDSv2 GET of `path` at 169.254.169.254 gets from inside instance
    `iid` (`imds exec`: the instance's own network namespace and address)."""
    script = ('T=$(curl -sf --noproxy "*" -m 5 -X PUT '
              '-H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
              'http://169.254.169.254/latest/api/token) && '
              'curl -s --noproxy "*" -m 5 -o /dev/null -w "%{http_code}" '
              f'-H "X-aws-ec2-metadata-token: $T" http://169.254.169.254{path}')
    env = helpers.cli_env()
    env.update({"AWS_ACCESS_KEY_ID": A.key, "AWS_SECRET_ACCESS_KEY": A.secret})
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--endpoint", server.endpoint, "--region",
                        REGION, "--instance", iid, "--", "sh", "-c", NS_GUARD + script],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p
    return int(p.stdout)


def test_associated_role_reaches_the_instance_itself(server, root, ec2):
    """From inside an instance (not the default one): no role, then the associated role's
    credentials at 169.254.169.254, then none again after disassociation."""
    why = exec_unavailable()
    if why:
        pytest.skip(why)
    p = profile(root, "inside")
    iid = running(ec2)
    assert status_inside(server, iid, CREDS_PATH) == 404
    a = ec2.associate_iam_instance_profile(
        InstanceId=iid, IamInstanceProfile={"Name": p.name})["IamInstanceProfileAssociation"]
    wait_association_state(ec2, a["AssociationId"], "associated")
    c = instance_credentials(server, A, iid, p.role, v2=True)
    who = Clients(server, Creds.of(c)).sts().get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{A.id}:assumed-role/{p.role}/{iid}", who
    ec2.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])
    wait_association_state(ec2, a["AssociationId"], "disassociated")
    assert status_inside(server, iid, CREDS_PATH) == 404
    assert status_inside(server, iid, INFO_PATH) == 404
