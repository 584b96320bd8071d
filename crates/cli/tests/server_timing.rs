//! The EC2 API's answers carry `Server-Timing: app;dur=<ms>` (the server's time on the
//! request), errors included, over a real socket to the whole app on port 0.

use imds::app::{App, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// POST `body` and return the answer's status and its `server-timing` values.
async fn post(app: &App, body: &str) -> (u16, Vec<String>) {
    let mut s = TcpStream::connect(app.api_addr()).await.expect("connect");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: ec2.us-east-1.amazonaws.com\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, _) = text.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status");
    let timings = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("server-timing"))
        .map(|(_, v)| v.trim().to_string())
        .collect();
    (status, timings)
}

/// The duration of the `app` metric, in milliseconds.
fn app_duration(value: &str) -> f64 {
    let dur = value
        .strip_prefix("app;dur=")
        .unwrap_or_else(|| panic!("not app;dur=: {value}"));
    dur.parse()
        .unwrap_or_else(|_| panic!("not a number: {dur}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_errors_say_the_time_the_server_spent() {
    let app = App::builder(Settings::ephemeral_on_port_zero())
        .start()
        .await
        .expect("the app starts");
    for (body, want) in [
        ("Action=DescribeInstances&Version=2016-11-15", 200),
        ("Action=NoSuchAction&Version=2016-11-15", 400),
    ] {
        let (status, timings) = post(&app, body).await;
        assert_eq!(status, want, "{body}");
        assert_eq!(
            timings.len(),
            1,
            "{body}: one Server-Timing header: {timings:?}"
        );
        let ms = app_duration(&timings[0]);
        assert!(ms.is_finite() && ms >= 0.0, "{body}: {ms}");
    }
    app.stop().await;
}
