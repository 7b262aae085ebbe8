//! Which header fields each stored response carries. The format crate turns
//! them into bytes; this module decides their names, values and order.

use crate::rules::headers::HeaderSet;
use tarweb_format::Coding;

type Fields = Vec<(String, String)>;

/// What a resource response needs to know about its variant.
pub struct Resource<'a> {
    pub content_type: &'a str,
    pub coding: Coding,
    pub etag: &'a str,
    pub last_modified: i64,
    /// The route has compressed variants, so every response of it varies.
    pub negotiated: bool,
    pub cache_control: Option<&'a str>,
    pub site: &'a HeaderSet,
}

/// Applies `_headers` to `base`: `! Name` drops a default, a set header
/// replaces a default of the same name (except `Vary`, which is merged so
/// `Accept-Encoding` appears exactly once), others are appended.
fn apply_site(mut base: Fields, site: &HeaderSet, negotiated: bool, skip: &[&str]) -> Fields {
    base.retain(|(n, _)| !site.remove.iter().any(|r| r.eq_ignore_ascii_case(n)));
    for (n, v) in &site.set {
        if skip.iter().any(|s| s.eq_ignore_ascii_case(n)) {
            continue;
        }
        let v = if n.eq_ignore_ascii_case("vary") && negotiated {
            let has = v
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding") || t.trim() == "*");
            if has {
                v.clone()
            } else {
                format!("{v}, Accept-Encoding")
            }
        } else {
            v.clone()
        };
        match base.iter_mut().find(|(b, _)| b.eq_ignore_ascii_case(n)) {
            Some(slot) => slot.1 = v,
            None => base.push((n.clone(), v)),
        }
    }
    base
}

/// The 200 head fields and the 304 head fields of one variant.
pub fn resource(r: &Resource) -> (Fields, Fields) {
    let mut base: Fields = vec![("Content-Type".into(), r.content_type.into())];
    if r.coding != Coding::Identity {
        base.push(("Content-Encoding".into(), r.coding.token().into()));
    }
    base.push(("ETag".into(), r.etag.into()));
    base.push(("Last-Modified".into(), http_date(r.last_modified)));
    if let Some(cc) = r.cache_control {
        base.push(("Cache-Control".into(), cc.into()));
    }
    if r.negotiated {
        base.push(("Vary".into(), "Accept-Encoding".into()));
    }
    base.push(("Accept-Ranges".into(), "bytes".into()));
    let full = apply_site(base, r.site, r.negotiated, &[]);
    // RFC 9110 §15.4.5: a 304 carries the fields a 200 would have among
    // Cache-Control, Content-Location, ETag, Expires and Vary (Date is added
    // by the server).
    let nm = full
        .iter()
        .filter(|(n, _)| {
            [
                "etag",
                "cache-control",
                "vary",
                "expires",
                "content-location",
            ]
            .iter()
            .any(|k| n.eq_ignore_ascii_case(k))
        })
        .cloned()
        .collect();
    (full, nm)
}

/// Fields of a stored redirect. It has no body, so no `Content-Type`.
pub fn redirect(location: &str, site: &HeaderSet) -> Fields {
    apply_site(
        vec![("Location".into(), location.into())],
        site,
        false,
        &["content-type", "location"],
    )
}

/// Fields of one variant of the site's 404 page.
pub fn not_found(
    content_type: &str,
    coding: Coding,
    negotiated: bool,
    cache_control: Option<&str>,
    site: &HeaderSet,
) -> Fields {
    let mut base: Fields = vec![("Content-Type".into(), content_type.into())];
    if coding != Coding::Identity {
        base.push(("Content-Encoding".into(), coding.token().into()));
    }
    if let Some(cc) = cache_control {
        base.push(("Cache-Control".into(), cc.into()));
    }
    if negotiated {
        base.push(("Vary".into(), "Accept-Encoding".into()));
    }
    apply_site(base, site, negotiated, &[])
}

/// IMF-fixdate (RFC 9110 §5.6.7) of Unix seconds; times before 1970 clamp to 0.
pub fn http_date(secs: i64) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64),
    )
}

/// A decoded URL path made fit for a `Location` header: bytes outside
/// RFC 3986 `pchar` and '/' are percent-encoded.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(set: &[(&str, &str)], remove: &[&str]) -> HeaderSet {
        HeaderSet {
            set: set
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
            auth: vec![],
        }
    }

    fn names(f: &Fields) -> Vec<&str> {
        f.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn resource_fields_and_overrides() {
        let s = site(
            &[
                ("Cache-Control", "public, max-age=31536000, immutable"),
                ("Vary", "Origin"),
                ("X-A", "1"),
            ],
            &[],
        );
        let (full, nm) = resource(&Resource {
            content_type: "text/css; charset=utf-8",
            coding: Coding::Br,
            etag: "\"abc\"",
            last_modified: 0,
            negotiated: true,
            cache_control: Some("no-cache"),
            site: &s,
        });
        assert_eq!(
            names(&full),
            [
                "Content-Type",
                "Content-Encoding",
                "ETag",
                "Last-Modified",
                "Cache-Control",
                "Vary",
                "Accept-Ranges",
                "X-A"
            ]
        );
        assert_eq!(full[4].1, "public, max-age=31536000, immutable");
        assert_eq!(full[5].1, "Origin, Accept-Encoding");
        assert_eq!(full[3].1, "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(names(&nm), ["ETag", "Cache-Control", "Vary"]);
    }

    #[test]
    fn vary_once_and_removal() {
        let s = site(&[("Vary", "accept-encoding")], &["cache-control"]);
        let (full, _) = resource(&Resource {
            content_type: "text/plain",
            coding: Coding::Identity,
            etag: "\"e\"",
            last_modified: 1,
            negotiated: true,
            cache_control: Some("no-cache"),
            site: &s,
        });
        let vary: Vec<_> = full
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
            .collect();
        assert_eq!(vary.len(), 1);
        assert_eq!(vary[0].1, "accept-encoding");
        assert!(!full.iter().any(|(n, _)| n == "Cache-Control"));
    }

    #[test]
    fn redirect_fields() {
        let s = site(
            &[
                ("Strict-Transport-Security", "max-age=1"),
                ("Content-Type", "x/y"),
            ],
            &[],
        );
        assert_eq!(
            redirect("/a%20b/", &s),
            vec![
                ("Location".to_string(), "/a%20b/".to_string()),
                (
                    "Strict-Transport-Security".to_string(),
                    "max-age=1".to_string()
                )
            ]
        );
    }

    #[test]
    fn path_encoding() {
        assert_eq!(
            encode_path("/files/résumé final/"),
            "/files/r%C3%A9sum%C3%A9%20final/"
        );
        assert_eq!(encode_path("/a-b_c.d~e/"), "/a-b_c.d~e/");
        assert_eq!(encode_path("/q?x#y"), "/q%3Fx%23y");
    }
}
