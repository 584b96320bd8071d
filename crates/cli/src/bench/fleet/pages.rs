//! The page phase: DescribeInstances filtered to half the fleet, walked page by page along
//! `NextToken` (again from the start when a walk ends) until enough pages are timed. A page's
//! time is the server's own (`Server-Timing`) where the server gives it, and as the client saw
//! it in any case.

use super::http::{elements, encode, Client, Signer};
use std::net::SocketAddr;

/// How a server is asked for a page of about a thousand instances.
pub struct PageQuery {
    /// The filter, as Query parameters.
    pub filter: &'static str,
    /// `MaxResults`.
    pub max_results: usize,
}

/// imds: the query, a thousand instances a page.
pub const IMDS_QUERY: PageQuery = PageQuery {
    filter: "Filter.1.Name=metadata-options.http-tokens&Filter.1.Value.1=required",
    max_results: 1000,
};

/// moto has no `metadata-options.http-tokens` filter, and pages by reservation: the same half
/// of the fleet by instance type, one reservation (a thousand instances) a page.
pub const MOTO_QUERY: PageQuery = PageQuery {
    filter: "Filter.1.Name=instance-type&Filter.1.Value.1=t3.micro",
    max_results: 1,
};

/// The timed pages, and what the first whole walk described.
pub struct Pages {
    /// The server's time per page, in ms, sorted (empty when the server does not say).
    pub server_ms: Vec<f64>,
    /// The client's round trip per page, in ms, sorted.
    pub client_ms: Vec<f64>,
    /// Instances the first whole walk described.
    pub described: usize,
    /// Results on the fullest page.
    pub largest_page: usize,
}

/// Walk the filtered listing until at least `min_pages` pages are timed (and at least one walk
/// is whole).
pub async fn walk(
    api: SocketAddr,
    signer: &Signer,
    query: &PageQuery,
    min_pages: usize,
) -> Result<Pages, String> {
    let mut client = Client::new(api);
    let (mut server_ms, mut client_ms) = (Vec::new(), Vec::new());
    let (mut described, mut first_walk, mut largest_page) = (0, true, 0);
    let mut token: Option<String> = None;
    loop {
        let mut body = format!(
            "Action=DescribeInstances&{}&MaxResults={}",
            query.filter, query.max_results
        );
        if let Some(t) = &token {
            body.push_str(&format!("&NextToken={}", encode(t)));
        }
        let answer = client
            .ec2(signer, &body)
            .await
            .map_err(|e| format!("DescribeInstances: {e}"))?;
        if answer.status != 200 {
            let excerpt: String = answer.body.chars().take(500).collect();
            return Err(format!(
                "DescribeInstances answered {}: {excerpt}",
                answer.status
            ));
        }
        client_ms.push(answer.client_ms);
        server_ms.extend(answer.server_ms);
        let results = elements(&answer.body, "instanceId").len();
        largest_page = largest_page.max(results);
        if first_walk {
            described += results;
        }
        token = elements(&answer.body, "nextToken")
            .first()
            .map(|t| t.to_string())
            .filter(|t| !t.is_empty());
        if token.is_none() {
            first_walk = false;
            if client_ms.len() >= min_pages {
                break;
            }
        }
    }
    server_ms.sort_by(f64::total_cmp);
    client_ms.sort_by(f64::total_cmp);
    Ok(Pages {
        server_ms,
        client_ms,
        described,
        largest_page,
    })
}

/// The `p` quantile of sorted values (NaN when there are none).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}
