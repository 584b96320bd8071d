"""`imds aemm`: AWS's metadata mock's (AEMM, amazon-ec2-metadata-mock v1.13) commands, flags,
AEMM_* variables and config file, done to a real instance as EC2 would (spec events.md §8,
its superset rule; §10 for the answers).

Each test starts `imds aemm` itself on loopback port 0 (`-p 0`, `--api-listen
127.0.0.1:0`), reads where it listens from its first lines, and stops it by its PID."""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import helpers
from helpers import IMDS_BIN, wait_until
from imds_helpers import assert_page, get, token

NOTICE = "3s"


@contextlib.contextmanager
def aemm(tmp_path: Path, *args: str, env: dict | None = None, before: tuple = ()):
    """`imds aemm [imds flags] ARGS -p 0`: yields (metadata address, EC2 client, stdout
    lines)."""
    out_path, err_path = tmp_path / "aemm.out", tmp_path / "aemm.err"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AEMM_")}
    full_env.update({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")})
    full_env.update(env or {})
    argv = [IMDS_BIN, "aemm", "--api-listen", "127.0.0.1:0", "--spot-notice", NOTICE,
            "--apply-delay", "100ms", "--transition-delay", "200ms", *before, *args, "-p", "0"]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=full_env, start_new_session=True)
    try:
        lines = wait_until(lambda: (lambda t: t if "imds aemm: instance" in t else
                                    (_ for _ in ()).throw(AssertionError(err_path.read_text()))
                                    if proc.poll() is not None else None)(out_path.read_text()),
                           30, desc="imds aemm's ready lines").splitlines()
        imds = next(l for l in lines if "Metadata Service listening" in l).rsplit("http://", 1)[1]
        api = next(l for l in lines if "EC2 API listening" in l).split("http://", 1)[1].split()[0]
        yield imds, helpers.make_client(f"http://{api}", "us-east-1"), lines, err_path
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def first_instance(ec2) -> dict:
    [i] = [i for i in helpers.describe(ec2)]
    return i


def status_of(addr: str, path: str, tok: str | None = None):
    return get(addr, f"/latest/meta-data/{path}", tok)


def test_spot_stop_after_the_delay_as_ec2_stops_a_spot_instance(tmp_path):
    """`spot -a stop -d 1`: a Spot instance (cases 2–3); no notice before the trigger (case
    4), then `{"action": "stop", "time": T}` whose T stays fixed (cases 5, 7; AEMM recomputes
    it), no termination-time (case 8), and at T stopping → stopped with EC2's reason (case 9).
    Before `imds aemm`: no such command (clap's usage error)."""
    started = time.time()
    with aemm(tmp_path, "spot", "-a", "stop", "-d", "1") as (addr, ec2, lines, _):
        assert status_of(addr, "instance-life-cycle").text == "spot"
        i = first_instance(ec2)
        assert i["InstanceLifecycle"] == "spot" and i["SpotInstanceRequestId"].startswith("sir-")
        if time.time() - started < 0.8:
            assert_page(status_of(addr, "spot/instance-action"), 404)
        notice = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
            status_of(addr, "spot/instance-action")), 10, desc="the notice")
        body = json.loads(notice.body)
        assert body["action"] == "stop"
        time.sleep(1.1)
        assert status_of(addr, "spot/instance-action").body == notice.body
        assert_page(status_of(addr, "spot/termination-time"), 404)
        assert status_of(addr, "events/recommendations/rebalance").status == 200
        at = datetime.datetime.strptime(body["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        assert 3 <= at - started <= 7, (at, started)
        stopped = helpers.wait_state(ec2, i["InstanceId"], "stopped", timeout=15)
        assert stopped["StateReason"]["Code"] == "Server.SpotInstanceShutdown", stopped
        assert any("stop at" in l for l in lines), lines


def test_a_flag_wins_over_its_variable_and_the_variable_over_the_file(tmp_path):
    """AEMM's precedence (viper): flag, then AEMM_<KEY>, then the config file. The file asks
    hibernate, AEMM_SPOT_ACTION asks terminate, and the flag is absent: terminate, with
    `spot/termination-time` (case 6). The file's `mock-ip-count` is named as not acted on."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"spot": {"action": "hibernate"}, "mock-delay-sec": 0,
                               "mock-ip-count": 3}))
    with aemm(tmp_path, "spot", env={"AEMM_CONFIG_FILE": str(cfg),
                                     "AEMM_SPOT_ACTION": "terminate"}) as (addr, _, _, err):
        r = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
            status_of(addr, "spot/instance-action")), 10, desc="the notice")
        body = json.loads(r.body)
        assert body["action"] == "terminate"
        assert status_of(addr, "spot/termination-time").text == body["time"]
        assert "mock-ip-count is accepted and not acted on" in err.read_text()
    with aemm(tmp_path, "spot", "-a", "stop",
              env={"AEMM_CONFIG_FILE": str(cfg), "AEMM_SPOT_ACTION": "terminate"}) as (addr, *_):
        r = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
            status_of(addr, "spot/instance-action")), 10, desc="the notice")
        assert json.loads(r.body)["action"] == "stop"


def test_events_from_home_config_with_imdsv2_from_the_environment(tmp_path):
    """`events` with $HOME/aemm-config.json (code, not-before) and AEMM_IMDSV2=true: the
    instance requires tokens (a GET without one is 401, case 12), and the event is in
    `events/maintenance/scheduled` and DescribeInstanceStatus with the code and start asked."""
    not_before = (datetime.datetime.now(datetime.timezone.utc)
                  + datetime.timedelta(days=3)).replace(microsecond=0)
    (tmp_path / "aemm-config.json").write_text(json.dumps(
        {"events": {"code": "instance-stop", "not-before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
    with aemm(tmp_path, "events", env={"AEMM_IMDSV2": "true"}) as (addr, ec2, _, _):
        assert status_of(addr, "events/maintenance/scheduled").status == 401
        tok = token(addr)
        r = wait_until(lambda: (lambda r: r if r.status == 200 and r.text != "[]" else None)(
            status_of(addr, "events/maintenance/scheduled", tok)), 10, desc="the event")
        [event] = json.loads(r.body)
        assert (event["Code"], event["State"]) == ("instance-stop", "active"), event
        assert event["NotBefore"] == not_before.strftime("%-d %b %Y %H:%M:%S GMT"), event
        i = first_instance(ec2)
        assert i["MetadataOptions"]["HttpTokens"] == "required"
        assert "InstanceLifecycle" not in i, "events alone: an On-Demand instance"
        [st] = ec2.describe_instance_status(InstanceIds=[i["InstanceId"]])["InstanceStatuses"]
        assert [e["Code"] for e in st["Events"]] == ["instance-stop"]


def test_asglifecycle_is_in_service_then_terminated(tmp_path):
    """`asg --asg-termination-delay-sec 4` (AEMM's alias): InService, then Terminated. The
    server records itself as `imds serve` does, so `imds events` finds it with no
    `--endpoint` (before: "no running imds server")."""
    started = time.time()
    with aemm(tmp_path, "asg", "--asg-termination-delay-sec", "4") as (addr, _, lines, _):
        path = "autoscaling/target-lifecycle-state"
        first = status_of(addr, path)
        assert first.status == 200 and first.text in ("InService", "Terminated"), first
        if time.time() - started < 3.5:
            # Read before the trigger (a loaded machine may start the server later).
            assert first.text == "InService"
        wait_until(lambda: status_of(addr, path).text == "Terminated", 15, desc="Terminated")
        iid = next(l for l in lines if l.startswith("imds aemm: instance")).split()[3].rstrip(":")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMDS_")}
        env.update({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")})
        done = subprocess.run([IMDS_BIN, "events", "lifecycle", "--instance", iid, "--state",
                               "InService"], capture_output=True, text=True, timeout=30, env=env)
        assert done.returncode == 0, done
        assert status_of(addr, path).text == "InService"


def test_values_aemm_refuses_are_refused_and_nothing_listens(tmp_path):
    """AEMM's constraints (pkg/cmd/spot, events, root): a bad action, event code or time is
    an error naming each, exit status 1, before anything is served."""
    proc = subprocess.run([IMDS_BIN, "aemm", "--api-listen", "127.0.0.1:0", "spot", "-a",
                           "reboot", "--mock-trigger-time", "soon", "-p", "0"],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 1, proc
    assert "spot.action: 'reboot' is not one of terminate,hibernate,stop" in proc.stderr
    assert "mock-trigger-time: 'soon' is not an RFC 3339 time" in proc.stderr
    assert "listening" not in proc.stdout
