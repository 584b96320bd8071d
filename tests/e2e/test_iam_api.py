"""The IAM Query API and STS AssumeRole on the EC2 endpoint, through boto3 (issue 4).

Expected behaviour is AWS's, from:
* botocore's IAM model (iam/2010-05-08/service-2.json, in the venv): error codes and statuses
  NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409, LimitExceeded 409,
  MalformedPolicyDocument 400, InvalidInput 400; STS AssumeRole MalformedPolicyDocument 400;
  the output shapes (User, Role, Policy, PolicyVersion, InstanceProfile, AccessKey, ...);
* the IAM API reference (docs.aws.amazon.com/IAM/latest/APIReference): "The policy document
  returned in this structure is URL-encoded compliant with RFC 3986" (Role
  AssumeRolePolicyDocument, PolicyVersion Document, Get*Policy PolicyDocument); "An instance
  profile can contain only one role, and this quota cannot be increased"
  (AddRoleToInstanceProfile); DeleteUser/DeleteRole: "you must delete the items attached to
  the user/role manually, or the deletion fails"; names "are not distinguished by case";
* the STS API reference, AssumeRole: DurationSeconds 900 .. the role's MaxSessionDuration
  ("If you specify a value higher than this setting, the operation fails"); same-account
  trust: "the trust policy names the account (root): the caller also needs an identity policy
  allowing sts:AssumeRole; names the user ARN: no identity policy needed"; root user
  credentials cannot assume roles (AccessDenied "Roles may not be assumed by root accounts.");
* messages as IAM words them (also what moto's IAM backend, getmoto/moto
  moto/iam/models.py, reproduces): "The user with name X cannot be found.", "User with name X
  already exists.", "Cannot delete entity, must delete access keys first.", "Cannot delete
  entity, must delete policies first.", "Cannot delete entity, must detach all policies
  first.", "Cannot delete entity, must remove roles from instance profile first.", "Policy
  ARN does not exist or is not attachable.", "Cannot exceed quota for AccessKeysPerUser: 2",
  "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".
"""
from __future__ import annotations

import contextlib
import datetime
import json
import re
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.config
import botocore.exceptions
import pytest

import helpers
from helpers import REGION
from iam_helpers import (
    ALLOW_EC2,
    Acct,
    Clients,
    Creds,
    assume,
    client_error,
    doc,
    dumps,
    iam_server,
    launch,
    make_role,
    make_user,
    sim_custom,
    trust_account,
    uniq,
    unauthorized,
)

A = Acct("111122223333", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
B = Acct("444455556666", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
AWS_ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
AWS_EC2_FULL = "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
AWS_EC2_RO = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"

DESCRIBE_ONLY = doc({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})
ASSUME_ANY = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("iamapi"), [A, B]))


@pytest.fixture(scope="module")
def root(server):
    return Clients(server, A)


@pytest.fixture(scope="module")
def iam(root):
    return root.iam()


def wire(client):
    """Capture the raw bodies of a client's responses: returns a list appended per call."""
    seen: list[tuple[str, int, bytes]] = []

    def hook(http_response, model, **_):
        seen.append((model.name, http_response.status_code, http_response.content))
    client.meta.events.register("after-call", hook)
    return seen


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def recent(ts: datetime.datetime, within: float = 300) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc)
    return abs((now - ts).total_seconds()) < within


# --------------------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------------------


def test_user_create_get_delete(iam):
    name = uniq("alice")
    u = iam.create_user(UserName=name)["User"]
    assert u["UserName"] == name and u["Path"] == "/"
    assert u["Arn"] == f"arn:aws:iam::{A.id}:user/{name}"
    assert re.fullmatch(r"AIDA[A-Z0-9]{16,}", u["UserId"]), u["UserId"]
    assert recent(u["CreateDate"])
    got = iam.get_user(UserName=name)["User"]
    assert {k: got[k] for k in ("UserName", "UserId", "Arn", "Path")} == \
        {k: u[k] for k in ("UserName", "UserId", "Arn", "Path")}
    with client_error("EntityAlreadyExists", 409, f"User with name {name} already exists."):
        iam.create_user(UserName=name)
    iam.delete_user(UserName=name)
    with client_error("NoSuchEntity", 404, f"The user with name {name} cannot be found."):
        iam.get_user(UserName=name)
    with client_error("NoSuchEntity", 404):
        iam.delete_user(UserName=name)


def test_user_with_path(iam):
    name = uniq("pathy")
    u = iam.create_user(UserName=name, Path="/division/team/")["User"]
    assert u["Path"] == "/division/team/"
    assert u["Arn"] == f"arn:aws:iam::{A.id}:user/division/team/{name}"
    iam.delete_user(UserName=name)


def test_user_names_are_case_insensitive(iam):
    # IAM User Guide, "IAM identifiers": names of users, roles, policies and instance
    # profiles must be unique and are not distinguished by case.
    name = uniq("Carol")
    iam.create_user(UserName=name)
    with client_error("EntityAlreadyExists", 409):
        iam.create_user(UserName=name.lower())
    with client_error("EntityAlreadyExists", 409):
        iam.create_user(UserName=name.upper())
    iam.delete_user(UserName=name)


def test_user_name_pattern_is_validated(iam):
    # UserName pattern [\w+=,.@-]+ (botocore model userNameType); IAM answers ValidationError.
    with client_error("ValidationError", 400):
        iam.create_user(UserName="bad name!")


def test_get_user_without_name_is_the_caller(server, iam):
    # GetUser: "If you do not specify a user name, IAM determines the user name implicitly
    # based on the Amazon Web Services access key ID used to sign the request."
    name = uniq("me")
    arn = f"arn:aws:iam::{A.id}:user/{name}"
    # Reading oneself still needs iam:GetUser (IAM User Guide's "manage own credentials"
    # example grants it on arn:aws:iam::*:user/${aws:username}).
    _, creds = make_user(iam, name, [doc({"Effect": "Allow", "Action": "iam:GetUser",
                                          "Resource": "arn:aws:iam::*:user/${aws:username}"})])
    me = Clients(server, creds).iam().get_user()["User"]
    assert (me["UserName"], me["Arn"]) == (name, arn)
    _, nobody = make_user(iam, uniq("nobody"))
    with client_error("AccessDenied", 403):
        Clients(server, nobody).iam().get_user()


def test_accounts_are_separate(server, iam):
    name = uniq("shared")
    iam.create_user(UserName=name)
    other = Clients(server, B).iam()
    with client_error("NoSuchEntity", 404):
        other.get_user(UserName=name)
    u = other.create_user(UserName=name)["User"]  # same name, other account: no conflict
    assert u["Arn"] == f"arn:aws:iam::{B.id}:user/{name}"


# --------------------------------------------------------------------------------------
# Access keys
# --------------------------------------------------------------------------------------


def test_access_keys(server, iam):
    name = uniq("keys")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    k1 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k1["UserName"] == name and k1["Status"] == "Active"
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", k1["AccessKeyId"]), k1["AccessKeyId"]
    assert len(k1["SecretAccessKey"]) == 40, k1
    assert recent(k1["CreateDate"])
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k2["AccessKeyId"] != k1["AccessKeyId"]
    # Two keys per user, a quota that cannot be raised.
    with client_error("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2"):
        iam.create_access_key(UserName=name)
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(m["AccessKeyId"] for m in listed) == sorted([k1["AccessKeyId"], k2["AccessKeyId"]])
    assert all("SecretAccessKey" not in m and m["Status"] == "Active" and m["UserName"] == name
               for m in listed), listed
    # The key signs requests as the user.
    me = Clients(server, Creds(k1["AccessKeyId"], k1["SecretAccessKey"])).sts().get_caller_identity()
    user_id = iam.get_user(UserName=name)["User"]["UserId"]
    assert (me["Arn"], me["Account"], me["UserId"]) == (arn, A.id, user_id)
    # A deleted key is unknown: EC2 answers AuthFailure (spec ec2-api.md §1.2).
    iam.delete_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"])
    assert [m["AccessKeyId"] for m in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]] \
        == [k2["AccessKeyId"]]
    with client_error("AuthFailure", 401):
        Clients(server, Creds(k1["AccessKeyId"], k1["SecretAccessKey"])).ec2().describe_instances()
    with client_error("NoSuchEntity", 404):
        iam.delete_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"])
    with client_error("NoSuchEntity", 404):
        iam.create_access_key(UserName=uniq("nobody"))


def test_delete_user_conflicts(iam):
    name = uniq("busy")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    with client_error("DeleteConflict", 409, "Cannot delete entity, must delete access keys first."):
        iam.delete_user(UserName=name)
    iam.delete_access_key(UserName=name, AccessKeyId=key)
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=dumps(DESCRIBE_ONLY))
    with client_error("DeleteConflict", 409, "Cannot delete entity, must delete policies first."):
        iam.delete_user(UserName=name)
    iam.delete_user_policy(UserName=name, PolicyName="inline")
    iam.attach_user_policy(UserName=name, PolicyArn=AWS_EC2_RO)
    with client_error("DeleteConflict", 409, "Cannot delete entity, must detach all policies first."):
        iam.delete_user(UserName=name)
    iam.get_user(UserName=name)  # still there after every refusal
    iam.detach_user_policy(UserName=name, PolicyArn=AWS_EC2_RO)
    iam.delete_user(UserName=name)
    with client_error("NoSuchEntity", 404):
        iam.get_user(UserName=name)


# --------------------------------------------------------------------------------------
# Managed policies
# --------------------------------------------------------------------------------------


def test_managed_policy_lifecycle_and_attachment_count(iam):
    pname, uname, rname = uniq("pol"), uniq("u"), uniq("r")
    p = iam.create_policy(PolicyName=pname, PolicyDocument=dumps(DESCRIBE_ONLY),
                          Description="describe only")["Policy"]
    arn = f"arn:aws:iam::{A.id}:policy/{pname}"
    assert p["Arn"] == arn and p["PolicyName"] == pname and p["Path"] == "/"
    assert p["DefaultVersionId"] == "v1" and p["AttachmentCount"] == 0 and p["IsAttachable"] is True
    assert re.fullmatch(r"ANPA[A-Z0-9]{16,}", p["PolicyId"]), p["PolicyId"]
    with client_error("EntityAlreadyExists", 409):
        iam.create_policy(PolicyName=pname, PolicyDocument=dumps(DESCRIBE_ONLY))
    v = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v["Document"] == DESCRIBE_ONLY  # boto3 decodes the URL-encoded JSON to a dict
    assert v["VersionId"] == "v1" and v["IsDefaultVersion"] is True
    with client_error("NoSuchEntity", 404):
        iam.get_policy_version(PolicyArn=arn, VersionId="v2")

    iam.create_user(UserName=uname)
    iam.create_role(RoleName=rname, AssumeRolePolicyDocument=dumps(trust_account(A.id)))
    iam.attach_user_policy(UserName=uname, PolicyArn=arn)
    iam.attach_role_policy(RoleName=rname, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    assert iam.list_attached_user_policies(UserName=uname)["AttachedPolicies"] == \
        [{"PolicyName": pname, "PolicyArn": arn}]
    assert iam.list_attached_role_policies(RoleName=rname)["AttachedPolicies"] == \
        [{"PolicyName": pname, "PolicyArn": arn}]
    # DeletePolicy: "Before you can delete a managed policy, you must first detach the policy
    # from all users, groups, and roles that it is attached to."
    with client_error("DeleteConflict", 409):
        iam.delete_policy(PolicyArn=arn)
    iam.detach_user_policy(UserName=uname, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    iam.detach_role_policy(RoleName=rname, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    assert iam.list_attached_user_policies(UserName=uname)["AttachedPolicies"] == []
    with client_error("NoSuchEntity", 404):
        iam.detach_user_policy(UserName=uname, PolicyArn=arn)  # not attached any more
    iam.delete_policy(PolicyArn=arn)
    with client_error("NoSuchEntity", 404, f"Policy {arn} does not exist or is not attachable."):
        iam.get_policy(PolicyArn=arn)
    with client_error("NoSuchEntity", 404, f"Policy {arn} does not exist or is not attachable."):
        iam.attach_user_policy(UserName=uname, PolicyArn=arn)


def test_policy_versions_change_what_a_policy_allows(server, iam):
    # IAM API reference: CreatePolicyVersion ("A managed policy can have up to five
    # versions"; SetAsDefault makes it "the operative version ... the version that is in
    # effect for the IAM users, groups, and roles that the policy is attached to"),
    # SetDefaultPolicyVersion, DeletePolicyVersion ("You cannot delete the default version"),
    # ListPolicyVersions. LimitExceeded and DeleteConflict are 409 (botocore's model).
    pname = uniq("versioned")
    arn = iam.create_policy(PolicyName=pname, PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    reader = uniq("reader")
    _, creds = make_user(iam, reader, managed=[arn])
    ec2 = Clients(server, creds).ec2()
    ec2.describe_instances()
    deny = doc({"Effect": "Deny", "Action": "ec2:Describe*", "Resource": "*"})
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=dumps(deny))["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is False and recent(v2["CreateDate"])
    ec2.describe_instances()  # v1 is still the default
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    with unauthorized(mutating=False):
        ec2.describe_instances()
    v3 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=dumps(DESCRIBE_ONLY),
                                   SetAsDefault=True)["PolicyVersion"]
    assert v3["VersionId"] == "v3" and v3["IsDefaultVersion"] is True
    ec2.describe_instances()
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == deny and got["IsDefaultVersion"] is False

    # The newest first, a page at a time.
    listed = iam.list_policy_versions(PolicyArn=arn)
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed["Versions"]] == \
        [("v3", True), ("v2", False), ("v1", False)]
    pages = [p["Versions"] for p in iam.get_paginator("list_policy_versions").paginate(
        PolicyArn=arn, PaginationConfig={"PageSize": 2})]
    assert [[v["VersionId"] for v in p] for p in pages] == [["v3", "v2"], ["v1"]]

    for _ in range(2):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=dumps(DESCRIBE_ONLY))
    with client_error("LimitExceeded", 409, message_re=r"^A managed policy can have up to 5 versions"):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=dumps(DESCRIBE_ONLY))
    with client_error("DeleteConflict", 409, "Cannot delete the default version of a policy."):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    with client_error("NoSuchEntity", 404,
                      f"Policy {arn} version v9 does not exist or is not attachable."):
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v9")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    # Ids are never reused.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=dumps(DESCRIBE_ONLY))[
        "PolicyVersion"]["VersionId"] == "v6"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    with client_error("MalformedPolicyDocument", 400):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument="{not json")
    with client_error("InvalidInput", 400):
        iam.create_policy_version(PolicyArn=AWS_EC2_RO, PolicyDocument=dumps(DESCRIBE_ONLY))

    # A policy goes with its default version only: the others are deleted first.
    iam.detach_user_policy(UserName=reader, PolicyArn=arn)
    with client_error("DeleteConflict", 409, message_re="more than one version"):
        iam.delete_policy(PolicyArn=arn)
    for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def test_policy_version_document_is_url_encoded_on_the_wire(iam):
    pname = uniq("wire")
    seen = wire(iam)
    arn = iam.create_policy(PolicyName=pname, PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    iam.get_policy_version(PolicyArn=arn, VersionId="v1")
    name, status, body = seen[-1]
    assert (name, status) == ("GetPolicyVersion", 200)
    root = ET.fromstring(body)
    assert root.tag == f"{{{IAM_NS}}}GetPolicyVersionResponse", root.tag
    [docel] = [e for e in root.iter() if local(e.tag) == "Document"]
    text = docel.text or ""
    assert "{" not in text and "%7B" in text.upper(), f"not URL-encoded: {text!r}"
    assert json.loads(urllib.parse.unquote(text)) == DESCRIBE_ONLY


def test_aws_managed_policies_exist(iam):
    for arn, name, needle in ((AWS_ADMIN, "AdministratorAccess", "*"),
                              (AWS_EC2_FULL, "AmazonEC2FullAccess", "ec2:*"),
                              (AWS_EC2_RO, "AmazonEC2ReadOnlyAccess", "ec2:Describe*")):
        p = iam.get_policy(PolicyArn=arn)["Policy"]
        assert (p["Arn"], p["PolicyName"], p["IsAttachable"]) == (arn, name, True), p
        v = iam.get_policy_version(PolicyArn=arn, VersionId=p["DefaultVersionId"])["PolicyVersion"]
        stmts = v["Document"]["Statement"]
        stmts = stmts if isinstance(stmts, list) else [stmts]
        actions = []
        for s in stmts:
            a = s.get("Action", [])
            actions += a if isinstance(a, list) else [a]
        assert needle in actions, (arn, actions)
    missing = "arn:aws:iam::aws:policy/NoSuchPolicyAtAll"
    with client_error("NoSuchEntity", 404, f"Policy {missing} does not exist or is not attachable."):
        iam.get_policy(PolicyArn=missing)


def test_aws_managed_read_only_policy_grants_describe_only(server, iam):
    _, creds = make_user(iam, uniq("ro"), managed=[AWS_EC2_RO])
    ec2 = Clients(server, creds).ec2()
    ec2.describe_instances()
    with unauthorized(mutating=True):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})


# --------------------------------------------------------------------------------------
# Inline policies
# --------------------------------------------------------------------------------------


def test_inline_user_policies(iam):
    name = uniq("inl")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="a", PolicyDocument=dumps(DESCRIBE_ONLY))
    iam.put_user_policy(UserName=name, PolicyName="b", PolicyDocument=dumps(doc(ALLOW_EC2)))
    got = iam.get_user_policy(UserName=name, PolicyName="a")
    assert (got["UserName"], got["PolicyName"], got["PolicyDocument"]) == (name, "a", DESCRIBE_ONLY)
    assert sorted(iam.list_user_policies(UserName=name)["PolicyNames"]) == ["a", "b"]
    # Put on an existing name replaces the document.
    iam.put_user_policy(UserName=name, PolicyName="a", PolicyDocument=dumps(doc(ALLOW_EC2)))
    assert iam.get_user_policy(UserName=name, PolicyName="a")["PolicyDocument"] == doc(ALLOW_EC2)
    iam.delete_user_policy(UserName=name, PolicyName="a")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["b"]
    with client_error("NoSuchEntity", 404):
        iam.get_user_policy(UserName=name, PolicyName="a")
    with client_error("NoSuchEntity", 404):
        iam.delete_user_policy(UserName=name, PolicyName="a")
    with client_error("NoSuchEntity", 404):
        iam.put_user_policy(UserName=uniq("ghost"), PolicyName="a",
                            PolicyDocument=dumps(DESCRIBE_ONLY))


def test_inline_role_policies(iam):
    name = uniq("inlr")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(trust_account(A.id)))
    iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=dumps(DESCRIBE_ONLY))
    got = iam.get_role_policy(RoleName=name, PolicyName="x")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (name, "x", DESCRIBE_ONLY)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["x"]
    with client_error("DeleteConflict", 409, "Cannot delete entity, must delete policies first."):
        iam.delete_role(RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="x")
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    with client_error("NoSuchEntity", 404):
        iam.get_role_policy(RoleName=name, PolicyName="x")
    iam.delete_role(RoleName=name)


def test_inline_policy_document_is_url_encoded_on_the_wire(iam):
    name = uniq("inlw")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="a", PolicyDocument=dumps(DESCRIBE_ONLY))
    seen = wire(iam)
    iam.get_user_policy(UserName=name, PolicyName="a")
    root = ET.fromstring(seen[-1][2])
    [d] = [e for e in root.iter() if local(e.tag) == "PolicyDocument"]
    assert "{" not in (d.text or ""), f"not URL-encoded: {d.text!r}"


# --------------------------------------------------------------------------------------
# Malformed documents
# --------------------------------------------------------------------------------------


BAD_DOCS = {
    "not json": "{ this is not json",
    "unknown effect": dumps(doc({"Effect": "Alow", "Action": "ec2:*", "Resource": "*"})),
    "no statement": dumps({"Version": "2012-10-17"}),
    "no action": dumps(doc({"Effect": "Allow", "Resource": "*"})),
    "bad version": dumps({"Version": "2099-01-01", "Statement": [ALLOW_EC2]}),
}


@pytest.mark.parametrize("what", list(BAD_DOCS))
def test_malformed_policy_documents_are_refused(iam, what):
    bad = BAD_DOCS[what]
    pname, uname, rname = uniq("bad"), uniq("badu"), uniq("badr")
    with client_error("MalformedPolicyDocument", 400):
        iam.create_policy(PolicyName=pname, PolicyDocument=bad)
    with client_error("NoSuchEntity", 404):
        iam.get_policy(PolicyArn=f"arn:aws:iam::{A.id}:policy/{pname}")
    iam.create_user(UserName=uname)
    with client_error("MalformedPolicyDocument", 400):
        iam.put_user_policy(UserName=uname, PolicyName="x", PolicyDocument=bad)
    assert iam.list_user_policies(UserName=uname)["PolicyNames"] == []
    iam.create_role(RoleName=rname, AssumeRolePolicyDocument=dumps(trust_account(A.id)))
    with client_error("MalformedPolicyDocument", 400):
        iam.put_role_policy(RoleName=rname, PolicyName="x", PolicyDocument=bad)
    assert iam.list_role_policies(RoleName=rname)["PolicyNames"] == []


def test_malformed_trust_policy_is_refused(iam):
    name = uniq("badtrust")
    with client_error("MalformedPolicyDocument", 400):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{nope")
    # A trust policy must name a principal.
    with client_error("MalformedPolicyDocument", 400):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(
            doc({"Effect": "Allow", "Action": "sts:AssumeRole"})))
    with client_error("NoSuchEntity", 404, f"The role with name {name} cannot be found."):
        iam.get_role(RoleName=name)


def test_trust_policy_naming_an_unknown_user_is_refused(iam):
    # IAM checks principal ARNs in a trust policy when it is saved:
    # MalformedPolicyDocument "Invalid principal in policy".
    name = uniq("ghosttrust")
    ghost = f"arn:aws:iam::{A.id}:user/{uniq('nobody')}"
    with client_error("MalformedPolicyDocument", 400, message_re="Invalid principal in policy"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(
            doc({"Effect": "Allow", "Principal": {"AWS": ghost}, "Action": "sts:AssumeRole"})))


# --------------------------------------------------------------------------------------
# Roles and instance profiles
# --------------------------------------------------------------------------------------


def test_role_create_get_delete(iam):
    name = uniq("role")
    trust = trust_account(A.id)
    seen = wire(iam)
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(trust),
                        Description="test role")["Role"]
    assert r["Arn"] == f"arn:aws:iam::{A.id}:role/{name}" and r["Path"] == "/"
    assert re.fullmatch(r"AROA[A-Z0-9]{16,}", r["RoleId"]), r["RoleId"]
    assert r["AssumeRolePolicyDocument"] == trust
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust
    assert got["MaxSessionDuration"] == 3600  # default, CreateRole MaxSessionDuration
    assert (got["RoleId"], got["Arn"]) == (r["RoleId"], r["Arn"])
    # On the wire the document is URL-encoded (IAM API reference, Role).
    body = seen[-1][2]
    [d] = [e for e in ET.fromstring(body).iter() if local(e.tag) == "AssumeRolePolicyDocument"]
    assert "{" not in (d.text or "") and json.loads(urllib.parse.unquote(d.text)) == trust
    with client_error("EntityAlreadyExists", 409, f"Role with name {name} already exists."):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(trust))
    with client_error("EntityAlreadyExists", 409):
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=dumps(trust))
    iam.delete_role(RoleName=name)
    with client_error("NoSuchEntity", 404, f"The role with name {name} cannot be found."):
        iam.get_role(RoleName=name)
    with client_error("NoSuchEntity", 404):
        iam.delete_role(RoleName=name)


def test_delete_role_with_attached_policy_conflicts(iam):
    name = uniq("rolea")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(trust_account(A.id)))
    iam.attach_role_policy(RoleName=name, PolicyArn=AWS_EC2_RO)
    with client_error("DeleteConflict", 409, "Cannot delete entity, must detach all policies first."):
        iam.delete_role(RoleName=name)
    iam.detach_role_policy(RoleName=name, PolicyArn=AWS_EC2_RO)
    iam.delete_role(RoleName=name)


def test_instance_profiles(iam):
    prof, r1, r2 = uniq("prof"), uniq("pr1"), uniq("pr2")
    ip = iam.create_instance_profile(InstanceProfileName=prof)["InstanceProfile"]
    assert ip["Arn"] == f"arn:aws:iam::{A.id}:instance-profile/{prof}"
    assert ip["InstanceProfileName"] == prof and ip["Path"] == "/" and ip["Roles"] == []
    assert re.fullmatch(r"AIPA[A-Z0-9]{16,}", ip["InstanceProfileId"]), ip["InstanceProfileId"]
    with client_error("EntityAlreadyExists", 409):
        iam.create_instance_profile(InstanceProfileName=prof)
    for r in (r1, r2):
        iam.create_role(RoleName=r, AssumeRolePolicyDocument=dumps(
            doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                 "Action": "sts:AssumeRole"})))
    with client_error("NoSuchEntity", 404):
        iam.add_role_to_instance_profile(InstanceProfileName=prof, RoleName=uniq("ghost"))
    iam.add_role_to_instance_profile(InstanceProfileName=prof, RoleName=r1)
    got = iam.get_instance_profile(InstanceProfileName=prof)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [r1]
    assert got["Roles"][0]["Arn"] == f"arn:aws:iam::{A.id}:role/{r1}"
    # One role per instance profile, a quota that cannot be increased.
    with client_error("LimitExceeded", 409,
                      "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"):
        iam.add_role_to_instance_profile(InstanceProfileName=prof, RoleName=r2)
    with client_error("DeleteConflict", 409,
                      "Cannot delete entity, must remove roles from instance profile first."):
        iam.delete_role(RoleName=r1)
    with client_error("DeleteConflict", 409):
        iam.delete_instance_profile(InstanceProfileName=prof)
    iam.remove_role_from_instance_profile(InstanceProfileName=prof, RoleName=r1)
    assert iam.get_instance_profile(InstanceProfileName=prof)["InstanceProfile"]["Roles"] == []
    with client_error("NoSuchEntity", 404):
        iam.remove_role_from_instance_profile(InstanceProfileName=prof, RoleName=r1)
    iam.delete_role(RoleName=r1)
    iam.delete_instance_profile(InstanceProfileName=prof)
    with client_error("NoSuchEntity", 404, f"Instance Profile {prof} cannot be found."):
        iam.get_instance_profile(InstanceProfileName=prof)


# --------------------------------------------------------------------------------------
# Permissions boundaries
# --------------------------------------------------------------------------------------


def test_permissions_boundaries(iam):
    pname, uname, rname = uniq("bound"), uniq("bu"), uniq("br")
    parn = iam.create_policy(PolicyName=pname, PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    iam.create_user(UserName=uname)
    iam.create_role(RoleName=rname, AssumeRolePolicyDocument=dumps(trust_account(A.id)))
    assert "PermissionsBoundary" not in iam.get_user(UserName=uname)["User"]
    iam.put_user_permissions_boundary(UserName=uname, PermissionsBoundary=parn)
    iam.put_role_permissions_boundary(RoleName=rname, PermissionsBoundary=AWS_EC2_RO)
    # IAM answers PermissionsBoundaryType "Policy" (observed get-user / get-role output),
    # although botocore's enum lists only "PermissionsBoundaryPolicy".
    want_u = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": parn}
    want_r = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": AWS_EC2_RO}
    assert iam.get_user(UserName=uname)["User"]["PermissionsBoundary"] == want_u
    assert iam.get_role(RoleName=rname)["Role"]["PermissionsBoundary"] == want_r
    with client_error("NoSuchEntity", 404):
        iam.put_user_permissions_boundary(UserName=uniq("ghost"), PermissionsBoundary=parn)
    iam.delete_user_permissions_boundary(UserName=uname)
    iam.delete_role_permissions_boundary(RoleName=rname)
    assert "PermissionsBoundary" not in iam.get_user(UserName=uname)["User"]
    assert "PermissionsBoundary" not in iam.get_role(RoleName=rname)["Role"]


# --------------------------------------------------------------------------------------
# The wire: IAM's own namespace and error envelope on the shared endpoint
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Listings (botocore's model: ListUsers, ListRoles, ListInstanceProfiles, ListPolicies;
# MaxItems 1..1000, default 100; IsTruncated and Marker; each listing leaves out members its
# documentation names)
# --------------------------------------------------------------------------------------


def test_users_and_roles_are_listed_by_path_a_page_at_a_time(server, iam):
    path = f"/{uniq('lst')}/"
    names = sorted(uniq(f"u{i}") for i in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=path, Tags=[{"Key": "k", "Value": "v"}])
    iam.create_user(UserName=uniq("zz-deeper"), Path=f"{path}deeper/")
    iam.create_user(UserName=uniq("outside"), Path="/other/")
    first = iam.list_users(PathPrefix=path, MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == names[:2]
    assert first["IsTruncated"] is True and first["Marker"]
    second = iam.list_users(PathPrefix=path, MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == names[2:4]
    pages = iam.get_paginator("list_users").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 2})
    listed = [u for page in pages for u in page["Users"]]
    # The prefix takes the deeper path too; the listing leaves out tags and boundaries.
    assert len(listed) == 6 and [u["UserName"] for u in listed[:5]] == names
    assert all(u["Path"].startswith(path) for u in listed)
    assert all("Tags" not in u and "PermissionsBoundary" not in u for u in listed)
    assert listed[0]["Arn"] == f"arn:aws:iam::{A.id}:user{path}{names[0]}"
    last = iam.list_users(PathPrefix=f"{path}deeper/")
    assert len(last["Users"]) == 1 and last["IsTruncated"] is False and "Marker" not in last
    # Everyone of the account without a prefix (100 a page by default).
    everyone = [u["UserName"] for p in iam.get_paginator("list_users").paginate() for u in p["Users"]]
    assert set(names) <= set(everyone) and len(everyone) == len(set(everyone))

    role = uniq("listed-role")
    iam.create_role(RoleName=role, Path=path, AssumeRolePolicyDocument=dumps(trust_account(A.id)),
                    Description="listed", PermissionsBoundary=AWS_EC2_RO,
                    Tags=[{"Key": "k", "Value": "v"}])
    [r] = iam.list_roles(PathPrefix=path)["Roles"]
    assert r["RoleName"] == role and r["Description"] == "listed"
    assert r["MaxSessionDuration"] == 3600
    assert r["AssumeRolePolicyDocument"]["Statement"], r
    assert "PermissionsBoundary" not in r and "RoleLastUsed" not in r and "Tags" not in r
    got = iam.get_role(RoleName=role)["Role"]
    assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == AWS_EC2_RO

    # The aws CLI pages through them itself.
    env = {**helpers.cli_env(), "AWS_ACCESS_KEY_ID": A.key, "AWS_SECRET_ACCESS_KEY": A.secret}
    proc = subprocess.run([helpers.AWS_CLI, "iam", "list-users", "--path-prefix", path,
                           "--page-size", "2", "--endpoint-url", server.endpoint,
                           "--region", REGION, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    assert [u["UserName"] for u in json.loads(proc.stdout)["Users"]][:5] == names


def test_instance_profiles_are_listed_with_their_roles(iam):
    path = f"/{uniq('ip')}/"
    role = uniq("ip-role")
    make_role(iam, role, A.id)
    names = sorted(uniq(f"p{i}") for i in range(3))
    for n in names:
        iam.create_instance_profile(InstanceProfileName=n, Path=path)
    iam.add_role_to_instance_profile(InstanceProfileName=names[1], RoleName=role)
    got = iam.list_instance_profiles(PathPrefix=path)
    assert [p["InstanceProfileName"] for p in got["InstanceProfiles"]] == names
    assert got["IsTruncated"] is False
    by_name = {p["InstanceProfileName"]: p for p in got["InstanceProfiles"]}
    assert [r["RoleName"] for r in by_name[names[1]]["Roles"]] == [role]
    assert by_name[names[0]]["Roles"] == []
    # The profiles that hold the role (ListInstanceProfilesForRole), whatever their path.
    elsewhere = uniq("p-root")
    iam.create_instance_profile(InstanceProfileName=elsewhere)
    iam.add_role_to_instance_profile(InstanceProfileName=elsewhere, RoleName=role)
    first = iam.list_instance_profiles_for_role(RoleName=role, MaxItems=1)
    assert len(first["InstanceProfiles"]) == 1 and first["IsTruncated"] is True
    holding = [p["InstanceProfileName"] for pg in iam.get_paginator(
        "list_instance_profiles_for_role").paginate(RoleName=role) for p in pg["InstanceProfiles"]]
    assert sorted(holding) == sorted([names[1], elsewhere])
    with client_error("NoSuchEntity", 404, "The role with name nobody-here cannot be found."):
        iam.list_instance_profiles_for_role(RoleName="nobody-here")


def test_policies_are_listed_by_scope_attachment_and_path(iam):
    path = f"/{uniq('pol')}/"
    arns = []
    for i in range(3):
        arns.append(iam.create_policy(PolicyName=uniq(f"lp{i}"), Path=path,
                                      PolicyDocument=dumps(DESCRIBE_ONLY),
                                      Description="not listed")["Policy"]["Arn"])
    local = iam.list_policies(Scope="Local", PathPrefix=path)["Policies"]
    assert [p["Arn"] for p in local] == sorted(arns)
    assert all("Description" not in p and p["AttachmentCount"] == 0 for p in local)
    aws = iam.list_policies(Scope="AWS")["Policies"]
    assert {AWS_ADMIN, AWS_EC2_FULL, AWS_EC2_RO} <= {p["Arn"] for p in aws}
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    everything = [p["Arn"] for pg in iam.get_paginator("list_policies").paginate(
        PaginationConfig={"PageSize": 1}) for p in pg["Policies"]]
    assert set(arns) | {AWS_ADMIN} <= set(everything) and len(everything) == len(set(everything))
    user = uniq("attached")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arns[0])
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=arns[1])
    attached = iam.list_policies(Scope="Local", PathPrefix=path, OnlyAttached=True)["Policies"]
    assert [(p["Arn"], p["AttachmentCount"]) for p in attached] == [(arns[0], 1)]
    bounds = iam.list_policies(Scope="Local", PathPrefix=path, OnlyAttached=True,
                               PolicyUsageFilter="PermissionsBoundary")["Policies"]
    assert [(p["Arn"], p["PermissionsBoundaryUsageCount"]) for p in bounds] == [(arns[1], 1)]


def test_the_entities_that_use_a_policy_are_listed(iam):
    # ListEntitiesForPolicy: the users, groups and roles a managed policy is attached to or
    # bounds, filtered by EntityFilter, PathPrefix and PolicyUsageFilter, a page at a time
    # (botocore's model; what Terraform's aws_iam_policy_attachment reads).
    path = f"/{uniq('ents')}/"
    arn = iam.create_policy(PolicyName=uniq("used"), PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    user, group, role, bounded = uniq("u"), uniq("g"), uniq("r"), uniq("b")
    iam.create_user(UserName=user, Path=path)
    iam.create_group(GroupName=group, Path=path)
    iam.create_role(RoleName=role, Path=path, AssumeRolePolicyDocument=dumps(trust_account(A.id)))
    iam.create_user(UserName=bounded, Path=path)
    iam.put_user_permissions_boundary(UserName=bounded, PermissionsBoundary=arn)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    got = iam.list_entities_for_policy(PolicyArn=arn, PathPrefix=path)
    assert [g["GroupName"] for g in got["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in got["PolicyRoles"]] == [role]
    assert sorted(u["UserName"] for u in got["PolicyUsers"]) == sorted([user, bounded])
    assert got["PolicyGroups"][0]["GroupId"].startswith("AGPA")
    attached = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")
    assert [u["UserName"] for u in attached["PolicyUsers"]] == [user]
    bounds = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in bounds["PolicyUsers"]] == [bounded]
    assert bounds["PolicyGroups"] == [] and bounds["PolicyRoles"] == []
    roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert [r["RoleName"] for r in roles["PolicyRoles"]] == [role] and roles["PolicyUsers"] == []
    pages = list(iam.get_paginator("list_entities_for_policy").paginate(
        PolicyArn=arn, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    assert sum(len(p["PolicyUsers"]) + len(p["PolicyGroups"]) + len(p["PolicyRoles"])
               for p in pages) == 4
    with client_error("ValidationError", 400):
        iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Nobody")
    with client_error("NoSuchEntity", 404):
        iam.list_entities_for_policy(PolicyArn=f"arn:aws:iam::{A.id}:policy/{uniq('none')}")


def test_account_authorization_details_show_every_entitys_permissions(tmp_path):
    # GetAccountAuthorizationDetails (botocore's model: UserDetail, GroupDetail, RoleDetail,
    # ManagedPolicyDetail; documents URL-encoded, decoded by boto3), as audit tools read an
    # account: on an account of its own, so that the whole answer is this test's.
    c = Acct("777788889999", "AKIAI77DETAILSEXAMPL", "dEtAiLsSeCrEtKeY/0123456789EXAMPLEKEY")
    with contextlib.contextmanager(helpers.running)(
            iam_server(tmp_path, [c])) as srv:
        iam = Clients(srv, c).iam()
        arn = iam.create_policy(PolicyName="team", PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=dumps(DESCRIBE_ONLY), SetAsDefault=True)
        iam.create_user(UserName="ann", Tags=[{"Key": "team", "Value": "blue"}])
        iam.put_user_policy(UserName="ann", PolicyName="own", PolicyDocument=dumps(DESCRIBE_ONLY))
        iam.put_user_permissions_boundary(UserName="ann", PermissionsBoundary=AWS_EC2_RO)
        iam.create_group(GroupName="ops")
        iam.add_user_to_group(GroupName="ops", UserName="ann")
        iam.attach_group_policy(GroupName="ops", PolicyArn=arn)
        iam.create_role(RoleName="web", AssumeRolePolicyDocument=dumps(trust_account(c.id)))
        iam.attach_role_policy(RoleName="web", PolicyArn=AWS_EC2_FULL)
        iam.create_instance_profile(InstanceProfileName="web")
        iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web")

        d = iam.get_account_authorization_details()
        assert d["IsTruncated"] is False
        [u] = d["UserDetailList"]
        assert (u["UserName"], u["GroupList"]) == ("ann", ["ops"])
        assert u["UserPolicyList"] == [{"PolicyName": "own", "PolicyDocument": DESCRIBE_ONLY}]
        assert u["PermissionsBoundary"]["PermissionsBoundaryArn"] == AWS_EC2_RO
        assert u["Tags"] == [{"Key": "team", "Value": "blue"}]
        [g] = d["GroupDetailList"]
        assert g["AttachedManagedPolicies"] == [{"PolicyName": "team", "PolicyArn": arn}]
        [r] = d["RoleDetailList"]
        assert r["AssumeRolePolicyDocument"]["Statement"]
        assert [p["InstanceProfileName"] for p in r["InstanceProfileList"]] == ["web"]
        assert [p["PolicyArn"] for p in r["AttachedManagedPolicies"]] == [AWS_EC2_FULL]
        by_arn = {p["Arn"]: p for p in d["Policies"]}
        # The account's own policies, and AWS's it uses (attached or as a boundary).
        assert set(by_arn) == {arn, AWS_EC2_FULL, AWS_EC2_RO}
        mine = by_arn[arn]
        assert mine["DefaultVersionId"] == "v2" and mine["AttachmentCount"] == 1
        assert [(v["VersionId"], v["IsDefaultVersion"]) for v in mine["PolicyVersionList"]] == \
            [("v1", False), ("v2", True)]
        assert mine["PolicyVersionList"][1]["Document"] == DESCRIBE_ONLY

        only = iam.get_account_authorization_details(Filter=["Role", "LocalManagedPolicy"])
        assert only["UserDetailList"] == [] and only["GroupDetailList"] == []
        assert [p["Arn"] for p in only["Policies"]] == [arn]
        pages = list(iam.get_paginator("get_account_authorization_details").paginate(
            PaginationConfig={"PageSize": 2}))
        # 1 user, 1 group, 1 role, 3 policies: three pages of two.
        assert len(pages) == 3
        assert [sum(len(p[k]) for p in pages) for k in (
            "UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")] == [1, 1, 1, 3]
        with client_error("ValidationError", 400):
            iam.get_account_authorization_details(Filter=["Everything"])


def test_listing_inputs_are_validated_as_iam_validates_them(server):
    raw = Clients(server, A).session.client(
        "iam", endpoint_url=server.endpoint, region_name=REGION,
        config=botocore.config.Config(parameter_validation=False,
                                      retries={"total_max_attempts": 1}))
    with client_error("ValidationError", 400, "1 validation error detected: Value '0' at "
                      "'maxItems' failed to satisfy constraint: Member must have value greater "
                      "than or equal to 1"):
        raw.list_users(MaxItems=0)
    with client_error("ValidationError", 400, "1 validation error detected: Value '1001' at "
                      "'maxItems' failed to satisfy constraint: Member must have value less than "
                      "or equal to 1000"):
        raw.list_roles(MaxItems=1001)
    with client_error("ValidationError", 400, message_re=r".*'pathPrefix'.*pattern.*"):
        raw.list_users(PathPrefix="no-slash")
    with client_error("ValidationError", 400, message_re=r".*'pathPrefix'.*pattern.*"):
        raw.list_policies(PathPrefix="/no-trailing-slash")
    with client_error("ValidationError", 400, "1 validation error detected: Value 'Mine' at "
                      "'scope' failed to satisfy constraint: Member must satisfy enum value set: "
                      "[All, AWS, Local]"):
        raw.list_policies(Scope="Mine")


def test_iam_answers_in_its_own_namespace_and_error_envelope(iam):
    seen = wire(iam)
    iam.list_user_policies(UserName=iam.create_user(UserName=uniq("ns"))["User"]["UserName"])
    name, status, body = seen[-1]
    root = ET.fromstring(body)
    assert (status, root.tag) == (200, f"{{{IAM_NS}}}ListUserPoliciesResponse"), body[:300]
    assert [local(c.tag) for c in root] == ["ListUserPoliciesResult", "ResponseMetadata"], body
    with client_error("NoSuchEntity", 404):
        iam.get_user(UserName=uniq("ghost"))
    _, status, body = seen[-1]
    root = ET.fromstring(body)
    # Query-protocol error (awsQuery): ErrorResponse/Error/{Type,Code,Message} + RequestId.
    assert local(root.tag) == "ErrorResponse", body
    err = [c for c in root if local(c.tag) == "Error"]
    assert len(err) == 1, body
    fields = {local(c.tag): c.text for c in err[0]}
    assert fields.get("Type") == "Sender" and fields.get("Code") == "NoSuchEntity", fields
    assert any(local(c.tag) == "RequestId" and (c.text or "").strip() for c in root), body


# --------------------------------------------------------------------------------------
# STS AssumeRole
# --------------------------------------------------------------------------------------


def test_assume_role_with_account_trust_needs_an_identity_policy(server, iam):
    role = uniq("dev")
    role_arn = make_role(iam, role, A.id, [doc(ALLOW_EC2)])
    user_arn, with_policy = make_user(iam, uniq("op"), [ASSUME_ANY])
    _, without = make_user(iam, uniq("nop"))
    sts = Clients(server, with_policy).sts()
    before = datetime.datetime.now(datetime.timezone.utc)
    r = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=1800)
    c, who = r["Credentials"], r["AssumedRoleUser"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", c["AccessKeyId"]), c["AccessKeyId"]
    assert len(c["SecretAccessKey"]) == 40 and c["SessionToken"]
    assert abs((c["Expiration"] - before).total_seconds() - 1800) < 120, c["Expiration"]
    assert who["Arn"] == f"arn:aws:sts::{A.id}:assumed-role/{role}/s1"
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    assert who["AssumedRoleId"] == f"{role_id}:s1"
    me = Clients(server, Creds.of(c)).sts().get_caller_identity()
    assert (me["Arn"], me["UserId"], me["Account"]) == (who["Arn"], f"{role_id}:s1", A.id)
    # Without an identity policy allowing sts:AssumeRole, a trust naming the account is not
    # enough: AccessDenied 403.
    with client_error("AccessDenied", 403, message_re=r"not authorized to perform: sts:AssumeRole"):
        Clients(server, without).sts().assume_role(RoleArn=role_arn, RoleSessionName="s2")


def test_assume_role_with_user_trust_needs_nothing_else(server, iam):
    uname = uniq("trusted")
    user_arn, creds = make_user(iam, uname)  # no identity policy at all
    role = uniq("svc")
    role_arn = make_role(iam, role, A.id, [doc(ALLOW_EC2)], trust=doc(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}))
    c = assume(Clients(server, creds).sts(), role_arn, "direct")
    assert Clients(server, c).sts().get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{A.id}:assumed-role/{role}/direct"
    # Another user of the account, even with sts:AssumeRole allowed, is not in that trust.
    _, other = make_user(iam, uniq("other"), [ASSUME_ANY])
    with client_error("AccessDenied", 403):
        Clients(server, other).sts().assume_role(RoleArn=role_arn, RoleSessionName="xx")


def test_assume_role_denied_for_unknown_role_and_root(server, iam):
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    with client_error("AccessDenied", 403):
        Clients(server, creds).sts().assume_role(
            RoleArn=f"arn:aws:iam::{A.id}:role/{uniq('nosuch')}", RoleSessionName="s0")
    # A role trusting only the EC2 service cannot be assumed by a user.
    svc = make_role(iam, uniq("svc"), A.id, [doc(ALLOW_EC2)], trust=doc(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
         "Action": "sts:AssumeRole"}))
    with client_error("AccessDenied", 403):
        Clients(server, creds).sts().assume_role(RoleArn=svc, RoleSessionName="s0")
    role_arn = make_role(iam, uniq("r"), A.id, [doc(ALLOW_EC2)])
    # "Roles may not be assumed by root accounts."
    with client_error("AccessDenied", 403):
        Clients(server, A).sts().assume_role(RoleArn=role_arn, RoleSessionName="s0")


def test_assume_role_duration_bounds(server, iam):
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    sts = Clients(server, creds).sts(validate=False)
    role_arn = make_role(iam, uniq("dur"), A.id, [doc(ALLOW_EC2)])
    with client_error("ValidationError", 400):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s0", DurationSeconds=899)
    # Above the role's MaxSessionDuration (3600 by default) the call fails.
    with client_error("ValidationError", 400, message_re="MaxSessionDuration"):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s0", DurationSeconds=3601)
    assume(sts, role_arn, DurationSeconds=900)
    assume(sts, role_arn, DurationSeconds=3600)
    long_arn = make_role(iam, uniq("long"), A.id, [doc(ALLOW_EC2)], max_session=43200)
    assert iam.get_role(RoleName=long_arn.rsplit("/", 1)[1])["Role"]["MaxSessionDuration"] == 43200
    now = datetime.datetime.now(datetime.timezone.utc)
    c = sts.assume_role(RoleArn=long_arn, RoleSessionName="s0", DurationSeconds=43200)["Credentials"]
    assert abs((c["Expiration"] - now).total_seconds() - 43200) < 120


def test_session_policy_narrows_the_role(server, iam):
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    role_arn = make_role(iam, uniq("wide"), A.id, [doc(ALLOW_EC2)])
    narrowed = assume(Clients(server, creds).sts(), role_arn, "narrow",
                      Policy=dumps(DESCRIBE_ONLY))
    ec2 = Clients(server, narrowed).ec2()
    ec2.describe_instances()
    with unauthorized(mutating=True, reason="because no session policy allows"):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})
    full = Clients(server, assume(Clients(server, creds).sts(), role_arn, "full")).ec2()
    assert launch(full, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    with client_error("MalformedPolicyDocument", 400):
        Clients(server, creds).sts().assume_role(RoleArn=role_arn, RoleSessionName="bad",
                                                  Policy="{not json")
    # PackedPolicySize: a percentage, present only with a session policy (STS API Reference);
    # a policy over the model's 2,048 characters is refused.
    sts = Clients(server, creds).sts()
    with_policy = sts.assume_role(RoleArn=role_arn, RoleSessionName="pps", Policy=dumps(DESCRIBE_ONLY))
    assert 1 <= with_policy["PackedPolicySize"] <= 100, with_policy
    assert "PackedPolicySize" not in sts.assume_role(RoleArn=role_arn, RoleSessionName="nopps")
    padded = dumps(doc(*[{"Sid": f"S{i}", "Effect": "Allow", "Action": "ec2:DescribeInstances",
                          "Resource": "*"} for i in range(40)]))
    assert len(padded) > 2048
    with client_error("ValidationError", 400):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="big", Policy=padded)


def test_iam_user_without_iam_permissions_is_denied(server, iam):
    # IAM actions are authorized like any other: AccessDenied 403, "User: <arn> is not
    # authorized to perform: iam:CreateUser on resource: ... because no identity-based policy
    # allows the iam:CreateUser action".
    arn, creds = make_user(iam, uniq("weak"), [doc(ALLOW_EC2)])
    ghost = uniq("made-by-weak")
    with client_error("AccessDenied", 403,
                      message_re=rf"User: {re.escape(arn)} is not authorized to perform: iam:CreateUser"):
        Clients(server, creds).iam().create_user(UserName=ghost)
    with client_error("NoSuchEntity", 404):
        iam.get_user(UserName=ghost)
    _, admin = make_user(iam, uniq("admin"), managed=[AWS_ADMIN])
    made = uniq("made-by-admin")
    Clients(server, admin).iam().create_user(UserName=made)
    iam.get_user(UserName=made)


# --------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------
# A user's permissions include the policies of its groups: "identity-based policies
# (user/role inline + managed, plus group policies for users)" (spec iam.md, "Policy
# evaluation"; IAM User Guide, "Policy evaluation logic"). A group is not a principal.


def test_a_groups_policies_are_its_users_for_as_long_as_they_are_in_it(server, iam):
    name = uniq("grouped")
    user_arn, creds = make_user(iam, name)
    ec2 = Clients(server, creds).ec2()
    with unauthorized(mutating=False):
        ec2.describe_instances()
    readers, denied = uniq("readers"), uniq("denied")
    iam.create_group(GroupName=readers)
    iam.put_group_policy(GroupName=readers, PolicyName="describe",
                         PolicyDocument=dumps(DESCRIBE_ONLY))
    iam.add_user_to_group(GroupName=readers, UserName=name)
    ec2.describe_instances()
    # An explicit deny of another group wins over the first group's allow.
    iam.create_group(GroupName=denied)
    iam.put_group_policy(GroupName=denied, PolicyName="no", PolicyDocument=dumps(
        doc({"Effect": "Deny", "Action": "ec2:DescribeInstances", "Resource": "*"})))
    iam.add_user_to_group(GroupName=denied, UserName=name)
    with unauthorized(mutating=False):
        ec2.describe_instances()
    iam.remove_user_from_group(GroupName=denied, UserName=name)
    ec2.describe_instances()
    # A managed policy attached to the group counts as the user's.
    iam.delete_group_policy(GroupName=readers, PolicyName="describe")
    with unauthorized(mutating=False):
        ec2.describe_instances()
    iam.attach_group_policy(GroupName=readers, PolicyArn=AWS_EC2_RO)
    ec2.describe_instances()
    # The simulator sees the same: for the user, and for the group itself.
    group_arn = iam.get_group(GroupName=readers)["Group"]["Arn"]
    for source in (user_arn, group_arn):
        [r] = iam.simulate_principal_policy(
            PolicySourceArn=source, ActionNames=["ec2:DescribeInstances"])["EvaluationResults"]
        assert r["EvalDecision"] == "allowed", (source, r)
    iam.remove_user_from_group(GroupName=readers, UserName=name)
    with unauthorized(mutating=False):
        ec2.describe_instances()
    [r] = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["ec2:DescribeInstances"])["EvaluationResults"]
    assert r["EvalDecision"] == "implicitDeny", r


def test_groups_users_policies_and_their_conflicts(server, iam):
    path = f"/{uniq('teams')}/"
    group = uniq("ops")
    g = iam.create_group(GroupName=group, Path=path)["Group"]
    assert g["GroupName"] == group and g["Path"] == path
    assert g["Arn"] == f"arn:aws:iam::{A.id}:group{path}{group}"
    assert re.fullmatch(r"AGPA[A-Z0-9]{16,}", g["GroupId"]), g["GroupId"]
    assert recent(g["CreateDate"])
    with client_error("EntityAlreadyExists", 409, f"Group with name {group} already exists."):
        iam.create_group(GroupName=group)
    # Names are not distinguished by case (IAM User Guide, "IAM identifiers").
    with client_error("EntityAlreadyExists", 409):
        iam.create_group(GroupName=group.upper())
    ghost = uniq("ghost")
    with client_error("NoSuchEntity", 404, f"The group with name {ghost} cannot be found."):
        iam.get_group(GroupName=ghost)
    with client_error("NoSuchEntity", 404, f"The user with name {ghost} cannot be found."):
        iam.add_user_to_group(GroupName=group, UserName=ghost)

    users = sorted(uniq(f"member{i}") for i in range(3))
    for u in users:
        iam.create_user(UserName=u)
        iam.add_user_to_group(GroupName=group, UserName=u)
    first = iam.get_group(GroupName=group, MaxItems=2)
    assert first["Group"]["GroupId"] == g["GroupId"]
    assert [u["UserName"] for u in first["Users"]] == users[:2]
    assert first["IsTruncated"] is True
    rest = iam.get_group(GroupName=group, MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == users[2:] and rest["IsTruncated"] is False
    paged = [u["UserName"] for p in iam.get_paginator("get_group").paginate(
        GroupName=group, PaginationConfig={"PageSize": 1}) for u in p["Users"]]
    assert paged == users

    other = uniq("other")
    iam.create_group(GroupName=other, Path="/elsewhere/")
    iam.add_user_to_group(GroupName=other, UserName=users[0])
    mine = iam.list_groups_for_user(UserName=users[0])["Groups"]
    assert sorted(x["GroupName"] for x in mine) == sorted([group, other])
    listed = [x["GroupName"] for p in iam.get_paginator("list_groups").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 1}) for x in p["Groups"]]
    assert listed == [group]
    with client_error("NoSuchEntity", 404):
        iam.list_groups_for_user(UserName=ghost)

    # Inline and managed policies, as a user's or a role's.
    iam.put_group_policy(GroupName=group, PolicyName="describe",
                         PolicyDocument=dumps(DESCRIBE_ONLY))
    got = iam.get_group_policy(GroupName=group, PolicyName="describe")
    assert got["GroupName"] == group and got["PolicyDocument"] == DESCRIBE_ONLY
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["describe"]
    mine_arn = iam.create_policy(PolicyName=uniq("grouppol"),
                                 PolicyDocument=dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=mine_arn)
    assert iam.get_policy(PolicyArn=mine_arn)["Policy"]["AttachmentCount"] == 1
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=group)[
        "AttachedPolicies"]] == [mine_arn]
    with client_error("DeleteConflict", 409):
        iam.delete_policy(PolicyArn=mine_arn)

    # DeleteConflict until its users and policies are gone; a user in a group cannot go.
    with client_error("DeleteConflict", 409,
                      "Cannot delete entity, must remove users from group first."):
        iam.delete_group(GroupName=group)
    with client_error("DeleteConflict", 409,
                      "Cannot delete entity, must remove users from group first."):
        iam.delete_user(UserName=users[1])
    for u in users:
        iam.remove_user_from_group(GroupName=group, UserName=u)
    with client_error("NoSuchEntity", 404):
        iam.remove_user_from_group(GroupName=group, UserName=users[1])
    with client_error("DeleteConflict", 409, "Cannot delete entity, must delete policies first."):
        iam.delete_group(GroupName=group)
    iam.delete_group_policy(GroupName=group, PolicyName="describe")
    with client_error("DeleteConflict", 409,
                      "Cannot delete entity, must detach all policies first."):
        iam.delete_group(GroupName=group)
    iam.detach_group_policy(GroupName=group, PolicyArn=mine_arn)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=users[1])
    with client_error("NoSuchEntity", 404):
        iam.get_group(GroupName=group)

    # The aws CLI reads a user's groups too.
    env = {**helpers.cli_env(), "AWS_ACCESS_KEY_ID": A.key, "AWS_SECRET_ACCESS_KEY": A.secret}
    proc = subprocess.run([helpers.AWS_CLI, "iam", "list-groups-for-user", "--user-name",
                           users[0], "--endpoint-url", server.endpoint, "--region", REGION,
                           "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    assert [x["GroupName"] for x in json.loads(proc.stdout)["Groups"]] == [other]


def test_group_changes_are_kept_across_a_restart(tmp_path):
    # A group is a record of the store beside users and roles: written, then read back.
    srv = iam_server(tmp_path, [A], data_dir=tmp_path / "data")
    with contextlib.contextmanager(helpers.running)(srv):
        c = Clients(srv, A).iam()
        name, group = uniq("kept"), uniq("kept-group")
        _, creds = make_user(c, name)
        c.create_group(GroupName=group)
        c.attach_group_policy(GroupName=group, PolicyArn=AWS_EC2_RO)
        c.add_user_to_group(GroupName=group, UserName=name)
        srv.restart()  # new ports: clients are made anew
        got = Clients(srv, A).iam().get_group(GroupName=group)
        assert [u["UserName"] for u in got["Users"]] == [name]
        Clients(srv, creds).ec2().describe_instances()


def test_one_holders_policies_are_listed_a_page_at_a_time(iam):
    # List{User,Role,Group}Policies and ListAttached…Policies take Marker and MaxItems (the
    # botocore model's ListUserPoliciesRequest …); they answered everything at once before.
    name = uniq("many")
    iam.create_user(UserName=name)
    for n in ("a", "b", "c"):
        iam.put_user_policy(UserName=name, PolicyName=n, PolicyDocument=dumps(DESCRIBE_ONLY))
    first = iam.list_user_policies(UserName=name, MaxItems=2)
    assert first["PolicyNames"] == ["a", "b"] and first["IsTruncated"] is True
    rest = iam.list_user_policies(UserName=name, MaxItems=2, Marker=first["Marker"])
    assert rest["PolicyNames"] == ["c"] and rest["IsTruncated"] is False
    role = make_role(iam, uniq("many-role"), A.id, managed=[AWS_EC2_RO, AWS_EC2_FULL])
    role_name = role.rsplit("/", 1)[-1]
    pages = list(iam.get_paginator("list_attached_role_policies").paginate(
        RoleName=role_name, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 2
    assert sorted(p["AttachedPolicies"][0]["PolicyArn"] for p in pages) == \
        sorted([AWS_EC2_RO, AWS_EC2_FULL])
    # PathPrefix keeps the policies under it (policyPathType).
    assert iam.list_attached_role_policies(RoleName=role_name, PathPrefix="/nowhere/")[
        "AttachedPolicies"] == []


def test_group_and_attachment_actions_are_authorized_on_the_holder(server, iam):
    # AddUserToGroup on the group; Attach…Policy on the user, group or role, with the policy
    # as iam:PolicyARN (Service Authorization Reference, IAM; UNCONFIRMED: from memory).
    mine, other, target = uniq("mine"), uniq("notmine"), uniq("target")
    iam.create_group(GroupName=mine)
    iam.create_group(GroupName=other)
    iam.create_user(UserName=target)
    _, creds = make_user(iam, uniq("delegate"), [doc(
        {"Effect": "Allow", "Action": "iam:AddUserToGroup",
         "Resource": f"arn:aws:iam::{A.id}:group/{mine}"},
        {"Effect": "Allow", "Action": "iam:AttachUserPolicy",
         "Resource": f"arn:aws:iam::{A.id}:user/{target}",
         "Condition": {"ArnEquals": {"iam:PolicyARN": AWS_EC2_RO}}})])
    delegate = Clients(server, creds).iam()
    delegate.add_user_to_group(GroupName=mine, UserName=target)
    with client_error("AccessDenied", 403, message_re=rf"iam:AddUserToGroup on resource: "
                      rf"arn:aws:iam::{A.id}:group/{other}"):
        delegate.add_user_to_group(GroupName=other, UserName=target)
    delegate.attach_user_policy(UserName=target, PolicyArn=AWS_EC2_RO)
    with client_error("AccessDenied", 403, message_re=rf"iam:AttachUserPolicy on resource: "
                      rf"arn:aws:iam::{A.id}:user/{target}"):
        delegate.attach_user_policy(UserName=target, PolicyArn=AWS_ADMIN)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=target)[
        "AttachedPolicies"]] == [AWS_EC2_RO]


# --------------------------------------------------------------------------------------
# Tags of users and roles, and aws:PrincipalTag
# --------------------------------------------------------------------------------------
# IAM User Guide, "AWS global condition context keys": aws:PrincipalTag/tag-key is "the tag
# attached to the principal making the request" (a user's tags; for a role session, the
# role's). "Control access for IAM principals" pairs it with a resource's tag through the
# ${aws:PrincipalTag/...} policy variable (ABAC).

ABAC_MODIFY = doc(
    {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"},
    {"Effect": "Allow", "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}})


def team_instances(ec2):
    """Launch an instance tagged team=blue and one tagged team=red; return whether a client
    may change the options of a team's instance (UnauthorizedOperation: it may not)."""
    by_team = {team: launch(ec2, TagSpecifications=[{"ResourceType": "instance", "Tags": [
        {"Key": "team", "Value": team}]}])["InstanceId"] for team in ("blue", "red")}

    def may_modify(client, team: str) -> bool:
        try:
            client.modify_instance_metadata_options(InstanceId=by_team[team], HttpTokens="required")
            return True
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "UnauthorizedOperation", e.response
            return False
    return may_modify


def test_principal_tags_decide_what_a_user_and_a_role_session_may_change(server, root, iam):
    may_modify = team_instances(root.ec2())

    name = uniq("abac")
    _, creds = make_user(iam, name, [ABAC_MODIFY])
    user = Clients(server, creds).ec2()
    assert (may_modify(user, "blue"), may_modify(user, "red")) == (False, False)
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "blue"}])
    assert (may_modify(user, "blue"), may_modify(user, "red")) == (True, False)
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "red"}])
    assert (may_modify(user, "blue"), may_modify(user, "red")) == (False, True)
    iam.untag_user(UserName=name, TagKeys=["team"])
    assert (may_modify(user, "blue"), may_modify(user, "red")) == (False, False)

    # A role session carries the role's tags.
    role = uniq("abac-role")
    arn = make_role(iam, role, A.id, [ABAC_MODIFY])
    iam.tag_role(RoleName=role, Tags=[{"Key": "team", "Value": "red"}])
    _, caller = make_user(iam, uniq("assumer"), [ASSUME_ANY])
    session = Clients(server, assume(Clients(server, caller).sts(), arn, "abac")).ec2()
    assert (may_modify(session, "blue"), may_modify(session, "red")) == (False, True)


def test_tag_condition_keys_guard_iams_own_actions(server, iam):
    # IAM's own actions carry aws:RequestTag/<key> and aws:TagKeys (the tags a call puts or
    # removes) and iam:ResourceTag/<key> (the tags of the user or role it is on): Service
    # Authorization Reference, IAM (from memory: UNCONFIRMED in detail); IAM User Guide,
    # "Controlling access to IAM users and roles using tags".
    protected, free = uniq("protected"), uniq("free")
    for role, value in ((protected, "true"), (free, "false")):
        make_role(iam, role, A.id)
        iam.tag_role(RoleName=role, Tags=[{"Key": "protected", "Value": value}])
    _, creds = make_user(iam, uniq("iam-operator"), [doc(
        {"Effect": "Allow", "Action": ["iam:TagUser", "iam:UntagUser", "iam:CreateUser",
                                       "iam:DeleteRole"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:TagUser", "iam:UntagUser"], "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}},
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestTag/team": "blue"}}},
        {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:ResourceTag/protected": "true"}}})])
    op = Clients(server, creds).iam()
    target = uniq("target")
    iam.create_user(UserName=target)
    op.tag_user(UserName=target, Tags=[{"Key": "env", "Value": "dev"}])
    with client_error("AccessDenied", 403, message_re="iam:TagUser"):
        op.tag_user(UserName=target, Tags=[{"Key": "env", "Value": "x"}, {"Key": "team", "Value": "x"}])
    with client_error("AccessDenied", 403, message_re="iam:UntagUser"):
        op.untag_user(UserName=target, TagKeys=["team"])
    op.untag_user(UserName=target, TagKeys=["env"])
    with client_error("AccessDenied", 403, message_re="iam:CreateUser"):
        op.create_user(UserName=uniq("untagged"))
    with client_error("AccessDenied", 403, message_re="iam:CreateUser"):
        op.create_user(UserName=uniq("red"), Tags=[{"Key": "team", "Value": "red"}])
    op.create_user(UserName=uniq("blue"), Tags=[{"Key": "team", "Value": "blue"}])
    with client_error("AccessDenied", 403, message_re="iam:DeleteRole"):
        op.delete_role(RoleName=protected)
    op.delete_role(RoleName=free)


def test_session_tags_need_tag_session_and_override_the_roles_tags(server, root, iam):
    # AssumeRole's Tags are session tags: aws:PrincipalTag/<key> of the session, over the
    # role's tag of the same key; passing them needs sts:TagSession, allowed by the trust
    # policy (and by the caller's policies where the trust names only the account), with
    # aws:RequestTag/<key> and aws:TagKeys in the request (IAM User Guide, "Passing session
    # tags in AWS STS"). At most 50 (botocore sts tagListType).
    may_modify = team_instances(root.ec2())

    blue = [{"Key": "team", "Value": "blue"}]
    plain = make_role(iam, uniq("no-tagging"), A.id, [ABAC_MODIFY])
    tagging_trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A.id}:root"},
                         "Action": "sts:AssumeRole"},
                        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A.id}:root"},
                         "Action": "sts:TagSession",
                         "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}})
    role = uniq("tagging")
    arn = make_role(iam, role, A.id, [ABAC_MODIFY], trust=tagging_trust)
    iam.tag_role(RoleName=role, Tags=[{"Key": "team", "Value": "red"}])
    _, only_assume = make_user(iam, uniq("assume-only"), [ASSUME_ANY])
    _, tagger = make_user(iam, uniq("tagger"), [doc(
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"})])
    sts = Clients(server, tagger).sts()

    with client_error("AccessDenied", 403, message_re="sts:TagSession"):
        sts.assume_role(RoleArn=plain, RoleSessionName="s1", Tags=blue)
    with client_error("AccessDenied", 403, message_re="sts:TagSession"):
        Clients(server, only_assume).sts().assume_role(RoleArn=arn, RoleSessionName="s1", Tags=blue)
    with client_error("AccessDenied", 403, message_re="sts:TagSession"):
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "red"}])
    with client_error("ValidationError", 400):
        sts.assume_role(RoleArn=arn, RoleSessionName="s1",
                        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    # Tags and a session policy pack together into the allowance PackedPolicySize measures
    # (STS API Reference, AssumeRole): 50 tags of 128 + 256 characters are over it.
    with client_error("PackedPolicyTooLarge", 400):
        sts.assume_role(RoleArn=arn, RoleSessionName="s1",
                        Tags=[{"Key": f"k{i:03}" + "k" * 124, "Value": "v" * 256} for i in range(50)])
    some = sts.assume_role(RoleArn=arn, RoleSessionName="s1", Tags=blue)
    assert 1 <= some["PackedPolicySize"] <= 100, some

    untagged = Clients(server, assume(sts, arn, "untagged")).ec2()
    assert (may_modify(untagged, "blue"), may_modify(untagged, "red")) == (False, True)
    tagged = Clients(server, Creds.of(sts.assume_role(
        RoleArn=arn, RoleSessionName="tagged", Tags=blue)["Credentials"])).ec2()
    assert (may_modify(tagged, "blue"), may_modify(tagged, "red")) == (True, False)


def test_transitive_session_tags_pass_along_a_role_chain(server, root, iam):
    # "If you set a tag key as transitive, the corresponding key and value passes to
    # subsequent sessions in a role chain"; "the new session inherits any transitive session
    # tags from the calling session. If you pass a session tag with the same key as an
    # inherited tag, the operation fails" (STS API Reference, AssumeRole: TransitiveTagKeys,
    # Tags). Inherited tags are session tags of the new session: over its role's tag of the
    # same key, and (UNCONFIRMED) needing sts:TagSession in its trust. The error code of the
    # two refusals is UNCONFIRMED (InvalidParameterValue). Before: TransitiveTagKeys was read
    # and ignored, so the second session had the role's team=red.
    may_modify = team_instances(root.ec2())
    tagging = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A.id}:root"},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]})
    chain_on = doc({"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Resource": "*"})
    first = make_role(iam, uniq("chain-first"), A.id, [chain_on], trust=tagging)
    second_name = uniq("chain-second")
    second = make_role(iam, second_name, A.id, [ABAC_MODIFY], trust=tagging)
    iam.tag_role(RoleName=second_name, Tags=[{"Key": "team", "Value": "red"}])
    no_tagging = make_role(iam, uniq("chain-no-tagging"), A.id, [ABAC_MODIFY])
    _, tagger = make_user(iam, uniq("chain-tagger"), [chain_on])
    sts = Clients(server, tagger).sts()
    tags = [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "41200"}]

    with client_error("InvalidParameterValue", 400):
        sts.assume_role(RoleArn=first, RoleSessionName="s1", Tags=tags,
                        TransitiveTagKeys=["project"])
    # Not a tag key at all (tagKeyType's pattern): the request's validation, before any key
    # is matched against the tags.
    with client_error("ValidationError", 400, message_re="transitiveTagKeys"):
        sts.assume_role(RoleArn=first, RoleSessionName="s1", Tags=tags,
                        TransitiveTagKeys=["team", "a!b"])
    transitive = Clients(server, assume(sts, first, "s1", Tags=tags,
                                        TransitiveTagKeys=["TEAM"])).sts()
    chained = Clients(server, assume(transitive, second, "s2")).ec2()
    assert (may_modify(chained, "blue"), may_modify(chained, "red")) == (True, False)
    with client_error("InvalidParameterValue", 400):
        transitive.assume_role(RoleArn=second, RoleSessionName="s2",
                               Tags=[{"Key": "Team", "Value": "red"}])
    with client_error("AccessDenied", 403, message_re="sts:TagSession"):
        transitive.assume_role(RoleArn=no_tagging, RoleSessionName="s2")
    # Not transitive: the chained session has only its role's tag.
    plain = Clients(server, assume(sts, first, "s1", Tags=tags)).sts()
    unchained = Clients(server, assume(plain, second, "s2")).ec2()
    assert (may_modify(unchained, "blue"), may_modify(unchained, "red")) == (False, True)
    assert plain.assume_role(RoleArn=no_tagging, RoleSessionName="s2")["Credentials"]


def test_tags_of_users_and_roles(iam):
    # TagUser: "If a tag with the same key name already exists, then that tag is overwritten
    # with the new value"; "If any one of the tags is invalid or if you exceed the allowed
    # maximum number of tags, then the entire request fails" (IAM API reference). Keys of users
    # and roles are not case sensitive (IAM User Guide, "Tagging IAM resources"). Tag: key 1 to
    # 128 characters, value up to 256, pattern [\p{L}\p{Z}\p{N}_.:/=+\-@].
    name = uniq("tagged")
    iam.create_user(UserName=name, Tags=[{"Key": "Team", "Value": "blue"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "red"},
                                      {"Key": "cost-center", "Value": "41200"}])
    tags = iam.list_user_tags(UserName=name)
    assert sorted((t["Key"].lower(), t["Value"]) for t in tags["Tags"]) == \
        [("cost-center", "41200"), ("team", "red")]
    assert tags["IsTruncated"] is False
    first = iam.list_user_tags(UserName=name, MaxItems=1)
    assert first["IsTruncated"] is True and len(first["Tags"]) == 1
    rest = iam.list_user_tags(UserName=name, MaxItems=1, Marker=first["Marker"])
    assert len(rest["Tags"]) == 1 and rest["Tags"][0] != first["Tags"][0]
    with client_error("ValidationError", 400, message_re=r"Member must satisfy regular expression"):
        iam.tag_user(UserName=name, Tags=[{"Key": "ok", "Value": "x"}, {"Key": "no#", "Value": "x"}])
    assert len(iam.list_user_tags(UserName=name)["Tags"]) == 2  # the whole request failed
    with client_error("LimitExceeded", 409):
        iam.tag_user(UserName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    iam.untag_user(UserName=name, TagKeys=["TEAM", "absent"])
    assert [t["Key"] for t in iam.list_user_tags(UserName=name)["Tags"]] == ["cost-center"]
    assert iam.get_user(UserName=name)["User"]["Tags"] == [{"Key": "cost-center", "Value": "41200"}]
    ghost = uniq("ghost")
    with client_error("NoSuchEntity", 404, f"The user with name {ghost} cannot be found."):
        iam.list_user_tags(UserName=ghost)

    role = uniq("tagged-role")
    make_role(iam, role, A.id)
    iam.tag_role(RoleName=role, Tags=[{"Key": "env", "Value": "prod"}])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert iam.get_role(RoleName=role)["Role"]["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.untag_role(RoleName=role, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=role)["Tags"] == []
    with client_error("ValidationError", 400):
        iam.create_role(RoleName=uniq("bad-tags"), AssumeRolePolicyDocument=dumps(trust_account(A.id)),
                        Tags=[{"Key": "k" * 129, "Value": "v"}])


# --------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------


def test_simulate_custom_policy_decisions(iam):
    allow = doc({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})
    deny = doc({"Effect": "Deny", "Action": "ec2:DescribeInstances", "Resource": "*"})
    assert sim_custom(iam, [allow], "ec2:DescribeInstances") == "allowed"
    assert sim_custom(iam, [allow], "ec2:RunInstances",
                      f"arn:aws:ec2:{REGION}:{A.id}:instance/*") == "implicitDeny"
    assert sim_custom(iam, [allow, deny], "ec2:DescribeInstances") == "explicitDeny"
    assert sim_custom(iam, [], "ec2:DescribeInstances") == "implicitDeny"
    cond = doc({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
                "Condition": {"StringEquals": {"ec2:MetadataHttpTokens": "required"}}})
    res = f"arn:aws:ec2:{REGION}:{A.id}:instance/*"
    assert sim_custom(iam, [cond], "ec2:RunInstances", res,
                      {"ec2:MetadataHttpTokens": "required"}) == "allowed"
    assert sim_custom(iam, [cond], "ec2:RunInstances", res,
                      {"ec2:MetadataHttpTokens": "optional"}) == "implicitDeny"
    assert sim_custom(iam, [cond], "ec2:RunInstances", res) == "implicitDeny"
    r = iam.simulate_custom_policy(PolicyInputList=[dumps(allow)],
                                   ActionNames=["ec2:DescribeInstances", "ec2:RunInstances"])
    assert [(e["EvalActionName"], e["EvalDecision"]) for e in r["EvaluationResults"]] == \
        [("ec2:DescribeInstances", "allowed"), ("ec2:RunInstances", "implicitDeny")]
    allowed = r["EvaluationResults"][0]
    assert allowed["MatchedStatements"], allowed


def test_simulate_principal_policy_of_user_and_role(iam):
    uname = uniq("simu")
    user_arn, _ = make_user(iam, uname, [DESCRIBE_ONLY])
    assert iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["ec2:DescribeInstances"]
    )["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["ec2:RunInstances"]
    )["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    role_arn = make_role(iam, uniq("simr"), A.id, managed=[AWS_EC2_FULL])
    assert iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["ec2:RunInstances"]
    )["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with client_error("NoSuchEntity", 404):
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{A.id}:user/{uniq('g')}",
                                      ActionNames=["ec2:RunInstances"])
    # A source that is neither an IAM user's nor a role's ARN is InvalidInput 400 (botocore
    # iam SimulatePrincipalPolicy errors: InvalidInputException; the wording is UNCONFIRMED).
    with client_error("InvalidInput", 400):
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:ec2:us-east-1:{A.id}:instance/i-0123456789abcdef0",
            ActionNames=["ec2:RunInstances"])


def test_launch_with_an_unknown_instance_profile_is_refused(root, iam):
    # EC2 checks the profile at launch: InvalidParameterValue "Value (<name>) for parameter
    # iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name".
    ec2 = root.ec2()
    before = len(helpers.describe(ec2))
    with client_error("InvalidParameterValue", 400, message_re="(?i)iamInstanceProfile"):
        launch(ec2, IamInstanceProfile={"Name": uniq("no-such-profile")})
    assert len(helpers.describe(ec2)) == before
    prof, role = uniq("lp"), uniq("lr")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=dumps(
        doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
             "Action": "sts:AssumeRole"})))
    parn = iam.create_instance_profile(InstanceProfileName=prof)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=prof, RoleName=role)
    i = launch(ec2, IamInstanceProfile={"Arn": parn})
    got = helpers.instance(ec2, i["InstanceId"]).get("IamInstanceProfile", {})
    assert got.get("Arn") == parn, got


# --------------------------------------------------------------------------------------
# More of AssumeRole: trust conditions, cross-account, chaining, session-policy ceiling
# --------------------------------------------------------------------------------------


def test_trust_policy_conditions_are_evaluated(server, iam):
    # The usual third-party pattern (IAM User Guide, "confused deputy"): the trust policy
    # requires sts:ExternalId.
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A.id}:root"},
                 "Action": "sts:AssumeRole",
                 "Condition": {"StringEquals": {"sts:ExternalId": "Unique-42"}}})
    role_arn = make_role(iam, uniq("ext"), A.id, [doc(ALLOW_EC2)], trust=trust)
    sts = Clients(server, creds).sts()
    with client_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="noext")
    with client_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="wrong", ExternalId="unique-42")
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="right",
                           ExternalId="Unique-42")["Credentials"]["SessionToken"]


def test_cross_account_assume_role(server, iam):
    """A role of account B trusting account A: a user of A allowed sts:AssumeRole on it gets
    a session that acts in B."""
    other = Clients(server, B).iam()
    role = uniq("xacct")
    role_arn = make_role(other, role, B.id, [doc(ALLOW_EC2)], trust=trust_account(A.id))
    _, creds = make_user(iam, uniq("op"), [doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn})])
    c = assume(Clients(server, creds).sts(), role_arn, "visit")
    me = Clients(server, c).sts().get_caller_identity()
    assert (me["Account"], me["Arn"]) == (B.id, f"arn:aws:sts::{B.id}:assumed-role/{role}/visit")
    mine = launch(Clients(server, B).ec2())["InstanceId"]
    seen = {i["InstanceId"] for i in helpers.describe(Clients(server, c).ec2())}
    assert mine in seen, "the session acts in the role's account"
    # A role of B that does not trust A cannot be assumed from A.
    closed = make_role(other, uniq("closed"), B.id, [doc(ALLOW_EC2)])
    with client_error("AccessDenied", 403):
        Clients(server, creds).sts().assume_role(RoleArn=closed, RoleSessionName="no")


def test_role_chaining_is_limited_to_one_hour(server, iam):
    # STS AssumeRole: "Role chaining limits your CLI or API role session to a maximum of one
    # hour ... if you provide a DurationSeconds value greater than one hour, the operation
    # fails."
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    first = make_role(iam, uniq("first"), A.id, [ASSUME_ANY])
    second = make_role(iam, uniq("second"), A.id, [doc(ALLOW_EC2)], max_session=43200)
    s1 = assume(Clients(server, creds).sts(), first, "hop1")
    sts1 = Clients(server, s1).sts()
    with client_error("ValidationError", 400):
        sts1.assume_role(RoleArn=second, RoleSessionName="hop2", DurationSeconds=7200)
    s2 = assume(sts1, second, "hop2", DurationSeconds=3600)
    assert Clients(server, s2).sts().get_caller_identity()["Arn"].endswith(
        f":assumed-role/{second.rsplit('/', 1)[1]}/hop2")


def test_role_session_name_is_validated(server, iam):
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    role_arn = make_role(iam, uniq("sn"), A.id, [doc(ALLOW_EC2)])
    with client_error("ValidationError", 400):
        Clients(server, creds).sts().assume_role(RoleArn=role_arn, RoleSessionName="bad name")


def test_session_policy_cannot_widen_the_role(server, iam):
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    role_arn = make_role(iam, uniq("narrow"), A.id, [DESCRIBE_ONLY])
    wide = assume(Clients(server, creds).sts(), role_arn, "wide", Policy=dumps(doc(ALLOW_EC2)))
    ec2 = Clients(server, wide).ec2()
    ec2.describe_instances()
    with unauthorized(mutating=True, reason="because no identity-based policy allows"):
        launch(ec2, MetadataOptions={"HttpTokens": "required"})


def test_role_sessions_use_iam_with_the_roles_permissions(server, iam):
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    admin = make_role(iam, uniq("adm"), A.id, managed=[AWS_ADMIN])
    s = assume(Clients(server, creds).sts(), admin, "adm")
    made = uniq("by-session")
    Clients(server, s).iam().create_user(UserName=made)
    assert iam.get_user(UserName=made)["User"]["UserName"] == made


def test_revoking_a_roles_older_sessions_denies_only_them(server, iam):
    # The IAM console's "Revoke active sessions" puts AWSRevokeOlderSessions on the role: Deny
    # * where aws:TokenIssueTime is before the revocation (IAM User Guide, "Revoking IAM role
    # temporary security credentials"). aws:TokenIssueTime and aws:MultiFactorAuthPresent are
    # present with temporary credentials only; aws:ViaAWSService and aws:PrincipalIsAWSService
    # are false in every signed request made directly (IAM User Guide, global condition keys).
    role = uniq("revoked")
    arn = make_role(iam, role, A.id, [DESCRIBE_ONLY])
    _, creds = make_user(iam, uniq("assumer"), [ASSUME_ANY, DESCRIBE_ONLY])
    sts = Clients(server, creds).sts()
    old = Clients(server, assume(sts, arn, "old")).ec2()
    old.describe_instances()
    time.sleep(1.1)
    cutoff = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    iam.put_role_policy(RoleName=role, PolicyName="AWSRevokeOlderSessions", PolicyDocument=dumps(doc(
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}})))
    with unauthorized(mutating=False):
        old.describe_instances()
    time.sleep(1.1)
    Clients(server, assume(sts, arn, "new")).ec2().describe_instances()

    # No MFA behind a session; the key is absent for long-term keys.
    no_mfa = doc(DESCRIBE_ONLY["Statement"][0], {
        "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})
    mfa_role = make_role(iam, uniq("mfa"), A.id, [no_mfa])
    with unauthorized(mutating=False):
        Clients(server, assume(sts, mfa_role, "s1")).ec2().describe_instances()
    _, plain = make_user(iam, uniq("long-term"), [no_mfa])
    Clients(server, plain).ec2().describe_instances()
    # Every call here is the principal's own.
    _, direct = make_user(iam, uniq("direct"), [doc(
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*",
         "Condition": {"Bool": {"aws:ViaAWSService": "false",
                                "aws:PrincipalIsAWSService": "false"}}})])
    Clients(server, direct).ec2().describe_instances()


def test_malformed_policy_arn_is_invalid_input(iam):
    # IAM: InvalidInput 400 "ARN <value> is not valid." for a PolicyArn that is no ARN
    # (e.g. hashicorp/terraform-provider-aws#1337: "InvalidInput: ARN ... is not valid").
    name = uniq("arnu")
    iam.create_user(UserName=name)
    bad = "not-an-arn-at-all-xxxxxxxx"
    with client_error("InvalidInput", 400, message_re="is not valid"):
        iam.attach_user_policy(UserName=name, PolicyArn=bad)
    with client_error("InvalidInput", 400):
        iam.get_policy(PolicyArn=bad)
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == []


def test_presigned_sts_get_caller_identity(server, iam):
    """The presigned GetCallerIdentity URL (service "sts", query-string SigV4), as used to
    prove an identity to a third party, answers with the signer's identity."""
    from iam_helpers import signed_request
    arn, creds = make_user(iam, uniq("pre"))
    r = signed_request(server, creds, {"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                       service="sts", region="us-east-1", query=True)
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == f"{{{STS_NS}}}GetCallerIdentityResponse", r.body
    got = {local(e.tag): e.text for e in root.iter()}
    assert (got.get("Arn"), got.get("Account")) == (arn, A.id), r.body
    bad = signed_request(server, Creds(creds.key, "x" * 40),
                         {"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                         service="sts", region="us-east-1", query=True)
    # STS answers its own Query error envelope (ErrorResponse/Error/{Type,Code,Message}),
    # not EC2's Response/Errors/Error.
    assert bad.status == 403, bad
    assert local(ET.fromstring(bad.body).tag) == "ErrorResponse", bad.body
    with client_error("SignatureDoesNotMatch", 403):  # (the model check sees the envelope)
        Clients(server, Creds(creds.key, "x" * 40)).sts().get_caller_identity()


def test_unknown_credentials_on_iam_and_sts(server, iam):
    """IAM and STS answer unknown keys and forged session tokens as the Query services do:
    InvalidClientTokenId 403 "The security token included in the request is invalid."
    (EC2's own code for the same thing is AuthFailure 401.)"""
    ghost = Creds("AKIAZZZZZZZZZZZZZZZZ", "g" * 40)
    msg = "The security token included in the request is invalid."
    with client_error("InvalidClientTokenId", 403, msg):
        Clients(server, ghost).sts().get_caller_identity()
    with client_error("InvalidClientTokenId", 403, msg):
        Clients(server, ghost).iam().get_user(UserName="x")
    _, creds = make_user(iam, uniq("op"), [ASSUME_ANY])
    role_arn = make_role(iam, uniq("tok"), A.id, [doc(ALLOW_EC2)])
    s = assume(Clients(server, creds).sts(), role_arn, "tok")
    forged = Creds(s.key, s.secret, s.token[:-8] + ("A" * 8 if not s.token.endswith("A" * 8) else "B" * 8))
    with client_error("InvalidClientTokenId", 403):
        Clients(server, forged).sts().get_caller_identity()
