"""Authorization comes first (issue 12): a caller not allowed the action is refused
(`UnauthorizedOperation`) before being told that the request is invalid or names an unknown
instance or association, whether the action is authorized before its handler or inside its
write (on the instances as the write read them); a caller allowed gets the request's own
error, in the handler's order of checks.
"""
from __future__ import annotations

import pytest

import helpers
from iam_helpers import (
    FULL_ACCESS,
    Acct,
    Clients,
    client_error,
    iam_server,
    launch,
    make_user,
    uniq,
    unauthorized,
)

ACCT = Acct("222233334444", "AKIAORDER00000000001", "ord/secret/key/0000000000000000000000001",
            scps=[FULL_ACCESS])
UNKNOWN = "i-0000000000000dead"
ASSOCIATION = "iip-assoc-0123456789abcdef0"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("iamorder"), [ACCT]))


@pytest.fixture(scope="module")
def clients(server):
    """(the account root, allowed everything; a user without policies; a running instance)."""
    root = Clients(server, ACCT)
    _, creds = make_user(root.iam(), uniq("nobody"), [])
    iid = launch(root.ec2())["InstanceId"]
    helpers.wait_state(root.ec2(), iid, "running")
    return root.ec2(), Clients(server, creds).ec2(), iid


# (method, parameters (`{iid}` is the running instance), the allowed caller's error code)
CASES = [
    ("modify_instance_metadata_options", {"InstanceId": UNKNOWN, "HttpTokens": "required"},
     "InvalidInstanceID.NotFound"),
    ("modify_instance_metadata_options", {"InstanceId": "{iid}", "HttpTokens": "bogus"},
     "InvalidParameterValue"),
    ("modify_instance_metadata_options", {"InstanceId": "i-bad"}, "InvalidInstanceID.Malformed"),
    ("start_instances", {"InstanceIds": [UNKNOWN]}, "InvalidInstanceID.NotFound"),
    ("stop_instances", {"InstanceIds": ["{iid}", UNKNOWN]}, "InvalidInstanceID.NotFound"),
    ("terminate_instances", {"InstanceIds": ["i-bad"]}, "InvalidInstanceID.Malformed"),
    ("reboot_instances", {"InstanceIds": [UNKNOWN]}, "InvalidInstanceID.NotFound"),
    ("modify_instance_attribute", {"InstanceId": UNKNOWN, "DisableApiStop": {"Value": True}},
     "InvalidInstanceID.NotFound"),
    ("modify_instance_attribute", {"InstanceId": "{iid}", "Attribute": "bogus", "Value": "x"},
     "InvalidParameterValue"),
    ("describe_instance_attribute", {"InstanceId": UNKNOWN, "Attribute": "userData"},
     "InvalidInstanceID.NotFound"),
    ("associate_iam_instance_profile",
     {"InstanceId": UNKNOWN, "IamInstanceProfile": {"Name": "no-such-profile"}},
     "InvalidParameterValue"),
    ("disassociate_iam_instance_profile", {"AssociationId": ASSOCIATION},
     "InvalidAssociationID.NotFound"),
    ("disassociate_iam_instance_profile", {"AssociationId": "{iid}"}, "InvalidParameterValue"),
    ("replace_iam_instance_profile_association",
     {"AssociationId": ASSOCIATION, "IamInstanceProfile": {"Name": "no-such-profile"}},
     "InvalidParameterValue"),
]


def _params(params: dict, iid: str) -> dict:
    def fill(v):
        if isinstance(v, str):
            return v.replace("{iid}", iid)
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v
    return {k: fill(v) for k, v in params.items()}


@pytest.mark.parametrize("method,params,code", CASES,
                         ids=[f"{m}-{c}-{n}" for n, (m, _, c) in enumerate(CASES)])
def test_a_denied_caller_is_refused_before_the_request_is_checked(clients, method, params,
                                                                   code):
    root, nobody, iid = clients
    p = _params(params, iid)
    with unauthorized(mutating=not method.startswith("describe")):
        getattr(nobody, method)(**p)
    with client_error(code, 400):
        getattr(root, method)(**p)
