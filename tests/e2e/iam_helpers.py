"""Helpers for the IAM / STS / authorization suites (test_iam_api.py, test_iam_spec.py,
test_iam_guardrails.py).

* `Acct` / `write_iam_config` / `iam_server`: accounts (root keys, SCPs as one level, SCP
  levels root → OUs → account, management account) written as the `--iam-config` TOML and a
  real `imds serve` started with it;
* `Clients`: boto3 EC2 / IAM / STS clients for one set of credentials (root keys, IAM user
  keys, or temporary credentials with a session token), retries off, IMDS lookups off;
* `make_role` / `make_user` / `assume`: principals built through the IAM API and STS;
* `unauthorized`: asserts an EC2 denial (403 UnauthorizedOperation) and the message form of
  spec iam.md §5 (read actions: the bare sentence; mutating actions: an encoded message);
* `sim_custom` / `sim_principal`: IAM policy simulator decisions;
* `instance_credentials`: role credentials fetched from inside an instance with `imds exec`
  (curl at 169.254.169.254 in the instance's network namespace, never from this process),
  with (IMDSv2) or without (IMDSv1) a token.

Everything talks to 127.0.0.1 only.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import helpers
from helpers import AMI_AL2, REGION

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

UNAUTHORIZED = "You are not authorized to perform this operation."
# spec iam.md §5: "You are not authorized to perform this operation. [User: <arn> is not
# authorized to perform: <action> on resource: <arn> <reason>. ]Encoded authorization failure
# message: <token>"
MUTATING_RE = re.compile(
    r"^You are not authorized to perform this operation\. "
    r"(?:User: (?P<principal>\S+) is not authorized to perform: (?P<action>\S+) "
    r"on resource: (?P<resource>\S+) (?P<reason>.+?)\.? )?"
    r"Encoded authorization failure message: (?P<token>\S+)$",
    re.S,
)

FULL_ACCESS = {"Version": "2012-10-17",
               "Statement": [{"Sid": "FullAWSAccess", "Effect": "Allow", "Action": "*",
                              "Resource": "*"}]}
ALLOW_EC2 = {"Sid": "AllowEc2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def dumps(policy: dict | str) -> str:
    return policy if isinstance(policy, str) else json.dumps(policy)


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------------------
# Accounts and the server
# --------------------------------------------------------------------------------------


@dataclass
class Acct:
    id: str
    key: str
    secret: str
    scps: list[dict] = field(default_factory=list)  # one level
    scp_levels: list[list[dict]] | None = None  # root → OUs → account
    management: bool = False
    declarative: list[dict] = field(default_factory=list)  # EC2 declarative policies, one level
    declarative_levels: list[list[dict]] | None = None  # root → OUs → account


def write_iam_config(d: Path, accounts: Iterable[Acct]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for a in accounts:
        out.append("[[accounts]]")
        out.append(f'id = "{a.id}"')
        out.append(f'root_access_key_id = "{a.key}"')
        out.append(f'root_secret_access_key = "{a.secret}"')
        if a.scps:
            names = []
            for i, p in enumerate(a.scps):
                name = f"scp-{a.id}-{i}.json"
                (d / name).write_text(json.dumps(p))
                names.append(name)
            out.append("scps = [" + ", ".join(f'"{n}"' for n in names) + "]")
        if a.scp_levels is not None:
            levels = []
            for li, level in enumerate(a.scp_levels):
                names = []
                for i, p in enumerate(level):
                    sub = d / "levels"
                    sub.mkdir(exist_ok=True)
                    name = f"levels/scp-{a.id}-l{li}-{i}.json"
                    (d / name).write_text(json.dumps(p))
                    names.append(name)
                levels.append("[" + ", ".join(f'"{n}"' for n in names) + "]")
            out.append("scp_levels = [" + ", ".join(levels) + "]")
        if a.management:
            out.append("management_account = true")
        for key, levels in (("declarative_policies", [a.declarative] if a.declarative else None),
                            ("declarative_policy_levels", a.declarative_levels)):
            if levels is None:
                continue
            names_by_level = []
            for li, level in enumerate(levels):
                names = []
                for i, p in enumerate(level):
                    name = f"dp-{a.id}-{key}-{li}-{i}.json"
                    (d / name).write_text(json.dumps(p))
                    names.append(f'"{name}"')
                names_by_level.append("[" + ", ".join(names) + "]")
            value = names_by_level[0] if key == "declarative_policies" else \
                "[" + ", ".join(names_by_level) + "]"
            out.append(f"{key} = {value}")
        out.append("")
    cfg = d / "iam.toml"
    cfg.write_text("\n".join(out))
    return cfg


def iam_server(workdir: Path, accounts: Iterable[Acct], *, data_dir: Path | None = None,
               **kw) -> helpers.ImdsServer:
    """A started `imds serve --iam-config` (the caller stops it)."""
    cfg = write_iam_config(workdir / "iamcfg", accounts)
    srv = helpers.ImdsServer(workdir / "srv", data_dir=data_dir,
                             extra_args=["--iam-config", str(cfg)], **kw)
    srv.start()
    return srv


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


def _cfg(validate: bool = True) -> Config:
    return Config(retries={"total_max_attempts": 1}, parameter_validation=validate,
                  connect_timeout=10, read_timeout=60)


@dataclass
class Creds:
    key: str
    secret: str
    token: str | None = None

    @classmethod
    def of(cls, c: dict) -> "Creds":
        """From an STS `Credentials` dict or an IMDS credentials document."""
        return cls(c["AccessKeyId"], c["SecretAccessKey"], c.get("SessionToken") or c.get("Token"))


class Clients:
    """boto3 clients of one principal on one server."""

    def __init__(self, srv: helpers.ImdsServer, creds: Creds | Acct, region: str = REGION):
        if isinstance(creds, Acct):
            creds = Creds(creds.key, creds.secret)
        self.srv, self.creds, self.region = srv, creds, region
        self.session = boto3.session.Session(
            aws_access_key_id=creds.key, aws_secret_access_key=creds.secret,
            aws_session_token=creds.token, region_name=region)

    def ec2(self, region: str | None = None, validate: bool = True):
        return self.session.client("ec2", endpoint_url=self.srv.endpoint,
                                   region_name=region or self.region, config=_cfg(validate))

    def iam(self, validate: bool = True):
        """IAM client; every response is held to botocore's IAM model (element names,
        <member> lists, scalar types, the ErrorResponse envelope)."""
        c = self.session.client("iam", endpoint_url=self.srv.endpoint,
                                region_name="us-east-1", config=_cfg(validate))
        install_model_check(c, "iam")
        return c

    def sts(self, validate: bool = True):
        c = self.session.client("sts", endpoint_url=self.srv.endpoint,
                                region_name="us-east-1", config=_cfg(validate))
        install_model_check(c, "sts")
        return c


# --------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------


def trust_account(acct_id: str) -> dict:
    return doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct_id}:root"},
                "Action": "sts:AssumeRole"})


def trust_ec2() -> dict:
    return doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole"})


def make_role(iam, name: str, acct_id: str, policies: Iterable[dict] = (),
              trust: dict | None = None, managed: Iterable[str] = (),
              boundary: str | None = None, max_session: int | None = None) -> str:
    """Create role `name` (trusting the account by default) with inline `policies`
    (named p0, p1, ...) and attached `managed` ARNs; returns the role ARN."""
    kw: dict[str, Any] = {"RoleName": name,
                          "AssumeRolePolicyDocument": dumps(trust or trust_account(acct_id))}
    if max_session:
        kw["MaxSessionDuration"] = max_session
    arn = iam.create_role(**kw)["Role"]["Arn"]
    for i, p in enumerate(policies):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=dumps(p))
    for m in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=m)
    if boundary:
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    return arn


def make_user(iam, name: str, policies: Iterable[dict] = (), managed: Iterable[str] = ()
              ) -> tuple[str, Creds]:
    """Create user `name` with inline `policies` and an access key; (user ARN, Creds)."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    for i, p in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=dumps(p))
    for m in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=m)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, Creds(k["AccessKeyId"], k["SecretAccessKey"])


def assume(sts, role_arn: str, session: str = "s1", **kw) -> Creds:
    r = sts.assume_role(RoleArn=role_arn, RoleSessionName=session, **kw)
    return Creds.of(r["Credentials"])


def instance_profile(iam, name: str, role: str) -> str:
    arn = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return arn


# --------------------------------------------------------------------------------------
# EC2 calls and their denials
# --------------------------------------------------------------------------------------


def launch(ec2, image: str = AMI_AL2, **kw) -> dict:
    params = {"ImageId": image, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1}
    params.update(kw)
    if params.get("ImageId") is None:
        del params["ImageId"]
    if params.get("InstanceType") is None:
        del params["InstanceType"]
    return ec2.run_instances(**params)["Instances"][0]


def error_of(e: ClientError) -> tuple[str, int, str]:
    r = e.response
    return (r.get("Error", {}).get("Code"), r.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            r.get("Error", {}).get("Message") or "")


@dataclass
class Denial:
    message: str
    token: str | None = None
    principal: str | None = None
    action: str | None = None
    resource: str | None = None
    reason: str | None = None


@contextlib.contextmanager
def unauthorized(mutating: bool = True, reason: str | None = None):
    """Assert the block raises EC2's 403 UnauthorizedOperation with the message form of spec
    iam.md §5; yields a Denial filled in after the block."""
    out = Denial("")
    with pytest.raises(ClientError) as excinfo:
        yield out
    code, status, msg = error_of(excinfo.value)
    assert (code, status) == ("UnauthorizedOperation", 403), (code, status, msg)
    out.message = msg
    if not mutating:
        assert msg == UNAUTHORIZED, f"read action: expected the bare sentence, got {msg!r}"
        return
    m = MUTATING_RE.match(msg)
    assert m, f"mutating action: message {msg!r} lacks the encoded authorization failure form"
    out.token = m.group("token")
    out.principal, out.action = m.group("principal"), m.group("action")
    out.resource, out.reason = m.group("resource"), m.group("reason")
    if reason is not None:
        assert reason in msg, f"expected reason {reason!r} in {msg!r}"


@contextlib.contextmanager
def client_error(code: str, status: int, message: str | None = None,
                 message_re: str | None = None):
    with pytest.raises(ClientError) as excinfo:
        yield excinfo
    got_code, got_status, msg = error_of(excinfo.value)
    assert (got_code, got_status) == (code, status), (
        f"expected {code}/{status}, got {got_code}/{got_status}: {msg!r}")
    if message is not None:
        assert msg == message, f"message {msg!r} != {message!r}"
    if message_re is not None:
        assert re.search(message_re, msg), f"message {msg!r} !~ {message_re!r}"


def dry_run_ok(fn, **kw) -> None:
    with client_error("DryRunOperation", 412, helpers.DRY_RUN_MESSAGE):
        fn(DryRun=True, **kw)


def decode(sts, token: str) -> dict:
    return json.loads(sts.decode_authorization_message(EncodedMessage=token)["DecodedMessage"])


# --------------------------------------------------------------------------------------
# Policy simulator
# --------------------------------------------------------------------------------------


def ctx(pairs: dict) -> list[dict]:
    """ContextEntries from {"ec2:MetadataHttpTokens": "optional", "k": (value, "numeric")};
    Python numbers become numeric entries."""
    out = []
    for k, v in pairs.items():
        if isinstance(v, tuple):  # (value, type)
            out.append({"ContextKeyName": k, "ContextKeyValues": [str(v[0])],
                        "ContextKeyType": v[1]})
        else:
            kind = "numeric" if isinstance(v, (int, float)) else "string"
            out.append({"ContextKeyName": k, "ContextKeyValues": [str(v)],
                        "ContextKeyType": kind})
    return out


def _one(resp: dict, action: str, resource: str) -> dict:
    results = resp["EvaluationResults"]
    assert len(results) == 1, results
    r = results[0]
    assert r["EvalActionName"].lower() == action.lower(), r
    assert r.get("EvalResourceName") == resource, r
    assert r["EvalDecision"] in ("allowed", "explicitDeny", "implicitDeny"), r
    return r


def sim_custom(iam, policies: Iterable[dict], action: str, resource: str = "*",
               context_keys: dict | None = None, boundary: Iterable[dict] = ()) -> str:
    kw: dict[str, Any] = {"PolicyInputList": [dumps(p) for p in policies],
                          "ActionNames": [action], "ResourceArns": [resource]}
    if context_keys:
        kw["ContextEntries"] = ctx(context_keys)
    b = [dumps(p) for p in boundary]
    if b:
        kw["PermissionsBoundaryPolicyInputList"] = b
    return _one(iam.simulate_custom_policy(**kw), action, resource)["EvalDecision"]


def sim_principal(iam, source_arn: str, action: str, resource: str = "*",
                  context_keys: dict | None = None, full: bool = False):
    kw: dict[str, Any] = {"PolicySourceArn": source_arn, "ActionNames": [action],
                          "ResourceArns": [resource]}
    if context_keys:
        kw["ContextEntries"] = ctx(context_keys)
    r = _one(iam.simulate_principal_policy(**kw), action, resource)
    return r if full else r["EvalDecision"]


# --------------------------------------------------------------------------------------
# Instance role credentials through the metadata service (imds exec)
# --------------------------------------------------------------------------------------


def exec_unavailable() -> str | None:
    if os.geteuid() != 0:
        return ("imds exec needs root (network namespaces): run the suite as root to fetch "
                "instance role credentials from inside an instance")
    if not shutil.which("curl"):
        return "curl is not installed (apt-get install curl)"
    return None


HOST_NETNS = os.readlink("/proc/self/ns/net")
NS_GUARD = (
    f'[ "$(readlink /proc/self/ns/net)" != "{HOST_NETNS}" ] || '
    '{ echo "imds exec: COMMAND runs in the host network namespace" >&2; exit 97; }; '
)


def instance_credentials(srv: helpers.ImdsServer, signer: Acct, iid: str, role: str, v2: bool,
                         region: str = REGION) -> dict:
    """The role credentials document the instance gets at
    /latest/meta-data/iam/security-credentials/<role>, fetched from inside the instance
    (IMDSv2 with a token, IMDSv1 without)."""
    path = f"http://169.254.169.254/latest/meta-data/iam/security-credentials/{role}"
    if v2:
        script = (f'T=$(curl -sf --noproxy "*" -m 5 -X PUT '
                  f'-H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
                  f'http://169.254.169.254/latest/api/token) && '
                  f'curl -sf --noproxy "*" -m 5 -H "X-aws-ec2-metadata-token: $T" {path}')
    else:
        script = f'curl -sf --noproxy "*" -m 5 {path}'
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy",
                                                             "all_proxy", "no_proxy")}
    env.update({"AWS_ACCESS_KEY_ID": signer.key, "AWS_SECRET_ACCESS_KEY": signer.secret,
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--endpoint", srv.endpoint, "--region", region,
                        "--instance", iid, "--", "sh", "-c", NS_GUARD + script],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode != 97, f"imds exec did not enter a network namespace: {p.stderr!r}"
    assert p.returncode == 0, f"fetching role credentials failed: {p}"
    c = json.loads(p.stdout)
    assert c.get("Code") == "Success", c
    assert {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} <= set(c), c
    return c


def running_with_profile(ec2, profile: str, **kw) -> str:
    """Launch with IamInstanceProfile={"Name": profile}; wait until running; the instance
    reports the profile (DescribeInstances IamInstanceProfile.Arn)."""
    iid = launch(ec2, IamInstanceProfile={"Name": profile}, **kw)["InstanceId"]
    inst = helpers.wait_state(ec2, iid, "running")
    arn = (inst.get("IamInstanceProfile") or {}).get("Arn", "")
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:instance-profile/{re.escape(profile)}", arn), inst
    return iid


# --------------------------------------------------------------------------------------
# Hand-signed requests (any credentials, any date)
# --------------------------------------------------------------------------------------


def signed_request(srv: helpers.ImdsServer, creds: Creds, params: dict, *,
                   service: str = "ec2", region: str = REGION, when=None, query: bool = False,
                   expires: int = 300, token_override: str | None = None) -> helpers.RawResponse:
    """Send one Query request signed by botocore's SigV4 with `creds` (session token
    included and signed when present). `when` (naive UTC) fixes X-Amz-Date; with
    `token_override` the X-Amz-Security-Token sent differs from the signed one."""
    import http.client
    import urllib.parse
    from unittest import mock

    import botocore.auth
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = urllib.parse.urlencode(params)
    url = srv.endpoint + "/"
    if query:
        req = AWSRequest(method="GET", url=url + "?" + body)
    else:
        req = AWSRequest(method="POST", url=url, data=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    bc = Credentials(creds.key, creds.secret, creds.token)
    signer = (SigV4QueryAuth(bc, service, region, expires=expires) if query
              else SigV4Auth(bc, service, region))
    if when is None:
        signer.add_auth(req)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
            signer.add_auth(req)
    headers = dict(req.headers.items())
    target = req.url
    if token_override is not None:
        if query:
            target = target.replace(urllib.parse.quote(creds.token, safe=""),
                                    urllib.parse.quote(token_override, safe=""))
        else:
            headers["X-Amz-Security-Token"] = token_override
    parts = urllib.parse.urlsplit(target)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + ("?" + parts.query if parts.query else "")
        conn.request(req.method, path, body=None if query else req.body, headers=headers)
        r = conn.getresponse()
        hl = r.getheaders()
        return helpers.RawResponse(r.status, r.reason, {k.lower(): v for k, v in hl}, r.read(), hl)
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# botocore model check for IAM / STS responses (awsQuery protocol)
# --------------------------------------------------------------------------------------

import xml.etree.ElementTree as _ET  # noqa: E402

_QUERY_NS = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/",
             "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
# Enums the service does not keep to (botocore does not check output enums): IAM sends
# SourcePolicyType "IAM Policy" / "Resource Policy" (the SimulatePrincipalPolicy reference's
# sample responses, observed CLI output) and PermissionsBoundaryType "Policy" (observed
# get-user/get-role output), not the model's PolicySourceType / PermissionsBoundaryPolicy.
_LAX_ENUMS = frozenset({"PolicySourceType", "PermissionsBoundaryAttachmentType"})


def _walk_query(elem, shape, path: str, out: list[str]) -> None:
    t = shape.type_name
    if t == "structure":
        by_xml = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        seen = set()
        for child in elem:
            name = helpers.local(child.tag)
            if name not in by_xml:
                out.append(f"{path}/{name}: not a member of {shape.name} ({sorted(by_xml)})")
                continue
            if name in seen and by_xml[name].type_name != "list":
                out.append(f"{path}/{name}: repeated")
            seen.add(name)
            _walk_query(child, by_xml[name], f"{path}/{name}", out)
    elif t == "list":
        member_name = shape.member.serialization.get("name", "member")
        for i, child in enumerate(elem):
            if helpers.local(child.tag) != member_name:
                out.append(f"{path}/{helpers.local(child.tag)}: list items must be <{member_name}>")
                continue
            _walk_query(child, shape.member, f"{path}/{member_name}[{i}]", out)
    elif t == "map":
        for entry in elem:
            if helpers.local(entry.tag) != "entry":
                out.append(f"{path}/{helpers.local(entry.tag)}: map items must be <entry>")
    else:
        helpers.scalar_violations(elem, shape, path, out, _LAX_ENUMS)


def query_model_violations(service: str, model, status: int, body: bytes) -> list[str]:
    ns = _QUERY_NS[service]
    try:
        root = _ET.fromstring(body)
    except _ET.ParseError as e:
        return [f"body is not XML ({e}): {body[:300]!r}"]
    out: list[str] = []
    if status >= 300:
        if helpers.local(root.tag) != "ErrorResponse":
            out.append(f"error root is {root.tag!r}, expected ErrorResponse")
            return out
        errs = [c for c in root if helpers.local(c.tag) == "Error"]
        if len(errs) != 1:
            out.append(f"expected one Error element, got {len(errs)}")
        else:
            f = {helpers.local(c.tag): (c.text or "") for c in errs[0]}
            if not f.get("Code"):
                out.append("error without Code")
            if f.get("Type") not in ("Sender", "Receiver"):
                out.append(f"error Type {f.get('Type')!r} is not Sender/Receiver")
        if not any(helpers.local(c.tag) == "RequestId" and (c.text or "").strip() for c in root):
            out.append("error without RequestId")
        return out
    name = model.name
    if root.tag != f"{{{ns}}}{name}Response":
        out.append(f"root is {root.tag!r}, expected {{{ns}}}{name}Response")
    kids = [helpers.local(c.tag) for c in root]
    shape = model.output_shape
    want = ([f"{name}Result"] if shape is not None else []) + ["ResponseMetadata"]
    if kids != want:
        out.append(f"children {kids}, expected {want}")
    for c in root:
        if helpers.local(c.tag) == f"{name}Result" and shape is not None:
            _walk_query(c, shape, f"/{name}Result", out)
        elif helpers.local(c.tag) == "ResponseMetadata":
            rid = [x for x in c if helpers.local(x.tag) == "RequestId"]
            if not rid or not (rid[0].text or "").strip():
                out.append("ResponseMetadata without RequestId")
    return out


def install_model_check(client, service: str) -> None:
    def hook(http_response, model, **_):
        problems = query_model_violations(service, model, http_response.status_code,
                                          http_response.content)
        if problems:
            raise AssertionError(f"{model.name} response does not match botocore's {service} "
                                 "model:\n  " + "\n  ".join(problems[:20])
                                 + f"\nbody: {http_response.content[:2000]!r}")
    client.meta.events.register(f"after-call.{service}", hook)
