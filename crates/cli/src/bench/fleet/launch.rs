//! The launch phase: RunInstances of `PER_CALL` instances a call, `CONCURRENT_CALLS` calls at a
//! time, until the fleet has its size. Calls alternate between two shapes (`HttpTokens`
//! required on t3.micro, optional on t3.small), so that half the fleet is what the pages'
//! filter selects, whichever filter a server has (moto has no `metadata-options.http-tokens`).

use super::http::{elements, encode, Client, Signer};
use indicatif::{ProgressBar, ProgressStyle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Instances a RunInstances call launches (MinCount = MaxCount).
pub const PER_CALL: usize = 1000;
/// RunInstances calls in flight at once.
pub const CONCURRENT_CALLS: usize = 4;

/// What the phase launched.
pub struct Launched {
    /// Every instance's id, in no particular order.
    pub ids: Vec<String>,
    /// How many of them were launched with `HttpTokens=required` (and as t3.micro).
    pub required: usize,
    pub elapsed: Duration,
}

impl Launched {
    /// Zero for a kept fleet reused (its launch was not timed).
    pub fn per_second(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.ids.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// The `call`th RunInstances of a fleet of `n`: how many, and whether `HttpTokens=required`.
fn call(n: usize, call: usize) -> (usize, bool) {
    (PER_CALL.min(n - call * PER_CALL), call.is_multiple_of(2))
}

/// Instances a subnet made by [`subnets_for`] takes (a `/16` has 65,531 usable addresses).
const PER_SUBNET: usize = 60_000;

/// A launch without a subnet goes, call by call, to a default subnet EC2 picks (imds: one
/// at random among the Region's, whatever room it has left; `actions::launch`), one `/20` of
/// 4,091 addresses each: only a fleet that fits in one of them is sure to launch there.
/// (Up to 20,000 went to the default subnets before: 15,000 and 20,000 failed with
/// `InsufficientFreeAddressesInSubnet` when calls piled up in one.)
const DEFAULT_SUBNET_HOLDS: usize = 4_000;

/// How many subnets of its own a fleet of `n` is launched into (none: the default subnets).
fn own_subnets(n: usize) -> usize {
    if n <= DEFAULT_SUBNET_HOLDS {
        0
    } else {
        n.div_ceil(PER_SUBNET)
    }
}

/// The subnets a fleet of `n` is launched into: none (the default subnets) when it fits one
/// default subnet, else one VPC `10.K.0.0/16` with one `/16` subnet per 60,000 instances.
pub async fn subnets_for(
    api: SocketAddr,
    signer: &Signer,
    n: usize,
) -> Result<Vec<String>, String> {
    let mut client = Client::new(api);
    let mut subnets = Vec::new();
    for k in 0..own_subnets(n) {
        let cidr = encode(&format!("10.{k}.0.0/16"));
        let vpc = client
            .ec2(signer, &format!("Action=CreateVpc&CidrBlock={cidr}"))
            .await
            .map_err(|e| format!("CreateVpc: {e}"))?;
        let vpc_id = elements(&vpc.body, "vpcId").first().map(|v| v.to_string());
        let vpc_id =
            vpc_id.ok_or_else(|| format!("CreateVpc answered {}: {}", vpc.status, vpc.body))?;
        let subnet = client
            .ec2(
                signer,
                &format!("Action=CreateSubnet&VpcId={vpc_id}&CidrBlock={cidr}"),
            )
            .await
            .map_err(|e| format!("CreateSubnet: {e}"))?;
        let subnet_id = elements(&subnet.body, "subnetId")
            .first()
            .map(|v| v.to_string());
        subnets.push(
            subnet_id.ok_or_else(|| {
                format!("CreateSubnet answered {}: {}", subnet.status, subnet.body)
            })?,
        );
    }
    Ok(subnets)
}

/// Launch `n` instances on `api` (into `subnets`, [`PER_SUBNET`] each, or the default subnet
/// when there are none), with a progress bar on stderr (hidden when it is no terminal).
pub async fn launch(
    api: SocketAddr,
    signer: &Signer,
    n: usize,
    what: &str,
    subnets: &[String],
) -> Result<Launched, String> {
    let subnets = Arc::new(subnets.to_vec());
    let calls = n.div_ceil(PER_CALL);
    let bar = ProgressBar::new(n as u64).with_message(what.to_string());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, {eta})",
        )
        .map_err(|e| e.to_string())?,
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_CALLS.min(calls))
        .map(|_| {
            let (next, signer, bar, subnets) = (next.clone(), signer.clone(), bar.clone(), subnets.clone());
            tokio::spawn(async move {
                let mut client = Client::new(api);
                let (mut ids, mut required) = (Vec::new(), 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= calls {
                        return Ok::<_, String>((ids, required));
                    }
                    let (count, req) = call(n, i);
                    let (tokens, kind) = if req { ("required", "t3.micro") } else { ("optional", "t3.small") };
                    let mut body = format!("Action=RunInstances&ImageId={}&InstanceType={kind}&MinCount={count}&MaxCount={count}&MetadataOptions.HttpTokens={tokens}", model::catalogue::AL2_IMAGE);
                    if let Some(subnet) = subnets.get(i * PER_CALL / PER_SUBNET) {
                        body.push_str(&format!("&SubnetId={subnet}"));
                    }
                    let answer = client.ec2(&signer, &body).await.map_err(|e| format!("RunInstances: {e}"))?;
                    let launched = elements(&answer.body, "instanceId");
                    if answer.status != 200 || launched.len() != count {
                        let excerpt: String = answer.body.chars().take(500).collect();
                        return Err(format!("RunInstances of {count} answered {} with {} instances: {excerpt}", answer.status, launched.len()));
                    }
                    if req {
                        required += count;
                    }
                    ids.extend(launched.into_iter().map(str::to_string));
                    bar.inc(count as u64);
                }
            })
        })
        .collect();
    let (mut ids, mut required) = (Vec::with_capacity(n), 0);
    for t in tasks {
        let (i, r) = t.await.map_err(|e| e.to_string())??;
        ids.extend(i);
        required += r;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(Launched {
        ids,
        required,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_alternate_and_the_last_takes_the_rest() {
        assert_eq!(call(2500, 0), (1000, true));
        assert_eq!(call(2500, 1), (1000, false));
        assert_eq!(call(2500, 2), (500, true));
    }

    /// A fleet larger than one default subnet gets subnets of its own: the default subnets
    /// are picked at random, call by call.
    #[test]
    fn a_fleet_larger_than_a_default_subnet_gets_its_own() {
        let vpc = model::catalogue::default_vpc("us-east-1");
        assert!(vpc
            .subnets
            .iter()
            .all(|s| s.cidr.usable_count() >= DEFAULT_SUBNET_HOLDS as u64));
        assert_eq!(own_subnets(DEFAULT_SUBNET_HOLDS), 0);
        assert_eq!(own_subnets(10_000), 1);
        assert_eq!(own_subnets(15_000), 1);
        assert_eq!(own_subnets(1_000_000), 17);
    }
}
