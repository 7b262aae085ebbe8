//! `_headers`: path patterns followed by indented `Name: value` lines.

/// Parsed `_headers` rules, in file order.
#[derive(Debug, Default, Clone)]
pub struct HeaderRules {}

/// What the rules matching one response add or remove.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderSet {
    /// Headers to set, in a deterministic order; names as written in `_headers`.
    pub set: Vec<(String, String)>,
    /// Lower-cased names to remove (Cloudflare's `! Name` syntax).
    pub remove: Vec<String>,
}

impl HeaderRules {
    pub fn parse(_text: &str) -> anyhow::Result<HeaderRules> {
        anyhow::bail!("_headers: not implemented yet")
    }

    /// The headers for a response reachable under any of `paths` (URL paths,
    /// decoded, starting with '/', e.g. `["/docs/", "/docs/index.html"]`).
    pub fn for_paths(&self, _paths: &[&str]) -> HeaderSet {
        HeaderSet::default()
    }
}
