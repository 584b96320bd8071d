"""Instance lifecycle: pending → running, stop, start, reboot, terminate; the metadata
options' pending/applied state across it; waiters (boto3 and aws CLI)."""
from __future__ import annotations

import ipaddress

import pytest
from botocore.exceptions import WaiterError

from helpers import (
    ACCOUNT, AMI_AL2, DEFAULT_REGION, INSTANCE_ID_RE, REGION, STATE_CODES, assert_options,
    assert_stays, describe, describe_ids, ec2_error, instance, options, run_ids, run_one,
    running_instance, stopped_instance, wait_applied, wait_state,
)

SLOW = "1500ms"  # transition delay of the servers used to observe intermediate states


def assert_state(st: dict, name: str) -> None:
    assert st == {"Code": STATE_CODES[name], "Name": name}, st


@pytest.fixture
def slow(server_factory):
    """A server whose state transitions take 1.5 s, so intermediate states can be seen."""
    srv = server_factory(transition_delay=SLOW)
    return srv.client(REGION)


def test_pristine_store_has_the_default_instance(fresh_server):
    east = fresh_server.client(DEFAULT_REGION)
    resp = east.describe_instances()
    insts = [i for r in resp["Reservations"] for i in r["Instances"]]
    assert len(insts) == 1, insts
    assert INSTANCE_ID_RE.match(insts[0]["InstanceId"])
    assert insts[0]["State"]["Name"] == "running"
    assert resp["Reservations"][0]["OwnerId"] == ACCOUNT
    assert describe(fresh_server.client(REGION)) == []


def test_launch_is_pending_then_running(ec2):
    resp = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=2, MaxCount=2)
    assert resp["OwnerId"] == ACCOUNT
    ids = []
    for n, inst in enumerate(resp["Instances"]):
        assert_state(inst["State"], "pending")
        assert inst["ImageId"] == AMI_AL2
        assert inst["InstanceType"] == "t3.micro"
        assert inst["AmiLaunchIndex"] == n
        assert inst["MetadataOptions"]["State"] == "pending"
        ids.append(inst["InstanceId"])
    assert len(set(ids)) == 2
    for iid in ids:
        inst = wait_state(ec2, iid, "running")
        assert_state(inst["State"], "running")
        assert inst["LaunchTime"]
        assert inst["Placement"]["AvailabilityZone"].startswith(REGION)
        assert inst["VpcId"].startswith("vpc-") and inst["SubnetId"].startswith("subnet-")
        # Default VPCs are 172.31.0.0/16 on EC2.
        assert ipaddress.ip_address(inst["PrivateIpAddress"]) in ipaddress.ip_network(
            "172.31.0.0/16")
        wait_applied(ec2, iid)
    ips = [instance(ec2, i)["PrivateIpAddress"] for i in ids]
    assert len(set(ips)) == len(ips), "private addresses are unique"


def test_intermediate_states_are_visible(slow):
    ec2 = slow
    iid = run_one(ec2)
    assert state_name(ec2, iid) == "pending"
    wait_state(ec2, iid, "running", timeout=15)

    stop = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"]
    assert [s["InstanceId"] for s in stop] == [iid]
    assert_state(stop[0]["PreviousState"], "running")
    assert_state(stop[0]["CurrentState"], "stopping")
    assert state_name(ec2, iid) == "stopping"
    assert_state(wait_state(ec2, iid, "stopped", timeout=15)["State"], "stopped")

    start = ec2.start_instances(InstanceIds=[iid])["StartingInstances"]
    assert_state(start[0]["PreviousState"], "stopped")
    assert_state(start[0]["CurrentState"], "pending")
    assert state_name(ec2, iid) == "pending"
    wait_state(ec2, iid, "running", timeout=15)

    term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"]
    assert_state(term[0]["PreviousState"], "running")
    assert_state(term[0]["CurrentState"], "shutting-down")
    assert state_name(ec2, iid) == "shutting-down"
    # No modification while shutting down.
    with ec2_error("IncorrectInstanceState", 400):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    assert_state(wait_state(ec2, iid, "terminated", timeout=15)["State"], "terminated")


def state_name(ec2, iid):
    return instance(ec2, iid)["State"]["Name"]


def test_stop_and_start(ec2):
    a, b = [running_instance(ec2) for _ in range(2)]
    resp = ec2.stop_instances(InstanceIds=[a, b])
    assert {s["InstanceId"] for s in resp["StoppingInstances"]} == {a, b}
    wait_state(ec2, a, "stopped")
    wait_state(ec2, b, "stopped")
    assert describe_ids(ec2, filters={"instance-state-name": "stopped"}) >= {a, b}
    resp = ec2.start_instances(InstanceIds=[a])
    assert [s["InstanceId"] for s in resp["StartingInstances"]] == [a]
    wait_state(ec2, a, "running")
    assert_stays(lambda: state_name(ec2, b) == "stopped", 0.5, desc="b stays stopped")


def test_reboot_keeps_running(ec2):
    iid = running_instance(ec2, metadata={"HttpTokens": "required"})
    before = options(ec2, iid)
    ec2.reboot_instances(InstanceIds=[iid])
    assert_stays(lambda: state_name(ec2, iid) == "running", 0.6, desc="still running")
    assert options(ec2, iid) == before


def test_terminate_then_still_visible(ec2):
    iid = running_instance(ec2)
    resp = ec2.terminate_instances(InstanceIds=[iid])
    assert resp["TerminatingInstances"][0]["InstanceId"] == iid
    wait_state(ec2, iid, "terminated")
    assert iid in describe_ids(ec2)
    assert iid in describe_ids(ec2, filters={"instance-state-name": "terminated"})
    assert iid not in describe_ids(ec2, filters={"instance-state-name": "running"})
    # Terminating again is accepted and reports terminated → terminated.
    again = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert_state(again["CurrentState"], "terminated")
    assert_state(again["PreviousState"], "terminated")


def test_terminated_instance_refuses_changes(ec2):
    iid = running_instance(ec2)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    before = options(ec2, iid)
    with ec2_error("IncorrectInstanceState", 400):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    with ec2_error("IncorrectInstanceState", 400):
        ec2.start_instances(InstanceIds=[iid])
    with ec2_error("IncorrectInstanceState", 400):
        ec2.stop_instances(InstanceIds=[iid])
    assert options(ec2, iid) == before
    assert state_name(ec2, iid) == "terminated"


def test_modify_stopped_stays_pending_until_start(ec2):
    iid = stopped_instance(ec2)
    resp = ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=5,
                                                HttpTokens="required")
    assert resp["InstanceMetadataOptions"]["State"] == "pending"
    assert_stays(lambda: options(ec2, iid)["State"] == "pending", 1.0,
                 desc="pending while stopped")
    assert_options(options(ec2, iid), HttpPutResponseHopLimit=5, HttpTokens="required")
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")
    applied = wait_applied(ec2, iid)
    assert_options(applied, State="applied", HttpPutResponseHopLimit=5, HttpTokens="required")


def test_lifecycle_calls_with_unknown_or_malformed_ids(ec2):
    for call in (ec2.stop_instances, ec2.start_instances, ec2.reboot_instances,
                 ec2.terminate_instances):
        with ec2_error("InvalidInstanceID.NotFound", 400,
                       "The instance ID 'i-0123456789abcdef9' does not exist"):
            call(InstanceIds=["i-0123456789abcdef9"])
        with ec2_error("InvalidInstanceID.Malformed", 400, 'Invalid id: "i-xyz"'):
            call(InstanceIds=["i-xyz"])


def test_stop_with_one_unknown_id_changes_nothing(ec2):
    iid = running_instance(ec2)
    with ec2_error("InvalidInstanceID.NotFound", 400):
        ec2.stop_instances(InstanceIds=[iid, "i-0123456789abcdef9"])
    assert_stays(lambda: state_name(ec2, iid) == "running", 0.5, desc="still running")


# ----------------------------------------------------------------------------- waiters


def test_boto3_waiters(slow):
    ec2 = slow
    cfg = {"Delay": 1, "MaxAttempts": 20}
    iid = run_one(ec2)
    assert state_name(ec2, iid) == "pending"
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=cfg)
    assert state_name(ec2, iid) == "running"
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=cfg)
    assert state_name(ec2, iid) == "stopped"
    ec2.start_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=cfg)
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=cfg)
    assert state_name(ec2, iid) == "terminated"


def test_boto3_waiter_fails_on_terminated(ec2):
    iid = running_instance(ec2)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    with pytest.raises(WaiterError) as e:
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid],
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    assert "terminal failure" in str(e.value)


@pytest.mark.cli
def test_cli_waiters(server, ec2):
    ids = run_ids(ec2, 2)
    server.aws("wait", "instance-running", "--instance-ids", *ids, output=None)
    assert {state_name(ec2, i) for i in ids} == {"running"}
    ec2.stop_instances(InstanceIds=ids)
    server.aws("wait", "instance-stopped", "--instance-ids", *ids, output=None)
    assert {state_name(ec2, i) for i in ids} == {"stopped"}
    ec2.terminate_instances(InstanceIds=ids)
    server.aws("wait", "instance-terminated", "--instance-ids", *ids, output=None)
    assert {state_name(ec2, i) for i in ids} == {"terminated"}


@pytest.mark.cli
def test_cli_wait_running_fails_for_terminated(server, ec2):
    iid = running_instance(ec2)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    proc = server.aws("wait", "instance-running", "--instance-ids", iid, output=None,
                      check=False, timeout=60)
    assert proc.returncode == 255, (proc.returncode, proc.stderr)
    assert "terminal failure" in proc.stderr


@pytest.mark.cli
def test_cli_stop_start_terminate(server, ec2):
    iid = running_instance(ec2)
    out = server.aws_json("stop-instances", "--instance-ids", iid)
    assert out["StoppingInstances"][0]["CurrentState"]["Name"] in ("stopping", "stopped")
    wait_state(ec2, iid, "stopped")
    out = server.aws_json("start-instances", "--instance-ids", iid)
    assert out["StartingInstances"][0]["PreviousState"]["Name"] == "stopped"
    wait_state(ec2, iid, "running")
    proc = server.aws("reboot-instances", "--instance-ids", iid, output=None)
    assert proc.stdout.strip() == ""
    out = server.aws_json("terminate-instances", "--instance-ids", iid)
    assert out["TerminatingInstances"][0]["InstanceId"] == iid
    wait_state(ec2, iid, "terminated")
