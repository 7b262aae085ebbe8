//! The dynamic `_redirects` matcher (`tarweb_format::dynamic`), against a
//! plain recursive reference. Input: a pattern written as text (segments
//! split at '/', `*` a splat, `:` a placeholder, anything else a literal),
//! a NUL, then the path after its leading '/'.
//!
//! - Whatever the bytes, matching answers (no panic) in one pass.
//! - For a valid pattern, it matches exactly when the reference does, and
//!   takes the same bytes for each placeholder and the splat.
//! - Expanding what it took, percent-encoded, gives only URL-safe bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tarweb_format::dynamic::{encode, expand, matches, valid_pattern, Captures, Token};

/// Segments against tokens, every way the reference can: the captures of a
/// match (placeholders then the splat), or None.
fn reference(tokens: &[Token], segs: &[&[u8]], taken: &mut Vec<Vec<u8>>) -> bool {
    match tokens.split_first() {
        None => segs.is_empty(),
        Some((Token::Splat, _)) => {
            taken.push(segs.join(&b'/'));
            true
        }
        Some((Token::Lit(l), rest)) => {
            segs.first().is_some_and(|s| s == l) && reference(rest, &segs[1..], taken)
        }
        Some((Token::Capture(_), rest)) => {
            let Some(s) = segs.first().filter(|s| !s.is_empty()) else {
                return false;
            };
            taken.push(s.to_vec());
            reference(rest, &segs[1..], taken)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(nul) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (spec, rest) = (&data[..nul], &data[nul + 1..]);
    let mut tokens = Vec::new();
    for seg in spec.split(|&b| b == b'/') {
        tokens.push(match seg {
            b"*" => Token::Splat,
            b":" => Token::Capture(tokens.iter().filter(|t| matches!(t, Token::Capture(_))).count() as u8),
            l => Token::Lit(l.to_vec()),
        });
    }
    let mut path = vec![b'/'];
    path.extend_from_slice(rest);
    let pattern = encode(&tokens);
    let mut caps = Captures::default();
    let got = matches(&pattern, &path, &mut caps);
    if !valid_pattern(&pattern) {
        return;
    }
    let segs: Vec<&[u8]> = rest.split(|&b| b == b'/').collect();
    let mut taken = Vec::new();
    let want = reference(&tokens, &segs, &mut taken);
    assert_eq!(got, want, "{tokens:?} on {path:?}");
    if !got {
        return;
    }
    // What each capture and the splat took, in order, split by 0xFF.
    let n = tokens.iter().filter(|t| matches!(t, Token::Capture(_))).count();
    let mut template = Vec::new();
    for i in 0..n {
        template.push(Token::Capture(i as u8));
        template.push(Token::Lit(vec![0xff]));
    }
    if tokens.last() == Some(&Token::Splat) {
        template.push(Token::Splat);
        template.push(Token::Lit(vec![0xff]));
    }
    let t = encode(&template);
    let mut out = vec![0u8; path.len() * 3 + template.len() + 16];
    let k = expand(&t, &path, &caps, false, &mut out).expect("room");
    let mut expect = Vec::new();
    for tk in &taken {
        expect.extend_from_slice(tk);
        expect.push(0xff);
    }
    assert_eq!(&out[..k], &expect[..], "{tokens:?} on {path:?}");
    let k = expand(&t, &path, &caps, true, &mut out).expect("room");
    assert!(out[..k]
        .iter()
        .all(|&c| c == 0xff || c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&c)));
});
