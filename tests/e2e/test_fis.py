"""AWS Fault Injection Service on the API port (spec events.md §7, cases 32-45): experiment
templates and experiments whose action `aws:ec2:send-spot-instance-interruptions` interrupts
Spot instances, through boto3's `fis` client, the aws CLI (`aws fis ... --cli-input-json`)
and raw rest-json requests signed by botocore's SigV4.

The server runs with `--spot-notice 3s`: EC2's two minutes of notice last three seconds here,
and `durationBeforeInterruption` scales with them (PT2M: recommendation and notice at once,
action after 3 s; PT4M: notice after 3 s, action after 6 s). What the instance sees is read
through its own loopback metadata endpoint, as a guest reads it."""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

import helpers
from helpers import ACCOUNT, REGION, ImdsServer, wait_until
from iam_helpers import Acct, iam_server, make_user
from imds_helpers import assert_page, get, loopback_only

NOTICE_S = 3
SPOT_ACTION = "aws:ec2:send-spot-instance-interruptions"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fis-spot"
TEMPLATE_ID_RE = re.compile(r"^EXT[A-Za-z0-9]{14}$")
EXPERIMENT_ID_RE = re.compile(r"^EXP[A-Za-z0-9]{15}$")


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    yield from helpers.running(ImdsServer(tmp_path_factory.mktemp("fis"),
                                          extra_args=["--spot-notice", f"{NOTICE_S}s"]))


@pytest.fixture(scope="module")
def ec2(srv):
    return srv.client(REGION)


def fis_client(srv, key: str = helpers.ACCESS_KEY, secret: str = helpers.SECRET_KEY,
               validate: bool = True):
    return boto3.client("fis", endpoint_url=srv.endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1},
                                      parameter_validation=validate))


@pytest.fixture(scope="module")
def fis(srv):
    return fis_client(srv)


def instance_arn(iid: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{iid}"


def template_input(arns: list[str] | None = None, tags: dict | None = None,
                   duration: str | None = "PT2M", filters: list | None = None,
                   **extra) -> dict:
    """A CreateExperimentTemplate input: one target `spot`, one spot action on it."""
    target: dict = {"resourceType": "aws:ec2:spot-instance", "selectionMode": "ALL"}
    if arns is not None:
        target["resourceArns"] = arns
    if tags is not None:
        target["resourceTags"] = tags
    if filters is not None:
        target["filters"] = filters
    action: dict = {"actionId": SPOT_ACTION, "targets": {"SpotInstances": "spot"}}
    if duration is not None:
        action["parameters"] = {"durationBeforeInterruption": duration}
    body = {"description": "interrupt Spot", "stopConditions": [{"source": "none"}],
            "targets": {"spot": target}, "actions": {"interrupt": action}, "roleArn": ROLE}
    body.update(extra)
    return body


def error_of(call, *args, **kw) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def rest(srv, method: str, path: str, body: dict | bytes | None = None, *,
         service: str = "fis", sign: bool = True) -> tuple[int, dict, bytes]:
    """One rest-json request, signed by botocore for `service`; (status, headers, body)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    url = srv.endpoint + path
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if sign:
        req = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
        SigV4Auth(helpers.CREDS, service, REGION).add_auth(req)
        headers = dict(req.headers.items())
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, parts.path + ("?" + parts.query if parts.query else ""),
                     body=data, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def endpoint_of(srv, iid: str) -> str:
    with urllib.request.urlopen(f"{srv.endpoint}/_imds/instances/{iid}/endpoint",
                                timeout=30) as r:
        return r.read().decode().strip()[len("http://"):]


def meta(addr: str, path: str):
    return get(addr, f"/latest/meta-data/{path}")


def spot_instances(ec2, n: int = 1, tags: dict | None = None) -> list[str]:
    ids = helpers.run_ids(ec2, n, tags=tags, InstanceMarketOptions={"MarketType": "spot"})
    for iid in ids:
        helpers.wait_state(ec2, iid, "running")
    return ids


def create(fis, **kw) -> dict:
    return fis.create_experiment_template(**template_input(**kw))["experimentTemplate"]


def status(fis, eid: str) -> str:
    return fis.get_experiment(id=eid)["experiment"]["state"]["status"]


# ---------------------------------------------------------------------------- the protocol


def test_a_request_signed_for_another_service_is_refused(srv):
    """Case 32: the credential scope names `ec2` → 403, a signature error in x-amzn-ErrorType
    (InvalidSignatureException or SignatureDoesNotMatch: UNCONFIRMED which)."""
    st, headers, body = rest(srv, "GET", "/experimentTemplates", service="ec2")
    assert st == 403, body
    assert headers["x-amzn-errortype"] in ("InvalidSignatureException", "SignatureDoesNotMatch")
    assert "message" in json.loads(body)
    assert headers.get("x-amzn-requestid")
    st, headers, body = rest(srv, "GET", "/experimentTemplates")
    assert st == 200, body
    assert headers["content-type"] == "application/json"
    assert "experimentTemplates" in json.loads(body)


def test_a_template_without_role_is_a_validation_exception(srv):
    """Case 33: no roleArn → 400, x-amzn-ErrorType ValidationException, body {"message"}."""
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")])
    del body["roleArn"]
    st, headers, raw = rest(srv, "POST", "/experimentTemplates", body)
    assert st == 400, raw
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert headers["content-type"] == "application/json"
    assert headers.get("x-amzn-requestid")
    assert list(json.loads(raw)) == ["message"]
    assert "roleArn" in json.loads(raw)["message"]


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"\xff\xfe", b'{"description": 7}',
                                  b'{"targets": "x"}', b"null"])
def test_hostile_bodies_are_validation_exceptions(srv, body):
    st, headers, raw = rest(srv, "POST", "/experimentTemplates", body)
    assert st == 400, raw
    assert headers["x-amzn-errortype"] == "ValidationException"
    st, headers, raw = rest(srv, "POST", "/experiments", body)
    assert st == 400, raw


def test_a_body_over_the_limit_is_refused_in_fis_form(srv):
    """The front door's 1 MiB limit, answered as FIS answers errors."""
    body = json.dumps({"description": "x" * (1 << 20)}).encode()
    st, headers, raw = rest(srv, "POST", "/experimentTemplates", body)
    assert st == 413, raw
    assert headers["x-amzn-errortype"] and "message" in json.loads(raw)


def test_create_a_template(srv, fis):
    """Case 34: an EXT id, the template's ARN, numeric times (raw JSON numbers)."""
    t = create(fis, arns=[instance_arn("i-0123456789abcdef0")])
    assert TEMPLATE_ID_RE.match(t["id"]), t
    assert t["arn"] == f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment-template/{t['id']}"
    assert t["roleArn"] == ROLE and t["description"] == "interrupt Spot"
    assert t["actions"]["interrupt"]["actionId"] == SPOT_ACTION
    st, _, raw = rest(srv, "GET", f"/experimentTemplates/{t['id']}")
    assert st == 200, raw
    got = json.loads(raw)["experimentTemplate"]
    assert isinstance(got["creationTime"], (int, float))
    assert isinstance(got["lastUpdateTime"], (int, float))
    assert abs(got["creationTime"] - time.time()) < 60
    assert got["id"] == t["id"] and got["targets"] == t["targets"]


def test_arns_and_tags_together_are_refused(fis):
    """Case 35."""
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")], tags={"k": "v"})
    code, st, _ = error_of(fis.create_experiment_template, **body)
    assert (code, st) == ("ValidationException", 400)


def test_six_arns_are_refused(srv, fis):
    """Case 36 (sent raw as well: the limit is the server's to enforce)."""
    arns = [instance_arn(f"i-{k:017x}") for k in range(6)]
    st, headers, raw = rest(srv, "POST", "/experimentTemplates", template_input(arns=arns))
    assert (st, headers["x-amzn-errortype"]) == (400, "ValidationException"), raw
    code, st, _ = error_of(fis_client(srv, validate=False).create_experiment_template,
                           **template_input(arns=arns))
    assert (code, st) == ("ValidationException", 400)
    assert create(fis, arns=arns[:5])["id"]


@pytest.mark.parametrize("duration", ["PT1M", "PT16M", "PT119S", "two minutes"])
def test_durations_outside_two_to_fifteen_minutes(fis, duration):
    """Case 37."""
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")], duration=duration)
    code, st, _ = error_of(fis.create_experiment_template, **body)
    assert (code, st) == ("ValidationException", 400)


@pytest.mark.parametrize("duration", ["PT2M", "PT120S", "PT15M", None])
def test_durations_inside_the_range(fis, duration):
    assert create(fis, arns=[instance_arn("i-0123456789abcdef0")], duration=duration)["id"]


def test_other_actions_and_resource_types_are_refused(fis):
    """imds runs one action: another is a ValidationException saying so."""
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")])
    body["actions"]["interrupt"]["actionId"] = "aws:ec2:stop-instances"
    code, st, message = error_of(fis.create_experiment_template, **body)
    assert (code, st) == ("ValidationException", 400)
    assert "imds does not support" in message
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")])
    body["targets"]["spot"]["resourceType"] = "aws:ec2:instance"
    assert error_of(fis.create_experiment_template, **body)[0] == "ValidationException"
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")])
    body["targets"]["spot"]["selectionMode"] = "SOME(3)"
    assert error_of(fis.create_experiment_template, **body)[0] == "ValidationException"
    body = template_input(tags={"k": "v"}, filters=[{"path": "Tags.k", "values": ["v"]}])
    assert error_of(fis.create_experiment_template, **body)[0] == "ValidationException"


def test_an_unknown_template(fis):
    """Cases 38 and 39."""
    code, st, _ = error_of(fis.get_experiment_template, id="EXTdoesnotexist1")
    assert (code, st) == ("ResourceNotFoundException", 404)
    code, st, _ = error_of(fis.start_experiment, experimentTemplateId="EXTdoesnotexist1")
    assert (code, st) == ("ResourceNotFoundException", 404)
    code, st, _ = error_of(fis.get_experiment, id="EXPdoesnotexist12")
    assert (code, st) == ("ResourceNotFoundException", 404)


def test_client_tokens_make_creates_idempotent(fis):
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")])
    token = str(uuid.uuid4())
    a = fis.create_experiment_template(clientToken=token, **body)["experimentTemplate"]
    b = fis.create_experiment_template(clientToken=token, **body)["experimentTemplate"]
    assert a["id"] == b["id"]
    other = dict(body, description="another")
    code, st, _ = error_of(fis.create_experiment_template, clientToken=token, **other)
    assert (code, st) == ("ConflictException", 409)
    ids = [t["id"] for t in fis.list_experiment_templates()["experimentTemplates"]]
    assert ids.count(a["id"]) == 1


def test_update_a_template(fis):
    t = create(fis, arns=[instance_arn("i-0123456789abcdef0")])
    u = fis.update_experiment_template(id=t["id"], description="updated")["experimentTemplate"]
    assert u["description"] == "updated" and u["actions"] == t["actions"]
    assert u["lastUpdateTime"] >= t["lastUpdateTime"]
    code, st, _ = error_of(fis.update_experiment_template, id=t["id"], actions={
        "interrupt": {"actionId": SPOT_ACTION, "targets": {"SpotInstances": "spot"},
                      "parameters": {"durationBeforeInterruption": "PT1M"}}})
    assert (code, st) == ("ValidationException", 400)
    assert fis.get_experiment_template(id=t["id"])["experimentTemplate"]["description"] == "updated"


def test_updates_at_once_keep_each_others_changes_and_no_update_undoes_a_delete(srv):
    """UpdateExperimentTemplate read the template, changed it and wrote it whole: two at
    once each wrote back the other's member as it had read it (one acknowledged update
    lost), and one that had read the template before a DeleteExperimentTemplate wrote it
    back after. An update now writes only over what it read, and reads again if that
    changed."""
    import threading
    a, b = fis_client(srv), fis_client(srv)

    def action(minutes: int) -> dict:
        return {"interrupt": {"actionId": SPOT_ACTION, "targets": {"SpotInstances": "spot"},
                              "parameters": {"durationBeforeInterruption": f"PT{minutes}M"}}}

    def both(*jobs):
        errors = []

        def run(job):
            try:
                job()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors

    n = 12
    for _ in range(6):
        t = create(a, arns=[instance_arn("i-0123456789abcdef0")])

        def descriptions(t=t):
            for i in range(n):
                a.update_experiment_template(id=t["id"], description=f"a{i}")

        def durations(t=t):
            for i in range(n):
                b.update_experiment_template(id=t["id"], actions=action(2 + i))

        both(descriptions, durations)
        got = a.get_experiment_template(id=t["id"])["experimentTemplate"]
        assert got["description"] == f"a{n - 1}", got
        assert got["actions"]["interrupt"]["parameters"] == {
            "durationBeforeInterruption": f"PT{n + 1}M"}, got

        deleted = threading.Event()

        def updates(t=t):
            i = 0
            while not deleted.is_set() and i < 200:
                try:
                    a.update_experiment_template(id=t["id"], description=f"u{i}")
                except botocore.exceptions.ClientError as e:
                    assert e.response["Error"]["Code"] == "ResourceNotFoundException", e
                i += 1

        def delete(t=t):
            time.sleep(0.05)
            b.delete_experiment_template(id=t["id"])
            deleted.set()

        both(updates, delete)
        assert error_of(a.get_experiment_template, id=t["id"])[:2] == (
            "ResourceNotFoundException", 404)


def test_actions_are_described(fis):
    [a] = fis.list_actions()["actions"]
    assert a["id"] == SPOT_ACTION
    got = fis.get_action(id=SPOT_ACTION)["action"]
    assert got["targets"] == {"SpotInstances": {"resourceType": "aws:ec2:spot-instance"}}
    assert "durationBeforeInterruption" in got["parameters"]
    assert error_of(fis.get_action, id="aws:ec2:stop-instances")[:2] == (
        "ResourceNotFoundException", 404)


# --------------------------------------------------------------------------- experiments


def test_an_experiment_starts_initiating_then_runs(srv, ec2, fis):
    """Case 40: the start answer is initiating with actions pending; then running."""
    [iid] = spot_instances(ec2)
    t = create(fis, arns=[instance_arn(iid)], duration="PT4M")
    e = fis.start_experiment(experimentTemplateId=t["id"])["experiment"]
    assert EXPERIMENT_ID_RE.match(e["id"]), e
    assert e["arn"] == f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment/{e['id']}"
    assert e["state"] == {"status": "initiating", "reason": "Experiment is initiating."}
    assert e["actions"]["interrupt"]["state"] == {"status": "pending", "reason": "Initial state"}
    assert e["experimentTemplateId"] == t["id"] and e["roleArn"] == ROLE
    assert e["targets"]["spot"]["resourceArns"] == [instance_arn(iid)]
    got = fis.get_experiment(id=e["id"])["experiment"]
    assert got["state"]["status"] == "running"
    assert got["actions"]["interrupt"]["state"]["status"] == "running"
    assert "startTime" in got and "endTime" not in got
    # The instance's Spot request went to FIS: nothing more to see before the notice.
    wait_until(lambda: status(fis, e["id"]) == "completed", 3 * NOTICE_S, desc="completed")


def test_the_interruption_goes_by_fis_timeline(srv, ec2, fis):
    """Case 41 with d=PT4M: the rebalance recommendation at once, the notice at T0+notice
    with `time` at T0+2×notice, the experiment completed after the notice, the instance
    terminated at T0+2×notice."""
    [iid] = spot_instances(ec2)
    addr = endpoint_of(srv, iid)
    t = create(fis, arns=[instance_arn(iid)], duration="PT4M")
    t0 = time.time()
    e = fis.start_experiment(experimentTemplateId=t["id"])["experiment"]
    rebalance = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        meta(addr, "events/recommendations/rebalance")), NOTICE_S, desc="recommendation")
    assert time.time() - t0 < NOTICE_S
    assert_page(meta(addr, "spot/instance-action"), 404)
    assert status(fis, e["id"]) == "running"
    notice = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        meta(addr, "spot/instance-action")), 3 * NOTICE_S, desc="the notice")
    noticed = time.time() - t0
    assert NOTICE_S - 0.5 <= noticed <= NOTICE_S + 2, noticed
    action = json.loads(notice.body)
    assert action["action"] == "terminate"
    at = time.mktime(time.strptime(action["time"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(at - (t0 + 2 * NOTICE_S)) <= 2, (action, t0)
    assert json.loads(rebalance.body)["noticeTime"]
    wait_until(lambda: status(fis, e["id"]) == "completed", 2, desc="completed")
    got = fis.get_experiment(id=e["id"])["experiment"]
    assert got["actions"]["interrupt"]["state"]["status"] == "completed"
    assert "endTime" in got
    helpers.wait_state(ec2, iid, "terminated", timeout=3 * NOTICE_S)
    reason = helpers.instance(ec2, iid)["StateReason"]["Code"]
    assert reason == "Server.SpotInstanceTermination"
    assert time.time() - t0 >= 2 * NOTICE_S - 0.5


def test_tags_matching_nothing_fail_the_experiment(fis):
    """Case 42."""
    t = create(fis, tags={"fis-target": f"none-{uuid.uuid4().hex}"})
    e = fis.start_experiment(experimentTemplateId=t["id"])["experiment"]
    assert e["state"]["status"] == "initiating"
    got = fis.get_experiment(id=e["id"])["experiment"]
    assert got["state"]["status"] == "failed" and got["state"]["reason"], got
    assert got["actions"]["interrupt"]["state"]["status"] == "failed"


def test_tags_and_filters_select_running_spot_instances(srv, ec2, fis):
    """Targets by tag (every tag must match) and DescribeInstances filters, with COUNT(n)."""
    group = uuid.uuid4().hex
    ids = spot_instances(ec2, 3, tags={"group": group, "role": "worker"})
    on_demand = helpers.run_one(ec2, tags={"group": group, "role": "worker"})
    helpers.wait_state(ec2, on_demand, "running")
    body = template_input(tags={"group": group, "role": "worker"}, duration="PT4M",
                          filters=[{"path": "State.Name", "values": ["running"]},
                                   {"path": "InstanceLifecycle", "values": ["spot"]}])
    body["targets"]["spot"]["selectionMode"] = "COUNT(2)"
    t = fis.create_experiment_template(**body)["experimentTemplate"]
    e = fis.start_experiment(experimentTemplateId=t["id"])["experiment"]
    arns = e["targets"]["spot"]["resourceArns"]
    assert len(arns) == 2 and set(arns) <= {instance_arn(i) for i in ids}, arns
    assert status(fis, e["id"]) == "running"
    fis.stop_experiment(id=e["id"])


def test_a_target_that_is_not_spot_fails_the_experiment(srv, ec2, fis):
    """A target that is not a running Spot instance: experiment and action failed, with the
    domain's reason, and nothing scheduled (UNCONFIRMED, spec §7.6)."""
    iid = helpers.running_instance(ec2)
    t = create(fis, arns=[instance_arn(iid)])
    e = fis.start_experiment(experimentTemplateId=t["id"])["experiment"]
    got = fis.get_experiment(id=e["id"])["experiment"]
    assert got["state"]["status"] == "failed"
    assert iid in got["state"]["reason"] and "Spot" in got["state"]["reason"], got
    assert_page(meta(endpoint_of(srv, iid), "events/recommendations/rebalance"), 404)


def test_stopping_a_running_experiment_cancels_the_notice(srv, ec2, fis):
    """Case 43: DELETE while running → stopping, then stopped; the notice never comes and the
    instance keeps running."""
    [iid] = spot_instances(ec2)
    addr = endpoint_of(srv, iid)
    t = create(fis, arns=[instance_arn(iid)], duration="PT4M")
    e = fis.start_experiment(experimentTemplateId=t["id"])["experiment"]
    assert status(fis, e["id"]) == "running"
    stopped = fis.stop_experiment(id=e["id"])["experiment"]
    assert stopped["state"]["status"] == "stopping"
    got = fis.get_experiment(id=e["id"])["experiment"]
    assert got["state"]["status"] == "stopped"
    assert got["actions"]["interrupt"]["state"]["status"] in ("stopped", "cancelled")
    time.sleep(NOTICE_S + 1)
    assert_page(meta(addr, "spot/instance-action"), 404)
    assert helpers.state(ec2, iid) == "running"
    assert status(fis, e["id"]) == "stopped"
    # Stopping a finished experiment changes nothing (UNCONFIRMED, spec §7.4).
    assert fis.stop_experiment(id=e["id"])["experiment"]["state"]["status"] == "stopped"


def test_experiments_are_listed_by_template(srv, fis):
    """Case 44: experimentTemplateId filters; maxResults=0 is refused; nextToken pages."""
    a = create(fis, tags={"fis-target": f"none-{uuid.uuid4().hex}"})
    b = create(fis, tags={"fis-target": f"none-{uuid.uuid4().hex}"})
    started = {tid: [fis.start_experiment(experimentTemplateId=tid)["experiment"]["id"]
                     for _ in range(3)] for tid in (a["id"], b["id"])}
    listed = fis.list_experiments(experimentTemplateId=a["id"])["experiments"]
    assert sorted(x["id"] for x in listed) == sorted(started[a["id"]])
    assert all(x["experimentTemplateId"] == a["id"] for x in listed)
    assert all(x["state"]["status"] == "failed" for x in listed)
    pages, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        r = fis.list_experiments(experimentTemplateId=b["id"], maxResults=1, **kw)
        pages.append([x["id"] for x in r["experiments"]])
        token = r.get("nextToken")
        if not token:
            break
    assert [i for p in pages for i in p] == started[b["id"]]
    assert all(len(p) <= 1 for p in pages)
    st, headers, raw = rest(srv, "GET", "/experiments?maxResults=0")
    assert (st, headers["x-amzn-errortype"]) == (400, "ValidationException"), raw
    st, headers, raw = rest(srv, "GET", "/experiments?nextToken=bogus")
    assert (st, headers["x-amzn-errortype"]) == (400, "ValidationException"), raw
    code, st, _ = error_of(fis_client(srv, validate=False).list_experiments, maxResults=0)
    assert (code, st) == ("ValidationException", 400)
    templates = [t["id"] for page in fis.get_paginator("list_experiment_templates").paginate(
        PaginationConfig={"PageSize": 2}) for t in page["experimentTemplates"]]
    assert {a["id"], b["id"]} <= set(templates) and len(templates) == len(set(templates))


def test_deleting_a_template(fis):
    """Case 45: 200 with the template, then GET → 404."""
    t = create(fis, arns=[instance_arn("i-0123456789abcdef0")])
    gone = fis.delete_experiment_template(id=t["id"])["experimentTemplate"]
    assert gone["id"] == t["id"] and gone["description"] == t["description"]
    code, st, _ = error_of(fis.get_experiment_template, id=t["id"])
    assert (code, st) == ("ResourceNotFoundException", 404)
    assert error_of(fis.delete_experiment_template, id=t["id"])[1] == 404


def test_start_tokens_never_interrupt_twice(srv, ec2, fis):
    [iid] = spot_instances(ec2)
    t = create(fis, arns=[instance_arn(iid)], duration="PT4M")
    token = str(uuid.uuid4())
    a = fis.start_experiment(experimentTemplateId=t["id"], clientToken=token)["experiment"]
    b = fis.start_experiment(experimentTemplateId=t["id"], clientToken=token)["experiment"]
    assert a["id"] == b["id"] and b["state"]["status"] == "running"
    assert len(fis.list_experiments(experimentTemplateId=t["id"])["experiments"]) == 1
    fis.stop_experiment(id=a["id"])


def test_skip_all_skips_the_actions(srv, ec2, fis):
    [iid] = spot_instances(ec2)
    t = create(fis, arns=[instance_arn(iid)])
    e = fis.start_experiment(experimentTemplateId=t["id"],
                             experimentOptions={"actionsMode": "skip-all"})["experiment"]
    got = fis.get_experiment(id=e["id"])["experiment"]
    assert got["state"]["status"] == "completed"
    assert got["actions"]["interrupt"]["state"]["status"] == "skipped"
    assert got["experimentOptions"]["actionsMode"] == "skip-all"
    assert_page(meta(endpoint_of(srv, iid), "events/recommendations/rebalance"), 404)


# ------------------------------------------------------------------------------ the CLI


def aws_fis(srv, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [helpers.AWS_CLI, "fis", *args, "--endpoint-url", srv.endpoint, "--region", REGION,
           "--output", "json"]
    proc = subprocess.run(cmd, env=helpers.cli_env(), capture_output=True, text=True,
                          timeout=180)
    if check:
        assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
    return proc


@pytest.mark.cli
def test_the_aws_cli(srv, ec2, fis):
    """`aws fis create-experiment-template --cli-input-json`, start-experiment,
    get-experiment, list-experiment-templates, stop-experiment; a refusal's code."""
    [iid] = spot_instances(ec2)
    body = template_input(arns=[instance_arn(iid)], duration="PT4M",
                          clientToken=str(uuid.uuid4()))
    body["tags"] = {"team": "cli"}
    t = json.loads(aws_fis(srv, "create-experiment-template", "--cli-input-json",
                           json.dumps(body)).stdout)["experimentTemplate"]
    assert TEMPLATE_ID_RE.match(t["id"]) and t["tags"] == {"team": "cli"}
    listed = json.loads(aws_fis(srv, "list-experiment-templates").stdout)
    assert t["id"] in [x["id"] for x in listed["experimentTemplates"]]
    e = json.loads(aws_fis(srv, "start-experiment", "--experiment-template-id",
                           t["id"]).stdout)["experiment"]
    assert e["state"]["status"] == "initiating"
    got = json.loads(aws_fis(srv, "get-experiment", "--id", e["id"]).stdout)["experiment"]
    assert got["state"]["status"] == "running"
    stopped = json.loads(aws_fis(srv, "stop-experiment", "--id", e["id"]).stdout)
    assert stopped["experiment"]["state"]["status"] == "stopping"
    bad = dict(body, clientToken=str(uuid.uuid4()))
    bad["actions"]["interrupt"]["parameters"]["durationBeforeInterruption"] = "PT16M"
    proc = aws_fis(srv, "create-experiment-template", "--cli-input-json", json.dumps(bad),
                   check=False)
    assert proc.returncode != 0 and "ValidationException" in proc.stderr, proc.stderr
    proc = aws_fis(srv, "get-experiment-template", "--id", "EXTdoesnotexist1", check=False)
    assert proc.returncode != 0 and "ResourceNotFoundException" in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------ IAM


@pytest.fixture(scope="module")
def iam_srv(tmp_path_factory):
    acct = Acct(ACCOUNT, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    srv = iam_server(tmp_path_factory.mktemp("fis-iam"), [acct])
    try:
        yield srv, acct
    finally:
        srv.stop()


def test_fis_actions_need_permissions(iam_srv):
    """With --iam-config: `fis:<Operation>` on the template's ARN (403 AccessDeniedException,
    UNCONFIRMED status), and iam:PassRole on the template's role at Create."""
    srv, acct = iam_srv
    iam = boto3.client("iam", endpoint_url=srv.endpoint, region_name=REGION,
                       aws_access_key_id=acct.key, aws_secret_access_key=acct.secret)
    body = template_input(arns=[instance_arn("i-0123456789abcdef0")])
    root = fis_client(srv, acct.key, acct.secret)
    assert create(root, arns=[instance_arn("i-0123456789abcdef0")])["id"]

    _, none = make_user(iam, "fis-none")
    code, st, message = error_of(fis_client(srv, none.key, none.secret).list_experiment_templates)
    assert (code, st) == ("AccessDeniedException", 403)
    assert "fis:ListExperimentTemplates" in message

    fis_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "fis:*", "Resource": "*"}]}
    _, k = make_user(iam, "fis-no-passrole", [fis_only])
    c = fis_client(srv, k.key, k.secret)
    helpers.wait_until(lambda: "experimentTemplates" in c.list_experiment_templates(), 5)
    code, st, message = error_of(c.create_experiment_template, **body)
    assert (code, st) == ("AccessDeniedException", 403) and "iam:PassRole" in message

    # The role passed to FIS: `iam:PassedToService` is `fis.amazonaws.com` (spec §7.7).
    def passing_to(service: str) -> dict:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "fis:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE,
             "Condition": {"StringEquals": {"iam:PassedToService": service}}}]}
    _, k = make_user(iam, "fis-pass-to-ec2", [passing_to("ec2.amazonaws.com")])
    c = fis_client(srv, k.key, k.secret)
    helpers.wait_until(lambda: "experimentTemplates" in c.list_experiment_templates(), 5)
    code, st, message = error_of(c.create_experiment_template, **body)
    assert (code, st) == ("AccessDeniedException", 403) and "iam:PassRole" in message
    _, k = make_user(iam, "fis-pass-to-fis", [passing_to("fis.amazonaws.com")])
    c = fis_client(srv, k.key, k.secret)
    assert helpers.wait_until(lambda: c.create_experiment_template(**body)["experimentTemplate"], 5)

    with_pass = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "fis:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE}]}
    _, k = make_user(iam, "fis-full", [with_pass])
    c = fis_client(srv, k.key, k.secret)
    t = helpers.wait_until(lambda: c.create_experiment_template(**body)["experimentTemplate"], 5)
    assert c.get_experiment_template(id=t["id"])["experimentTemplate"]["id"] == t["id"]

    one = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "fis:GetExperimentTemplate",
         "Resource": f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment-template/{t['id']}"}]}
    _, k = make_user(iam, "fis-one", [one])
    c = fis_client(srv, k.key, k.secret)
    helpers.wait_until(lambda: c.get_experiment_template(id=t["id"]), 5)
    code, st, _ = error_of(c.delete_experiment_template, id=t["id"])
    assert (code, st) == ("AccessDeniedException", 403)
