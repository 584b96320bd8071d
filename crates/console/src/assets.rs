//! The embedded files and their content types.

/// One embedded file of the console.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the console serves.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", CSS),
    asset!("app.js", JS),
    asset!("sigv4.js", JS),
    asset!("ec2.js", JS),
    asset!("instances.js", JS),
    asset!("modify.js", JS),
    asset!("ui.js", JS),
    asset!("metrics.js", JS),
    asset!("defaults.js", JS),
    asset!("launch.js", JS),
    asset!("migration.js", JS),
    asset!("callers.js", JS),
];

pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_extensions() {
        for a in ASSETS {
            let want = match a.name.rsplit('.').next() {
                Some("html") => HTML,
                Some("js") => JS,
                Some("css") => CSS,
                other => panic!("unexpected extension {other:?}"),
            };
            assert_eq!(a.content_type, want, "{}", a.name);
            assert!(!a.body.is_empty(), "{} is empty", a.name);
        }
    }
}
