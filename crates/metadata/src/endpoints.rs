//! Per-instance metadata endpoints on loopback, for users without root.
//!
//! Without network namespaces a process cannot call from an instance's address, so the
//! loopback service (which finds the caller by source address) can only serve the default
//! instance. SDKs cannot choose a source address either, but every one of them honours
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`: so each instance may get a port of its own on
//! `127.0.0.1` (and the same port on `[::1]` where the host has IPv6), and a connection there
//! *is* that instance, whatever its source address: its tokens, options, tags, user data,
//! role credentials, identity document and counters.
//!
//! An endpoint is opened on first request (`GET /_imds/instances/{id}/endpoint`,
//! `imds endpoint`), kept while the instance exists, and closed when it terminates (or is
//! purged): a later connection is refused, as nothing listens any more. What such an
//! endpoint cannot show is the hop limit (loopback is zero hops away) and the link-local
//! address: those need `imds exec` as root.

use crate::host::Host;
use crate::server::{self, Caller};
use crate::tasks::Tasks;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Why an endpoint cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The metadata host serves no instance of that id.
    #[error("The instance ID '{0}' does not exist")]
    UnknownInstance(String),
    /// The instance is shutting down or terminated: there is nothing left to serve.
    #[error("The instance '{0}' is terminated; its metadata endpoint is closed.")]
    Terminated(String),
    /// The instance is already served on another port (an endpoint keeps its port).
    #[error("The instance '{instance}' is already served at {url}")]
    OtherPort { instance: String, url: String },
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// `[::1]` was asked for but the endpoint could not listen there.
    #[error("The endpoint of '{0}' has no IPv6 loopback address (is IPv6 disabled on this host?)")]
    NoIpv6(String),
}

/// One instance's endpoint: where it listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub v4: SocketAddr,
    pub v6: Option<SocketAddr>,
}

impl Endpoint {
    /// The URL an SDK takes as `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn url(&self, ipv6: bool) -> Option<String> {
        match (ipv6, self.v6) {
            (false, _) => Some(format!("http://{}", self.v4)),
            (true, Some(v6)) => Some(format!("http://{v6}")),
            (true, None) => None,
        }
    }
}

/// The open endpoints, by instance id.
pub struct Endpoints {
    host: Arc<Host>,
    /// The metadata service's connections: every endpoint shares its cap.
    gate: Arc<listen::Gate>,
    server_stop: watch::Receiver<bool>,
    live: Arc<Mutex<HashMap<String, Endpoint>>>,
    /// Every endpoint's listeners and closer, awaited at shutdown ([`Endpoints::closed`]).
    tasks: Tasks,
}

/// How many times a free port is looked for on both loopback addresses before the endpoint
/// settles for `127.0.0.1` alone.
const PORT_ATTEMPTS: usize = 8;

impl Endpoints {
    pub fn new(
        host: Arc<Host>,
        gate: Arc<listen::Gate>,
        server_stop: watch::Receiver<bool>,
    ) -> Endpoints {
        Endpoints {
            host,
            gate,
            server_stop,
            live: Arc::default(),
            tasks: Tasks::default(),
        }
    }

    /// The endpoint of `instance_id`, opened now if it is not yet (on `port`, or any free
    /// port). Must run inside the runtime: the endpoint's listeners are tasks of it.
    pub fn open(&self, instance_id: &str, port: Option<u16>) -> Result<Endpoint, EndpointError> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = live.get(instance_id) {
            return match port {
                Some(p) if p != open.v4.port() => Err(EndpointError::OtherPort {
                    instance: instance_id.to_string(),
                    url: format!("http://{}", open.v4),
                }),
                _ => Ok(open.clone()),
            };
        }
        match self.host.served(instance_id) {
            None => return Err(EndpointError::UnknownInstance(instance_id.to_string())),
            Some(s) if closes(Some(&s.state)) => {
                return Err(EndpointError::Terminated(instance_id.to_string()))
            }
            Some(_) => {}
        }
        let (v4, v6) = bind(port)?;
        let endpoint = Endpoint {
            v4: v4
                .local_addr()
                .map_err(|e| EndpointError::Listen(any(port), e))?,
            v6: v6.as_ref().and_then(|l| l.local_addr().ok()),
        };
        let (stop, stop_rx) = watch::channel(false);
        for l in std::iter::once(v4).chain(v6) {
            let addr = l.local_addr().ok();
            match tokio::net::TcpListener::from_std(l) {
                Ok(l) => {
                    self.tasks.spawn(server::serve(
                        l,
                        self.host.clone(),
                        Caller::Instance(instance_id.to_string()),
                        self.gate.clone(),
                        stop_rx.clone(),
                    ));
                }
                Err(e) => tracing::warn!(?addr, error = %e, "cannot serve an instance endpoint"),
            }
        }
        self.tasks.spawn(close_when_gone(
            self.host.clone(),
            self.live.clone(),
            instance_id.to_string(),
            stop,
            self.server_stop.clone(),
        ));
        tracing::info!(instance = %instance_id, url = %format!("http://{}", endpoint.v4), "instance metadata endpoint opened");
        live.insert(instance_id.to_string(), endpoint.clone());
        Ok(endpoint)
    }

    /// Wait until every endpoint has closed and drained its connections, once the server
    /// stops (the stop given to [`Endpoints::new`]).
    pub async fn closed(&self) {
        self.tasks.join().await;
    }
}

/// Whether an instance in `state` (or no longer served at all) loses its endpoint.
fn closes(state: Option<&model::InstanceState>) -> bool {
    match state {
        None => true,
        Some(s) => *s == model::InstanceState::Terminated,
    }
}

fn any(port: Option<u16>) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port.unwrap_or(0)))
}

/// Listeners on `127.0.0.1:port` and, where it can be had, `[::1]` on the same port. With no
/// port asked for, a port free on both is looked for a few times before settling for IPv4.
fn bind(port: Option<u16>) -> Result<(TcpListener, Option<TcpListener>), EndpointError> {
    let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
    let mut last = None;
    for _ in 0..attempts {
        let addr = any(port);
        let v4 = TcpListener::bind(addr).map_err(|e| EndpointError::Listen(addr, e))?;
        v4.set_nonblocking(true)
            .map_err(|e| EndpointError::Listen(addr, e))?;
        let chosen = v4
            .local_addr()
            .map_err(|e| EndpointError::Listen(addr, e))?
            .port();
        match bind_v6(chosen) {
            Ok(v6) => return Ok((v4, Some(v6))),
            Err(e) => {
                tracing::debug!(port = chosen, error = %e, "no [::1] listener on this port");
                last = Some(v4);
            }
        }
    }
    // Only reached when [::1] failed every time: serve on IPv4 alone.
    Ok((last.expect("at least one attempt"), None))
}

fn bind_v6(port: u16) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let sock = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?;
    // Only IPv6: the IPv4 side is the other listener.
    sock.set_only_v6(true)?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Close the endpoint when its instance terminates or is purged, or when the server stops.
/// Woken only by changes to its own instance, so a fleet's changes do not wake every endpoint.
async fn close_when_gone(
    host: Arc<Host>,
    live: Arc<Mutex<HashMap<String, Endpoint>>>,
    instance_id: String,
    stop: watch::Sender<bool>,
    mut server_stop: watch::Receiver<bool>,
) {
    let mut changed = host.watch(&instance_id);
    loop {
        let state = changed.borrow_and_update().map(|s| s.state);
        if closes(state.as_ref()) {
            break;
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { break },
            _ = server_stop.changed() => break,
        }
    }
    live.lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&instance_id);
    let _ = stop.send(true);
    tracing::info!(instance = %instance_id, "instance metadata endpoint closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminated_or_purged_instance_loses_its_endpoint() {
        use model::InstanceState::*;
        assert!(closes(None));
        assert!(closes(Some(&Terminated)));
        for s in [Pending, Running, Stopping, Stopped, ShuttingDown] {
            assert!(!closes(Some(&s)), "{s:?}");
        }
    }

    #[test]
    fn urls_name_the_loopback_address_asked_for() {
        let e = Endpoint {
            v4: "127.0.0.1:4100".parse().unwrap(),
            v6: Some("[::1]:4100".parse().unwrap()),
        };
        assert_eq!(e.url(false).unwrap(), "http://127.0.0.1:4100");
        assert_eq!(e.url(true).unwrap(), "http://[::1]:4100");
        let v4_only = Endpoint { v6: None, ..e };
        assert_eq!(v4_only.url(true), None);
    }

    #[test]
    fn both_loopback_addresses_share_one_port() {
        let (v4, v6) = bind(None).unwrap();
        let p = v4.local_addr().unwrap().port();
        if let Some(v6) = v6 {
            assert_eq!(v6.local_addr().unwrap().port(), p);
        }
        // A port already taken is refused, not replaced by another.
        assert!(matches!(bind(Some(p)), Err(EndpointError::Listen(..))));
    }
}
