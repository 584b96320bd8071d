//! The accept loop: admits through the gate, never spins on errors, drains on shutdown.

use crate::gate::Gate;
use crate::HttpService;
use hyper::server::conn::http1;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A connection just accepted, as the service for it is made.
pub struct Accepted {
    /// The socket itself (shared with hyper): set options on it, never `dup` it.
    pub stream: Arc<TcpStream>,
    pub peer: SocketAddr,
}

/// Backoff after an accept error: 10 ms, doubling to 1 s; reset by a success.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Serve `listener` until `shutdown` changes: each connection admitted by `gate` is served by
/// hyper (configured by `http`; the gate's limits are applied on top) with the service
/// `service_for` makes for it. On shutdown the listener closes, idle connections close, and
/// requests in flight get the gate's drain timeout to finish.
pub async fn serve<F, S>(
    listener: TcpListener,
    gate: Arc<Gate>,
    http: http1::Builder,
    mut shutdown: watch::Receiver<bool>,
    mut service_for: F,
) where
    F: FnMut(&Accepted) -> S,
    S: HttpService,
{
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut pause = FIRST_PAUSE;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                pause = FIRST_PAUSE;
                let Some(admitted) = gate.admit() else {
                    // Every connection is busy: refuse at once (the socket closes).
                    gate.refused.warn(
                        &format!("{}: connection cap reached, refusing", gate.name()),
                        &gate.limits.max_connections,
                    );
                    continue;
                };
                let stream = Arc::new(stream);
                let service = service_for(&Accepted {
                    stream: stream.clone(),
                    peer,
                });
                conns.spawn(crate::connection::run(
                    admitted,
                    stream,
                    http.clone(),
                    gate.limits.clone(),
                    service,
                    drain_rx.clone(),
                ));
            }
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: make room by shedding an
                // idle connection, say so now and then, and wait before trying again.
                let shed = gate.shed_one();
                gate.accept_failed.warn(
                    &format!(
                        "{}: accept failed (shed an idle connection: {shed})",
                        gate.name()
                    ),
                    &e,
                );
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => break,
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        }
    }
    drop(listener);
    let _ = drain_tx.send(true);
    let drained = tokio::time::timeout(gate.limits.drain_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = conns.len(),
            "{}: requests still in flight after the drain timeout",
            gate.name()
        );
    }
    conns.shutdown().await;
}
