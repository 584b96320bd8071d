"""Instance events (issue 16; spec events.md): Spot launches, interruption notices and
rebalance recommendations, scheduled maintenance, and the Auto Scaling target state, as the
EC2 API and the metadata service show them.

Interruptions here are sent through imds's control route (`POST /_imds/instances/{id}/
interruption`, the console's "Initiate interruption"); FIS's own flow is in test_fis.py. The
server runs with `--spot-notice 2s`: EC2's two minutes of notice last two seconds, and a
`durationBeforeInterruption` scales with them (PT4M: notice after 2 s, action after 4 s).
Metadata is read through each instance's own loopback endpoint, raw, as a guest reads it.
"""
from __future__ import annotations

import datetime
import json
import re
import time
import urllib.error
import urllib.request

import pytest

import helpers
from helpers import ImdsServer, ec2_error, wait_until
from imds_helpers import assert_page, get, loopback_only, token

NOTICE_S = 2
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EVENT_DATE = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
SPOT = {"MarketType": "spot"}


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    yield from helpers.running(ImdsServer(tmp_path_factory.mktemp("events"),
                                          extra_args=["--spot-notice", f"{NOTICE_S}s"]))


@pytest.fixture(scope="module")
def ec2(srv):
    return srv.client(helpers.REGION)


@pytest.fixture(scope="module")
def quiet_ec2(srv):
    """A Region no other test of the module acts in: `store_unchanged` compares a Region's
    whole state, and the interruptions and events of other tests take their steps in
    `helpers.REGION` whenever they fall due."""
    return srv.client("eu-north-1")


def endpoint_of(srv, iid: str) -> str:
    with urllib.request.urlopen(f"{srv.endpoint}/_imds/instances/{iid}/endpoint",
                                timeout=30) as r:
        return r.read().decode().strip()[len("http://"):]


def admin(srv, method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{srv.endpoint}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def interrupt(srv, iid: str, before: str = "2m") -> dict:
    status, body = admin(srv, "POST", f"/_imds/instances/{iid}/interruption", {"in": before})
    assert status == 200, body
    return body


def spot_instance(ec2, **spot_options) -> str:
    market = dict(SPOT)
    if spot_options:
        market["SpotOptions"] = spot_options
    iid = helpers.run_one(ec2, InstanceMarketOptions=market)
    helpers.wait_state(ec2, iid, "running")
    return iid


def meta(addr: str, path: str, tok: str | None = None):
    return get(addr, f"/latest/meta-data/{path}", tok)


# --------------------------------------------------------------------------- launching Spot


def test_on_demand_has_no_spot_items_and_says_on_demand(srv, ec2):
    """Cases 1 and 2."""
    iid = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    for item in ("spot/instance-action", "spot/termination-time",
                 "events/recommendations/rebalance", "autoscaling/target-lifecycle-state"):
        assert_page(meta(addr, item), 404)
    r = meta(addr, "instance-life-cycle")
    assert (r.status, r.body) == (200, b"on-demand")
    assert r.header("Content-Type") == "text/plain"
    i = helpers.instance(ec2, iid)
    assert "InstanceLifecycle" not in i and "SpotInstanceRequestId" not in i


def test_a_spot_launch_is_spot_everywhere(srv, ec2):
    """Cases 3 and 4: DescribeInstances and the metadata service."""
    iid = spot_instance(ec2)
    i = helpers.instance(ec2, iid)
    assert i["InstanceLifecycle"] == "spot"
    assert re.fullmatch(r"sir-[a-z0-9]{8}", i["SpotInstanceRequestId"]), i
    assert helpers.describe_ids(ec2, {"instance-lifecycle": "spot"}) >= {iid}
    assert helpers.describe_ids(ec2, {"spot-instance-request-id":
                                      i["SpotInstanceRequestId"]}) == {iid}
    addr = endpoint_of(srv, iid)
    assert meta(addr, "instance-life-cycle").body == b"spot"
    assert_page(meta(addr, "spot/instance-action"), 404)
    assert_page(meta(addr, "events/recommendations/rebalance"), 404)


@pytest.mark.parametrize("spot_type,behavior,message", [
    ("one-time", "stop", "The request with type 'one-time' is not supported when "
                         "instanceInterruptionBehavior is set to 'stop'."),
    ("persistent", "terminate", "The terminate InstanceInterruptionBehavior is not supported "
                                "when requestType is set to persistent."),
])
def test_combinations_ec2_refuses(quiet_ec2, spot_type, behavior, message):
    """Cases 29 and 30, with the messages EC2 gives."""
    with helpers.store_unchanged(quiet_ec2):
        with ec2_error("InvalidParameterCombination", 400, message):
            helpers.run(quiet_ec2, InstanceMarketOptions={
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": spot_type,
                                "InstanceInterruptionBehavior": behavior}})


def test_hibernation_makes_the_behaviour_hibernate(srv, ec2):
    """Case 31: hibernate by default with hibernation configured; stop is refused."""
    with ec2_error("InvalidParameterCombination", 400):
        helpers.run(ec2, HibernationOptions={"Configured": True}, InstanceMarketOptions={
            "MarketType": "spot", "SpotOptions": {"SpotInstanceType": "persistent",
                                                  "InstanceInterruptionBehavior": "stop"}})
    iid = helpers.run_one(ec2, HibernationOptions={"Configured": True}, InstanceMarketOptions={
        "MarketType": "spot", "SpotOptions": {"SpotInstanceType": "persistent"}})
    helpers.wait_state(ec2, iid, "running")
    interrupt(srv, iid, "4m")
    addr = endpoint_of(srv, iid)
    notice = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        meta(addr, "spot/instance-action")), 3 * NOTICE_S, desc="the hibernate notice")
    assert json.loads(notice.body)["action"] == "hibernate"
    helpers.wait_state(ec2, iid, "stopped", timeout=10)


def test_bad_market_options(quiet_ec2):
    with helpers.store_unchanged(quiet_ec2):
        with ec2_error("InvalidParameterValue", 400):
            helpers.run(quiet_ec2, InstanceMarketOptions={"MarketType": "auction"})
        with ec2_error("InvalidParameterValue", 400):
            helpers.run(quiet_ec2, InstanceMarketOptions={"MarketType": "spot",
                                                    "SpotOptions": {"MaxPrice": "0.0001"}})


def test_a_launch_template_launches_spot(ec2):
    """Launch templates carry InstanceMarketOptions too (issue 16)."""
    lt = ec2.create_launch_template(
        LaunchTemplateName=f"spot-{time.time_ns()}",
        LaunchTemplateData={"ImageId": helpers.AMI_AL2, "InstanceType": "t3.micro",
                            "InstanceMarketOptions": {"MarketType": "spot"}},
    )["LaunchTemplate"]["LaunchTemplateId"]
    iid = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={
        "LaunchTemplateId": lt})["Instances"][0]["InstanceId"]
    assert helpers.instance(ec2, iid)["InstanceLifecycle"] == "spot"


# ------------------------------------------------------------------ interruption and notice


def test_the_notice_comes_two_minutes_before_and_terminates(srv, ec2):
    """Cases 5, 6, 7, 10 and 14, with a 4-minute interruption scaled to 2 s of notice: the
    recommendation at once, the notice (and termination time) at T−notice, byte-identical
    on every read; then shutting-down → terminated with the Spot reason."""
    iid = spot_instance(ec2)
    addr = endpoint_of(srv, iid)
    plan = interrupt(srv, iid, "4m")
    rebalance = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        meta(addr, "events/recommendations/rebalance")), NOTICE_S, desc="recommendation")
    body = json.loads(rebalance.body)
    assert list(body) == ["noticeTime"] and ISO_Z.match(body["noticeTime"]), body
    assert rebalance.body == b'{"noticeTime": "%s"}' % body["noticeTime"].encode()
    assert rebalance.header("Content-Type") == "text/plain"
    # Before the notice: 404.
    assert_page(meta(addr, "spot/instance-action"), 404)
    notice = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        meta(addr, "spot/instance-action")), 3 * NOTICE_S, desc="the notice")
    action = json.loads(notice.body)
    assert list(action) == ["action", "time"] and action["action"] == "terminate"
    assert ISO_Z.match(action["time"]), action
    assert notice.body == ('{"action": "terminate", "time": "%s"}' % action["time"]).encode()
    assert action["time"] == plan["ActionAt"][:19] + "Z"
    assert meta(addr, "spot/termination-time").body == action["time"].encode()
    assert meta(addr, "spot/instance-action").body == notice.body, "the same on every read"
    assert meta(addr, "spot/").body == b"instance-action\ntermination-time"
    # The recommendation stays after the notice (case 14).
    assert meta(addr, "events/recommendations/rebalance").body == rebalance.body
    # Case 13: the item is newer than 2016-09-02's build.
    assert_page(get(addr, "/2016-09-02/meta-data/spot/instance-action"), 404)
    assert get(addr, "/2018-03-28/meta-data/spot/instance-action").body == notice.body
    i = helpers.wait_state(ec2, iid, "terminated", timeout=3 * NOTICE_S + 5)
    assert i["StateReason"]["Code"] == "Server.SpotInstanceTermination", i
    with pytest.raises(Exception):
        meta(addr, "instance-id")


def test_stop_behaviour(srv, ec2):
    """Cases 8 and 9: a stop notice, no termination time, then stopping → stopped."""
    iid = spot_instance(ec2, SpotInstanceType="persistent", InstanceInterruptionBehavior="stop")
    addr = endpoint_of(srv, iid)
    interrupt(srv, iid, "2m")
    notice = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        meta(addr, "spot/instance-action")), NOTICE_S, desc="the notice")
    assert json.loads(notice.body)["action"] == "stop"
    assert_page(meta(addr, "spot/termination-time"), 404)
    i = helpers.wait_state(ec2, iid, "stopped", timeout=3 * NOTICE_S + 5)
    assert i["StateReason"]["Code"] == "Server.SpotInstanceShutdown", i
    # Started again, the notice is gone (UNCONFIRMED, spec events.md §2.1).
    ec2.start_instances(InstanceIds=[iid])
    helpers.wait_state(ec2, iid, "running")
    wait_until(lambda: meta(addr, "spot/instance-action").status == 404, 5,
               desc="notice gone after a start")


def test_a_required_token_guards_the_notice(srv, ec2):
    """Case 12: with IMDSv2 required, the notice is not read without a token."""
    iid = spot_instance(ec2)
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    helpers.wait_applied(ec2, iid)
    addr = endpoint_of(srv, iid)
    interrupt(srv, iid, "2m")
    tok = token(addr)
    wait_until(lambda: meta(addr, "spot/instance-action", tok).status == 200, NOTICE_S,
               desc="the notice, with a token")
    r = meta(addr, "spot/instance-action")
    assert r.status == 401 and b"action" not in r.body


def test_a_termination_handler_polling_loop(srv, ec2):
    """Issue 16: a loop like a node termination handler's (token, poll the notice every
    0.5 s here — 5 s at AWS's pace, the notice lasting 2 s instead of 120) sees the notice
    within one poll, and the instance is gone after the action time."""
    iid = spot_instance(ec2)
    addr = endpoint_of(srv, iid)
    interrupt(srv, iid, "4m")
    started = time.monotonic()
    tok = token(addr)
    seen = None
    while time.monotonic() - started < 10:
        r = meta(addr, "spot/instance-action", tok)
        if r.status == 200:
            seen = json.loads(r.body)
            break
        assert r.status == 404
        time.sleep(0.5)
    assert seen is not None, "no notice within 10 s"
    elapsed = time.monotonic() - started
    assert NOTICE_S - 0.5 <= elapsed <= NOTICE_S + 1.5, elapsed
    action_at = datetime.datetime.strptime(seen["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    wait_until(lambda: time.time() >= action_at + 1, 10)
    assert helpers.state(ec2, iid) in ("shutting-down", "terminated")


def test_interrupting_an_on_demand_instance_is_refused(srv, ec2):
    iid = helpers.running_instance(ec2)
    status, body = admin(srv, "POST", f"/_imds/instances/{iid}/interruption", {"in": "2m"})
    assert status == 400, body
    assert helpers.state(ec2, iid) == "running"


# --------------------------------------------------------------------------- maintenance


def schedule(srv, iid: str, **body) -> dict:
    status, event = admin(srv, "POST", f"/_imds/instances/{iid}/events", body)
    assert status == 200, event
    return event


def scheduled(addr: str, which: str = "scheduled") -> list:
    r = meta(addr, f"events/maintenance/{which}")
    assert r.status == 200 and r.header("Content-Type") == "text/plain", r
    return json.loads(r.body)


def statuses(ec2, iid: str) -> dict:
    found = ec2.describe_instance_status(InstanceIds=[iid],
                                        IncludeAllInstances=True)["InstanceStatuses"]
    assert len(found) == 1, found
    return found[0]


def test_no_maintenance_is_an_empty_list(srv, ec2):
    """Case 15."""
    iid = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    for which in ("scheduled", "history"):
        r = meta(addr, f"events/maintenance/{which}")
        assert (r.status, r.body) == (200, b"[]")
    assert statuses(ec2, iid).get("Events", []) == []


def test_a_scheduled_event_in_metadata_and_the_api(srv, ec2):
    """Cases 16, 17 and 22: the same event in both views, in their own date formats."""
    iid = helpers.running_instance(ec2)
    other = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    event = schedule(srv, iid, code="system-reboot", **{"in": "3h"}, duration="2h",
                     deadline="7d")
    [item] = scheduled(addr)
    assert list(item) == ["NotBefore", "Code", "Description", "EventId", "NotAfter",
                          "NotBeforeDeadline", "State"], item
    assert item["Code"] == "system-reboot" and item["State"] == "active"
    assert EVENT_DATE.match(item["NotBefore"]) and EVENT_DATE.match(item["NotAfter"]), item
    assert re.fullmatch(r"instance-event-[0-9a-f]{17}", item["EventId"]), item
    [api] = statuses(ec2, iid)["Events"]
    assert api["InstanceEventId"] == item["EventId"] == event["EventId"]
    assert api["Code"] == "system-reboot"
    not_before = api["NotBefore"].astimezone(datetime.timezone.utc)
    assert not_before.strftime("%-d %b %Y %H:%M:%S GMT") == item["NotBefore"]
    raw = srv.raw({"Action": "DescribeInstanceStatus", "Version": "2016-11-15",
                   "InstanceId.1": iid})
    assert re.search(r"<notBefore>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z</notBefore>",
                     raw.body.decode()), raw
    found = ec2.describe_instance_status(
        Filters=[{"Name": "event.code", "Values": ["system-reboot"]}])["InstanceStatuses"]
    ids = {s["InstanceId"] for s in found}
    assert iid in ids and other not in ids


def test_an_event_runs_and_moves_to_history(srv, ec2):
    """Cases 18 and 20: an instance-stop event stops the instance at its time; it leaves
    `scheduled` for `history` as completed, `[Completed] ` in both views."""
    iid = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    status, body = admin(srv, "POST", f"/_imds/instances/{iid}/events",
                         {"code": "system-explosion", "in": "1s"})
    assert status == 400 and "InvalidParameterValue" in str(body), body
    assert scheduled(addr) == [] and scheduled(addr, "history") == []
    schedule(srv, iid, code="instance-reboot", **{"in": "1s"})
    # Waiting for `scheduled` to be empty would pass before the feed brought the event at
    # all: wait for the history instead.
    wait_until(lambda: len(scheduled(addr, "history")) == 1, 5, desc="the reboot ran")
    assert scheduled(addr) == []
    [past] = scheduled(addr, "history")
    assert past["State"] == "completed" and past["Description"].startswith("[Completed] ")
    assert helpers.state(ec2, iid) == "running", "a reboot keeps the state"
    schedule(srv, iid, code="instance-stop", **{"in": "1s"})
    i = helpers.wait_state(ec2, iid, "stopped", timeout=10)
    assert i["StateReason"]["Code"] == "Server.ScheduledStop", i
    events = statuses(ec2, iid)["Events"]
    assert len(events) == 2 and all(e["Description"].startswith("[Completed]")
                                    for e in events), events


def test_a_canceled_event(srv, ec2):
    """Case 19."""
    iid = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    event = schedule(srv, iid, code="system-maintenance", **{"in": "2h"})
    status, body = admin(srv, "DELETE", f"/_imds/instances/{iid}/events/{event['EventId']}")
    assert status == 200, body
    assert scheduled(addr) == []
    [past] = scheduled(addr, "history")
    assert past["State"] == "canceled" and past["Description"].startswith("[Canceled] ")


def test_modify_instance_event_start_time(srv, quiet_ec2):
    """Cases 23–26 (in a Region of their own: `store_unchanged`)."""
    ec2 = quiet_ec2
    iid = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    event = schedule(srv, iid, code="system-reboot", **{"in": "3h"}, duration="2h",
                     deadline="7d")
    before = statuses(ec2, iid)["Events"][0]
    new_start = before["NotBefore"] + datetime.timedelta(hours=2)
    moved = ec2.modify_instance_event_start_time(
        InstanceId=iid, InstanceEventId=event["EventId"], NotBefore=new_start)["Event"]
    assert moved["NotBefore"] == new_start
    assert moved["NotAfter"] == before["NotAfter"] + datetime.timedelta(hours=2)
    assert moved["NotBeforeDeadline"] == before["NotBeforeDeadline"]
    assert statuses(ec2, iid)["Events"][0]["NotBefore"] == new_start
    assert scheduled(addr)[0]["NotBefore"] == new_start.astimezone(
        datetime.timezone.utc).strftime("%-d %b %Y %H:%M:%S GMT")
    now = datetime.datetime.now(datetime.timezone.utc)
    with helpers.store_unchanged(ec2):
        with ec2_error("InvalidParameterValue", 400):
            ec2.modify_instance_event_start_time(
                InstanceId=iid, InstanceEventId=event["EventId"],
                NotBefore=now + datetime.timedelta(minutes=30))
        with ec2_error("InvalidParameterValue", 400):
            ec2.modify_instance_event_start_time(
                InstanceId=iid, InstanceEventId=event["EventId"],
                NotBefore=now + datetime.timedelta(days=8))
    no_deadline = schedule(srv, iid, code="system-maintenance", **{"in": "3h"})
    with ec2_error("InvalidParameterValue", 400):
        ec2.modify_instance_event_start_time(
            InstanceId=iid, InstanceEventId=no_deadline["EventId"],
            NotBefore=now + datetime.timedelta(hours=2))
    raw = srv.raw({"Action": "ModifyInstanceEventStartTime", "Version": "2016-11-15",
                   "InstanceId": iid, "NotBefore": "2030-01-01T00:00:00Z"})
    assert raw.status == 400 and raw.error[0] == "MissingParameter", raw
    with ec2_error("DryRunOperation", 412):
        ec2.modify_instance_event_start_time(
            InstanceId=iid, InstanceEventId=event["EventId"], DryRun=True,
            NotBefore=new_start + datetime.timedelta(hours=1))


def test_stopped_instances_need_include_all(srv, ec2):
    """Case 21."""
    iid = helpers.stopped_instance(ec2)
    listed = ec2.describe_instance_status()["InstanceStatuses"]
    assert iid not in {s["InstanceId"] for s in listed}
    assert statuses(ec2, iid)["InstanceState"]["Name"] == "stopped"


# ------------------------------------------------------------------------- Auto Scaling


def test_target_lifecycle_state(srv, ec2):
    """Cases 27 and 28: 404 outside a group; the state it heads to, while still running."""
    iid = helpers.running_instance(ec2)
    addr = endpoint_of(srv, iid)
    assert_page(meta(addr, "autoscaling/target-lifecycle-state"), 404)
    for state in ("InService", "Terminated"):
        status, body = admin(srv, "PUT", f"/_imds/instances/{iid}/target-lifecycle-state",
                             {"state": state})
        assert status == 200, body
        wait_until(lambda: meta(addr, "autoscaling/target-lifecycle-state").body
                   == state.encode(), 5, desc=state)
    r = meta(addr, "autoscaling/target-lifecycle-state")
    assert r.header("Content-Type") == "text/plain" and not r.body.endswith(b"\n")
    assert helpers.state(ec2, iid) == "running"
    status, body = admin(srv, "PUT", f"/_imds/instances/{iid}/target-lifecycle-state",
                         {"state": None})
    assert status == 200, body
    wait_until(lambda: meta(addr, "autoscaling/target-lifecycle-state").status == 404, 5)


# ------------------------------------------------------------------------- Spot requests


def spot_request(ec2, sir: str) -> dict:
    [r] = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[sir])[
        "SpotInstanceRequests"]
    return r


def test_describe_spot_instance_requests(srv, ec2):
    """The request a Spot launch made, as DescribeSpotInstanceRequests shows it (spec
    events.md §6): active and fulfilled while the instance runs; closed with the
    interruption's status after it; filters; an unknown id."""
    iid = spot_instance(ec2)
    sir = helpers.instance(ec2, iid)["SpotInstanceRequestId"]
    r = spot_request(ec2, sir)
    assert (r["InstanceId"], r["State"], r["Status"]["Code"], r["Type"],
            r["InstanceInterruptionBehavior"]) == (iid, "active", "fulfilled", "one-time",
                                                   "terminate"), r
    assert r["Status"]["Message"] == "Your Spot request is fulfilled."
    assert r["LaunchSpecification"]["ImageId"] == helpers.AMI_AL2
    listed = ec2.describe_spot_instance_requests(
        Filters=[{"Name": "state", "Values": ["active"]},
                 {"Name": "instance-id", "Values": [iid]}])["SpotInstanceRequests"]
    assert [x["SpotInstanceRequestId"] for x in listed] == [sir]
    with ec2_error("InvalidSpotInstanceRequestID.NotFound", 400):
        ec2.describe_spot_instance_requests(SpotInstanceRequestIds=["sir-00000000"])
    with ec2_error("InvalidParameterValue", 400):
        ec2.describe_spot_instance_requests(Filters=[{"Name": "bogus", "Values": ["x"]}])
    interrupt(srv, iid, "2m")
    helpers.wait_state(ec2, iid, "terminated", timeout=3 * NOTICE_S + 5)
    r = spot_request(ec2, sir)
    assert (r["State"], r["Status"]["Code"]) == ("closed", "instance-terminated-by-experiment")


def test_cancel_spot_instance_requests(srv, ec2):
    """Cancelling a request leaves its instance running (user guide)."""
    iid = spot_instance(ec2, MaxPrice="0.05")
    sir = helpers.instance(ec2, iid)["SpotInstanceRequestId"]
    assert spot_request(ec2, sir)["SpotPrice"] == "0.05"
    with ec2_error("DryRunOperation", 412):
        ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[sir], DryRun=True)
    assert spot_request(ec2, sir)["State"] == "active"
    out = ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[sir])
    assert out["CancelledSpotInstanceRequests"] == [
        {"SpotInstanceRequestId": sir, "State": "cancelled"}]
    r = spot_request(ec2, sir)
    assert (r["State"], r["Status"]["Code"]) == ("cancelled",
                                                 "request-canceled-and-instance-running")
    assert helpers.state(ec2, iid) == "running"
    with ec2_error("InvalidSpotInstanceRequestID.NotFound", 400):
        ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=["sir-zzzzzzzz"])
