//! Moving a fleet to IMDSv2 (issue 15, "the planner"): which instances can be switched to
//! `HttpTokens=required` without breaking anything, judged on their metadata traffic over a
//! window (CloudWatch's `MetadataNoToken`, one sample a minute an instance used the metadata
//! service).

use crate::options::HttpTokens;

/// What the planner makes of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// IMDSv2 is already required.
    Done,
    /// It used the metadata service in the window, always with a token: switching is safe.
    Safe,
    /// It made `tokenless` calls in the window: switching would break their callers.
    Blocked { tokenless: u64 },
    /// No metadata traffic in the window (stopped, idle, or never called): nothing to judge
    /// by, so it is left alone.
    Unknown,
}

impl Verdict {
    /// From the instance's `HttpTokens` and, over the window, the minutes in which it used
    /// the metadata service and its tokenless calls answered.
    pub fn of(http_tokens: HttpTokens, active_minutes: u64, tokenless: u64) -> Verdict {
        match (http_tokens, active_minutes, tokenless) {
            (HttpTokens::Required, _, _) => Verdict::Done,
            (_, _, n) if n > 0 => Verdict::Blocked { tokenless: n },
            (_, 0, _) => Verdict::Unknown,
            _ => Verdict::Safe,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Done => "done",
            Verdict::Safe => "safe",
            Verdict::Blocked { .. } => "blocked",
            Verdict::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        use HttpTokens::*;
        assert_eq!(Verdict::of(Required, 0, 0), Verdict::Done);
        assert_eq!(Verdict::of(Required, 3, 2), Verdict::Done);
        assert_eq!(Verdict::of(Optional, 3, 0), Verdict::Safe);
        assert_eq!(
            Verdict::of(Optional, 3, 2),
            Verdict::Blocked { tokenless: 2 }
        );
        assert_eq!(Verdict::of(Optional, 0, 0), Verdict::Unknown);
    }
}
