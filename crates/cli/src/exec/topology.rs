//! The namespaces of one `imds exec`: instance — r1 — … — metadata, one veth per link,
//! built with iproute2 and torn down on drop.

use super::client::{admin, http};
use super::{ExecArgs, ExecError};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The namespaces and the server attachment of one `imds exec`, torn down on drop.
pub(super) struct Topology {
    pub(super) names: Vec<String>,
    attached: Option<(String, String)>,
    /// (instance namespace, next hop, source) of the instance's IPv6 route to the service.
    v6_route: Option<(String, String, String)>,
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some((endpoint, name)) = &self.attached {
            let _ = admin(endpoint, "DELETE", name);
        }
        for n in self.names.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), ExecError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(ExecError::NoIp)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ExecError::Ip(
            format!("ip {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Whether this process holds CAP_NET_ADMIN (bit 12 of the effective set).
pub(super) fn has_net_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// Build the namespaces: instance — r1 — … — metadata, one veth per link.
pub(super) fn build(
    args: &ExecArgs,
    api: &str,
    instance_id: &str,
    instance_ip: Ipv4Addr,
) -> Result<Topology, ExecError> {
    let tag = std::process::id() % 100_000;
    let hops = args.hops as usize;
    let mut topo = Topology {
        names: Vec::new(),
        attached: None,
        v6_route: None,
    };
    let mut nodes = vec![format!("imds-{tag}-i")];
    for r in 1..hops {
        nodes.push(format!("imds-{tag}-r{r}"));
    }
    nodes.push(format!("imds-{tag}-m"));
    for n in &nodes {
        ip(&["netns", "add", n])?;
        topo.names.push(n.clone());
        ip(&["-n", n, "link", "set", "lo", "up"])?;
    }
    let v6 = metadata::netns::instance_v6(instance_ip).to_string();
    let md4 = metadata::netns::IPV4.to_string();
    let md6 = metadata::netns::IPV6.to_string();
    let last = nodes.len() - 1;
    for k in 0..last {
        let (left, right) = (&nodes[k], &nodes[k + 1]);
        let (a, b) = (format!("im{tag}a{k}"), format!("im{tag}b{k}"));
        ip(&[
            "link", "add", &a, "netns", left, "type", "veth", "peer", "name", &b, "netns", right,
        ])?;
        ip(&["-n", left, "link", "set", &a, "up"])?;
        ip(&["-n", right, "link", "set", &b, "up"])?;
        let (la, ra) = (format!("10.254.{k}.1"), format!("10.254.{k}.2"));
        let (la6, ra6) = (format!("fd00:ec2:2:{k}::1"), format!("fd00:ec2:2:{k}::2"));
        ip(&["-n", left, "addr", "add", &format!("{la}/30"), "dev", &a])?;
        ip(&["-n", right, "addr", "add", &format!("{ra}/30"), "dev", &b])?;
        ip(&[
            "-n",
            left,
            "addr",
            "add",
            &format!("{la6}/64"),
            "dev",
            &a,
            "nodad",
        ])?;
        ip(&[
            "-n",
            right,
            "addr",
            "add",
            &format!("{ra6}/64"),
            "dev",
            &b,
            "nodad",
        ])?;
        if k == 0 {
            // The instance: its private address (and its IPv6), the metadata service beyond.
            ip(&[
                "-n",
                left,
                "addr",
                "add",
                &format!("{instance_ip}/32"),
                "dev",
                &a,
            ])?;
            ip(&[
                "-n",
                left,
                "addr",
                "add",
                &format!("{v6}/128"),
                "dev",
                &a,
                "nodad",
            ])?;
            ip(&[
                "-n",
                left,
                "route",
                "add",
                &format!("{md4}/32"),
                "via",
                &ra,
                "src",
                &instance_ip.to_string(),
            ])?;
            // The IPv6 route to the service is the server's to set: present only while the
            // instance has the IPv6 endpoint enabled (see metadata::netns).
            ip(&[
                "-n",
                left,
                "-6",
                "route",
                "add",
                "unreachable",
                &format!("{md6}/128"),
            ])?;
            topo.v6_route = Some((left.clone(), ra6.clone(), v6.clone()));
        } else {
            ip(&["-n", left, "route", "add", &format!("{md4}/32"), "via", &ra])?;
            ip(&[
                "-n",
                left,
                "-6",
                "route",
                "add",
                &format!("{md6}/128"),
                "via",
                &ra6,
            ])?;
        }
        if k + 1 == last {
            ip(&["-n", right, "addr", "add", &format!("{md4}/32"), "dev", &b])?;
            ip(&[
                "-n",
                right,
                "addr",
                "add",
                &format!("{md6}/128"),
                "dev",
                &b,
                "nodad",
            ])?;
        }
        // The way back to the instance, from every node after it.
        ip(&[
            "-n",
            right,
            "route",
            "add",
            &format!("{instance_ip}/32"),
            "via",
            &la,
        ])?;
        ip(&[
            "-n",
            right,
            "-6",
            "route",
            "add",
            &format!("{v6}/128"),
            "via",
            &la6,
        ])?;
        if k + 1 < last {
            for fam in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
                let out = Command::new("ip")
                    .args(["netns", "exec", right, "sysctl", "-q", "-w", fam])
                    .output()
                    .map_err(ExecError::NoIp)?;
                if !out.status.success() {
                    return Err(ExecError::Ip(
                        format!("sysctl {fam} in {right}"),
                        String::from_utf8_lossy(&out.stderr).into(),
                    ));
                }
            }
        }
    }
    let query = match &topo.v6_route {
        Some((ns, via, src)) => {
            format!("?instance={instance_id}&instance_ns={ns}&via={via}&src={src}")
        }
        None => String::new(),
    };
    http(
        api,
        "POST",
        &format!("/_imds/netns/{}{query}", nodes[last]),
        "",
    )?;
    topo.attached = Some((api.to_string(), nodes[last].clone()));
    Ok(topo)
}
