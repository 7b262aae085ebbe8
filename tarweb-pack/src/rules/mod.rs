//! The site's `_headers` and `_redirects` files (Netlify / Cloudflare Pages syntax).
pub mod headers;
pub mod redirects;
