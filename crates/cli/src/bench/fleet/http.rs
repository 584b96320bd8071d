//! The bench's HTTP/1.1 client: signed EC2 Query POSTs on a keep-alive connection, the answer's
//! status, its `Server-Timing` and its body.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The host the requests are signed for (a name only: every request goes to loopback).
const HOST: &str = "ec2.us-east-1.amazonaws.com";

/// The key the bench signs with (the root key of the `--iam-config` it writes; moto takes any).
#[derive(Clone)]
pub struct Signer {
    pub key: String,
    pub secret: String,
}

/// An answer: its status, the server's own time (`Server-Timing: app;dur=`), the round trip
/// as the client saw it, and the body.
pub struct Answer {
    pub status: u16,
    pub server_ms: Option<f64>,
    pub client_ms: f64,
    pub body: String,
}

/// One keep-alive connection (reopened when the server closes it).
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            stream: None,
            buf: Vec::new(),
        }
    }

    /// POST the EC2 Query `body` (without `Version`), signed by `signer`.
    pub async fn ec2(&mut self, signer: &Signer, body: &str) -> std::io::Result<Answer> {
        let body = format!("Version=2016-11-15&{body}");
        let (amz, auth) = sigv4::sign_form_post(
            &signer.key,
            &signer.secret,
            model::DEFAULT_REGION,
            HOST,
            body.as_bytes(),
        );
        let request = format!(
            "POST / HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/x-www-form-urlencoded; charset=utf-8\r\nx-amz-date: {amz}\r\nauthorization: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let started = Instant::now();
        let answer = self.exchange(request.as_bytes()).await;
        if answer.is_err() {
            self.stream = None;
        }
        let (status, server_ms, close, body) = answer?;
        if close {
            self.stream = None;
        }
        Ok(Answer {
            status,
            server_ms,
            client_ms: started.elapsed().as_secs_f64() * 1e3,
            body,
        })
    }

    async fn exchange(
        &mut self,
        request: &[u8],
    ) -> std::io::Result<(u16, Option<f64>, bool, String)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let Some(s) = self.stream.as_mut() else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        s.write_all(request).await?;
        self.buf.clear();
        let mut chunk = vec![0u8; 64 * 1024];
        let end = loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let from = self.buf.len().saturating_sub(3);
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                break from + p;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
        let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let server_ms = header("server-timing:").and_then(|v| parse_server_timing(&v));
        let close =
            header("connection:").is_some_and(|v| v == "close") || head.starts_with("http/1.0");
        match header("content-length:").and_then(|v| v.parse::<usize>().ok()) {
            Some(len) => {
                while self.buf.len() < end + 4 + len {
                    let n = s.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).into_owned();
                Ok((status, server_ms, close, body))
            }
            // No length: the body runs to the end of the connection.
            None => {
                s.read_to_end(&mut self.buf).await?;
                let body = String::from_utf8_lossy(&self.buf[end + 4..]).into_owned();
                Ok((status, server_ms, true, body))
            }
        }
    }
}

/// The `dur` of `app` in a `Server-Timing` value (`app;dur=12.5`), in milliseconds.
pub fn parse_server_timing(value: &str) -> Option<f64> {
    value.split(',').find_map(|metric| {
        let mut parts = metric.split(';').map(str::trim);
        (parts.next()? == "app")
            .then(|| parts.find_map(|p| p.strip_prefix("dur=")?.parse().ok()))
            .flatten()
    })
}

/// Whether something answers HTTP on `addr` (any status).
pub async fn answers(addr: SocketAddr, path: &str) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await?;
        Ok::<bool, std::io::Error>(head.starts_with(b"HTTP/1."))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .is_ok_and(|r| r.unwrap_or(false))
}

/// The text of every `<tag>…</tag>` in `xml`.
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

/// A Query parameter's value, form-encoded.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_app_duration_among_metrics() {
        assert_eq!(parse_server_timing("app;dur=12.5"), Some(12.5));
        assert_eq!(
            parse_server_timing("db;dur=3, app;desc=\"x\";dur=7"),
            Some(7.0)
        );
        assert_eq!(parse_server_timing("db;dur=3"), None);
    }

    #[test]
    fn finds_every_element() {
        let xml = "<a><instanceId>i-1</instanceId><instanceId>i-2</instanceId></a>";
        assert_eq!(elements(xml, "instanceId"), vec!["i-1", "i-2"]);
        assert!(elements(xml, "nextToken").is_empty());
    }
}
