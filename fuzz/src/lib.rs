//! What the fuzz targets share: the sorted operations of the EC2 and IAM models, and the plain text
//! form of an HTTP request that seeds are written in.

use std::sync::OnceLock;

/// The EC2 model's operations, sorted: the model's map iterates in a per-process order, which
/// would make an input that picks an operation by index mean another one on the next run.
pub fn operations() -> &'static [String] {
    static OPS: OnceLock<Vec<String>> = OnceLock::new();
    OPS.get_or_init(|| sorted(ec2api::protocol::shapes::model()))
}

/// The IAM model's operations, sorted (as [`operations`]).
pub fn iam_operations() -> &'static [String] {
    static OPS: OnceLock<Vec<String>> = OnceLock::new();
    OPS.get_or_init(|| sorted(ec2api::protocol::shapes::iam()))
}

fn sorted(model: &ec2api::protocol::shapes::Model) -> Vec<String> {
    let mut ops: Vec<String> = model.operations.keys().cloned().collect();
    ops.sort();
    ops
}

/// A request as text, readable in a seed:
///
/// ```text
/// METHOD TARGET
/// Name: value          (headers, one a line, until an empty line)
///
/// body
/// ```
pub struct TextRequest<'a> {
    pub method: &'a str,
    /// The path, with `?query` when there is one.
    pub target: &'a str,
    /// Names as written, values with the space after the colon removed.
    pub headers: Vec<(String, String)>,
    pub body: &'a str,
}

impl<'a> TextRequest<'a> {
    pub fn parse(text: &'a str, default_method: &'a str) -> TextRequest<'a> {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.split('\n');
        let request_line = lines.next().unwrap_or("");
        let (method, target) = request_line
            .split_once(' ')
            .unwrap_or((default_method, request_line));
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap_or((l, ""));
                (n.to_string(), v.trim_start().to_string())
            })
            .collect();
        TextRequest {
            method,
            target,
            headers,
            body,
        }
    }
}
