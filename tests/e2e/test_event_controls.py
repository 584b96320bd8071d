"""The event controls (issue 16): imds's own routes that do what EC2 does to an instance on
its own, and `imds events`, which calls them.

- `POST /_imds/instances/{id}/events` schedules a maintenance event, `DELETE
  …/events/{event_id}` cancels it, `PUT …/target-lifecycle-state` sets or clears Auto
  Scaling's state, `POST …/interruption` interrupts a Spot instance; each answers JSON, or
  EC2's error envelope when it refuses;
- what they wrote is what DescribeInstanceStatus and the instance's own metadata show;
- a bad body changes nothing;
- with `--iam-config`, a signed caller of the instance's account allowed the control's
  `imds:` action on the instance.

What the events then do over time (a notice appearing, an event running) is test_events.py's.
Everything talks to 127.0.0.1 only.
"""
from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import subprocess
import urllib.parse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import helpers
from helpers import wait_until
from iam_helpers import Acct, Clients, Creds, doc, iam_server, make_user, uniq
from imds_helpers import get, loopback_only

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
EVENT_ID = re.compile(r"^instance-event-[0-9a-f]{17}$")
UNKNOWN = "i-0123456789abcdef0"


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


# --------------------------------------------------------------------------- clients


def control(srv, method: str, path: str, body=None, creds: Creds | None = None, *,
            raw: bytes | None = None) -> tuple[int, dict | str]:
    """One request to a control route: `body` as JSON (or `raw` bytes as they are), SigV4
    signed for `ec2` by botocore when `creds` are given. The JSON answer, or the text."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    headers = {"Content-Type": "application/json"}
    if creds is not None:
        req = AWSRequest(method=method, url=srv.endpoint + path, data=data, headers=headers)
        SigV4Auth(Credentials(creds.key, creds.secret, creds.token), "ec2",
                  "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
    parts = urllib.parse.urlsplit(srv.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        status, text = r.status, r.read().decode()
    finally:
        conn.close()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def error_of(answer) -> tuple[str, str]:
    """EC2's code and message from an error envelope."""
    assert isinstance(answer, str), answer
    code = re.search(r"<Code>([^<]*)</Code>", answer)
    message = re.search(r"<Message>([^<]*)</Message>", answer)
    assert code and message, answer
    return code.group(1), message.group(1)


def refused(srv, method, path, body=None, creds=None, *, code: str, status: int = 400,
            raw: bytes | None = None) -> str:
    got_status, answer = control(srv, method, path, body, creds, raw=raw)
    got = error_of(answer)
    assert (got_status, got[0]) == (status, code), (got_status, answer)
    return got[1]


def events_cli(srv, *args: str, env: dict | None = None, endpoint: bool = True
               ) -> subprocess.CompletedProcess:
    """`imds events ARGS` against `srv` (`--endpoint`, unless found by discovery)."""
    base = [helpers.IMDS_BIN, "events", args[0]]
    if endpoint:
        base += ["--endpoint", srv.endpoint]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full_env.update(env or {})
    return subprocess.run([*base, *args[1:]], capture_output=True, text=True, timeout=60,
                          env=full_env)


def cli_json(srv, *args: str, **kw) -> dict:
    p = events_cli(srv, *args, **kw)
    assert p.returncode == 0, p
    return json.loads(p.stdout)


def cli_refused(srv, *args: str, code: str, **kw) -> str:
    p = events_cli(srv, *args, **kw)
    assert p.returncode == 1 and p.stdout == "", p
    assert p.stderr.startswith(f"imds events: {code}: "), p.stderr
    return p.stderr


def api_events(ec2, iid: str) -> list[dict]:
    [status] = ec2.describe_instance_status(InstanceIds=[iid],
                                           IncludeAllInstances=True)["InstanceStatuses"]
    return status.get("Events", [])


def iso(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_iso(s: str) -> datetime.datetime:
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def metadata_of(srv, iid: str):
    """A reader of the instance's metadata, through its own loopback endpoint (open server)."""
    status, url = control(srv, "GET", f"/_imds/instances/{iid}/endpoint")
    assert status == 200, url
    addr = url.strip()[len("http://"):]

    def meta(path: str):
        return get(addr, f"/latest/meta-data/{path}")
    return meta


def events_view(srv, ec2, iid: str) -> dict:
    """Everything of an instance the controls could change, as the API and metadata show it."""
    meta = metadata_of(srv, iid)
    lifecycle = meta("autoscaling/target-lifecycle-state")
    return {
        "api": api_events(ec2, iid),
        "scheduled": meta("events/maintenance/scheduled").body,
        "history": meta("events/maintenance/history").body,
        "lifecycle": (lifecycle.status, lifecycle.body),
        "state": helpers.state(ec2, iid),
    }


# --------------------------------------------------------------------------- open server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    yield from helpers.running(helpers.ImdsServer(tmp_path_factory.mktemp("controls")))


@pytest.fixture(scope="module")
def ec2(srv):
    return srv.client(helpers.REGION)


def test_schedule_through_the_route(srv, ec2):
    iid = helpers.running_instance(ec2)
    before = datetime.datetime.now(datetime.timezone.utc)
    status, event = control(srv, "POST", f"/_imds/instances/{iid}/events",
                            {"code": "system-reboot", "in": "10m", "deadline": "7d",
                             "description": "moving racks"})
    assert status == 200, event
    assert list(event) == ["InstanceId", "EventId", "Code", "Description", "NotBefore",
                           "NotAfter", "NotBeforeDeadline", "State"], event
    assert (event["InstanceId"], event["Code"], event["Description"], event["State"]) == (
        iid, "system-reboot", "moving racks", "active")
    assert EVENT_ID.match(event["EventId"]), event
    for member in ("NotBefore", "NotAfter", "NotBeforeDeadline"):
        assert ISO_MS.match(event[member]), event
    not_before = parse_iso(event["NotBefore"])
    assert (datetime.timedelta(minutes=9) < not_before - before
            < datetime.timedelta(minutes=11)), event
    assert parse_iso(event["NotAfter"]) - not_before == datetime.timedelta(hours=2)
    assert parse_iso(event["NotBeforeDeadline"]) - not_before == datetime.timedelta(days=7)

    [shown] = api_events(ec2, iid)
    assert shown["InstanceEventId"] == event["EventId"]
    assert (shown["Code"], shown["Description"]) == ("system-reboot", "moving racks")
    assert iso(shown["NotBefore"]) == event["NotBefore"]
    assert iso(shown["NotAfter"]) == event["NotAfter"]
    assert iso(shown["NotBeforeDeadline"]) == event["NotBeforeDeadline"]

    # What the instance reads (the metadata side is test_events.py's; here: the same event).
    meta = metadata_of(srv, iid)
    wait_until(lambda: meta("events/maintenance/scheduled").body != b"[]", 5,
               desc="the event served")
    [item] = json.loads(meta("events/maintenance/scheduled").body)
    assert (item["EventId"], item["Code"], item["State"]) == (
        event["EventId"], "system-reboot", "active")
    assert item["NotBefore"] == not_before.strftime("%-d %b %Y %H:%M:%S GMT")


def test_schedule_through_the_cli(srv, ec2):
    iid = helpers.running_instance(ec2)
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).replace(
        microsecond=0)
    event = cli_json(srv, "schedule", "--instance", iid, "--code", "instance-stop",
                     "--at", at.isoformat().replace("+00:00", "Z"), "--duration", "30m")
    assert (event["InstanceId"], event["Code"], event["State"]) == (iid, "instance-stop", "active")
    assert event["Description"] == "The instance is scheduled for a stop"
    assert event["NotBefore"] == iso(at)
    assert event["NotAfter"] == iso(at + datetime.timedelta(minutes=30))
    assert "NotBeforeDeadline" not in event, "no deadline given: the event cannot be moved"
    [shown] = api_events(ec2, iid)
    assert (shown["InstanceEventId"], shown["NotBefore"]) == (event["EventId"], at)

    # Found without --endpoint, through the record the server left in its data dir.
    xdg = str(srv.workdir / "xdg-data")
    other = cli_json(srv, "schedule", "--instance", iid, "--code", "system-maintenance",
                     "--in", "1d", env={"XDG_DATA_HOME": xdg}, endpoint=False)
    assert {e["InstanceEventId"] for e in api_events(ec2, iid)} == {
        event["EventId"], other["EventId"]}


def test_cancel_through_the_route_and_the_cli(srv, ec2):
    iid = helpers.running_instance(ec2)
    first = cli_json(srv, "schedule", "--instance", iid, "--code", "system-reboot",
                     "--in", "2h")
    second = cli_json(srv, "schedule", "--instance", iid, "--code", "instance-retirement",
                      "--in", "3h")
    status, canceled = control(srv, "DELETE",
                               f"/_imds/instances/{iid}/events/{first['EventId']}")
    assert status == 200, canceled
    assert canceled["State"] == "canceled"
    assert canceled["Description"] == "[Canceled] The instance is scheduled for a reboot"
    assert canceled["NotBefore"] == first["NotBefore"]
    out = cli_json(srv, "cancel", "--instance", iid, "--event", second["EventId"])
    assert (out["EventId"], out["State"]) == (second["EventId"], "canceled")
    shown = {e["InstanceEventId"]: e["Description"] for e in api_events(ec2, iid)}
    assert shown == {first["EventId"]: canceled["Description"],
                     second["EventId"]: out["Description"]}
    meta = metadata_of(srv, iid)
    wait_until(lambda: meta("events/maintenance/scheduled").body == b"[]", 5)
    assert {e["State"] for e in json.loads(meta("events/maintenance/history").body)} == {
        "canceled"}

    # Twice, or an event the instance does not have.
    refused(srv, "DELETE", f"/_imds/instances/{iid}/events/{first['EventId']}",
            code="IncorrectState")
    cli_refused(srv, "cancel", "--instance", iid, "--event",
                "instance-event-0123456789abcdef0", code="InvalidParameterValue")


def test_target_lifecycle_state_set_and_cleared(srv, ec2):
    iid = helpers.running_instance(ec2)
    meta = metadata_of(srv, iid)
    status, out = control(srv, "PUT", f"/_imds/instances/{iid}/target-lifecycle-state",
                          {"state": "Warmed:Running"})
    assert (status, out) == (200, {"InstanceId": iid, "TargetLifecycleState": "Warmed:Running"})
    wait_until(lambda: meta("autoscaling/target-lifecycle-state").body == b"Warmed:Running", 5)
    out = cli_json(srv, "lifecycle", "--instance", iid, "--state", "Terminated")
    assert out == {"InstanceId": iid, "TargetLifecycleState": "Terminated"}
    wait_until(lambda: meta("autoscaling/target-lifecycle-state").body == b"Terminated", 5)
    assert helpers.state(ec2, iid) == "running", "only where Auto Scaling is heading"

    msg = cli_refused(srv, "lifecycle", "--instance", iid, "--state", "terminated",
                      code="InvalidParameterValue")
    assert "Warmed:Hibernated" in msg, "the valid values are listed"
    assert meta("autoscaling/target-lifecycle-state").body == b"Terminated"

    out = cli_json(srv, "lifecycle", "--instance", iid, "--clear")
    assert out == {"InstanceId": iid, "TargetLifecycleState": None}
    wait_until(lambda: meta("autoscaling/target-lifecycle-state").status == 404, 5)
    status, out = control(srv, "PUT", f"/_imds/instances/{iid}/target-lifecycle-state",
                          {"state": None})
    assert (status, out) == (200, {"InstanceId": iid, "TargetLifecycleState": None})


def test_interrupting_an_on_demand_instance_is_refused(srv, ec2):
    iid = helpers.running_instance(ec2)
    msg = refused(srv, "POST", f"/_imds/instances/{iid}/interruption", {"in": "2m"},
                  code="UnsupportedOperation")
    assert iid in msg and "Spot" in msg, msg
    cli_refused(srv, "interrupt", "--instance", iid, code="UnsupportedOperation")
    assert helpers.state(ec2, iid) == "running"
    assert metadata_of(srv, iid)("spot/instance-action").status == 404


def test_interrupting_a_spot_instance(srv, ec2):
    iid = helpers.running_instance(ec2, InstanceMarketOptions={"MarketType": "spot"})
    refused(srv, "POST", f"/_imds/instances/{iid}/interruption", {"in": "1m"},
            code="InvalidParameterValue")
    refused(srv, "POST", f"/_imds/instances/{iid}/interruption", {"in": "16m"},
            code="InvalidParameterValue")
    out = cli_json(srv, "interrupt", "--instance", iid, "--in", "10m")
    assert list(out) == ["InstanceId", "RebalanceAt", "NoticeAt", "ActionAt"], out
    assert out["InstanceId"] == iid
    rebalance, notice, action = (parse_iso(out[k]) for k in ("RebalanceAt", "NoticeAt",
                                                            "ActionAt"))
    # The server's notice is EC2's two minutes (no --spot-notice): nothing is scaled.
    assert action - rebalance == datetime.timedelta(minutes=10), out
    assert action - notice == datetime.timedelta(minutes=2), out
    assert abs(rebalance - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(
        seconds=30)
    # One at a time.
    refused(srv, "POST", f"/_imds/instances/{iid}/interruption", code="IncorrectInstanceState")
    # The recommendation comes at once; the notice not before its time.
    meta = metadata_of(srv, iid)
    wait_until(lambda: meta("events/recommendations/rebalance").status == 200, 5,
               desc="the rebalance recommendation")
    assert meta("spot/instance-action").status == 404
    assert helpers.state(ec2, iid) == "running"


def test_bad_requests_change_nothing(srv, ec2):
    iid = helpers.running_instance(ec2)
    before = events_view(srv, ec2, iid)
    events = f"/_imds/instances/{iid}/events"
    lifecycle = f"/_imds/instances/{iid}/target-lifecycle-state"
    for body, code in [
        ({"code": "system-explosion", "in": "10m"}, "InvalidParameterValue"),
        ({"in": "10m"}, "MissingParameter"),
        ({"code": "system-reboot"}, "MissingParameter"),
        ({"code": "system-reboot", "in": "10m", "notBefore": "2030-01-01T00:00:00Z"},
         "InvalidParameterCombination"),
        ({"code": "system-reboot", "in": "soon"}, "InvalidParameterValue"),
        ({"code": "system-reboot", "notBefore": "next tuesday"}, "InvalidParameterValue"),
        ({"code": "system-reboot", "in": "10m", "notbefore": "x"}, "InvalidParameterValue"),
        ({"code": "system-reboot", "in": "10m", "duration": 7200}, "InvalidParameterValue"),
        ({"code": "system-reboot", "in": "10m", "description": ""}, "InvalidParameterValue"),
        ({"code": "system-reboot", "in": "10m", "deadline": "-1d"}, "InvalidParameterValue"),
        (["system-reboot"], "InvalidParameterValue"),
    ]:
        refused(srv, "POST", events, body, code=code)
    for raw in [b'{"code": "system-reboot", "in": ', b"\xff\xfe\x00", b"null", b"{}}"]:
        refused(srv, "POST", events, raw=raw, code="InvalidParameterValue")
    for body, code in [({"state": "Sleeping"}, "InvalidParameterValue"),
                       ({}, "MissingParameter"),
                       ({"state": ["InService"]}, "InvalidParameterValue")]:
        refused(srv, "PUT", lifecycle, body, code=code)
    refused(srv, "PUT", lifecycle, raw=b"{state: InService}", code="InvalidParameterValue")
    # A body beyond 64 KiB is EC2's RequestEntityTooLarge, as on the other admin routes.
    huge = json.dumps({"code": "system-reboot", "in": "10m",
                       "description": "x" * (70 * 1024)}).encode()
    refused(srv, "POST", events, raw=huge, code="RequestEntityTooLarge", status=413)
    cli_refused(srv, "schedule", "--instance", iid, "--code", "system-explosion", "--in", "1m",
                code="InvalidParameterValue")
    cli_refused(srv, "schedule", "--instance", iid, "--code", "system-reboot",
                "--in", "1 fortnight", code="InvalidParameterValue")
    assert events_view(srv, ec2, iid) == before
    assert srv.running, "the server is still up"


def test_unknown_and_malformed_instances(srv, ec2):
    for method, suffix, body in [("POST", "events", {"code": "system-reboot", "in": "1h"}),
                                 ("DELETE", "events/instance-event-0123456789abcdef0", None),
                                 ("PUT", "target-lifecycle-state", {"state": "InService"}),
                                 ("POST", "interruption", {})]:
        refused(srv, method, f"/_imds/instances/{UNKNOWN}/{suffix}", body,
                code="InvalidInstanceID.NotFound")
        refused(srv, method, f"/_imds/instances/not-an-id/{suffix}", body,
                code="InvalidInstanceID.Malformed")
    cli_refused(srv, "lifecycle", "--instance", UNKNOWN, "--state", "InService",
                code="InvalidInstanceID.NotFound")


def test_a_terminated_instance_takes_no_events(srv, ec2):
    iid = helpers.running_instance(ec2)
    ec2.terminate_instances(InstanceIds=[iid])
    helpers.wait_state(ec2, iid, "terminated")
    refused(srv, "POST", f"/_imds/instances/{iid}/events", {"code": "system-reboot", "in": "1h"},
            code="IncorrectInstanceState")


def test_the_cli_without_a_server(tmp_path):
    p = subprocess.run([helpers.IMDS_BIN, "events", "lifecycle", "--data-dir", str(tmp_path),
                        "--instance", UNKNOWN, "--clear"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1 and "no running imds serve is recorded" in p.stderr, p


# --------------------------------------------------------------------------- with IAM

A = Acct("111122223333", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
B = Acct("444455556666", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
ALL_CONTROLS = ["imds:ScheduleInstanceEvent", "imds:CancelInstanceEvent",
                "imds:SetTargetLifecycleState", "imds:SendSpotInstanceInterruption"]


@pytest.fixture(scope="module")
def iam_srv(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("controls-iam"), [A, B]))


@pytest.fixture(scope="module")
def iam_fleet(iam_srv):
    """An on-demand and a Spot instance of account A, and users of A: allowed the controls
    on the first instance only, allowed only scheduling, allowed only EC2's actions."""
    ec2 = Clients(iam_srv, A).ec2()
    iid = helpers.running_instance(ec2)
    spot = helpers.running_instance(ec2, InstanceMarketOptions={"MarketType": "spot"})
    iam = Clients(iam_srv, A).iam()
    arn = f"arn:aws:ec2:{helpers.REGION}:{A.id}:instance/{iid}"
    spot_arn = f"arn:aws:ec2:{helpers.REGION}:{A.id}:instance/{spot}"
    _, operator = make_user(iam, uniq("operator"), [doc(
        {"Effect": "Allow", "Action": ALL_CONTROLS, "Resource": [arn, spot_arn]})])
    _, scheduler = make_user(iam, uniq("scheduler"), [doc(
        {"Effect": "Allow", "Action": "imds:ScheduleInstanceEvent", "Resource": arn})])
    _, ec2_only = make_user(iam, uniq("ec2only"), [doc(
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})])
    return {"ec2": ec2, "iid": iid, "spot": spot, "operator": operator,
            "scheduler": scheduler, "ec2_only": ec2_only}


def creds_env(c: Creds) -> dict:
    return {"AWS_ACCESS_KEY_ID": c.key, "AWS_SECRET_ACCESS_KEY": c.secret}


def test_with_iam_an_unsigned_or_unknown_caller_is_refused(iam_srv, iam_fleet):
    iid = iam_fleet["iid"]
    path = f"/_imds/instances/{iid}/events"
    body = {"code": "system-reboot", "in": "1h"}
    refused(iam_srv, "POST", path, body, code="MissingParameter")
    refused(iam_srv, "POST", path, body, Creds(A.key, "x" * 40), code="SignatureDoesNotMatch",
            status=403)
    refused(iam_srv, "POST", path, body, Creds("AKIDUNKNOWN000000000", "x"), code="AuthFailure",
            status=401)
    cli_refused(iam_srv, "schedule", "--instance", iid, "--code", "system-reboot", "--in", "1h",
                code="MissingParameter")
    assert api_events(iam_fleet["ec2"], iid) == []


def test_with_iam_each_control_needs_its_action_on_the_instance(iam_srv, iam_fleet):
    iid, ec2 = iam_fleet["iid"], iam_fleet["ec2"]
    base = f"/_imds/instances/{iid}"
    schedule = {"code": "system-reboot", "in": "1h"}
    # Allowed EC2's actions only: refused, before being told its body is wrong.
    for method, suffix, body in [("POST", "events", schedule),
                                 ("POST", "events", {"code": "nonsense"}),
                                 ("PUT", "target-lifecycle-state", {"state": "InService"}),
                                 ("POST", "interruption", {})]:
        refused(iam_srv, method, f"{base}/{suffix}", body, iam_fleet["ec2_only"],
                code="UnauthorizedOperation", status=403)
    # Allowed scheduling on this instance: schedules, but cannot cancel.
    status, event = control(iam_srv, "POST", f"{base}/events", schedule, iam_fleet["scheduler"])
    assert status == 200, event
    refused(iam_srv, "DELETE", f"{base}/events/{event['EventId']}", None,
            iam_fleet["scheduler"], code="UnauthorizedOperation", status=403)
    refused(iam_srv, "PUT", f"{base}/target-lifecycle-state", {"state": "InService"},
            iam_fleet["scheduler"], code="UnauthorizedOperation", status=403)
    # … nor schedule on an instance it was not given.
    refused(iam_srv, "POST", f"/_imds/instances/{iam_fleet['spot']}/events", schedule,
            iam_fleet["scheduler"], code="UnauthorizedOperation", status=403)
    # The operator does everything on its instances, through the route and the CLI.
    env = creds_env(iam_fleet["operator"])
    out = cli_json(iam_srv, "cancel", "--instance", iid, "--event", event["EventId"], env=env)
    assert out["State"] == "canceled"
    out = cli_json(iam_srv, "lifecycle", "--instance", iid, "--state", "Detached", env=env)
    assert out["TargetLifecycleState"] == "Detached"
    maintenance = cli_json(iam_srv, "schedule", "--instance", iid, "--code",
                           "system-maintenance", "--in", "2h", env=env)
    assert maintenance["State"] == "active"
    status, out = control(iam_srv, "POST", f"/_imds/instances/{iam_fleet['spot']}/interruption",
                          {"in": "15m"}, iam_fleet["operator"])
    assert status == 200 and set(out) == {"InstanceId", "RebalanceAt", "NoticeAt", "ActionAt"}
    shown = {e["InstanceEventId"]: e["Description"] for e in api_events(ec2, iid)}
    assert shown == {event["EventId"]: "[Canceled] The instance is scheduled for a reboot",
                     maintenance["EventId"]: maintenance["Description"]}
    # The account root may do anything.
    status, out = control(iam_srv, "PUT", f"{base}/target-lifecycle-state", {"state": None},
                          Creds(A.key, A.secret))
    assert (status, out) == (200, {"InstanceId": iid, "TargetLifecycleState": None})


def test_with_iam_another_accounts_instance_is_not_found(iam_srv, iam_fleet):
    iid = iam_fleet["iid"]
    before = api_events(iam_fleet["ec2"], iid)
    refused(iam_srv, "POST", f"/_imds/instances/{iid}/events",
            {"code": "system-reboot", "in": "1h"}, Creds(B.key, B.secret),
            code="InvalidInstanceID.NotFound")
    cli_refused(iam_srv, "lifecycle", "--instance", iid, "--state", "Standby",
                env=creds_env(Creds(B.key, B.secret)), code="InvalidInstanceID.NotFound")
    assert api_events(iam_fleet["ec2"], iid) == before
