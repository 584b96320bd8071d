//! What both benchmarks compute from their clients' latencies.

use std::time::Duration;

/// The clients' latencies, sorted, and their errors.
pub(super) async fn gather(
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, u64)>>,
) -> (Vec<Duration>, u64) {
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort();
    (all, errors)
}

/// The `p` quantile of sorted latencies, in seconds (NaN when there are none).
pub(super) fn quantile(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(f64::NAN, Duration::as_secs_f64)
}
