//! Other services' documents ([`crate::DocumentStore`]): kept as written, by kind, scope
//! and id, listed in the order first written.

use super::{scope, Backend};
use crate::DocumentKey;
use model::Scope;

/// Put, read, replace and delete; an upsert keeps its place in the order; a put-if-absent
/// gets the first document; pages run by kind and scope, each saying where the next starts,
/// and never list another kind's or scope's documents.
pub async fn documents_are_kept_by_kind_and_scope_in_the_order_written<B: Backend>(b: &B) {
    let s = b.open().await;
    let here = scope();
    let elsewhere = Scope::new("210987654321", "us-west-2");
    let other_region = Scope::new(&here.account, "eu-west-1");
    let key = |kind: &str, scope: &Scope, id: &str| DocumentKey::new(kind, scope, id);
    let t = |id: &str| key("fis-template", &here, id);

    assert_eq!(s.document(&t("EXT1")).await.unwrap(), None);
    assert!(!s.delete_document(&t("EXT1")).await.unwrap());
    // Kept byte for byte (key order, spacing).
    let first = r#"{"z": 1,  "a": [2, 1]}"#;
    s.put_document(&t("EXT1"), first).await.unwrap();
    assert_eq!(
        s.document(&t("EXT1")).await.unwrap().as_deref(),
        Some(first)
    );
    for n in 2..=5 {
        let id = format!("EXT{n}");
        s.put_document(&t(&id), &format!(r#"{{"n":{n}}}"#))
            .await
            .unwrap();
    }
    // Other kinds and scopes under the same ids.
    s.put_document(&key("fis-experiment", &here, "EXT1"), "{}")
        .await
        .unwrap();
    s.put_document(&key("fis-template", &elsewhere, "EXT1"), "{}")
        .await
        .unwrap();
    s.put_document(&key("fis-template", &other_region, "EXT9"), "{}")
        .await
        .unwrap();

    // Replaced, it keeps its place.
    s.put_document(&t("EXT1"), r#"{"v":2}"#).await.unwrap();
    assert_eq!(
        s.document(&t("EXT1")).await.unwrap().as_deref(),
        Some(r#"{"v":2}"#)
    );
    assert_eq!(
        s.document(&key("fis-experiment", &here, "EXT1"))
            .await
            .unwrap()
            .as_deref(),
        Some("{}"),
        "another kind's is its own"
    );

    // Pages of two, in the order first written.
    let mut listed = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s.documents("fis-template", &here, after, 2).await.unwrap();
        pages += 1;
        assert!(page.documents.len() <= 2);
        listed.extend(page.documents);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let ids: Vec<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["EXT1", "EXT2", "EXT3", "EXT4", "EXT5"]);
    assert_eq!(listed[0].1, r#"{"v":2}"#);
    assert_eq!(listed[2].1, r#"{"n":3}"#);
    let all = s.documents("fis-template", &here, None, 5).await.unwrap();
    assert_eq!(all.documents.len(), 5);
    assert_eq!(all.next, None, "no page after the last");
    let other = s
        .documents("fis-experiment", &here, None, 100)
        .await
        .unwrap();
    assert_eq!(other.documents, [("EXT1".to_string(), "{}".to_string())]);
    let there = s
        .documents("fis-template", &elsewhere, None, 100)
        .await
        .unwrap();
    assert_eq!(there.documents.len(), 1);
    let nothing = s.documents("fis-nothing", &here, None, 100).await.unwrap();
    assert_eq!((nothing.documents.len(), nothing.next), (0, None));

    // The first of two puts-if-absent wins, and both get its document.
    let e = key("fis-experiment", &here, "token-1");
    assert_eq!(
        s.put_document_if_absent(&e, r#"{"first":true}"#)
            .await
            .unwrap(),
        r#"{"first":true}"#
    );
    assert_eq!(
        s.put_document_if_absent(&e, r#"{"second":true}"#)
            .await
            .unwrap(),
        r#"{"first":true}"#
    );
    assert_eq!(
        s.document(&e).await.unwrap().as_deref(),
        Some(r#"{"first":true}"#)
    );
    // Racing on one new key: every caller gets the same document.
    let racing = key("fis-experiment", &here, "token-2");
    let mut handles = Vec::new();
    for n in 0..8 {
        let (s, k) = (s.clone(), racing.clone());
        handles.push(tokio::spawn(async move {
            s.put_document_if_absent(&k, &format!(r#"{{"n":{n}}}"#))
                .await
                .unwrap()
        }));
    }
    let mut got = Vec::new();
    for h in handles {
        got.push(h.await.unwrap());
    }
    got.dedup();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(s.document(&racing).await.unwrap(), Some(got[0].clone()));

    // Deleted: gone from reads and pages, the others keep their order; kept across a reopen.
    assert!(s.delete_document(&t("EXT2")).await.unwrap());
    assert!(!s.delete_document(&t("EXT2")).await.unwrap());
    assert_eq!(s.document(&t("EXT2")).await.unwrap(), None);
    s.close().await;
    let s = b.open().await;
    let page = s.documents("fis-template", &here, None, 100).await.unwrap();
    let ids: Vec<&str> = page.documents.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["EXT1", "EXT3", "EXT4", "EXT5"]);
    // A key written again after its delete goes last.
    s.put_document(&t("EXT2"), "{}").await.unwrap();
    let page = s.documents("fis-template", &here, None, 100).await.unwrap();
    let ids: Vec<&str> = page.documents.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["EXT1", "EXT3", "EXT4", "EXT5", "EXT2"]);
    s.close().await;
}

/// A replace writes only over the document the caller read: not over one another write
/// changed since (its change would be undone), nor where the document was removed (it would
/// come back), nor where there was none. Of replaces racing from one read, one writes.
pub async fn a_document_is_replaced_only_over_what_was_read<B: Backend>(b: &B) {
    let s = b.open().await;
    let k = DocumentKey::new("fis-template", &scope(), "EXT1");
    assert!(!s.replace_document(&k, "{}", r#"{"v":1}"#).await.unwrap());
    assert_eq!(
        s.document(&k).await.unwrap(),
        None,
        "no document: none made"
    );
    s.put_document(&k, r#"{"v":1}"#).await.unwrap();
    assert!(s
        .replace_document(&k, r#"{"v":1}"#, r#"{"v":2}"#)
        .await
        .unwrap());
    // Made from the first, after the second was written: left as the second.
    assert!(!s
        .replace_document(&k, r#"{"v":1}"#, r#"{"v":3}"#)
        .await
        .unwrap());
    assert_eq!(s.document(&k).await.unwrap().as_deref(), Some(r#"{"v":2}"#));
    let mut racing = Vec::new();
    for n in 0..8 {
        let (s, k) = (s.clone(), k.clone());
        racing.push(tokio::spawn(async move {
            s.replace_document(&k, r#"{"v":2}"#, &format!(r#"{{"r":{n}}}"#))
                .await
                .unwrap()
        }));
    }
    let mut wrote = 0;
    for r in racing {
        wrote += r.await.unwrap() as usize;
    }
    assert_eq!(wrote, 1, "one of the replaces made from one read writes");
    assert!(s.delete_document(&k).await.unwrap());
    let now = s.document(&k).await.unwrap();
    assert_eq!(now, None);
    assert!(!s
        .replace_document(&k, r#"{"v":2}"#, r#"{"v":4}"#)
        .await
        .unwrap());
    assert_eq!(
        s.document(&k).await.unwrap(),
        None,
        "a removed one stays removed"
    );
    s.close().await;
}
