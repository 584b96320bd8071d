//! `imds bench authz`: what authorization costs, measured against the same API without it.
//!
//! Two measurements in one run:
//! - the decision alone: `authz::Authorization` of a launch (its checks, then the decision) (six resource checks: image,
//!   instance, network interface, security group, subnet, volume) by a user whose identity
//!   policies carry the EC2 guide's metadata guardrails, under two levels of SCPs, from the
//!   policies parsed when they were written;
//! - whole requests over loopback (keep-alive connections, SigV4-signed): the API with
//!   `--iam-config` (signature verified, caller's policies evaluated) against the same API
//!   open (the baseline: any signature accepted, nothing evaluated), for a `DescribeInstances`
//!   and a `RunInstances` with `DryRun` (authorized, answered `DryRunOperation`, nothing written).

use crate::app::{App, Settings};
use ec2api::auth::Caller;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ACCOUNT: &str = model::DEFAULT_ACCOUNT;
const ROOT_KEY: &str = "AKIABENCHROOT0000001";
const ROOT_SECRET: &str = "bench/root/secret/000000000000000000000001";

/// The guardrails of the EC2 guide (spec iam.md §3 A–E), and statements that match nothing,
/// as a real account's policies would carry.
fn user_policies() -> Vec<String> {
    let guardrails = r#"{"Version":"2012-10-17","Statement":[
      {"Sid":"RequireImdsV2","Effect":"Deny","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:MetadataHttpTokens":"required"}}},
      {"Sid":"MaxHopLimit","Effect":"Deny","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"NumericGreaterThan":{"ec2:MetadataHttpPutResponseHopLimit":"3"}}},
      {"Sid":"NoV1Back","Effect":"Deny","Action":"ec2:ModifyInstanceMetadataOptions","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:Attribute/HttpTokens":"required"},"Null":{"ec2:Attribute/HttpTokens":"false"}}},
      {"Sid":"AdminsOnly","Effect":"Deny","Action":"ec2:ModifyInstanceMetadataDefaults","Resource":"*","Condition":{"StringNotLike":{"aws:PrincipalARN":"arn:aws:iam::*:role/ec2-imds-admins"}}},
      {"Sid":"V2Credentials","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"ec2:RoleDelivery":"2.0"}}},
      {"Sid":"Ec2","Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
    let filler: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"Sid":"S{i}","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{i}/*","Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"t{i}"}}}}}}"#))
        .collect();
    vec![
        guardrails.to_string(),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            filler.join(",")
        ),
    ]
}

fn full_access_scp() -> serde_json::Value {
    serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})
}

struct Measure {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

/// One request and its answer on a keep-alive connection; the status code.
async fn roundtrip(s: &mut TcpStream, req: &[u8], buf: &mut Vec<u8>) -> std::io::Result<u16> {
    s.write_all(req).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Ok(head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0));
    }
}

/// `connections` keep-alive clients sending `req` for `seconds`; `want` is the status that
/// counts as success.
async fn load(
    addr: SocketAddr,
    req: Arc<Vec<u8>>,
    want: u16,
    connections: usize,
    seconds: u64,
) -> Measure {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let req = req.clone();
            tokio::spawn(async move {
                let (mut lat, mut errors, mut buf) = (Vec::new(), 0u64, Vec::new());
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    return (lat, 1);
                };
                let _ = s.set_nodelay(true);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match roundtrip(&mut s, &req, &mut buf).await {
                        Ok(code) if code == want => lat.push(t.elapsed()),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let (all, errors) = super::latency::gather(tasks).await;
    Measure {
        rps: all.len() as f64 / start.elapsed().as_secs_f64(),
        p50_us: super::latency::quantile(&all, 0.5) * 1e6,
        p99_us: super::latency::quantile(&all, 0.99) * 1e6,
        errors,
    }
}

/// A POST signed by `key` (any key works on the open API).
fn signed_request(key: &str, secret: &str, body: &str) -> Arc<Vec<u8>> {
    let host = "ec2.us-east-1.amazonaws.com";
    let (amz, auth) =
        sigv4::sign_form_post(key, secret, model::DEFAULT_REGION, host, body.as_bytes());
    let headers = [
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("host", host),
        ("x-amz-date", amz.as_str()),
    ];
    let mut out = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "authorization: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Arc::new(out.into_bytes())
}

pub async fn run(seconds: u64, connections: usize) -> Result<String, String> {
    let directory = Arc::new(iam::Directory::new(vec![iam::config::Account {
        id: ACCOUNT.into(),
        root_access_key_id: ROOT_KEY.into(),
        root_secret_access_key: ROOT_SECRET.into(),
        scp_levels: vec![
            vec![("root.json".into(), full_access_scp())],
            vec![("ou.json".into(), full_access_scp())],
        ],
        management_account: false,
        declarative_levels: vec![],
    }]));
    // Two whole servers, as `imds serve` assembles them: without and with IAM.
    let start = |directory: Option<Arc<iam::Directory>>| async move {
        let mut b = App::builder(Settings::ephemeral_on_port_zero());
        if let Some(d) = directory {
            b = b.iam_directory(d);
        }
        b.start().await.map_err(|e| e.to_string())
    };
    let open_app = start(None).await?;
    let guarded_app = start(Some(directory)).await?;
    let guarded = guarded_app.api().principals.clone();
    let key = guarded
        .change(ACCOUNT, |a| {
            a.create_user("bench", None, vec![], 0)?;
            for (i, p) in user_policies().iter().enumerate() {
                a.put_inline(iam::registry::Holder::User("bench"), &format!("p{i}"), p)?;
            }
            a.create_access_key("bench", 0)
        })
        .await
        .map_err(|e| e.to_string())?;

    // The decision alone.
    let caller = Caller {
        subject: iam::registry::Subject::User("bench".into()),
        arn: model::Arn::user(ACCOUNT, "/", "bench").to_string(),
        principal_arn: model::Arn::user(ACCOUNT, "/", "bench").to_string(),
        user_id: "AIDABENCH".into(),
        context: vec![("aws:username".into(), "bench".into())],
        ..Caller::root(
            ACCOUNT,
            Some(key.id.clone()),
            model::DEFAULT_REGION.into(),
            ec2api::Service::Ec2,
        )
    };
    let input = serde_json::json!({
        "ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "a"}]}],
    });
    let request = ec2api::actions::Request::parse(ec2api::actions::Action::RunInstances, input)
        .map_err(|e| e.to_string())?;
    let decide = || {
        ec2api::authz::Authorization::new(guarded.clone(), caller.clone(), None, &request)
            .decide(&[])
    };
    decide().map_err(|e| format!("the benchmark's launch should be allowed: {e}"))?;
    let rounds = 20_000u32;
    let t = Instant::now();
    for _ in 0..rounds {
        let _ = std::hint::black_box(decide());
    }
    let decision_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);

    // Whole requests.
    let (open_addr, guarded_addr) = (open_app.api_addr(), guarded_app.api_addr());
    let describe = "Action=DescribeInstances&Version=2016-11-15";
    let launch = "Action=RunInstances&Version=2016-11-15&DryRun=true&ImageId=ami-0abcdef1234567890&InstanceType=t3.micro&MinCount=1&MaxCount=1&MetadataOptions.HttpTokens=required";
    let mut rows = Vec::new();
    for (name, body, want) in [
        ("DescribeInstances", describe, 200u16),
        ("RunInstances DryRun (6 resource checks)", launch, 412),
    ] {
        let base = load(
            open_addr,
            signed_request("AKIAANYKEY0000000000", "any", body),
            want,
            connections,
            seconds,
        )
        .await;
        let with = load(
            guarded_addr,
            signed_request(&key.id, &key.secret, body),
            want,
            connections,
            seconds,
        )
        .await;
        rows.push((name, base, with));
    }
    open_app.stop().await;
    guarded_app.stop().await;

    let mut out = format!(
        "## imds bench authz\n\nOne authorization decision for a launch by a user with the EC2 guide's metadata guardrails and 20 unrelated statements, under two levels of SCPs (six resource checks, from pre-parsed policies): **{decision_us:.1} µs**.\n\nWhole requests, {connections} keep-alive connections, {seconds} s each, loopback, SigV4-signed. Baseline: the same API without `--iam-config` (signature not verified, nothing evaluated). Ratio = with IAM / baseline.\n\n| request | baseline req/s | baseline p50 µs | with IAM req/s | with IAM p50 µs | with IAM p99 µs | ratio | errors |\n|---|---|---|---|---|---|---|---|\n"
    );
    for (name, b, w) in rows {
        out.push_str(&format!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {} |\n",
            b.rps,
            b.p50_us,
            w.rps,
            w.p50_us,
            w.p99_us,
            w.rps / b.rps,
            b.errors + w.errors
        ));
    }
    Ok(out)
}
