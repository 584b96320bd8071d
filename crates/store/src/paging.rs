//! Keyset pages, whatever the backend: rows are fetched with `LIMIT limit + 1`, and the
//! extra row says whether a next page starts after this one's last position.

/// Split rows fetched with `LIMIT limit + 1` into one page and the position the next page
/// starts after (the position of the page's last row), when there is a next page.
pub(crate) fn page<R>(
    mut rows: Vec<R>,
    limit: Option<u32>,
    position: impl Fn(&R) -> i64,
) -> (Vec<R>, Option<i64>) {
    match limit {
        Some(l) if rows.len() > l as usize => {
            rows.truncate(l as usize);
            let next = rows.last().map(&position);
            (rows, next)
        }
        _ => (rows, None),
    }
}
