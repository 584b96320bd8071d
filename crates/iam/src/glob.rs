//! IAM's wildcards: `*` any run of characters, `?` one character, anywhere.

/// Whether `text` matches `pattern`; `fold` compares ASCII case-insensitively (actions).
pub fn matches(pattern: &str, text: &str, fold: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
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
    p[pi..].iter().all(|c| *c == '*')
}

/// ARN matching as `ArnLike` does it: each of the six colon-separated components separately
/// (the resource part keeps its own colons).
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    let split = |s: &str| -> Vec<String> { s.splitn(6, ':').map(str::to_string).collect() };
    let (p, a) = (split(pattern), split(arn));
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| matches(p, a, false))
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
