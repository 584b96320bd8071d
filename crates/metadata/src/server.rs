//! The metadata service on the shared accept loop (`listen`): the connection cap, the
//! timeouts and the header limits are the loop's; this module answers each request.
//!
//! The reply to a token request must leave with an IP TTL (IPv6 hop limit) equal to the
//! instance's `HttpPutResponseHopLimit`: the service sets it on the accepted socket itself
//! (shared with hyper, no `dup`) before hyper writes the reply. If it cannot be set, no token
//! is sent: the connection is dropped (fail closed). Only the token reply carries it.
//! One request per connection, `Connection: close`, as EC2's service does.

use crate::host::Host;
use crate::rendered::Rendered;
use crate::service::{self, Reply, Request, Step};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a listener finds the instance that calls.
#[derive(Debug, Clone)]
pub enum Caller {
    /// By the connection's source address (loopback: an unknown address is the default
    /// instance).
    BySource,
    /// Always this instance: a listener inside the namespaces `imds exec` built for it.
    /// Private addresses are unique per VPC only, so two Regions may share one.
    Instance(String),
}

/// Serve on `listener` until shutdown; `gate` holds the connections of every listener of
/// the metadata service (the loopback one and those inside namespaces).
pub async fn serve(
    listener: TcpListener,
    host: Arc<Host>,
    caller: Caller,
    gate: Arc<listen::Gate>,
    shutdown: watch::Receiver<bool>,
) {
    let mut http = http1::Builder::new();
    http.keep_alive(false).title_case_headers(true);
    listen::serve(listener, gate, http, shutdown, move |accepted| {
        let host = host.clone();
        let caller = caller.clone();
        let (stream, peer) = (accepted.stream.clone(), accepted.peer);
        // Inside `imds exec`'s namespaces, each call is attributed to its process.
        let attributed = match &caller {
            Caller::Instance(id) => stream.local_addr().ok().map(|local| (id.clone(), local)),
            Caller::BySource => None,
        };
        service_fn(move |req| {
            let (host, caller, stream) = (host.clone(), caller.clone(), stream.clone());
            let attributed = attributed.clone();
            async move {
                let response = respond(&host, &caller, peer, &req, |hops| {
                    set_hop_limit(&stream, peer, hops)
                })
                .await;
                if let Some((id, local)) = attributed {
                    let status = response.as_ref().map_or(0, |r| r.status().as_u16());
                    attribute(&host, &id, peer, local, &req, status).await;
                }
                response.ok_or(Unanswered)
            }
        })
    })
    .await
}

/// Record a call of instance `id` with the process that made it, found while its connection
/// is still open (the reply is sent after this).
async fn attribute<B>(
    host: &Host,
    id: &str,
    peer: SocketAddr,
    local: SocketAddr,
    req: &http::Request<B>,
    status: u16,
) {
    use crate::callers::{Call, Kind};
    let Some(served) = host.served(id) else {
        return;
    };
    let kind = if req.method() == http::Method::PUT && req.uri().path() == "/latest/api/token" {
        Kind::Token
    } else if req.headers().contains_key(crate::service::TOKEN_HEADER) {
        Kind::V2
    } else {
        Kind::V1
    };
    let origin = tokio::task::spawn_blocking(move || crate::callers::find(peer, local))
        .await
        .ok()
        .flatten();
    host.counters_of(&served).calls.record(Call {
        at_ms: model::time::now_ms(),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        kind,
        status,
        origin,
    });
}

/// Warnings that the hop limit could not be set, at most one every few seconds.
static HOP_LIMIT_FAILED: listen::Throttled = listen::Throttled::new(Duration::from_secs(5));

/// Set the TTL (IPv4) or unicast hop limit (IPv6) of what `stream` sends next.
fn set_hop_limit(stream: &TcpStream, peer: SocketAddr, hops: u8) -> std::io::Result<()> {
    let sock = socket2::SockRef::from(stream);
    if peer.is_ipv4() {
        sock.set_ttl_v4(u32::from(hops))
    } else {
        sock.set_unicast_hops_v6(u32::from(hops))
    }
}

/// A request the service does not answer at all: the connection is dropped.
#[derive(Debug)]
struct Unanswered;

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not answered")
    }
}

impl std::error::Error for Unanswered {}

/// The reply to `req`, or `None` when nothing is to be answered (the connection is dropped).
/// `set_hop_limit` is called before a reply that carries a hop limit; if it fails, no reply.
/// Everything up to the token and its hop limit is decided from the served table alone; only
/// a request for the instance's own data may wait on the store (a rendering not kept).
pub(crate) async fn respond<B>(
    host: &Host,
    caller: &Caller,
    peer: SocketAddr,
    req: &http::Request<B>,
    set_hop_limit: impl FnOnce(u8) -> std::io::Result<()>,
) -> Option<Response<Full<Bytes>>> {
    let now = model::time::now_ms();
    let headers = req.headers();
    let header = |name: &str| -> Option<String> {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let served = match caller {
        Caller::BySource => host.lookup(peer.ip()),
        Caller::Instance(id) => host.served(id),
    };
    // The IPv6 endpoint exists only while the instance has it enabled (spec imds.md §7):
    // otherwise nothing answers.
    if let (std::net::IpAddr::V6(v6), Some(s)) = (peer.ip(), &served) {
        if v6.to_ipv4_mapped().is_none() && !s.options.http_protocol_ipv6.is_enabled() {
            return None;
        }
    }
    let reply = match served {
        Some(served) => {
            let counters = host.counters_of(&served);
            let instance_id = served.key.id();
            let enforced = service::Enforced {
                instance_id: &instance_id,
                launch_time_ms: served.launch_time_ms,
                options: served.options,
            };
            let step = {
                let request = Request {
                    method: req.method().as_str(),
                    path: req.uri().path(),
                    header: &header,
                };
                service::answer(&request, &enforced, &counters, &host.tokens, now)
            };
            match step {
                Step::Reply(r) => r,
                Step::Render(pending) => match host.rendered(&served).await {
                    Ok(Some(rendered)) => {
                        let creds = |r: service::CredentialRequest<'_>| {
                            host.credentials(&rendered.view, r, now)
                        };
                        let signatures = |r: &Rendered| host.identity_signatures(r);
                        pending.finish(req.uri().path(), &rendered, &counters, &creds, &signatures)
                    }
                    Ok(None) => pending.gone(),
                    Err(e) => {
                        STORE_FAILED.warn(
                            "metadata service: cannot read an instance to render it; answered 500",
                            &e,
                        );
                        pending.unavailable()
                    }
                },
            }
        }
        // No instance at all (an empty store): nothing to serve.
        None => Reply::page(404),
    };
    let reply = with_hop_limit(reply, set_hop_limit)?;
    let is_head = req.method() == http::Method::HEAD;
    Some(to_http(reply, is_head))
}

/// Warnings that an instance could not be read to render it, at most one every few seconds.
static STORE_FAILED: listen::Throttled = listen::Throttled::new(Duration::from_secs(5));

/// Fail closed: a reply that must carry a hop limit is not sent without it.
fn with_hop_limit(
    reply: Reply,
    set_hop_limit: impl FnOnce(u8) -> std::io::Result<()>,
) -> Option<Reply> {
    if let Some(hops) = reply.hop_limit {
        if let Err(e) = set_hop_limit(hops) {
            HOP_LIMIT_FAILED.warn(
                "metadata service: cannot set the hop limit of a token reply; not sent",
                &e,
            );
            return None;
        }
    }
    Some(reply)
}

fn to_http(reply: Reply, is_head: bool) -> Response<Full<Bytes>> {
    let len = reply.body.len();
    let body = if is_head { Bytes::new() } else { reply.body };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(reason) = reply.reason {
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    }
    let h = resp.headers_mut();
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.append(k, v);
        }
    }
    h.insert(http::header::SERVER, HeaderValue::from_static("EC2ws"));
    h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected loopback pair: (the server's accepted socket, the client's).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (server, client)
    }

    fn token_reply(hops: u8) -> Reply {
        let mut r = Reply::page(200);
        r.hop_limit = Some(hops);
        r
    }

    #[tokio::test]
    async fn the_hop_limit_is_set_on_the_accepted_socket_itself() {
        let (server, client) = pair().await;
        let peer = client.local_addr().unwrap();
        let reply = with_hop_limit(token_reply(3), |h| set_hop_limit(&server, peer, h));
        assert!(reply.is_some());
        assert_eq!(socket2::SockRef::from(&server).ttl_v4().unwrap(), 3);
    }

    /// Fail closed. On one descriptor, setting the TTL of a live socket does not fail in
    /// practice (the old failure was the `dup` under fd exhaustion); the kernel really
    /// refuses the IPv6 option on an IPv4 socket, which stands in for any failure.
    #[tokio::test]
    async fn no_token_reply_leaves_without_its_hop_limit() {
        let (server, _client) = pair().await;
        let v6_peer: SocketAddr = "[::1]:1".parse().unwrap();
        assert!(set_hop_limit(&server, v6_peer, 3).is_err());
        let reply = with_hop_limit(token_reply(3), |h| set_hop_limit(&server, v6_peer, h));
        assert_eq!(reply, None);
        // A reply without a hop limit never touches the socket.
        let plain = with_hop_limit(Reply::page(200), |_| unreachable!());
        assert_eq!(plain, Some(Reply::page(200)));
        let default: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(socket2::SockRef::from(&server).ttl_v4().unwrap(), default);
    }
}
