//! The statements the writer owes SQLite between jobs — the start of the batch's
//! transaction, the end of the job before (its savepoint kept or undone), the start of the
//! next job's savepoint — sent in front of the next job's first statement, and the end of
//! the batch sent with its `COMMIT`, instead of each in a round trip of its own.
//!
//! A round trip to sqlx's connection thread costs 0.15–0.3 ms when both cores are busy,
//! more than these statements themselves: under ModifyInstanceMetadataOptions at 10,000
//! instances a batch (one group of ~16 updates, a metadata host's acknowledgements) made
//! 8.3 round trips and spent about half of its 5 ms waiting on them (measured, issue 13).
//!
//! A job that takes its lead ([`super::Job::Led`]) must send it first, in its first round
//! trip; if that round trip fails it cannot tell whether the lead's statements ran, and
//! says so ([`Ended::Unsure`]): the writer then undoes the whole transaction (the jobs before
//! it fail with it; no write is answered as committed that was not).

/// Statements owed before the next job's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lead {
    /// No transaction is open: start it, and the job's savepoint.
    Begin,
    /// The job before wrote: keep it, and start the next job's savepoint.
    Kept,
    /// The job before failed: undo it, and start the next job's savepoint.
    Undone,
}

/// How a job ended, for the writer's next [`Lead`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Its writes stand.
    Wrote,
    /// It failed after its first round trip: its savepoint is to be undone.
    Failed,
    /// Its first round trip, which carried the lead, failed (with this error): what the
    /// lead did is unknown.
    Unsure(String),
}

impl Ended {
    pub fn of(ok: bool) -> Ended {
        if ok {
            Ended::Wrote
        } else {
            Ended::Failed
        }
    }
}

impl Lead {
    /// The statements, each ended by `; `, to put in front of a job's first statement.
    pub fn sql(self) -> &'static str {
        match self {
            Lead::Begin => "BEGIN IMMEDIATE; SAVEPOINT job; ",
            Lead::Kept => "RELEASE job; SAVEPOINT job; ",
            Lead::Undone => "ROLLBACK TO job; RELEASE job; SAVEPOINT job; ",
        }
    }

    /// The lead after a job that ended as `ended` (`None`: the transaction is lost).
    pub fn after(self, ended: &Ended) -> Option<Lead> {
        match (ended, self) {
            (Ended::Wrote, _) => Some(Lead::Kept),
            (Ended::Failed, _) => Some(Lead::Undone),
            // Nothing before it to lose: start again.
            (Ended::Unsure(_), Lead::Begin) => Some(Lead::Begin),
            (Ended::Unsure(_), _) => None,
        }
    }

    /// What ends the batch after its last job, `COMMIT` included (`None`: no transaction
    /// is open).
    pub fn commit(self) -> Option<&'static str> {
        match self {
            Lead::Begin => None,
            Lead::Kept => Some("RELEASE job; COMMIT; "),
            Lead::Undone => Some("ROLLBACK TO job; RELEASE job; COMMIT; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_start_starts_again_and_a_failed_lead_later_loses_the_transaction() {
        let unsure = Ended::Unsure("disk I/O error".into());
        assert_eq!(Lead::Begin.after(&unsure), Some(Lead::Begin));
        assert_eq!(Lead::Kept.after(&unsure), None);
        assert_eq!(Lead::Undone.after(&unsure), None);
        assert_eq!(Lead::Begin.after(&Ended::Failed), Some(Lead::Undone));
        assert_eq!(Lead::Undone.after(&Ended::Wrote), Some(Lead::Kept));
        assert_eq!(Lead::Begin.commit(), None);
        assert!(Lead::Undone
            .commit()
            .unwrap()
            .starts_with("ROLLBACK TO job;"));
    }
}
