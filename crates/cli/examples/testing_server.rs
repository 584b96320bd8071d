//! imds in a Rust test (`imds::testing::Server`), driven with plain HTTP: launch an instance
//! through the EC2 API, require IMDSv2 on it, open its own metadata endpoint and read it as
//! code on the instance would, then stop the server.
//!
//! `cargo run -p imds --example testing_server` prints what it read; `cargo test` runs the same
//! steps as a test (`[[example]] test = true`). With the AWS SDK for Rust, point its config at
//! `server.api_url()` (`aws_config::defaults(..).endpoint_url(..)`) instead of the HTTP below.

use imds::testing::Server;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the example read: the instance's id, and the statuses of a tokenless and a token read.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    instance_id: String,
    tokenless: u16,
    with_token: u16,
    body_with_token: String,
}

async fn run() -> Seen {
    let server = Server::start().await.expect("imds starts");
    let api: SocketAddr = server.api_url()["http://".len()..]
        .parse()
        .expect("address");
    let xml = ec2(
        api,
        "Action=RunInstances&ImageId=ami-0abcdef1234567890&InstanceType=t3.micro&MinCount=1&MaxCount=1\
         &MetadataOptions.HttpTokens=required",
    )
    .await;
    let instance_id = between(&xml, "<instanceId>", "</instanceId>").to_string();
    // Running, its options applied by the metadata host (tens of milliseconds here).
    loop {
        let d = ec2(
            api,
            &format!("Action=DescribeInstances&InstanceId.1={instance_id}"),
        )
        .await;
        if d.contains("<name>running</name>") && d.contains("<state>applied</state>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Its own endpoint on loopback: a connection there is this instance.
    let (_, url) = http(
        api,
        "GET",
        &format!("/_imds/instances/{instance_id}/endpoint"),
        "",
        "",
    )
    .await;
    let endpoint: SocketAddr = url.trim()["http://".len()..].parse().expect("endpoint");
    let (tokenless, _) = http(endpoint, "GET", "/latest/meta-data/instance-id", "", "").await;
    let (_, token) = http(
        endpoint,
        "PUT",
        "/latest/api/token",
        "X-aws-ec2-metadata-token-ttl-seconds: 60\r\n",
        "",
    )
    .await;
    let header = format!("X-aws-ec2-metadata-token: {token}\r\n");
    let (with_token, body_with_token) = http(
        endpoint,
        "GET",
        "/latest/meta-data/instance-id",
        &header,
        "",
    )
    .await;
    server.stop().await;
    Seen {
        instance_id,
        tokenless,
        with_token,
        body_with_token,
    }
}

/// An unsigned EC2 Query call (without an IAM configuration, any caller is the root of
/// 123456789012): the answer's XML.
async fn ec2(api: SocketAddr, params: &str) -> String {
    let body = format!("Version=2016-11-15&{params}");
    let form = "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n";
    let (status, xml) = http(api, "POST", "/", form, &body).await;
    assert_eq!(status, 200, "{xml}");
    xml
}

/// One HTTP/1.1 exchange on a connection of its own: the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).map(|i| i + open.len()).unwrap_or(0);
    let end = text[start..]
        .find(close)
        .map(|i| i + start)
        .unwrap_or(start);
    &text[start..end]
}

#[tokio::main]
async fn main() {
    let seen = run().await;
    println!("{seen:#?}");
}

#[cfg(test)]
mod tests {
    /// The example's steps, held: a launched instance, IMDSv2 required on its own endpoint.
    #[tokio::test]
    async fn an_instance_of_a_test_server_answers_as_itself() {
        let seen = super::run().await;
        assert!(seen.instance_id.starts_with("i-"), "{seen:?}");
        assert_eq!(seen.tokenless, 401, "IMDSv2 required: {seen:?}");
        assert_eq!(
            (seen.with_token, seen.body_with_token.as_str()),
            (200, seen.instance_id.as_str())
        );
    }
}
