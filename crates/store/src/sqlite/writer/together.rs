//! Statements sent to SQLite together: one round trip for the writes of many instances.
//!
//! The writes of a lifecycle step, of a metadata host's acknowledgements and of the updates
//! of one group commit each change hundreds of instances, a few statements each. Sent one
//! instance at a time, each instance costs a round trip to sqlx's connection thread (about
//! 50 µs under load), more than SQLite takes to run its statements. [`Together`] collects
//! the statements (sqlx binds the parameters of a multi-statement query across its
//! statements, in order) and sends them once they carry [`FLUSH_AT`] parameters, or when
//! the caller flushes. Statements run in the order they were pushed, so a later write of the
//! same instance lands after an earlier one, as if each had been sent alone.

use super::trips::trip;
use crate::Result;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// Parameters sent in one round trip at most: SQLite's bound per statement
/// (`SQLITE_MAX_VARIABLE_NUMBER`, 32,766), which no one instance's statements approach,
/// also bounds the text and the arguments of one send.
const FLUSH_AT: usize = 32_766 - 1_000;

pub(super) struct Together {
    q: QueryBuilder<'static, Sqlite>,
    params: usize,
    statements: usize,
}

impl Together {
    pub(super) fn new() -> Together {
        Together {
            q: QueryBuilder::new(""),
            params: 0,
            statements: 0,
        }
    }

    /// The builder to push one more statement into, ending with `;`, then [`Together::pushed`].
    pub(super) fn query(&mut self) -> &mut QueryBuilder<'static, Sqlite> {
        &mut self.q
    }

    /// A statement of `params` parameters was pushed; sends what is collected when it is
    /// large enough.
    pub(super) async fn pushed(
        &mut self,
        conn: &mut SqliteConnection,
        params: usize,
    ) -> Result<()> {
        self.params += params;
        self.statements += 1;
        if self.params >= FLUSH_AT {
            self.flush(conn).await?;
        }
        Ok(())
    }

    /// Send what is collected (nothing when empty).
    pub(super) async fn flush(&mut self, conn: &mut SqliteConnection) -> Result<()> {
        if self.statements == 0 {
            return Ok(());
        }
        let mut q = std::mem::replace(&mut self.q, QueryBuilder::new(""));
        self.params = 0;
        self.statements = 0;
        trip();
        // Not kept in sqlx's statement cache: each text is sent once, and would push out the
        // statements that repeat.
        q.build().persistent(false).execute(&mut *conn).await?;
        Ok(())
    }
}
