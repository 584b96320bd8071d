"""Hostile input to the Query decoder and EC2's request limits (issue 10, spec wave2.md §3).

Each finding of the issue has a test here that failed on the main it was filed against:
a 30 KB parameter name of 15,000 dotted segments killed the process (stack overflow in the
decoder), 497 values in one filter or 990 filters reached SQLite's expression-depth limit
(500 InternalError). Every refusal is EC2's code and status, changes nothing, and the
server keeps answering.
"""
from __future__ import annotations

import pytest

import iam_helpers as ih
from helpers import (
    REGION, describe_ids, expect_raw_error, raw, run_ids, settle, store_unchanged,
)

FILTER_COUNT_MESSAGE = "The maximum number of filter values specified on a single call is 200"
FILTER_LENGTH_MESSAGE = "The maximum length for a filter value is 255 characters"


@pytest.fixture(scope="module")
def fleet(server):
    ec2 = server.client(REGION)
    ids = run_ids(ec2, 3)
    settle(ec2)
    return {"ec2": ec2, "ids": ids}


@pytest.fixture
def unchanged(fleet):
    with store_unchanged(fleet["ec2"]):
        yield


def still_answers(endpoint, fleet):
    r = raw(endpoint, {"Action": "DescribeInstances"})
    assert r.status == 200, r
    assert set(fleet["ids"]) <= describe_ids(fleet["ec2"])


def filters(*counts: int, length: int = 8, name: str = "tag:Name") -> list[tuple[str, str]]:
    out = [("Action", "DescribeInstances")]
    for f, n in enumerate(counts, start=1):
        out.append((f"Filter.{f}.Name", name))
        out += [(f"Filter.{f}.Value.{v}", "v" * length) for v in range(1, n + 1)]
    return out


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_30kb_name_of_15000_segments_is_an_unknown_parameter(endpoint, fleet, unchanged, method):
    name = ".".join(["a"] * 15_000)
    r = raw(endpoint, [("Action", "RunInstances"), ("ImageId", "ami-0abcdef1234567890"),
                       ("MinCount", "1"), ("MaxCount", "1"), (name, "1")], method=method)
    message = expect_raw_error(r, "UnknownParameter", 400)
    assert message.startswith("The parameter a.a.a.") and len(message) < 400, message
    still_answers(endpoint, fleet)


def test_names_deeper_than_any_the_model_knows(endpoint, fleet, unchanged):
    r = raw(endpoint, [("Action", "DescribeInstances"), ("Filter" + ".1" * 40, "x")])
    expect_raw_error(r, "UnknownParameter", 400)
    still_answers(endpoint, fleet)


# spec wave2.md §3.5, cases 39–41
def test_case_39_filter_values_on_one_call(endpoint, fleet):
    assert raw(endpoint, filters(200)).status == 200
    expect_raw_error(raw(endpoint, filters(201)), "FilterLimitExceeded", 400,
                     FILTER_COUNT_MESSAGE)


def test_case_40_filter_value_length(endpoint, fleet):
    assert raw(endpoint, filters(1, length=255)).status == 200
    expect_raw_error(raw(endpoint, filters(1, length=256)), "FilterLimitExceeded", 400,
                     FILTER_LENGTH_MESSAGE)


def test_case_41_values_summed_across_filters(endpoint, fleet):
    assert raw(endpoint, filters(100, 100)).status == 200
    expect_raw_error(raw(endpoint, filters(100, 101)), "FilterLimitExceeded", 400,
                     FILTER_COUNT_MESSAGE)


@pytest.mark.parametrize("shape", [(497,), (1,) * 990, (0,) * 990],
                         ids=["497-values-in-one-filter", "990-filters", "990-empty-filters"])
def test_what_reached_sqlites_expression_limit_is_filter_limit_exceeded(endpoint, fleet, shape):
    """On the main the issue was filed against these answered 500 InternalError."""
    r = raw(endpoint, filters(*shape, name="instance-id"))
    expect_raw_error(r, "FilterLimitExceeded", 400, FILTER_COUNT_MESSAGE)
    still_answers(endpoint, fleet)


@pytest.mark.parametrize("action", ["DescribeTags", "DescribeImages", "DescribeVolumes",
                                    "DescribeLaunchTemplates"])
def test_every_describe_with_filters_has_the_same_limits(endpoint, action):
    params = [(k, v) if k != "Action" else (k, action) for k, v in filters(201, name="x")]
    expect_raw_error(raw(endpoint, params), "FilterLimitExceeded", 400, FILTER_COUNT_MESSAGE)


def test_case_44_more_than_1000_instance_ids(endpoint, fleet):
    """Ids are checked for their number before any is looked up (spec wave2.md §3.1: 1,000
    per call, EC2 Developer Guide "Pagination"; the code is the spec's recommendation)."""
    many = [("Action", "DescribeInstances")] + [
        (f"InstanceId.{i}", f"i-{i:017x}") for i in range(1, 1002)]
    message = expect_raw_error(raw(endpoint, many), "InvalidParameterValue", 400)
    assert "1000" in message
    # 1,000 well-formed ids are looked up (unknown ones are NotFound, not a limit).
    r = raw(endpoint, many[:1001])
    expect_raw_error(r, "InvalidInstanceID.NotFound", 400)


def test_case_44_a_thousand_known_ids_answer(fresh_server):
    ec2 = fresh_server.client(REGION)
    ids = run_ids(ec2, 1000)
    assert describe_ids(ec2, ids=ids) == set(ids)


def test_a_parameter_given_twice_is_refused(endpoint, fleet, unchanged):
    iid = fleet["ids"][0]
    r = raw(endpoint, [("Action", "ModifyInstanceMetadataOptions"), ("InstanceId", iid),
                       ("HttpTokens", "required"), ("HttpTokens", "optional")])
    message = expect_raw_error(r, "InvalidParameterValue", 400)
    assert "HttpTokens" in message


def test_too_many_parameters(endpoint, fleet, unchanged):
    many = [("Action", "DescribeInstances")] + [(f"P{i}", "1") for i in range(10_001)]
    message = expect_raw_error(raw(endpoint, many), "InvalidParameterValue", 400)
    assert "10000" in message
    still_answers(endpoint, fleet)


def test_limits_come_before_authorization(tmp_path):
    """An IAM user with no policy at all meets the decoder and EC2's limits first (spec
    wave2.md §3.1: limits are evaluated before IAM)."""
    acct = ih.Acct("111122223333", "AKIAIOSFODNN7EXAMPLE",
                   "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    srv = ih.iam_server(tmp_path, [acct])
    try:
        _, nobody = ih.make_user(ih.Clients(srv, acct).iam(), "nobody")
        deep = {"Action": "DescribeInstances", ".".join(["a"] * 15_000): "1"}
        expect_raw_error(ih.signed_request(srv, nobody, deep), "UnknownParameter", 400)
        r = ih.signed_request(srv, nobody, dict(filters(201)))
        expect_raw_error(r, "FilterLimitExceeded", 400, FILTER_COUNT_MESSAGE)
        r = ih.signed_request(srv, nobody, {"Action": "DescribeInstances"})
        expect_raw_error(r, "UnauthorizedOperation", 403)
    finally:
        srv.stop()
