"""Durability with --data-dir: an acknowledged write survives kill -9; everything survives a
clean restart."""
from __future__ import annotations

import threading

import pytest
from botocore.exceptions import BotoCoreError

from helpers import (
    AMI_AL2023, DEFAULT_REGION, REGION, assert_stays, describe, ec2_error, instance, make_client,
    options, run_ids, running_instance, settle, stopped_instance, wait_applied, wait_state,
    wait_until,
)

pytestmark = pytest.mark.slow


def _hop_for(thread_no: int, k: int) -> int:
    # Consecutive values of one stream always differ; values stay within 1..64.
    return 1 + (thread_no * 7 + k) % 64


@pytest.mark.timeout(180)
def test_acknowledged_writes_survive_kill_9(server_factory, tmp_path):
    data = tmp_path / "data"
    srv = server_factory(data_dir=data)
    ec2 = srv.client(REGION)
    threads_n = 4
    ids = run_ids(ec2, threads_n)
    for iid in ids:
        wait_state(ec2, iid, "running")
        wait_applied(ec2, iid)

    acked: dict[str, list[tuple[int, str]]] = {iid: [] for iid in ids}
    in_flight: dict[str, tuple[int, str] | None] = {iid: None for iid in ids}
    errors: list[BaseException] = []
    stop = threading.Event()
    endpoint = srv.endpoint

    def stream(n: int, iid: str):
        client = make_client(endpoint, REGION, read_timeout=10)
        k = 0
        while not stop.is_set():
            hop = _hop_for(n, k)
            tokens = "required" if k % 2 else "optional"
            in_flight[iid] = (hop, tokens)
            try:
                resp = client.modify_instance_metadata_options(
                    InstanceId=iid, HttpPutResponseHopLimit=hop, HttpTokens=tokens)
            except (BotoCoreError, OSError):  # connection refused/reset: the server is gone
                return
            except Exception as e:  # an EC2 error or a model violation is a bug
                errors.append(e)
                return
            got = resp["InstanceMetadataOptions"]
            if (got["HttpPutResponseHopLimit"], got["HttpTokens"]) != (hop, tokens):
                errors.append(AssertionError(f"{iid}: response {got} for {(hop, tokens)}"))
                return
            acked[iid].append((hop, tokens))
            in_flight[iid] = None
            k += 1

    workers = [threading.Thread(target=stream, args=(n, iid), daemon=True)
               for n, iid in enumerate(ids)]
    for w in workers:
        w.start()
    # Let every stream get a good number of acknowledged writes, then pull the plug.
    wait_until(lambda: all(len(v) >= 25 for v in acked.values()) or errors, timeout=60,
               desc="25 acknowledged writes per stream")
    srv.kill()
    stop.set()
    for w in workers:
        w.join(timeout=20)
    assert not errors, errors
    assert all(len(v) >= 25 for v in acked.values())

    srv.start()  # same data dir
    ec2 = srv.client(REGION)
    for iid in ids:
        got = options(ec2, iid)
        value = (got["HttpPutResponseHopLimit"], got["HttpTokens"])
        allowed = {acked[iid][-1]}
        if in_flight[iid] is not None:
            allowed.add(in_flight[iid])  # sent, never acknowledged: may or may not have landed
        assert value in allowed, (
            f"{iid}: read back {value}, last acknowledged {acked[iid][-1]}, "
            f"in flight {in_flight[iid]}")
    # The instances are still there and running, and the pending options reach `applied`.
    for iid in ids:
        wait_state(ec2, iid, "running", timeout=15)
        assert wait_applied(ec2, iid, timeout=15)["State"] == "applied"


@pytest.mark.timeout(120)
def test_acknowledged_launches_survive_kill_9(server_factory, tmp_path):
    srv = server_factory(data_dir=tmp_path / "data")
    ec2 = srv.client(REGION)
    ids = run_ids(ec2, 5)
    image = ec2.register_image(Name="survivor", ImdsSupport="v2.0")["ImageId"]
    ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpPutResponseHopLimit=3)
    srv.kill()
    srv.start()
    ec2 = srv.client(REGION)
    assert {i["InstanceId"] for i in describe(ec2)} == set(ids)
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["ImdsSupport"] == "v2.0"
    level = ec2.get_instance_metadata_defaults()["AccountLevel"]
    assert (level.get("HttpTokens"), level.get("HttpPutResponseHopLimit")) == ("required", 3)
    for iid in ids:  # launched (pending) before the crash, they come up after it
        wait_state(ec2, iid, "running", timeout=15)
        wait_applied(ec2, iid, timeout=15)


@pytest.mark.timeout(120)
def test_clean_restart_keeps_everything(server_factory, tmp_path):
    srv = server_factory(data_dir=tmp_path / "data")
    ec2 = srv.client(REGION)
    east = srv.client(DEFAULT_REGION)
    default_ids = {i["InstanceId"] for i in describe(east)}
    assert len(default_ids) == 1

    a = running_instance(ec2, tags={"Name": "a"}, metadata={"HttpTokens": "required"})
    b = stopped_instance(ec2, itype="m5.large")
    ec2.modify_instance_metadata_options(InstanceId=b, HttpPutResponseHopLimit=6)  # pending
    c = running_instance(ec2)
    ec2.terminate_instances(InstanceIds=[c])
    wait_state(ec2, c, "terminated")
    image = ec2.register_image(Name="kept", ImdsSupport="v2.0")["ImageId"]
    lt = ec2.create_launch_template(
        LaunchTemplateName="kept",
        LaunchTemplateData={"ImageId": AMI_AL2023, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpPutResponseHopLimit": 4}})["LaunchTemplate"]
    ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpPutResponseHopLimit=2,
                                          HttpEndpoint="enabled", InstanceMetadataTags="disabled",
                                          HttpTokensEnforced="enabled")
    settle(ec2)

    def state_of(client):
        insts = sorted(describe(client), key=lambda i: i["InstanceId"])
        return {
            "instances": [(i["InstanceId"], i["State"]["Name"], i["InstanceType"], i["ImageId"],
                           i.get("PrivateIpAddress"), i["MetadataOptions"],
                           sorted((t["Key"], t["Value"]) for t in i.get("Tags", [])))
                          for i in insts],
            "defaults": client.get_instance_metadata_defaults().get("AccountLevel", {}),
            "images": client.describe_images(Owners=["self"])["Images"],
            "templates": client.describe_launch_template_versions(
                LaunchTemplateId=lt["LaunchTemplateId"])["LaunchTemplateVersions"],
        }

    before = state_of(ec2)
    before_east = sorted(i["InstanceId"] for i in describe(east))

    code = srv.stop()
    assert code == 0, f"SIGTERM should stop the server cleanly, exit code {code}"
    srv.start()
    ec2 = srv.client(REGION)
    east = srv.client(DEFAULT_REGION)

    settle(ec2)
    assert state_of(ec2) == before
    # The default instance is created on first start only.
    assert sorted(i["InstanceId"] for i in describe(east)) == before_east
    # The stopped instance kept its pending change and stays stopped.
    assert_stays(lambda: (lambda i: i["State"]["Name"] == "stopped"
                          and i["MetadataOptions"]["State"] == "pending")(instance(ec2, b)),
                 0.6, desc="still stopped, still pending")
    ec2.start_instances(InstanceIds=[b])
    wait_state(ec2, b, "running")
    assert wait_applied(ec2, b)["HttpPutResponseHopLimit"] == 6
    # Enforcement survived too.
    with ec2_error("UnsupportedOperation", 400):
        ec2.modify_instance_metadata_options(InstanceId=a, HttpTokens="optional")
    # The image and template still work for launches.
    iid = ec2.run_instances(MinCount=1, MaxCount=1,
                            LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
                            ImageId=image)["Instances"][0]["InstanceId"]
    got = options(ec2, iid)
    assert (got["HttpTokens"], got["HttpPutResponseHopLimit"]) == ("required", 4)


@pytest.mark.timeout(60)
def test_ids_are_not_reused_after_restart(server_factory, tmp_path):
    srv = server_factory(data_dir=tmp_path / "data")
    ec2 = srv.client(REGION)
    first = set(run_ids(ec2, 20))
    assert srv.stop() == 0
    srv.start()
    second = set(run_ids(srv.client(REGION), 20))
    assert not first & second
    assert len(describe(srv.client(REGION))) == 40
