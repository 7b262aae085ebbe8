//! Turns the site's files into routes: one per file, index pages for their
//! directory, `dir` → `dir/` redirects, `_redirects` rules, the 404 page, and
//! precompressed siblings. Decides *what* is served where; not how it is
//! encoded or stored.

use crate::input::SiteFile;
use crate::response::encode_path;
use crate::rules::{headers::HeaderRules, percent_decode_path, redirects};
use crate::store::Store;
use anyhow::Context;
use std::collections::{BTreeMap, BTreeSet};
use tarweb_format::dynamic::{self, Captures, Token};
use tarweb_format::Coding;

/// What a route serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The bytes of `files[i]`, with all its variants.
    File(usize),
    Redirect {
        status: u16,
        location: String,
    },
    /// `files[i]` with status 404 (a `_redirects` 404 rule's page).
    NotFound(usize),
}

/// A dynamic `_redirects` rule (a splat or placeholders), for the paths
/// the site does not list, in file order.
#[derive(Debug, Clone)]
pub struct DynRule {
    pub pattern: Vec<Token>,
    pub target: DynTarget,
    /// The source as written, for `_headers` and messages.
    pub from: String,
}

#[derive(Debug, Clone)]
pub enum DynTarget {
    /// A redirect to a fixed `Location`.
    Redirect { status: u16, location: String },
    /// A redirect whose `Location` takes captures.
    Template { status: u16, template: Vec<Token> },
    /// 200: the route the template names.
    Rewrite(Vec<Token>),
    /// 404 with `files[i]`'s bytes.
    NotFound(usize),
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Decoded URL path, e.g. `/docs/`.
    pub path: String,
    pub target: Target,
    /// URL paths `_headers` patterns are matched against: the route's own,
    /// plus the file's for index pages and rewrites, so `/docs/` and
    /// `/docs/index.html` get the same headers.
    pub match_paths: Vec<String>,
}

#[derive(Debug)]
pub struct Site {
    /// Servable files (`_headers` and `_redirects` consumed), sorted by path.
    pub files: Vec<SiteFile>,
    /// Sorted by path, unique.
    pub routes: Vec<Route>,
    /// `404.html` at the root, when there is one.
    pub not_found: Option<usize>,
    /// Per file, per coding: the index of a precompressed sibling
    /// (`x.js.gz` for `x.js`), to be used instead of compressing.
    pub siblings: Vec<[Option<usize>; 4]>,
    pub headers: HeaderRules,
    /// Dynamic `_redirects` rules, in order.
    pub rules: Vec<DynRule>,
}

const RULE_FILES: [&str; 2] = ["_headers", "_redirects"];

/// Sibling suffixes, in order of preference per coding.
const SIBLINGS: [(&str, Coding); 4] = [
    (".gz", Coding::Gzip),
    (".br", Coding::Br),
    (".zst", Coding::Zstd),
    (".zstd", Coding::Zstd),
];

pub fn plan(
    mut files: Vec<SiteFile>,
    store: &Store,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<Site> {
    let text = |f: &SiteFile| -> anyhow::Result<String> {
        let bytes = store.read(f.data.stored)?;
        String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", f.path))
    };
    let mut headers = HeaderRules::default();
    let mut redirect_rules = Vec::new();
    for f in files
        .iter()
        .filter(|f| RULE_FILES.contains(&f.path.as_str()))
    {
        if f.path == "_headers" {
            headers = HeaderRules::parse(&text(f)?)?;
            for w in headers.warnings() {
                warn(w.clone());
            }
        } else {
            redirect_rules = redirects::parse(&text(f)?, warn)?;
        }
    }
    files.retain(|f| !RULE_FILES.contains(&f.path.as_str()));
    if files.is_empty() {
        anyhow::bail!("the site has no files to serve");
    }

    let mut routes: BTreeMap<String, Route> = BTreeMap::new();
    let file_route = |path: &str, i: usize, match_paths: Vec<String>| Route {
        path: path.to_string(),
        target: Target::File(i),
        match_paths,
    };
    for (i, f) in files.iter().enumerate() {
        let url = format!("/{}", f.path);
        routes.insert(url.clone(), file_route(&url, i, vec![url.clone()]));
    }
    // Index pages answer for their directory; `dir` redirects to `dir/`.
    for (i, f) in files.iter().enumerate() {
        let Some(dir) = f.path.strip_suffix("index.html") else {
            continue;
        };
        if !(dir.is_empty() || dir.ends_with('/')) {
            continue; // e.g. `myindex.html`
        }
        let file_url = format!("/{}", f.path);
        let dir_url = format!("/{dir}");
        routes.insert(
            dir_url.clone(),
            file_route(&dir_url, i, vec![dir_url.clone(), file_url]),
        );
        if let Some(bare) = dir_url.strip_suffix('/').filter(|b| !b.is_empty()) {
            routes.entry(bare.to_string()).or_insert_with(|| Route {
                path: bare.to_string(),
                target: Target::Redirect {
                    status: 301,
                    location: encode_path(&dir_url),
                },
                match_paths: vec![bare.to_string()],
            });
        }
    }
    // Every path the site lists (its files, index directories, `dir`
    // redirects, the sources of rules that name one path) gets the answer
    // the rules give it, as Netlify applies them: the first rule in file
    // order that matches wins, and a rule does not apply to a path that
    // has a file unless forced. Paths the site does not list can only be
    // matched by dynamic rules: those go to the blob, in order.
    let base = routes.clone();
    let is_file = |p: &str| {
        matches!(
            base.get(p),
            Some(Route {
                target: Target::File(_),
                ..
            })
        )
    };
    let compiled: Vec<Option<(Vec<u8>, Vec<u8>)>> = redirect_rules
        .iter()
        .map(|r| {
            r.tokens()
                .map(|(p, t)| (dynamic::encode(&p), dynamic::encode(&t)))
        })
        .collect();
    let page = |r: &redirects::Redirect| -> anyhow::Result<usize> {
        let path = percent_decode_path(&r.to)?;
        match base.get(&path) {
            Some(Route {
                target: Target::File(i),
                ..
            }) => Ok(*i),
            _ => anyhow::bail!(
                "_redirects line {}: the 404 page {} is not a file of the site",
                r.line,
                r.to
            ),
        }
    };
    let mut known: BTreeSet<String> = routes.keys().cloned().collect();
    known.extend(
        redirect_rules
            .iter()
            .filter(|r| r.pattern.is_none())
            .map(|r| r.from.clone()),
    );
    let mut out = [0u8; 3 * 8192 + 4096];
    for p in &known {
        for (r, c) in redirect_rules.iter().zip(&compiled) {
            let mut caps = Captures::default();
            let hit = match c {
                None => r.from == *p,
                Some((pat, _)) => dynamic::matches(pat, p.as_bytes(), &mut caps),
            };
            if !hit {
                continue;
            }
            if is_file(p) && !r.force {
                if c.is_none() {
                    warn(format!(
                        "_redirects: {} is a file of the site, so the rule to {} is ignored (add ! to the status to force it)",
                        r.from, r.to
                    ));
                }
                continue;
            }
            let expanded = |encode: bool, out: &mut [u8]| -> Option<String> {
                match c {
                    None => Some(r.to.clone()),
                    Some((_, t)) => {
                        let n = dynamic::expand(t, p.as_bytes(), &caps, encode, out)?;
                        String::from_utf8(out[..n].to_vec()).ok()
                    }
                }
            };
            let target = match r.status {
                200 => {
                    let dest = match c {
                        None => r.rewrite_path(),
                        Some(_) => expanded(false, &mut out),
                    };
                    match dest.as_deref().and_then(|d| base.get(d)) {
                        Some(Route {
                            target: Target::File(i),
                            ..
                        }) => Target::File(*i),
                        _ => {
                            if c.is_none() {
                                warn(format!(
                                    "_redirects: rewrite of {} to {} skipped: the site has no file there",
                                    r.from, r.to
                                ));
                            }
                            continue;
                        }
                    }
                }
                404 => Target::NotFound(page(r)?),
                status => match expanded(true, &mut out) {
                    Some(location) => Target::Redirect { status, location },
                    None => continue,
                },
            };
            let mut match_paths = vec![p.clone()];
            if let (Target::File(i), 200) = (&target, r.status) {
                match_paths.push(format!("/{}", files[*i].path));
            }
            routes.insert(
                p.clone(),
                Route {
                    path: p.clone(),
                    target,
                    match_paths,
                },
            );
            break;
        }
    }
    let mut rules = Vec::new();
    for r in &redirect_rules {
        let Some((pattern, template)) = r.tokens() else {
            continue;
        };
        let kind = match r.status {
            200 => DynTarget::Rewrite(template),
            404 => DynTarget::NotFound(page(r)?),
            status if dynamic::is_fixed(&dynamic::encode(&template)) => DynTarget::Redirect {
                status,
                location: r.to.clone(),
            },
            status => DynTarget::Template { status, template },
        };
        rules.push(DynRule {
            pattern,
            target: kind,
            from: r.from.clone(),
        });
    }

    let index: BTreeMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let siblings = files
        .iter()
        .map(|f| {
            let mut s = [None; 4];
            for (suffix, coding) in SIBLINGS {
                let slot = &mut s[coding as usize];
                if slot.is_none() {
                    *slot = index.get(format!("{}{suffix}", f.path).as_str()).copied();
                }
            }
            s
        })
        .collect();
    let not_found = index.get("404.html").copied();
    Ok(Site {
        routes: routes.into_values().collect(),
        files,
        not_found,
        siblings,
        headers,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static STORE: Store = Store::temp();
    }

    fn file(path: &str, data: &str) -> SiteFile {
        SiteFile {
            path: path.into(),
            data: STORE.with(|s| s.copy_from(&mut data.as_bytes(), u64::MAX).unwrap()),
            mtime: 0,
        }
    }

    fn plan(files: Vec<SiteFile>, warn: &mut dyn FnMut(String)) -> anyhow::Result<Site> {
        STORE.with(|s| super::plan(files, s, warn))
    }

    fn targets(s: &Site) -> Vec<(String, String)> {
        s.routes
            .iter()
            .map(|r| {
                let t = match &r.target {
                    Target::File(i) => s.files[*i].path.clone(),
                    Target::Redirect { status, location } => format!("{status} {location}"),
                    Target::NotFound(i) => format!("404 {}", s.files[*i].path),
                };
                (r.path.clone(), t)
            })
            .collect()
    }

    #[test]
    fn routes_for_files_indexes_and_rules() {
        let mut warnings = Vec::new();
        let s = plan(
            vec![
                file("index.html", "root"),
                file("docs/index.html", "docs"),
                file("docs/myindex.html", "not an index"),
                file("a b/index.html", "spaced"),
                file("x.js", "js"),
                file("x.js.gz", "gz"),
                file("x.js.zstd", "zstd"),
                file("404.html", "nf"),
                file("_headers", "/*\n  X-A: 1\n"),
                file(
                    "_redirects",
                    "/old /docs/ 308\n/x.js /y.js\n/x.js /z.js\n/pretty /docs/index.html 200\n/docs /elsewhere 302\n",
                ),
            ],
            &mut |w| warnings.push(w),
        )
        .unwrap();
        assert_eq!(
            targets(&s),
            [
                ("/", "index.html"),
                ("/404.html", "404.html"),
                ("/a b", "301 /a%20b/"),
                ("/a b/", "a b/index.html"),
                ("/a b/index.html", "a b/index.html"),
                ("/docs", "302 /elsewhere"),
                ("/docs/", "docs/index.html"),
                ("/docs/index.html", "docs/index.html"),
                ("/docs/myindex.html", "docs/myindex.html"),
                ("/index.html", "index.html"),
                ("/old", "308 /docs/"),
                ("/pretty", "docs/index.html"),
                ("/x.js", "x.js"),
                ("/x.js.gz", "x.js.gz"),
                ("/x.js.zstd", "x.js.zstd"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert!(
            warnings.iter().any(|w| w.contains("/x.js is a file")),
            "{warnings:?}"
        );
        let x = s.files.iter().position(|f| f.path == "x.js").unwrap();
        let sib = |p: &str| s.files.iter().position(|f| f.path == p);
        assert_eq!(
            s.siblings[x],
            [None, sib("x.js.gz"), None, sib("x.js.zstd")]
        );
        assert_eq!(s.not_found, sib("404.html"));
        let docs = s.routes.iter().find(|r| r.path == "/docs/").unwrap();
        assert_eq!(docs.match_paths, ["/docs/", "/docs/index.html"]);
    }

    #[test]
    fn forced_redirect_replaces_a_file() {
        let s = plan(
            vec![file("a.html", "a"), file("_redirects", "/a.html /b 301!\n")],
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(targets(&s), [("/a.html".to_string(), "301 /b".to_string())]);
    }

    #[test]
    fn rule_file_errors_name_the_line() {
        let e = plan(
            vec![
                file("a", "a"),
                file("_headers", "/*\n  Content-Length: 5\n"),
            ],
            &mut |_| {},
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("_headers line 2"), "{e:#}");
        let e = plan(vec![file("_headers", "")], &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("no files"));
    }
}
