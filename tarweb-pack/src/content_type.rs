//! `Content-Type` for a file, and whether compressing it can pay off.

/// The `Content-Type` value for `path`, whose bytes are UTF-8 or not: the
/// MIME type from `mime_guess`, plus `charset=utf-8` for text types whose
/// bytes are UTF-8.
pub fn content_type(path: &str, utf8: bool) -> String {
    let essence = essence(path);
    if is_text(&essence) && utf8 {
        format!("{essence}; charset=utf-8")
    } else {
        essence
    }
}

fn essence(path: &str) -> String {
    match mime_guess::from_path(path).first() {
        // RFC 9239: text/javascript is the one JavaScript type.
        Some(m) if m.essence_str() == "application/javascript" => "text/javascript".into(),
        Some(m) => m.essence_str().into(),
        None => "application/octet-stream".into(),
    }
}

fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence,
            "application/javascript" | "application/json" | "application/xml"
        )
}

/// Formats whose bytes are already compressed: trying gzip, brotli or zstd
/// on them wastes pack time for nothing.
pub fn worth_compressing(path: &str) -> bool {
    let e = essence(path);
    let (top, sub) = e.split_once('/').unwrap_or((&e, ""));
    match top {
        "image" => matches!(
            sub,
            "svg+xml" | "bmp" | "x-icon" | "vnd.microsoft.icon" | "tiff"
        ),
        "video" | "audio" => false,
        "font" => matches!(sub, "ttf" | "otf" | "sfnt" | "collection"),
        "application" => {
            !matches!(
                sub,
                "zip"
                    | "gzip"
                    | "x-gzip"
                    | "zstd"
                    | "x-bzip"
                    | "x-bzip2"
                    | "x-xz"
                    | "x-7z-compressed"
                    | "vnd.rar"
                    | "x-rar-compressed"
                    | "font-woff"
                    | "epub+zip"
                    | "java-archive"
                    | "x-br"
            ) && !path.ends_with(".br")
                && !path.ends_with(".zst")
                && !path.ends_with(".zstd")
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_charsets() {
        let t = |p: &str| content_type(p, true);
        assert_eq!(t("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(t("site.css"), "text/css; charset=utf-8");
        assert_eq!(t("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(t("mod.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(t("d.json"), "application/json; charset=utf-8");
        assert_eq!(t("logo.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(t("photo.png"), "image/png");
        assert_eq!(t("f.woff2"), "font/woff2");
        assert_eq!(t("LICENSE"), "application/octet-stream");
        // Text type, but not UTF-8: no charset claim.
        assert_eq!(content_type("latin1.txt", false), "text/plain");
    }

    #[test]
    fn incompressible_types_are_skipped() {
        for p in [
            "a.png", "a.jpg", "a.webp", "a.woff2", "a.woff", "a.mp4", "a.zip", "a.gz", "a.js.br",
            "a.zst",
        ] {
            assert!(!worth_compressing(p), "{p}");
        }
        for p in [
            "a.html", "a.svg", "a.js", "a.json", "a.ico", "a.wasm", "a.ttf", "README",
        ] {
            assert!(worth_compressing(p), "{p}");
        }
    }
}
