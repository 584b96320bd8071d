//! The lifecycle driver: instances move through their states (`pending` → `running`, …),
//! their events take their steps (a Spot interruption's recommendation, notice and action;
//! maintenance events), and terminated ones are purged, on the store's schedule, whether or
//! not requests arrive.

use crate::context::Api;
use std::sync::Arc;
use std::time::Duration;

/// Drive the lifecycle (state transitions, event steps, purge of terminated instances) until
/// shutdown: sleep until the next step is due, or until a write may have made an earlier one.
pub async fn drive_lifecycle(api: Arc<Api>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut changes = api.store.watch();
    let retention = api.config.terminated_retention.as_millis() as i64;
    let delay = api.config.transition_delay.as_millis() as i64;
    loop {
        let now = model::time::now_ms();
        // One read of both schedules per wake-up: the driver wakes at every commit.
        let next = match api.store.next_steps(retention).await {
            Ok(steps) if steps.lifecycle.is_some_and(|due| due <= now) => {
                match api.store.advance(now, now - retention).await {
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "lifecycle step failed");
                        Some(now + 1000)
                    }
                }
            }
            Ok(steps) if steps.events.is_some_and(|due| due <= now) => {
                match api.store.take_due_events(now, delay).await {
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "event step failed");
                        Some(now + 1000)
                    }
                }
            }
            Ok(steps) => steps.first(),
            Err(e) => {
                tracing::error!(error = %e, "lifecycle read failed");
                Some(now + 1000)
            }
        };
        let wait = next
            .map(|due| Duration::from_millis((due - now).clamp(1, 60_000) as u64))
            .unwrap_or(Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = changes.changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}
