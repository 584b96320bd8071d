//! The parameters of a Query request: `application/x-www-form-urlencoded` pairs from the
//! query string and the body, decoded strictly, bounded in number. What they mean is the
//! decoder's business (`query`).

use model::{limits, Ec2Error};

/// Decoded form pairs, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parse `application/x-www-form-urlencoded` bytes (a POST body or a query string).
    /// Names and values must be UTF-8 once percent-decoded; otherwise the request is a
    /// `MalformedQueryString` (rather than silently altered, as a lossy decoder would).
    ///
    /// More than [`limits::MAX_PARAMETERS`] pairs are refused before any is decoded.
    pub fn parse(bytes: &[u8]) -> Result<Params, Ec2Error> {
        let parts = || bytes.split(|b| *b == b'&').filter(|p| !p.is_empty());
        limits::check_parameter_count(parts().count())?;
        let mut pairs = Vec::new();
        for part in parts() {
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            pairs.push((decode_component(k)?, decode_component(v)?));
        }
        Ok(Params { pairs })
    }

    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

fn decode_component(raw: &[u8]) -> Result<String, Ec2Error> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes).map_err(|_| {
        Ec2Error::MalformedQueryString(format!(
            "The request contains a parameter that is not valid UTF-8: {}",
            String::from_utf8_lossy(raw)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        let q = Params::parse(b"A=b+c&D=%41%2B&E&F=").unwrap();
        assert_eq!(q.get("A"), Some("b c"));
        assert_eq!(q.get("D"), Some("A+"));
        assert_eq!(q.get("E"), Some(""));
        assert!(matches!(
            Params::parse(b"A=%FF%FE"),
            Err(Ec2Error::MalformedQueryString(_))
        ));
        assert!(matches!(
            Params::parse(b"A=\xff"),
            Err(Ec2Error::MalformedQueryString(_))
        ));
    }
}
