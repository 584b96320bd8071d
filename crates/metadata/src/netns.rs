//! Serving inside network namespaces, where instances reach the service at its real
//! addresses, 169.254.169.254 and `[fd00:ec2::254]`, port 80.
//!
//! `imds exec` builds the namespaces (the instance's, routers, and a metadata namespace that
//! holds the two addresses) and asks the running server to attach to the metadata namespace.
//! The server then opens its listeners *inside* that namespace (a short-lived thread enters it
//! with `setns`; sockets keep the namespace they were made in), so connections arrive with the
//! instance's real source address, and the hop limit set on a token reply is the TTL of real
//! packets crossing the routers. Nothing is added to the host's own namespace.

use crate::host::Host;
use crate::tasks::Tasks;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The metadata service's IPv4 address.
pub const IPV4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The metadata service's IPv6 address, `fd00:ec2::254`.
pub const IPV6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Instances inside `imds exec` get an IPv6 address in this /96 whose last 32 bits are their
/// private IPv4 address, so the service can tell who calls over IPv6 too.
pub(crate) const INSTANCE_V6_PREFIX: [u16; 6] = [0xfd00, 0xec2, 0x1, 0, 0, 0];

pub fn instance_v6(v4: Ipv4Addr) -> Ipv6Addr {
    let o = v4.octets();
    let p = INSTANCE_V6_PREFIX;
    Ipv6Addr::new(
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    )
}

pub(crate) fn v4_of_instance_v6(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    (s[..6] == INSTANCE_V6_PREFIX).then(|| {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot open network namespace {0}: {1}")]
    Open(PathBuf, std::io::Error),
    #[error("cannot enter network namespace {0}: {1}")]
    Enter(PathBuf, nix::Error),
    #[error("cannot listen on {0} in {1}: {2}")]
    Listen(SocketAddr, PathBuf, std::io::Error),
    #[error("the namespace thread failed")]
    Thread,
}

/// Open listeners on the metadata addresses inside the namespace at `path`.
fn listen_in(path: &Path) -> Result<Vec<std::net::TcpListener>, NetnsError> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&path).map_err(|e| NetnsError::Open(path.clone(), e))?;
        // Only this thread enters the namespace; it ends right after.
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| NetnsError::Enter(path.clone(), e))?;
        let mut out = Vec::new();
        for addr in [SocketAddr::from((IPV4, 80)), SocketAddr::from((IPV6, 80))] {
            let l = std::net::TcpListener::bind(addr)
                .map_err(|e| NetnsError::Listen(addr, path.clone(), e))?;
            l.set_nonblocking(true)
                .map_err(|e| NetnsError::Listen(addr, path.clone(), e))?;
            out.push(l);
        }
        Ok(out)
    })
    .join()
    .map_err(|_| NetnsError::Thread)?
}

/// The instance side of an attachment: the instance's namespace and its IPv6 route to the
/// service, which exists only while the instance has the IPv6 endpoint enabled, so that a
/// caller otherwise gets "Network is unreachable", as on EC2 (spec imds.md §7).
#[derive(Debug, Clone)]
pub struct InstanceSide {
    pub instance_id: String,
    pub netns: String,
    pub via: Ipv6Addr,
    pub src: Ipv6Addr,
}

fn ipv6_enabled(host: &Host, side: &InstanceSide) -> bool {
    host.served(&side.instance_id)
        .is_some_and(|s| s.options.http_protocol_ipv6.is_enabled())
}

/// Set the instance's IPv6 route to the service: via the routers, or `unreachable`.
async fn set_ipv6_route(side: &InstanceSide, enabled: bool) -> bool {
    let dest = format!("{IPV6}/128");
    let (via, src) = (side.via.to_string(), side.src.to_string());
    let mut args = vec!["-n", side.netns.as_str(), "-6", "route", "replace"];
    if enabled {
        args.extend([dest.as_str(), "via", via.as_str(), "src", src.as_str()]);
    } else {
        args.extend(["unreachable", dest.as_str()]);
    }
    match tokio::process::Command::new("ip")
        .args(&args)
        .output()
        .await
    {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            tracing::warn!(stderr = %String::from_utf8_lossy(&o.stderr), netns = %side.netns, "cannot set the IPv6 route");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot run ip");
            false
        }
    }
}

/// How soon a route the kernel refused is tried again.
const ROUTE_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// Keep the instance's IPv6 route in step with its `HttpProtocolIpv6` option: woken by each
/// change to the instance's entry (the host's per-instance watch), not by polling.
async fn follow_ipv6(
    host: Arc<Host>,
    side: InstanceSide,
    mut current: Option<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut view = host.watch(&side.instance_id);
    loop {
        let enabled = ipv6_enabled(&host, &side);
        let in_step = current == Some(enabled) || set_ipv6_route(&side, enabled).await;
        if in_step {
            current = Some(enabled);
        }
        tokio::select! {
            changed = view.changed(), if in_step => {
                if changed.is_err() {
                    // The host dropped the watch: only the stop is left to wait for.
                    let _ = stop.changed().await;
                    return;
                }
            }
            _ = tokio::time::sleep(ROUTE_RETRY), if !in_step => {}
            _ = stop.changed() => return,
        }
    }
}

/// The namespaces the server serves in, by name.
pub struct Attachments {
    live: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// The metadata service's connections: listeners in namespaces share its cap.
    gate: Arc<listen::Gate>,
    /// Every attachment's listeners and route followers, awaited at shutdown
    /// ([`Attachments::closed`]).
    tasks: Tasks,
}

impl Attachments {
    pub fn new(gate: Arc<listen::Gate>) -> Self {
        Attachments {
            live: Mutex::default(),
            gate,
            tasks: Tasks::default(),
        }
    }

    /// Serve in the namespace `/var/run/netns/<name>` until detached (or the server stops).
    pub async fn attach(
        &self,
        host: Arc<Host>,
        name: &str,
        instance: Option<InstanceSide>,
        mut server_stop: watch::Receiver<bool>,
    ) -> Result<(), NetnsError> {
        let path = Path::new("/var/run/netns").join(name);
        let listeners = listen_in(&path)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        for l in listeners {
            let l = tokio::net::TcpListener::from_std(l)
                .map_err(|e| NetnsError::Listen(SocketAddr::from((IPV4, 80)), path.clone(), e))?;
            let caller = match &instance {
                Some(side) => crate::server::Caller::Instance(side.instance_id.clone()),
                None => crate::server::Caller::BySource,
            };
            self.tasks.spawn(crate::server::serve(
                l,
                host.clone(),
                caller,
                self.gate.clone(),
                stop_rx.clone(),
            ));
        }
        if let Some(side) = instance {
            // The first route is in place before the command starts.
            let enabled = ipv6_enabled(&host, &side);
            let current = set_ipv6_route(&side, enabled).await.then_some(enabled);
            self.tasks
                .spawn(follow_ipv6(host.clone(), side, current, stop_rx.clone()));
        }
        let mut stop_watch = stop_tx.subscribe();
        let forward = stop_tx.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = server_stop.changed() => { let _ = forward.send(true); }
                _ = stop_watch.changed() => {}
            }
        });
        let old = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), stop_tx);
        if let Some(old) = old {
            let _ = old.send(true);
        }
        Ok(())
    }

    /// Wait until every attachment has stopped and drained its connections, once the server
    /// stops (the stop given to [`Attachments::attach`]).
    pub async fn closed(&self) {
        self.tasks.join().await;
    }

    /// Stop serving in the namespace; returns whether it was attached.
    pub fn detach(&self, name: &str) -> bool {
        match self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
        {
            Some(tx) => {
                let _ = tx.send(true);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_addresses_carry_the_v4() {
        let v4 = Ipv4Addr::new(172, 31, 16, 9);
        let v6 = instance_v6(v4);
        assert_eq!(v6.to_string(), "fd00:ec2:1::ac1f:1009");
        assert_eq!(v4_of_instance_v6(v6), Some(v4));
        assert_eq!(v4_of_instance_v6(IPV6), None);
        assert_eq!(IPV6.to_string(), "fd00:ec2::254");
    }
}
