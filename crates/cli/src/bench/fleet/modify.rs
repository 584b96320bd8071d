//! The modify phase: `CLIENTS` keep-alive clients, each signing every request with SigV4 (the
//! server verifies it: it runs with `--iam-config`), toggle `HttpTokens` on instances picked
//! at random, for a fixed time. Every accepted change is durable before it is answered.

use super::http::{Client, Signer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent clients.
pub const CLIENTS: usize = 32;

pub struct Modified {
    pub per_second: f64,
    pub accepted: u64,
    pub errors: u64,
    /// The first error's answer, to say what went wrong.
    pub first_error: Option<String>,
}

/// A small generator of random indexes (xorshift64*), seeded per client: the bench needs
/// spread, not quality.
struct Picker(u64);

impl Picker {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

pub async fn modify(
    api: SocketAddr,
    signer: &Signer,
    ids: Arc<Vec<String>>,
    seconds: u64,
) -> Result<Modified, String> {
    if ids.is_empty() {
        return Err("no instances to modify".into());
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (ids, signer) = (ids.clone(), signer.clone());
            tokio::spawn(async move {
                let mut client = Client::new(api);
                let mut picker = Picker(0x9e37_79b9_7f4a_7c15 ^ ((c as u64 + 1) * 0x1000_0001));
                let (mut accepted, mut errors, mut first_error) = (0u64, 0u64, None);
                let mut k = 0usize;
                while Instant::now() < deadline {
                    let id = &ids[picker.next(ids.len())];
                    let tokens = ["optional", "required"][k % 2];
                    k += 1;
                    let body = format!(
                        "Action=ModifyInstanceMetadataOptions&InstanceId={id}&HttpTokens={tokens}"
                    );
                    match client.ec2(&signer, &body).await {
                        Ok(a) if a.status == 200 => accepted += 1,
                        Ok(a) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!(
                                    "{}: {}",
                                    a.status,
                                    a.body.chars().take(300).collect::<String>()
                                )
                            });
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                (accepted, errors, first_error)
            })
        })
        .collect();
    let (mut accepted, mut errors, mut first_error) = (0, 0, None);
    for t in tasks {
        let (a, e, f) = t.await.map_err(|e| e.to_string())?;
        accepted += a;
        errors += e;
        first_error = first_error.or(f);
    }
    Ok(Modified {
        per_second: accepted as f64 / started.elapsed().as_secs_f64(),
        accepted,
        errors,
        first_error,
    })
}
