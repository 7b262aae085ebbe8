//! The module graph of tarweb-serve has no circle: no top-level module
//! (`worker`, `conn`, `proto`, `output`, `sys`, ...) reaches, through
//! `crate::` paths, a module that reaches it back. The compiler allows such
//! circles; this test does not. Read from the sources as text: every
//! `crate::name` outside comments is an edge from the file's top-level
//! module to `name`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module -> the top-level modules it names with `crate::`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let edges = g.entry(module.clone()).or_default();
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let code = line.split("//").next().unwrap();
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    edges.insert(name);
                }
            }
            // `use crate::{a, b::c}`
            if let Some(i) = code.find("crate::{") {
                for part in code[i + 8..].split(['}', ',']) {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        edges.insert(name);
                    }
                }
            }
        }
    }
    g
}

/// A circle through `start`, if any (depth-first).
fn circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, m, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(g, n, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_reaches_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    // The graph was read at all: the loop and its connections are in it.
    assert!(g["worker"].contains("conn"), "{g:?}");
    assert!(g["conn"].contains("proto"), "{g:?}");
    assert!(g["proto"].contains("dispatch"), "{g:?}");
    if let Some(c) = circle(&g) {
        panic!("module circle: {}", c.join(" -> "));
    }
}

#[test]
fn a_circle_is_found() {
    let mut g = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        g.entry(a.to_string())
            .or_insert_with(BTreeSet::new)
            .insert(b.to_string());
    }
    assert_eq!(circle(&g).unwrap().join(" "), "a b c a");
    g.get_mut("c").unwrap().clear();
    assert!(circle(&g).is_none());
}
