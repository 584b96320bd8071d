//! The accept loop of the metadata service.
//!
//! hyper serves each connection, with its own accept loop rather than a framework's, because
//! the reply to a token request must leave with an IP TTL (IPv6 hop limit) equal to the
//! instance's `HttpPutResponseHopLimit`: the loop keeps a second handle (a `dup`) of each
//! accepted socket, and the service sets the TTL through it before hyper writes the reply.
//! One request per connection, `Connection: close`, as EC2's service does.

use crate::host::Host;
use crate::service::{self, Reply, Request};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serve on `listener` until shutdown.
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

/// Serve on `listener` until shutdown.
pub async fn serve(
    listener: TcpListener,
    host: Arc<Host>,
    caller: Caller,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "metadata service: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let host = host.clone();
        let caller = caller.clone();
        // A second handle on the same socket, for setting the TTL of a token reply.
        let ttl_handle = stream
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(socket2::Socket::from);
        tokio::spawn(async move {
            let ttl_handle = Arc::new(ttl_handle);
            let svc = service_fn(move |req| {
                let host = host.clone();
                let caller = caller.clone();
                let ttl_handle = ttl_handle.clone();
                async move {
                    respond(&host, &caller, peer, req, ttl_handle.as_ref().as_ref())
                        .ok_or(Unanswered)
                }
            });
            let conn = http1::Builder::new()
                .keep_alive(false)
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "metadata connection ended with an error");
            }
        });
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

fn respond(
    host: &Host,
    caller: &Caller,
    peer: SocketAddr,
    req: http::Request<Incoming>,
    sock: Option<&socket2::Socket>,
) -> Option<Response<Full<Bytes>>> {
    let now = store::now_ms();
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
        if v6.to_ipv4_mapped().is_none() && !s.view.options.http_protocol_ipv6.is_enabled() {
            return None;
        }
    }
    let reply = match served {
        Some(served) => {
            let creds = |r: service::CredentialRequest<'_>| host.credentials(&served.view, r, now);
            let request = Request {
                method: req.method().as_str(),
                path: req.uri().path(),
                header: &header,
            };
            let signatures = |s: &crate::host::Served| host.identity_signatures(s);
            service::answer(&request, &served, &host.tokens, now, &creds, &signatures)
        }
        // No instance at all (an empty store): nothing to serve.
        None => Reply::page(404),
    };
    if let (Some(hops), Some(sock)) = (reply.hop_limit, sock) {
        let r = if peer.is_ipv4() {
            sock.set_ttl_v4(u32::from(hops))
        } else {
            sock.set_unicast_hops_v6(u32::from(hops))
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot set the hop limit of a token reply");
        }
    }
    let is_head = req.method() == http::Method::HEAD;
    Some(to_http(reply, is_head))
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
