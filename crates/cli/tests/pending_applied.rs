//! `pending` → `applied` through the whole app on port 0, over real sockets: a modification is
//! answered `pending`, the previous options stay in force, the metadata host switches after
//! the apply delay, DescribeInstances then says `applied`, and the metadata service enforces
//! the new options.

use imds::app::{App, Settings};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 exchange on a fresh connection (both servers close or allow closing after
/// one): the status code and the body.
async fn exchange(addr: SocketAddr, request: String) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// An unsigned EC2 Query call (a server without `--iam-config` takes any caller as the root
/// of the default account).
async fn ec2(app: &App, params: &str) -> String {
    let body = format!("Version=2016-11-15&{params}");
    let (status, xml) = exchange(
        app.api_addr(),
        format!(
            "POST / HTTP/1.1\r\nHost: ec2.us-east-1.amazonaws.com\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(status, 200, "{params}: {xml}");
    xml
}

async fn metadata(app: &App, method: &str, path: &str, header: &str) -> (u16, String) {
    exchange(
        app.imds_addr(),
        format!("{method} {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n{header}\r\n"),
    )
    .await
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).expect(open) + open.len();
    let end = text[start..].find(close).expect(close) + start;
    &text[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modification_is_pending_until_the_host_switches_then_applied_and_enforced() {
    let settings = Settings {
        // Long enough that the checks made while pending cannot miss the window.
        apply_delay: Duration::from_secs(2),
        ..Settings::ephemeral_on_port_zero()
    };
    let app = App::builder(settings)
        .start()
        .await
        .expect("the app starts");

    // The first instance (a new store has one) is what a loopback caller is served as.
    let xml = ec2(&app, "Action=DescribeInstances").await;
    let id = between(&xml, "<instanceId>", "</instanceId>").to_string();
    let path = "/latest/meta-data/instance-id";
    assert_eq!(metadata(&app, "GET", path, "").await, (200, id.clone()));

    let xml = ec2(
        &app,
        &format!("Action=ModifyInstanceMetadataOptions&InstanceId={id}&HttpTokens=required"),
    )
    .await;
    assert_eq!(between(&xml, "<state>", "</state>"), "pending");
    assert_eq!(between(&xml, "<httpTokens>", "</httpTokens>"), "required");
    // Pending: the previous options are still in force.
    assert_eq!(metadata(&app, "GET", path, "").await.0, 200);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let xml = ec2(&app, &format!("Action=DescribeInstances&InstanceId.1={id}")).await;
        let options = between(&xml, "<metadataOptions>", "</metadataOptions>");
        if between(options, "<state>", "</state>") == "applied" {
            break;
        }
        assert!(Instant::now() < deadline, "never applied: {options}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Applied: IMDSv1 is refused, a token works.
    assert_eq!(metadata(&app, "GET", path, "").await.0, 401);
    let (status, token) = metadata(
        &app,
        "PUT",
        "/latest/api/token",
        "X-aws-ec2-metadata-token-ttl-seconds: 60\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let header = format!("X-aws-ec2-metadata-token: {token}\r\n");
    assert_eq!(metadata(&app, "GET", path, &header).await, (200, id));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_without_a_first_instance_serves_nothing_and_stops_listening() {
    let app = App::builder(Settings::ephemeral_on_port_zero())
        .first_instance(imds::app::FirstInstance::Never)
        .start()
        .await
        .expect("the app starts");
    let xml = ec2(&app, "Action=DescribeInstances").await;
    assert!(!xml.contains("<instanceId>"), "no first instance: {xml}");
    // No instance at all: the metadata service has nothing to serve.
    assert_eq!(
        metadata(&app, "GET", "/latest/meta-data/instance-id", "")
            .await
            .0,
        404
    );
    let api = app.api_addr();
    app.stop().await;
    assert!(
        TcpStream::connect(api).await.is_err(),
        "the API still listens after stop"
    );
}
