//! The table of roots a worker serves from: one root (`tarweb-serve
//! site.twb`), or one per host name plus an optional default (`--sites
//! DIR`). A table is immutable once built; a change builds a new one (see
//! `publish`). Looking a request's host up allocates nothing and takes no
//! lock: a binary search over names kept sorted and lower-case.

use crate::root::Root;
use std::sync::Arc;

/// The file in a `--sites` directory that answers every host without a
/// file of its own. A leading `_` can never be a host name we match, so
/// the name cannot collide with a site.
pub const DEFAULT_STEM: &str = "_default";

pub struct Site {
    /// Lower-case host name, without port or trailing dot.
    pub name: Box<str>,
    pub root: Arc<Root>,
}

pub struct Sites {
    /// Sorted by name.
    hosts: Vec<Site>,
    default: Option<Arc<Root>>,
    /// `--sites`: roots by host (even when only a default is there).
    pub vhosts: bool,
    /// Set by `publish`; workers compare it with what they hold.
    pub generation: u64,
    /// The metrics slot of each host, then of the default (by the index
    /// [`Sites::pick`] gives).
    slots: Vec<u16>,
}

impl Sites {
    /// One root for every request.
    pub fn single(root: Arc<Root>) -> Sites {
        Sites {
            hosts: Vec::new(),
            default: Some(root),
            vhosts: false,
            generation: 0,
            slots: vec![crate::metrics::VHOST_DEFAULT],
        }
    }

    /// A virtual-host table; `hosts` need not be sorted. Names must pass
    /// [`valid_site_name`].
    pub fn hosts(mut hosts: Vec<Site>, default: Option<Arc<Root>>) -> Sites {
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        hosts.dedup_by(|a, b| a.name == b.name);
        let mut slots: Vec<u16> = hosts
            .iter()
            .map(|h| crate::metrics::vhost_slot(&h.name))
            .collect();
        slots.push(crate::metrics::VHOST_DEFAULT);
        Sites {
            hosts,
            default,
            vhosts: true,
            generation: 0,
            slots,
        }
    }

    /// The root for a request, as an index (stable within this table) and
    /// the root; `None` when no site answers (no default).
    #[inline]
    pub fn pick(&self, host: Option<&[u8]>, target: &[u8]) -> Option<(u32, &Arc<Root>)> {
        if !self.hosts.is_empty() {
            if let Some(name) = request_host(host, target) {
                if let Ok(i) = self.hosts.binary_search_by(|s| cmp_lower(&s.name, name)) {
                    return Some((i as u32, &self.hosts[i].root));
                }
            }
        }
        self.default.as_ref().map(|r| (self.hosts.len() as u32, r))
    }

    /// Whether a site of its own answers `name` (a host name as
    /// [`request_host`] gives it; the default site does not count).
    pub fn has_host(&self, name: &[u8]) -> bool {
        self.hosts
            .binary_search_by(|s| cmp_lower(&s.name, name))
            .is_ok()
    }

    /// The root of index `i` from [`Sites::pick`].
    #[inline]
    pub fn get(&self, i: u32) -> &Arc<Root> {
        match self.hosts.get(i as usize) {
            Some(s) => &s.root,
            None => self.default.as_ref().expect("index from pick"),
        }
    }

    /// The metrics slot of index `i` from [`Sites::pick`] (None: no site).
    #[inline]
    pub fn slot(&self, i: Option<u32>) -> u16 {
        i.and_then(|i| self.slots.get(i as usize).copied())
            .unwrap_or(crate::metrics::VHOST_NONE)
    }

    /// The root of an entry named as by [`Sites::entries`].
    pub fn named(&self, name: &str) -> Option<&Arc<Root>> {
        if name == DEFAULT_STEM {
            return self.default.as_ref();
        }
        let i = self.hosts.binary_search_by(|s| (*s.name).cmp(name)).ok()?;
        Some(&self.hosts[i].root)
    }

    /// Every (name, root), the default as [`DEFAULT_STEM`], for logs.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Arc<Root>)> {
        self.hosts
            .iter()
            .map(|s| (&*s.name, &s.root))
            .chain(self.default.iter().map(|r| (DEFAULT_STEM, r)))
    }
}

/// Compares a stored (lower-case) name with request bytes, ignoring the
/// case of the latter.
fn cmp_lower(stored: &str, req: &[u8]) -> std::cmp::Ordering {
    let a = stored.as_bytes().iter().copied();
    let b = req.iter().map(u8::to_ascii_lowercase);
    a.cmp(b)
}

/// The host name a request is for: the authority of an absolute-form
/// target (RFC 9112 §3.2.2: it wins over Host), else the Host field; the
/// port and one trailing dot removed. `None` for an IP-literal, userinfo,
/// or anything that is not a plain DNS name (those get the default site).
pub fn request_host<'a>(host: Option<&'a [u8]>, target: &'a [u8]) -> Option<&'a [u8]> {
    let authority = absolute_authority(target).or(host)?;
    if authority.first() == Some(&b'[') {
        return None;
    }
    let name = match authority.iter().position(|&c| c == b':') {
        Some(i) => &authority[..i],
        None => authority,
    };
    let name = name.strip_suffix(b".").unwrap_or(name);
    valid_dns_name(name).then_some(name)
}

fn absolute_authority(target: &[u8]) -> Option<&[u8]> {
    let rest = [&b"http://"[..], b"https://"].iter().find_map(|p| {
        (target.len() >= p.len() && target[..p.len()].eq_ignore_ascii_case(p))
            .then(|| &target[p.len()..])
    })?;
    let end = rest
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Letters, digits, `-` and `.`, no empty label, at most 253 bytes: so a
/// name can never hold a path separator or be `.`/`..`.
fn valid_dns_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split(|&c| c == b'.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// A site file's stem that may name a host: a valid DNS name, lower case
/// (so that `Example.com.twb` and `example.com.twb` cannot both claim one
/// host).
pub fn valid_site_name(stem: &str) -> bool {
    valid_dns_name(stem.as_bytes()) && !stem.bytes().any(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        let h = |v: &str| request_host(Some(v.as_bytes()), b"/").map(|n| n.to_vec());
        assert_eq!(h("Example.COM"), Some(b"Example.COM".to_vec()));
        assert_eq!(h("example.com:8080"), Some(b"example.com".to_vec()));
        assert_eq!(h("example.com."), Some(b"example.com".to_vec()));
        assert_eq!(h("example.com.:80"), Some(b"example.com".to_vec()));
        for bad in [
            "", "[::1]:80", "..", ".", "a..b", ".a", "a/b", "a%2fb", "u@h", "_default", "a_b",
            "a\\b",
        ] {
            assert_eq!(h(bad), None, "{bad}");
        }
        // Absolute form wins over Host.
        assert_eq!(
            request_host(Some(b"other"), b"HTTP://Site.example:81/x?y").map(<[u8]>::to_vec),
            Some(b"Site.example".to_vec())
        );
        assert_eq!(request_host(None, b"/x"), None);
    }

    #[test]
    fn site_names() {
        for ok in ["example.com", "a", "xn--bcher-kva.example", "127.0.0.1"] {
            assert!(valid_site_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "Example.com",
            "_default",
            "a/b",
            "a b",
            ".hidden",
            "a.",
            "a..b",
        ] {
            assert!(!valid_site_name(bad), "{bad}");
        }
    }

    #[test]
    fn own_hosts_only() {
        let s = Sites::hosts(Vec::new(), None);
        assert!(!s.has_host(b"example.org"));
        assert!(!Sites {
            hosts: Vec::new(),
            default: None,
            vhosts: false,
            generation: 0,
            slots: Vec::new(),
        }
        .has_host(b""));
    }

    #[test]
    fn case_insensitive_order() {
        use std::cmp::Ordering::*;
        assert_eq!(cmp_lower("abc", b"ABC"), Equal);
        assert_eq!(cmp_lower("abc", b"ABD"), Less);
        assert_eq!(cmp_lower("abc", b"AB"), Greater);
    }
}
