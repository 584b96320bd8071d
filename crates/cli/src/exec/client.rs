//! What `imds exec`, `imds endpoint` and `imds stats` ask the running server: one HTTP/1.1
//! exchange per request on loopback, SigV4-signed with the credentials of the environment
//! (a server with `--iam-config` refuses unsigned requests).

use super::{EndpointArgs, ExecError};
use std::net::Ipv4Addr;

/// `POST`/`DELETE` `/_imds/netns/NAME` on the server.
pub(super) fn admin(endpoint: &str, method: &str, name: &str) -> Result<(), ExecError> {
    http(endpoint, method, &format!("/_imds/netns/{name}"), "").map(|_| ())
}

/// `GET path` on the server.
pub fn get(endpoint: &str, path: &str) -> Result<String, ExecError> {
    http(endpoint, "GET", path, "")
}

/// One HTTP/1.1 exchange with the server on loopback (no TLS, no redirects): the status
/// code and the body. `host` overrides the `Host` header; `extra` are more header lines.
fn request(
    endpoint: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    extra: &str,
    body: &str,
) -> Result<(String, String), ExecError> {
    exchange(endpoint, method, path, host, FORM, extra, body)
}

/// [`request`] with a body of `content_type`.
fn exchange(
    endpoint: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    content_type: &str,
    extra: &str,
    body: &str,
) -> Result<(String, String), ExecError> {
    use std::io::{Read, Write};
    let fail = |e: String| ExecError::Api(endpoint.to_string(), e);
    let hostport = host_of(endpoint);
    let mut s = std::net::TcpStream::connect(hostport).map_err(|e| fail(e.to_string()))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        host.unwrap_or(hostport),
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| fail(e.to_string()))?;
    let status = resp.split_whitespace().nth(1).unwrap_or("").to_string();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A request to the server's own endpoints (`/_imds/…`, `/metrics`): a 2xx or an error.
/// Signed when AWS credentials are in the environment: a server with `--iam-config` lets only
/// allowed callers use them (see the `admin` module).
pub(super) fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, ExecError> {
    let auth = signature_lines(model::DEFAULT_REGION, host_of(endpoint), method, path, body);
    let (status, body) = request(endpoint, method, path, None, &auth, body)?;
    if status.starts_with('2') {
        Ok(body)
    } else {
        Err(ExecError::Api(
            endpoint.to_string(),
            format!("{status}: {}", body.trim()),
        ))
    }
}

/// `host:port` of an `http://` endpoint.
fn host_of(endpoint: &str) -> &str {
    endpoint.trim_start_matches("http://").trim_end_matches('/')
}

/// The `X-Amz-Date`, `X-Amz-Security-Token` and `Authorization` header lines that sign a
/// request as [`request`] sends it (SigV4 for `ec2` in `region`), with the credentials of the
/// environment as the SDKs read them; none without credentials.
fn signature_lines(region: &str, host: &str, method: &str, target: &str, body: &str) -> String {
    signed_lines(
        region,
        "ec2",
        host,
        method,
        target,
        &[("content-type", FORM)],
        body,
    )
}

/// The same for `service`, `headers` (lower-case names, sent by the caller) signed too.
fn signed_lines(
    region: &str,
    service: &str,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let (Ok(key), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return String::new();
    };
    if key.is_empty() {
        return String::new();
    }
    let token = std::env::var("AWS_SESSION_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(t) = &token {
        headers.push(("x-amz-security-token".to_string(), t.clone()));
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let own = sigv4::OwnRequest {
        method,
        host,
        path,
        raw_query,
        headers,
        body: body.as_bytes(),
    };
    let (amz, value) = sigv4::sign_request(&key, &secret, region, service, &own);
    let token_line = token
        .map(|t| format!("X-Amz-Security-Token: {t}\r\n"))
        .unwrap_or_default();
    format!("X-Amz-Date: {amz}\r\n{token_line}Authorization: {value}\r\n")
}

/// An EC2 Query call in `region` (`Version` added; as the regional host, whose Region an
/// unsigned request takes), signed with the environment's credentials when it has them (a
/// server with `--iam-config` refuses unsigned requests): the status and the body, whatever
/// the status.
pub(crate) fn ec2_query(
    endpoint: &str,
    region: &str,
    body: &str,
) -> Result<(u16, String), ExecError> {
    let body = format!("Version=2016-11-15&{body}");
    let host = format!("ec2.{region}.amazonaws.com");
    let auth = signature_lines(region, &host, "POST", "/", &body);
    let (status, text) = request(endpoint, "POST", "/", Some(&host), &auth, &body)?;
    Ok((status.parse().unwrap_or(0), text))
}

/// A CloudWatch call in AWS JSON 1.0 (`X-Amz-Target`), signed for `monitoring` with the
/// environment's credentials: the status and the body.
pub(crate) fn cloudwatch_json(
    endpoint: &str,
    region: &str,
    operation: &str,
    body: &str,
) -> Result<(u16, String), ExecError> {
    let host = format!("monitoring.{region}.amazonaws.com");
    let target = format!("GraniteServiceVersion20100801.{operation}");
    let json = "application/x-amz-json-1.0";
    let signed = [("content-type", json), ("x-amz-target", target.as_str())];
    let auth = signed_lines(region, "monitoring", &host, "POST", "/", &signed, body);
    let extra = format!("X-Amz-Target: {target}\r\n{auth}");
    let (status, text) = exchange(endpoint, "POST", "/", Some(&host), json, &extra, body)?;
    Ok((status.parse().unwrap_or(0), text))
}

/// A JSON request to the server's own routes (`imds events`' controls), signed for `ec2`
/// with the environment's credentials when it has them: the status and the body, whatever
/// the status.
pub(crate) fn json_exchange(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), ExecError> {
    let json = "application/json";
    let host = host_of(endpoint);
    let auth = signed_lines(
        model::DEFAULT_REGION,
        "ec2",
        host,
        method,
        path,
        &[("content-type", json)],
        body,
    );
    let (status, text) = exchange(endpoint, method, path, None, json, &auth, body)?;
    Ok((status.parse().unwrap_or(0), text))
}

/// The text between the first `open` and the `close` after it.
pub(crate) fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// The instance's id and private address, through DescribeInstances: `instance`, or the
/// first running instance of `region`. A metadata host has no DescribeInstances: there the
/// instance must be named, and its address is what the host serves it at
/// (`/_imds/instances/{id}/address`).
pub(super) fn find_instance(
    endpoint: &str,
    instance: Option<&str>,
    region: &str,
) -> Result<(String, Ipv4Addr), ExecError> {
    let mut body =
        "Action=DescribeInstances&Filter.1.Name=instance-state-name&Filter.1.Value.1=running"
            .to_string();
    if let Some(id) = instance {
        body.push_str(&format!("&InstanceId.1={id}"));
    }
    let Some(xml) = ec2_call(endpoint, region, &body)? else {
        let id = instance.ok_or_else(|| {
            ExecError::Instance(format!(
                "{endpoint} has no EC2 API (a metadata host): name the instance with --instance"
            ))
        })?;
        let ip = get(endpoint, &format!("/_imds/instances/{id}/address"))?;
        let ip = ip
            .trim()
            .parse()
            .map_err(|_| ExecError::Instance(format!("instance {id} has no private address")))?;
        return Ok((id.to_string(), ip));
    };
    let item = between(&xml, "<instancesSet>", "</instancesSet>").ok_or_else(|| {
        ExecError::Instance(format!(
            "no running instance{} in {region}",
            instance.map(|i| format!(" {i}")).unwrap_or_default(),
        ))
    })?;
    let id = between(item, "<instanceId>", "</instanceId>")
        .unwrap_or_default()
        .to_string();
    let ip = between(item, "<privateIpAddress>", "</privateIpAddress>")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ExecError::Instance(format!("instance {id} has no private address")))?;
    Ok((id, ip))
}

/// The URL of the instance's own metadata endpoint (opened by the server if need be).
pub(super) fn instance_endpoint(
    endpoint: &str,
    instance_id: &str,
    port: Option<u16>,
    ipv6: bool,
) -> Result<String, ExecError> {
    let mut query = Vec::new();
    if let Some(p) = port {
        query.push(format!("port={p}"));
    }
    if ipv6 {
        query.push("ipv6=true".to_string());
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let url = http(
        endpoint,
        "GET",
        &format!("/_imds/instances/{instance_id}/endpoint{query}"),
        "",
    )?;
    Ok(url.trim().to_string())
}

/// `imds endpoint`: the URL, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
pub fn endpoint(args: EndpointArgs) -> Result<String, ExecError> {
    let api = args.server.api()?;
    let id = match &args.target.instance {
        // An id is passed through: the server answers for it (a stopped instance has an
        // endpoint too).
        Some(id) => id.clone(),
        None => find_instance(&api, None, &args.target.region)?.0,
    };
    instance_endpoint(&api, &id, args.port, args.ipv6)
}

/// An EC2 Query call in `region` ([`ec2_query`]); an EC2 error is reported as such, and
/// `None` is a node without an EC2 API (a metadata host, `--role metadata`, answers 404).
fn ec2_call(endpoint: &str, region: &str, body: &str) -> Result<Option<String>, ExecError> {
    let (status, resp) = ec2_query(endpoint, region, body)?;
    if let Some(code) = between(&resp, "<Code>", "</Code>") {
        let msg = between(&resp, "<Message>", "</Message>").unwrap_or("");
        return Err(ExecError::Instance(format!("{code}: {msg}")));
    }
    if status == 404 {
        return Ok(None);
    }
    Ok(Some(resp))
}
