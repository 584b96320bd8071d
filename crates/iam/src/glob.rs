//! IAM's wildcards: `*` any run of characters, `?` one character, anywhere.

/// Whether `text` matches `pattern`; `fold` compares ASCII case-insensitively (actions).
pub fn matches(pattern: &str, text: &str, fold: bool) -> bool {
    // Policies and requests are almost always ASCII: match bytes without allocating.
    if pattern.is_ascii() && text.is_ascii() {
        return matches_units(
            pattern.as_bytes(),
            text.as_bytes(),
            fold,
            b'*',
            b'?',
            |a, b| a.eq_ignore_ascii_case(b),
        );
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches_units(&p, &t, fold, '*', '?', |a, b| a.eq_ignore_ascii_case(b))
}

/// The wildcard match over any units (bytes or chars), backtracking to the last `*`.
fn matches_units<T: Copy + PartialEq>(
    p: &[T],
    t: &[T],
    fold: bool,
    star_unit: T,
    one: T,
    fold_eq: impl Fn(&T, &T) -> bool,
) -> bool {
    let eq = |a: T, b: T| if fold { fold_eq(&a, &b) } else { a == b };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == one || (p[pi] != star_unit && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star_unit {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == star_unit)
}

/// ARN matching as `ArnLike` does it: each of the six colon-separated components separately
/// (the resource part keeps its own colons).
pub(crate) fn arn_matches(pattern: &str, arn: &str) -> bool {
    let (mut p, mut a) = (pattern.splitn(6, ':'), arn.splitn(6, ':'));
    for _ in 0..6 {
        match (p.next(), a.next()) {
            (Some(p), Some(a)) if matches(p, a, false) => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(
            "ec2:Modify*",
            "ec2:ModifyInstanceMetadataOptions",
            false
        ));
        assert!(matches(
            "EC2:modify*",
            "ec2:ModifyInstanceMetadataOptions",
            true
        ));
        assert!(!matches(
            "EC2:modify*",
            "ec2:ModifyInstanceMetadataOptions",
            false
        ));
        assert!(matches(
            "arn:aws:ec2:*:*:instance/*",
            "arn:aws:ec2:us-east-1:1:instance/i-1",
            false
        ));
        assert!(matches("*", "", false));
        assert!(matches("a?c", "abc", false));
        assert!(!matches("a?c", "ac", false));
        assert!(arn_matches(
            "arn:aws:iam::*:role/ec2-imds-admins",
            "arn:aws:iam::111122223333:role/ec2-imds-admins"
        ));
        assert!(!arn_matches(
            "arn:aws:iam::*:role/x",
            "arn:aws:iam::1:role/y"
        ));
        assert!(
            !arn_matches("arn:aws:iam::*", "arn:aws:iam::1:role/y"),
            "six components"
        );
    }
}
