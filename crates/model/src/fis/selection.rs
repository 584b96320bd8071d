//! A target's `selectionMode` (`ALL`, `COUNT(n)`, `PERCENT(n)`): parsed and checked at
//! Create, and at start the pick among the resources found, driven by the caller's random
//! bits so that the rule stays pure and testable.

use super::Invalid;

/// A target's `selectionMode` [S9][S11]: every resource found, `n` of them at random, or
/// `n` percent of them at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionMode {
    All,
    Count(u32),
    Percent(u32),
}

impl SelectionMode {
    /// `ALL`, `COUNT(n)` with n ≥ 1, `PERCENT(n)` with 1 ≤ n ≤ 100 (the bounds are
    /// UNCONFIRMED, and so is which call refuses the rest: imds refuses them at Create,
    /// spec §7.5).
    pub fn parse(s: &str) -> Result<SelectionMode, Invalid> {
        let number = |inner: &str| -> Option<u32> {
            (!inner.is_empty() && inner.len() <= 9 && inner.bytes().all(|b| b.is_ascii_digit()))
                .then(|| inner.parse().ok())
                .flatten()
        };
        let arg = |name: &str| {
            s.strip_prefix(name)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
                .and_then(number)
        };
        let mode = if s == "ALL" {
            Some(SelectionMode::All)
        } else if let Some(n) = arg("COUNT") {
            (n >= 1).then_some(SelectionMode::Count(n))
        } else if let Some(n) = arg("PERCENT") {
            (1..=100).contains(&n).then_some(SelectionMode::Percent(n))
        } else {
            None
        };
        mode.ok_or_else(|| {
            Invalid(format!(
                "Selection mode {s} is not valid: use ALL, COUNT(n) with n at least 1, or PERCENT(n) with n from 1 to 100."
            ))
        })
    }

    /// How many of `found` resources the mode takes: all, `n` (at most all), or `n` percent
    /// rounded up (UNCONFIRMED rounding; at least one when any are found).
    pub fn how_many(self, found: usize) -> usize {
        match self {
            SelectionMode::All => found,
            SelectionMode::Count(n) => found.min(n as usize),
            SelectionMode::Percent(p) => (found * p as usize).div_ceil(100),
        }
    }

    /// The indices (ascending) of the resources taken among `found`, the random ones picked
    /// with `seed` (the caller's random bits).
    pub fn pick(self, found: usize, seed: u64) -> Vec<usize> {
        let k = self.how_many(found);
        let mut all: Vec<usize> = (0..found).collect();
        if k < found {
            // A partial Fisher–Yates shuffle driven by splitmix64.
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            };
            for i in 0..k {
                let j = i + (next() % (found - i) as u64) as usize;
                all.swap(i, j);
            }
            all.truncate(k);
            all.sort_unstable();
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_modes() {
        assert_eq!(SelectionMode::parse("ALL"), Ok(SelectionMode::All));
        assert_eq!(
            SelectionMode::parse("COUNT(3)"),
            Ok(SelectionMode::Count(3))
        );
        assert_eq!(
            SelectionMode::parse("PERCENT(25)"),
            Ok(SelectionMode::Percent(25))
        );
        for bad in [
            "all",
            "COUNT(0)",
            "COUNT()",
            "COUNT(-1)",
            "COUNT(1",
            "PERCENT(101)",
            "PERCENT(0)",
            "SOME",
            "",
            "COUNT(99999999999)",
            "COUNT( 1)",
        ] {
            assert!(SelectionMode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn picks_are_random_subsets_of_the_right_size() {
        assert_eq!(SelectionMode::All.pick(3, 7), vec![0, 1, 2]);
        assert_eq!(SelectionMode::Count(5).pick(3, 7), vec![0, 1, 2]);
        let p = SelectionMode::Count(2).pick(10, 7);
        assert_eq!(p.len(), 2);
        assert!(p[0] < p[1] && p[1] < 10);
        assert_eq!(SelectionMode::Percent(50).pick(5, 1).len(), 3);
        assert_eq!(SelectionMode::Percent(1).pick(5, 1).len(), 1);
        assert!(SelectionMode::Percent(10).pick(0, 1).is_empty());
        let distinct: std::collections::BTreeSet<Vec<usize>> = (0..50)
            .map(|seed| SelectionMode::Count(1).pick(10, seed))
            .collect();
        assert!(distinct.len() > 3, "the seed picks different instances");
    }
}
