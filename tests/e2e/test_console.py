"""The web console (/console) in real headless Chromium, driven by playwright-core.

The browser signs its own EC2 Query requests (SigV4 with WebCrypto), so these tests run the
server with --iam-config: a wrong signature would be refused, and an IAM deny shows in the
dialog. Needs Debian's `chromium` (/usr/bin/chromium or $IMDS_CHROMIUM) and `playwright-core`
in tests/console/node_modules (`npm ci --prefix tests/console`); `.ci/run` installs both.
Screenshots go to tests/artifacts/console/ (or $IMDS_TEST_ARTIFACTS/console/).
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

import helpers
import iam_helpers as ih
import imds_helpers

CONSOLE_DIR = helpers.REPO / "tests" / "console"
CHROMIUM = os.environ.get("IMDS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("IMDS_TEST_ARTIFACTS", helpers.REPO / "tests" / "artifacts")) / "console"
ROOT = ih.Acct(helpers.ACCOUNT, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def _missing() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
                "(or set IMDS_CHROMIUM); .ci/run does this")
    if not shutil.which("node"):
        return "node not found: install Node.js (apt-get install -y nodejs npm)"
    if not (CONSOLE_DIR / "node_modules" / "playwright-core").is_dir():
        return "playwright-core not installed: run `npm ci --prefix tests/console` (.ci/run does this)"
    return None


pytestmark = [pytest.mark.store_neutral,
              pytest.mark.skipif(_missing() is not None,
                                 reason=f"console browser suite SKIPPED: {_missing()}")]


def drive(script: str, cfg: dict, timeout: float = 90) -> list[dict]:
    """Run a tests/console script in its own process group; its JSON lines. The group
    (node and the Chromium it launched) is ended even when the script hangs or fails."""
    proc = subprocess.Popen(["node", str(CONSOLE_DIR / script), json.dumps(cfg)],
                            cwd=CONSOLE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(f"{script} did not finish in {timeout}s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        # Whatever is left of the group (a Chromium playwright did not close).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or any("error" in line for line in lines):
        pytest.fail(f"{script} failed ({proc.returncode})\nstdout:\n{out}\nstderr:\n{err[-4000:]}")
    return lines


def browser_cfg(srv, tmp_path, key: str, secret: str, iid: str, prefix: str = "") -> dict:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"base": srv.endpoint, "accessKeyId": key, "secretAccessKey": secret,
            "region": helpers.DEFAULT_REGION, "instanceId": iid, "prefix": prefix,
            "userDataDir": str(tmp_path / "chromium-profile"), "artifacts": str(ARTIFACTS),
            "chromium": CHROMIUM}


def default_instance(ec2) -> dict:
    [inst] = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    return inst


def step(lines: list[dict], name: str) -> dict:
    found = [line for line in lines if line.get("step") == name]
    assert found, f"no step {name!r} in {lines}"
    return found[-1]


def imdsv1_calls(srv, iid: str, n: int) -> None:
    """`n` tokenless calls on `srv`'s loopback metadata service, which serves `iid` (the
    default instance)."""
    imds = imds_helpers.imds_address(srv)
    for _ in range(n):
        conn = http.client.HTTPConnection(imds, timeout=10)
        conn.request("GET", "/latest/meta-data/instance-id")
        assert conn.getresponse().read().decode() == iid
        conn.close()


@pytest.fixture
def console_server(tmp_path):
    # A long apply delay so that `pending` is on screen long enough to be seen.
    yield from helpers.running(ih.iam_server(tmp_path, [ROOT], apply_delay="3s"))


def test_modify_metadata_options_in_the_console(console_server, tmp_path):
    ec2 = ih.Clients(console_server, ROOT, region=helpers.DEFAULT_REGION).ec2()
    iid = default_instance(ec2)["InstanceId"]
    # Two IMDSv1 calls on the loopback metadata service (served as the default instance).
    imdsv1_calls(console_server, iid, 2)
    # Start from IMDSv2 required, hop limit 1, so that the console's change is visible.
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required",
                                         HttpPutResponseHopLimit=1, HttpEndpoint="enabled")
    helpers.wait_until(lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
                       ["Instances"][0]["MetadataOptions"]["State"] == "applied", timeout=15)

    lines = drive("modify.mjs", browser_cfg(console_server, tmp_path, ROOT.key, ROOT.secret, iid))

    row = step(lines, "row")
    assert row["name"] == "imds-default"
    assert row["httpTokens"] == "required"
    assert row["imdsv1"] == "2", "the IMDSv1 calls the instance received"
    assert step(lines, "narrow")["overflow"] <= 0, "the page scrolls sideways on a narrow window"
    assert step(lines, "dialog")["focusedInDialog"], "focus did not move into the dialog"
    assert step(lines, "escape")["focusBack"] == "actions-button", "focus not returned on Esc"
    assert "InvalidParameterValue" in step(lines, "hop-error")["text"]
    assert step(lines, "pending")  # seen as "pending" in the row
    applied = step(lines, "applied")
    assert applied == {**applied, "state": "applied", "httpTokens": "optional", "hop": "3"}
    assert applied["navigations"] == 1, "the page was reloaded"
    assert step(lines, "sort")["ariaSort"] == "ascending"
    assert step(lines, "done")["consoleErrors"] == []
    for name in ("01-sign-in", "02-instances", "03-instances-narrow", "04-modify-dialog",
                 "05-pending", "06-applied"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 1000, name

    # The server's state changed, as any client sees it.
    mo = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert (mo["State"], mo["HttpTokens"], mo["HttpPutResponseHopLimit"], mo["HttpEndpoint"]) == (
        "applied", "optional", 3, "enabled")


@pytest.fixture
def wildcard_console_server(tmp_path):
    """With `--iam-config`, the API on 0.0.0.0: `/metrics` needs a signed caller."""
    cfg = ih.write_iam_config(tmp_path / "iamcfg", [ROOT])
    yield from helpers.running(helpers.WildcardServer(tmp_path / "srv",
                                                      extra_args=["--iam-config", str(cfg)]))


def test_imdsv1_counts_show_where_metrics_need_a_signature(wildcard_console_server, tmp_path):
    """With `--iam-config` and the API off loopback, `/metrics` answers only a signed caller
    allowed `imds:GetMetrics`: the console read it unsigned and showed no IMDSv1 counts. It
    signs that read as it signs its other requests."""
    srv = wildcard_console_server
    ec2 = ih.Clients(srv, ROOT, region=helpers.DEFAULT_REGION).ec2()
    iid = default_instance(ec2)["InstanceId"]
    imdsv1_calls(srv, iid, 3)
    lines = drive("counts.mjs", browser_cfg(srv, tmp_path, ROOT.key, ROOT.secret, iid))
    assert step(lines, "row")["imdsv1"] == "3", lines
    assert step(lines, "done")["consoleErrors"] == []


DESCRIBE_ONLY = ih.doc(
    {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
    {"Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*"})


def test_console_is_denied_what_iam_denies(console_server, tmp_path):
    root = ih.Clients(console_server, ROOT, region=helpers.DEFAULT_REGION)
    ec2 = root.ec2()
    before = default_instance(ec2)
    _, viewer = ih.make_user(root.iam(), "console-viewer", [DESCRIBE_ONLY])
    # What the aws CLI would be told with a wrong secret.
    wrong = ih.Clients(console_server, ih.Creds(viewer.key, viewer.secret + "x"),
                       region=helpers.DEFAULT_REGION).ec2()
    with pytest.raises(ih.ClientError) as bad:
        wrong.describe_instances()
    bad_code = bad.value.response["Error"]["Code"]

    lines = drive("deny.mjs", browser_cfg(console_server, tmp_path, viewer.key, viewer.secret,
                                          before["InstanceId"], prefix="deny-"))

    refused = step(lines, "bad-secret")
    assert refused["text"].startswith(bad_code + ":"), (bad_code, refused)
    assert refused["stillSignIn"]
    denied = step(lines, "denied")
    assert denied["text"].startswith("UnauthorizedOperation:"), denied
    assert "not allowed" in denied["text"], "the code is explained in words"
    assert denied["dialogOpen"], "the dialog stays open to show the error"
    # The browser itself logs the refused requests; nothing else may go wrong on the page.
    errors = step(lines, "done")["consoleErrors"]
    assert all(e.startswith("Failed to load resource: the server responded with a status of 4")
               for e in errors), errors
    after = default_instance(ec2)
    assert after["MetadataOptions"] == before["MetadataOptions"], "a denied change was made"


def test_account_imds_defaults_in_the_console(console_server, tmp_path):
    ec2 = ih.Clients(console_server, ROOT, region=helpers.DEFAULT_REGION).ec2()
    iid = default_instance(ec2)["InstanceId"]
    lines = drive("defaults.mjs", browser_cfg(console_server, tmp_path, ROOT.key, ROOT.secret, iid))

    assert step(lines, "loaded") == {"step": "loaded", "tokens": "no-preference", "hop": "",
                                     "current": "page"}
    assert step(lines, "saved") == {"step": "saved", "tokens": "required", "hop": "2",
                                    "enforced": "enabled"}
    assert step(lines, "done")["consoleErrors"] == []
    level = ec2.get_instance_metadata_defaults()["AccountLevel"]
    assert (level["HttpTokens"], level["HttpPutResponseHopLimit"], level["HttpTokensEnforced"]) == (
        "required", 2, "enabled"), level

    # And launch again: the launch page now shows the account's new defaults, even for an
    # image without ImdsSupport, and the instance gets them.
    lines = drive("launch.mjs", {**browser_cfg(console_server, tmp_path, ROOT.key, ROOT.secret, iid),
                                 "amiV2": helpers.AMI_AL2023, "amiPlain": helpers.AMI_AL2})
    assert step(lines, "plain") == {"step": "plain", "endpoint": "enabled", "tokens": "required",
                                    "hop": "2", "tags": "disabled"}
    launched = step(lines, "launched")
    assert (launched["tokens"], launched["hop"]) == ("required", "2")
    mo = ec2.describe_instances(InstanceIds=[launched["id"]])["Reservations"][0]["Instances"][0][
        "MetadataOptions"]
    assert (mo["HttpTokens"], mo["HttpPutResponseHopLimit"]) == ("required", 2), mo


def test_launch_instance_with_advanced_details(console_server, tmp_path):
    ec2 = ih.Clients(console_server, ROOT, region=helpers.DEFAULT_REGION).ec2()
    iid = default_instance(ec2)["InstanceId"]
    ec2.modify_instance_metadata_defaults(HttpPutResponseHopLimit=3)  # the account's default
    cfg = browser_cfg(console_server, tmp_path, ROOT.key, ROOT.secret, iid)
    lines = drive("launch.mjs", {**cfg, "amiV2": helpers.AMI_AL2023, "amiPlain": helpers.AMI_AL2})

    # Shown: what the launch resolves to (account hop 3 wins over the image's 2; the v2.0
    # image makes tokens required; EC2's defaults for the rest).
    assert step(lines, "plain") == {"step": "plain", "endpoint": "enabled", "tokens": "optional",
                                    "hop": "3", "tags": "disabled"}
    assert step(lines, "v2") == {"step": "v2", "endpoint": "enabled", "tokens": "required",
                                 "hop": "3", "tags": "disabled"}
    launched = step(lines, "launched")
    assert (launched["tokens"], launched["hop"], launched["tags"]) == ("required", "3", "enabled")
    assert step(lines, "done")["consoleErrors"] == []
    inst = ec2.describe_instances(InstanceIds=[launched["id"]])["Reservations"][0]["Instances"][0]
    mo = inst["MetadataOptions"]
    assert (inst["ImageId"], mo["HttpTokens"], mo["HttpPutResponseHopLimit"],
            mo["InstanceMetadataTags"]) == (helpers.AMI_AL2023, "required", 3, "enabled")
    assert {"Key": "Name", "Value": "console-launched"} in inst["Tags"]


def test_endpoint_turned_off_in_the_console_is_off_for_the_instance(console_server, tmp_path):
    """Issue 6: turn the endpoint off in the console and check, through the metadata service
    itself, that it now answers 403 (spec imds.md: IMDS turned off)."""
    ec2 = ih.Clients(console_server, ROOT, region=helpers.DEFAULT_REGION).ec2()
    iid = default_instance(ec2)["InstanceId"]
    imds = imds_helpers.imds_address(console_server)

    def status() -> int:
        conn = http.client.HTTPConnection(imds, timeout=10)
        try:
            conn.request("PUT", "/latest/api/token",
                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
            return conn.getresponse().status
        finally:
            conn.close()

    assert status() == 200, "the metadata service is on before the change"
    lines = drive("endpoint.mjs", browser_cfg(console_server, tmp_path, ROOT.key, ROOT.secret, iid))
    assert step(lines, "keyboard")["focusedItem"] == "menuitem", "ArrowDown did not open the menu"
    assert step(lines, "applied")["endpoint"] == "disabled"
    assert step(lines, "done")["consoleErrors"] == []
    assert status() == 403, "the metadata service still answers after the console turned it off"
    mo = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert (mo["State"], mo["HttpEndpoint"]) == ("applied", "disabled")


def test_imdsv2_migration_page(console_server, tmp_path):
    """Issue 15: the Instances page's "IMDSv1 callers" panel of an instance; the "IMDSv2
    migration" page judges the fleet by its traffic, shows a blocked instance's IMDSv1
    callers, and requires IMDSv2 on the safe ones after a confirmation."""
    root = ih.Clients(console_server, ROOT, region=helpers.DEFAULT_REGION)
    ec2 = root.ec2()
    ids = [ec2.run_instances(ImageId=helpers.AMI_AL2, InstanceType="t3.micro", MinCount=1,
                             MaxCount=1)["Instances"][0]["InstanceId"] for _ in range(3)]
    safe, blocked, unknown = ids
    for iid in ids:
        helpers.wait_state(ec2, iid, "running")
    # Traffic through each instance's own loopback endpoint (signed: --iam-config).
    from test_migrate import endpoint_of_signed
    addr = endpoint_of_signed(console_server, ROOT, blocked)
    assert imds_helpers.get(addr, "/latest/meta-data/").status == 200
    addr = endpoint_of_signed(console_server, ROOT, safe)
    assert imds_helpers.get(addr, "/latest/meta-data/", imds_helpers.token(addr)).status == 200
    cfg = {**browser_cfg(console_server, tmp_path, ROOT.key, ROOT.secret, safe),
           "safe": safe, "blocked": blocked, "unknown": unknown}
    lines = drive("migration.mjs", cfg)
    assert step(lines, "verdicts") == {"step": "verdicts", "safe": "safe", "blocked": "blocked",
                                       "unknown": "unknown"}
    panel = step(lines, "panel")["items"]
    assert len(panel) == 1 and "1 call" in panel[0] and "/latest/meta-data/" in panel[0], panel
    assert step(lines, "panel-closed")["focus"] == "actions-button"
    callers = step(lines, "callers")
    assert callers["summary"] == "IMDSv1 callers (1)" and "1 call" in callers["items"][0], callers
    assert step(lines, "button")["text"] == "Require IMDSv2 on 1 safe instance…"
    assert safe in step(lines, "confirm")["text"]
    applied = step(lines, "applied")
    assert applied["status"] == "IMDSv2 required on 1 of 1 safe instances (0 failed)."
    assert (applied["safe"], applied["blocked"]) == ("done", "blocked")
    assert step(lines, "done")["consoleErrors"] == []
    tokens = {iid: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "MetadataOptions"]["HttpTokens"] for iid in ids}
    assert tokens == {safe: "required", blocked: "optional", unknown: "optional"}
