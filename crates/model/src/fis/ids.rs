//! The ids of templates (`EXT…`) and experiments (`EXP…`): made from the caller's random
//! bits, so that this crate stays pure, and recognised by their shape, so that a malformed id
//! is refused before any lookup.

const ALPHANUMERICS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn alphanumerics(prefix: &str, random: u128, n: usize) -> String {
    let mut r = random;
    let mut id = String::from(prefix);
    for _ in 0..n {
        id.push(ALPHANUMERICS[(r % 62) as usize] as char);
        r /= 62;
    }
    id
}

/// A template id: `EXT` and 14 case-sensitive alphanumerics from `random` (observed ids such
/// as `EXT6oWVA1WrLNy4XS` [S14][S20]; the length is UNCONFIRMED, spec §7.3).
pub fn template_id(random: u128) -> String {
    alphanumerics("EXT", random, 14)
}

/// An experiment id: `EXP` and 15 alphanumerics (`EXPBCcSv1NvRNTek58` [S20]; the length is
/// UNCONFIRMED).
pub fn experiment_id(random: u128) -> String {
    alphanumerics("EXP", random, 15)
}

fn has_shape(s: &str, prefix: &str, n: usize) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == n && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether `s` has the shape of an id [`template_id`] makes.
pub fn is_template_id(s: &str) -> bool {
    has_shape(s, "EXT", 14)
}

/// Whether `s` has the shape of an id [`experiment_id`] makes.
pub fn is_experiment_id(s: &str) -> bool {
    has_shape(s, "EXP", 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_and_length() {
        for r in [0u128, 1, u128::MAX, 0xdead_beef_cafe] {
            let t = template_id(r);
            let e = experiment_id(r);
            assert_eq!((t.len(), e.len()), (17, 18));
            assert!(is_template_id(&t) && is_experiment_id(&e), "{t} {e}");
        }
        assert_ne!(template_id(1), template_id(2));
        assert!(!is_template_id("EXTdoesnotexist1"));
        assert!(!is_experiment_id("EXT6oWVA1WrLNy4XS"));
        assert!(is_template_id("EXT6oWVA1WrLNy4XS"));
        assert!(is_experiment_id("EXPBCcSv1NvRNTek58"));
    }
}
