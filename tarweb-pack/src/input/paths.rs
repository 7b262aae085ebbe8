//! Site path rules shared by the directory and tar readers.

/// Longest site path (after the prefix is stripped) the output format takes.
pub(super) const MAX_PATH_LEN: usize = 4096;

/// Version-control directories that are never part of a site.
pub(super) const VCS_DIRS: [&str; 3] = [".git", ".hg", ".svn"];

pub(super) fn is_vcs(name: &str) -> bool {
    VCS_DIRS.contains(&name)
}

/// Rejects NUL and control characters (bytes < 0x20 and 0x7f) in a name.
pub(super) fn check_chars(name: &[u8]) -> Result<(), String> {
    match name.iter().find(|&&b| b < 0x20 || b == 0x7f) {
        Some(b) => Err(format!(
            "name contains the control character 0x{b:02x}; such names cannot be served"
        )),
        None => Ok(()),
    }
}

/// Rejects a site path longer than the format's limit.
pub(super) fn check_len(path: &str) -> anyhow::Result<()> {
    if path.len() > MAX_PATH_LEN {
        anyhow::bail!(
            "{path}: name is {} bytes, longer than the format's {MAX_PATH_LEN}-byte limit",
            path.len()
        );
    }
    Ok(())
}

/// Splits an archive-style name (tar entry name, hard link target, prefix)
/// into clean components: leading `./`, `.` components, repeated and
/// trailing slashes are dropped. Absolute names, `..` components, invalid
/// UTF-8 and control characters are refused (the `Err` is the reason).
/// An empty result means "the root".
pub(super) fn normalize_name(raw: &[u8]) -> Result<Vec<String>, String> {
    check_chars(raw)?;
    let text = std::str::from_utf8(raw).map_err(|_| "name is not valid UTF-8".to_string())?;
    if text.starts_with('/') {
        return Err("absolute path; only relative names can be packed".to_string());
    }
    let mut comps = Vec::new();
    for comp in text.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err("path escapes the site (contains \"..\")".to_string()),
            c => comps.push(c.to_string()),
        }
    }
    Ok(comps)
}

/// Normalises a `--prefix` value: `public`, `public/` and `./public` are the
/// same; `.` or empty means no prefix.
pub(super) fn normalize_prefix(prefix: &str) -> anyhow::Result<Vec<String>> {
    normalize_name(prefix.as_bytes())
        .map_err(|reason| anyhow::anyhow!("prefix {prefix:?}: {reason}"))
}

/// Joins `target` (a symlink's text) onto `base` (the link's directory)
/// lexically. `None` if it climbs above the site root.
pub(super) fn lexical_join(base: &[String], target: &str) -> Option<Vec<String>> {
    let mut out = base.to_vec();
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c.to_string()),
        }
    }
    Some(out)
}

/// Floors a PAX time value such as `1700000000.123456789` or `-1.5`.
pub(super) fn parse_pax_time(value: &str) -> Option<i64> {
    let (negative, rest) = match value.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, value),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, f),
        None => (rest, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    let has_fraction = frac.bytes().any(|b| b != b'0');
    Some(match (negative, has_fraction) {
        (false, _) => int,
        (true, false) => -int,
        (true, true) => -int - 1,
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn input_pax_time_floors() {
        assert_eq!(parse_pax_time("1700000000.123456789"), Some(1700000000));
        assert_eq!(parse_pax_time("1700000000"), Some(1700000000));
        assert_eq!(parse_pax_time("-1.5"), Some(-2));
        assert_eq!(parse_pax_time("-2.000"), Some(-2));
        assert_eq!(parse_pax_time("1.2.3"), None);
        assert_eq!(parse_pax_time(""), None);
        assert_eq!(parse_pax_time("x"), None);
    }

    #[test]
    fn input_name_normalisation() {
        assert_eq!(normalize_name(b"./a//b/./c/").unwrap(), ["a", "b", "c"]);
        assert_eq!(normalize_name(b"./").unwrap(), Vec::<String>::new());
        assert!(normalize_name(b"/etc/passwd")
            .unwrap_err()
            .contains("absolute"));
        assert!(normalize_name(b"a/../b").unwrap_err().contains("escapes"));
        assert!(normalize_name(b"a\nb").unwrap_err().contains("0x0a"));
        assert!(normalize_name(b"a\x7fb").unwrap_err().contains("0x7f"));
        assert!(normalize_name(b"\xff").unwrap_err().contains("UTF-8"));
        assert_eq!(normalize_prefix("./public/").unwrap(), ["public"]);
        assert_eq!(
            lexical_join(&["a".into(), "b".into()], "../c"),
            Some(vec!["a".to_string(), "c".to_string()])
        );
        assert_eq!(lexical_join(&["a".into()], "../../c"), None);
    }
}
