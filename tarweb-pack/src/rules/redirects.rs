//! `_redirects`: `from to [status][!]` lines.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// Decoded URL path, starting with '/'.
    pub from: String,
    /// Target, ready for a `Location` header (percent-encoded where needed).
    pub to: String,
    /// 301, 302, 303, 307, 308, or 200 (a rewrite to a local path).
    pub status: u16,
    /// `!` suffix: applies even when a file exists at `from`.
    pub force: bool,
}

pub fn parse(_text: &str, _warn: &mut dyn FnMut(String)) -> anyhow::Result<Vec<Redirect>> {
    anyhow::bail!("_redirects: not implemented yet")
}
