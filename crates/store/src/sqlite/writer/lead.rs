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
//!
//! **Bare jobs.** A savepoint is not free: while one is open SQLite copies every page a
//! statement changes for the first time into the savepoint's journal, a temporary file once
//! it passes 64 KiB, opened and removed again with every transaction. Under
//! ModifyInstanceMetadataOptions that journal was about a quarter of the writer's SQLite
//! time (measured, issue 13). The jobs whose statements the store itself makes from a
//! decision already taken — a group of instance updates, a metadata host's
//! acknowledgements — can fail only when SQLite does (a full disk, an I/O error), and then
//! the whole transaction is undone instead of the job alone: the jobs before it in the
//! batch are answered with the error (never as committed), and the writer goes on with the
//! ones after it in a new transaction. Such a job runs without a savepoint
//! ([`Savepoint::None`]), and its statements say `OR FAIL` (a failing statement stops
//! where it is, with no statement journal either, since the transaction is undone anyway).

/// Whether a job runs in a savepoint of its own (see the module's doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Savepoint {
    /// Its own savepoint: if it fails, it alone is undone.
    Own,
    /// None: if it fails, the whole transaction is undone.
    None,
}

/// What is owed before the next job's statements: how the job before ended (or that no
/// transaction is open), and whether the next job has a savepoint of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lead {
    owed: Owed,
    savepoint: Savepoint,
}

/// The state the job before left the transaction in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owed {
    /// No transaction is open: start it.
    Begin,
    /// The job before wrote in its savepoint: keep it.
    Kept,
    /// The job before failed in its savepoint: undo it.
    Undone,
    /// The job before wrote without a savepoint: nothing to end.
    Open,
}

/// How a job ended, for the writer's next [`Lead`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Its writes stand.
    Wrote,
    /// It failed after its first round trip: its savepoint is to be undone (without one,
    /// the transaction).
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

/// What follows a job, for the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Go on in the transaction, owing this.
    Go(Owed),
    /// The transaction is lost (the job's failure could not be undone alone): roll it back,
    /// answer the jobs before with the failure, and go on in a new one.
    Lost,
}

impl Owed {
    /// The lead of the next job, which has `savepoint`.
    pub fn then(self, savepoint: Savepoint) -> Lead {
        Lead {
            owed: self,
            savepoint,
        }
    }

    /// What ends the batch after its last job, `COMMIT` included (`None`: no transaction
    /// is open).
    pub fn commit(self) -> Option<&'static str> {
        match self {
            Owed::Begin => None,
            Owed::Kept => Some("RELEASE job; COMMIT; "),
            Owed::Undone => Some("ROLLBACK TO job; RELEASE job; COMMIT; "),
            Owed::Open => Some("COMMIT; "),
        }
    }
}

impl Lead {
    /// The statements, each ended by `; `, to put in front of a job's first statement.
    pub fn sql(self) -> &'static str {
        use Owed::*;
        use Savepoint::{None as Bare, Own};
        match (self.owed, self.savepoint) {
            (Begin, Own) => "BEGIN IMMEDIATE; SAVEPOINT job; ",
            (Begin, Bare) => "BEGIN IMMEDIATE; ",
            (Kept, Own) => "RELEASE job; SAVEPOINT job; ",
            (Kept, Bare) => "RELEASE job; ",
            (Undone, Own) => "ROLLBACK TO job; RELEASE job; SAVEPOINT job; ",
            (Undone, Bare) => "ROLLBACK TO job; RELEASE job; ",
            (Open, Own) => "SAVEPOINT job; ",
            (Open, Bare) => "",
        }
    }

    /// What follows the job this lead went before, which ended as `ended`.
    pub fn after(self, ended: &Ended) -> Next {
        match (ended, self.savepoint, self.owed) {
            (Ended::Wrote, Savepoint::Own, _) => Next::Go(Owed::Kept),
            (Ended::Wrote, Savepoint::None, _) => Next::Go(Owed::Open),
            (Ended::Failed, Savepoint::Own, _) => Next::Go(Owed::Undone),
            // Nothing before it to lose: start again.
            (Ended::Failed | Ended::Unsure(_), _, Owed::Begin) => Next::Go(Owed::Begin),
            (Ended::Failed, Savepoint::None, _) | (Ended::Unsure(_), _, _) => Next::Lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_start_starts_again_and_a_failed_lead_later_loses_the_transaction() {
        let unsure = Ended::Unsure("disk I/O error".into());
        let own = Savepoint::Own;
        assert_eq!(Owed::Begin.then(own).after(&unsure), Next::Go(Owed::Begin));
        assert_eq!(Owed::Kept.then(own).after(&unsure), Next::Lost);
        assert_eq!(Owed::Undone.then(own).after(&unsure), Next::Lost);
        assert_eq!(
            Owed::Begin.then(own).after(&Ended::Failed),
            Next::Go(Owed::Undone)
        );
        assert_eq!(
            Owed::Undone.then(own).after(&Ended::Wrote),
            Next::Go(Owed::Kept)
        );
        assert_eq!(Owed::Begin.commit(), None);
        assert!(Owed::Undone
            .commit()
            .unwrap()
            .starts_with("ROLLBACK TO job;"));
    }

    #[test]
    fn a_bare_job_opens_no_savepoint_and_its_failure_loses_the_transaction_unless_first() {
        let bare = Savepoint::None;
        assert_eq!(Owed::Begin.then(bare).sql(), "BEGIN IMMEDIATE; ");
        assert_eq!(Owed::Kept.then(bare).sql(), "RELEASE job; ");
        assert_eq!(Owed::Open.then(bare).sql(), "");
        assert_eq!(Owed::Open.then(Savepoint::Own).sql(), "SAVEPOINT job; ");
        assert_eq!(
            Owed::Kept.then(bare).after(&Ended::Wrote),
            Next::Go(Owed::Open)
        );
        assert_eq!(Owed::Open.then(bare).after(&Ended::Failed), Next::Lost);
        // First in its transaction: undoing the transaction undoes only the job.
        assert_eq!(
            Owed::Begin.then(bare).after(&Ended::Failed),
            Next::Go(Owed::Begin)
        );
        assert_eq!(Owed::Open.commit(), Some("COMMIT; "));
        // Every lead's statements end the job before exactly once.
        for owed in [Owed::Begin, Owed::Kept, Owed::Undone, Owed::Open] {
            for sp in [Savepoint::Own, bare] {
                let sql = owed.then(sp).sql();
                assert_eq!(sql.contains("SAVEPOINT job"), sp == Savepoint::Own);
                assert_eq!(sql.contains("BEGIN"), owed == Owed::Begin);
                assert_eq!(
                    sql.contains("RELEASE"),
                    matches!(owed, Owed::Kept | Owed::Undone)
                );
            }
        }
    }
}
