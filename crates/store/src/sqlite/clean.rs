//! A store closed cleanly and untouched since is not checked again at its next open.
//!
//! `PRAGMA quick_check` reads the whole file (about 6 GB at a million instances): most of a
//! restart. It is there for files damaged while no server had them open (a copy cut short, a
//! disk error, an edit), so, as a file system skips its check after a clean unmount, a store
//! that imds closed cleanly records the file's identity then (`<file>-closed`: device, inode,
//! size, modification and change times), and its next open skips the check when the file is
//! still exactly that. Any write to the file since, by anyone, moves its change time (which
//! no program can set back), and a copy is another inode, so such a file is checked. The
//! record is removed at open, so it speaks only for the close that wrote it.
//!
//! Change times are kept at the kernel's coarse clock: a write in the same tick as the close
//! would not move them. The record is therefore written only once the file's change time is
//! [`SETTLED`] in the past (by the precise clock; the coarse one may lag it by a tick), and
//! trusted only when it was written at least half that long after the file's last change.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long after the file's last change the record is written: many ticks of the coarse
/// clock, so a later write cannot share the last change's time.
const SETTLED: Duration = Duration::from_millis(50);

fn record_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-closed");
    PathBuf::from(p)
}

/// What identifies the file's content as a close left it.
#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "dev {} ino {} size {} mtime {}.{:09} ctime {}.{:09}",
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    )
}

#[cfg(unix)]
fn changed_at(m: &std::fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let since_epoch = Duration::new(m.ctime().max(0) as u64, m.ctime_nsec().max(0) as u32);
    SystemTime::UNIX_EPOCH + since_epoch
}

/// Record that the store at `db` was closed cleanly (its write-ahead log checkpointed into
/// it and empty). Best effort: without a record the next open checks the file.
#[cfg(unix)]
pub(super) async fn record(db: &Path) {
    let wal = {
        let mut p = db.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    };
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return;
    }
    let Ok(m) = std::fs::metadata(db) else {
        return;
    };
    let settled = changed_at(&m) + SETTLED;
    if let Ok(wait) = settled.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait.min(SETTLED)).await;
    }
    if let Err(e) = std::fs::write(record_path(db), identity(&m)) {
        tracing::debug!(error = %e, "cannot record the clean close of the store");
    }
}

/// Whether the store at `db` is exactly as a clean close left it; the record is removed
/// either way.
#[cfg(unix)]
pub(super) fn untouched(db: &Path) -> bool {
    let record = record_path(db);
    let written = std::fs::read_to_string(&record).ok();
    let recorded_at = std::fs::metadata(&record).and_then(|m| m.modified()).ok();
    let _ = std::fs::remove_file(&record);
    let (Some(written), Some(recorded_at), Ok(m)) = (written, recorded_at, std::fs::metadata(db))
    else {
        return false;
    };
    let settled = recorded_at
        .duration_since(changed_at(&m))
        .is_ok_and(|d| d >= SETTLED / 2);
    settled && written == identity(&m)
}

#[cfg(not(unix))]
pub(super) async fn record(_db: &Path) {}

#[cfg(not(unix))]
pub(super) fn untouched(_db: &Path) -> bool {
    false
}
