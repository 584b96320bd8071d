"""The plugin's own tests: inner pytest sessions (pytester) with the installed plugin, each
starting its own server through the fixtures, as a user's project would.

Run from a venv that installed the built wheel (`scripts/wheel`; `scripts/test` does it):
`python -m pytest -p pytester python/tests`. Nothing here talks to anything but 127.0.0.1.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]


def test_the_binary_is_on_path_in_the_venv():
    """`pip install` of the wheel put `imds` beside this interpreter."""
    from imds_emulator import binary

    path = binary()
    assert shutil.which("imds") == path or path.startswith(sys.prefix), path
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("imds "), out


def test_the_options_are_registered(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--imds-iam-config=PATH*", "*--imds-apply-delay=DURATION*",
                                 "*--imds-spot-notice=DURATION*", "*--imds-bin=PATH*"])


def test_fixtures_end_to_end(pytester: pytest.Pytester):
    """A session's server, an instance with its own endpoint (IMDSv1 and v2), an instance
    launched with IMDSv2 required (indirect parametrization), `imds_env` for code that builds
    its own clients, and instances terminated after their tests."""
    pytester.makepyfile(test_user=textwrap.dedent('''
        import json, os, urllib.request
        import botocore.session
        import pytest

        seen = {}

        def test_an_instance_answers_as_itself(imds_instance):
            status, body = imds_instance.get("/latest/meta-data/instance-id")
            assert (status, body.decode()) == (200, imds_instance.id)
            token = imds_instance.token()
            assert imds_instance.get("/latest/meta-data/instance-id", token)[0] == 200
            seen["first"] = imds_instance.id

        @pytest.mark.parametrize("imds_instance",
                                 [{"MetadataOptions": {"HttpTokens": "required"}}],
                                 indirect=True)
        def test_imdsv2_required(imds_instance):
            assert imds_instance.get("/latest/meta-data/instance-id")[0] == 401
            token = imds_instance.token()
            assert imds_instance.get("/latest/meta-data/instance-id", token)[0] == 200
            assert imds_instance.describe()["MetadataOptions"]["HttpTokens"] == "required"

        def test_the_environment_reaches_the_server(imds_env, imds_server):
            # botocore from the environment alone: AWS_ENDPOINT_URL, keys, Region.
            ec2 = botocore.session.get_session().create_client("ec2")
            states = {i["InstanceId"]: i["State"]["Name"]
                      for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
            assert states[seen["first"]] in ("shutting-down", "terminated"), states
            assert os.environ["AWS_ENDPOINT_URL"] == imds_server.api_url

        def test_the_session_server_is_one(imds_server):
            seen.setdefault("servers", set()).add(imds_server.api_url)
            assert len(seen["servers"]) == 1
    '''))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=4)


def test_iam_config(pytester: pytest.Pytester):
    """With --imds-iam-config the server wants signatures: the fixtures sign with the first
    account's root key; an unsigned call is refused."""
    pytester.makefile(".toml", iam=textwrap.dedent('''
        [[accounts]]
        id = "111122223333"
        root_access_key_id = "AKIAIOSFODNN7EXAMPLE"
        root_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    '''))
    pytester.makepyfile(test_iam=textwrap.dedent('''
        import urllib.error, urllib.request

        def test_signed_fixtures_and_an_unsigned_refusal(imds_server, imds_instance):
            assert imds_instance.get("/latest/meta-data/instance-id")[0] == 200
            ec2 = imds_server.client("ec2")
            assert ec2.describe_instances()["Reservations"][0]["OwnerId"] == "111122223333"
            req = urllib.request.Request(imds_server.api_url + "/",
                                         data=b"Action=DescribeInstances&Version=2016-11-15")
            try:
                urllib.request.urlopen(req, timeout=10)
                raise AssertionError("an unsigned call was answered")
            except urllib.error.HTTPError as e:
                assert e.code in (400, 401, 403), e.code
    '''))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--imds-iam-config",
                                           str(pytester.path / "iam.toml"))
    result.assert_outcomes(passed=1)


def test_a_server_that_cannot_start_fails_the_fixture(pytester: pytest.Pytester):
    pytester.makepyfile(test_bad="def test_it(imds_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--imds-bin", "/bin/false")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*imds did not start*"])
