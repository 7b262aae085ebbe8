//! The bytes of a stored head (`format-spec.md` §4.1 to §4.3): the checks the
//! reader applies, and the `Content-Length` line the writer builds the same
//! way the reader expects it.

use crate::read_error::HeadProblem;
use crate::rules::is_tchar;

/// `head` is a status line of `status_len` bytes, then (for 200 heads) a
/// `Content-Length` line of `length.0` bytes equal to `length.1`, then header
/// lines, then an empty line. Only CRLF line ends, no control bytes.
pub(crate) fn check_head(
    head: &[u8],
    status_len: usize,
    length: Option<(usize, u64)>,
) -> Result<(), HeadProblem> {
    if !head.ends_with(b"\r\n\r\n") {
        return Err(HeadProblem::NoEmptyLine);
    }
    let Some(status_line) = head.get(..status_len) else {
        return Err(HeadProblem::StatusLenPastEnd { status_len });
    };
    if status_code(head).is_none() || !status_line.ends_with(b"\r\n") {
        return Err(HeadProblem::BadStatusLine);
    }
    if status_line[..status_len - 2].contains(&b'\r') {
        return Err(HeadProblem::StatusLenNotAtCrlf);
    }
    let mut rest = &head[status_len..];
    if let Some((length_len, body_len)) = length {
        let Some(line) = rest.get(..length_len) else {
            return Err(HeadProblem::LengthLinePastEnd);
        };
        let mut want = [0u8; 40];
        let want = content_length_line(body_len, &mut want);
        if line != want {
            return Err(HeadProblem::LengthLine { body_len });
        }
        rest = &rest[length_len..];
    }
    if rest.len() < 2 {
        return Err(HeadProblem::NoEmptyLineAfterLength);
    }
    // Each remaining line: `name: value` CRLF, then the final empty line.
    let lines = &rest[..rest.len() - 2];
    for line in lines.split_inclusive(|&c| c == b'\n') {
        let Some(text) = line.strip_suffix(b"\r\n") else {
            return Err(HeadProblem::LineNotCrlf);
        };
        let Some(colon) = text.iter().position(|&c| c == b':') else {
            return Err(HeadProblem::NoColon);
        };
        if colon == 0 || !text[..colon].iter().all(|&c| is_tchar(c)) {
            return Err(HeadProblem::NameNotToken);
        }
        if text[colon + 1..]
            .iter()
            .any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
        {
            return Err(HeadProblem::ValueControl);
        }
    }
    Ok(())
}

/// Writes `Content-Length: N\r\n` into `buf`, returning the used part.
pub(crate) fn content_length_line(n: u64, buf: &mut [u8; 40]) -> &[u8] {
    const PREFIX: &[u8] = b"Content-Length: ";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    let mut at = PREFIX.len();
    buf[at..at + d.len()].copy_from_slice(d);
    at += d.len();
    buf[at..at + 2].copy_from_slice(b"\r\n");
    &buf[..at + 2]
}

/// The status code of `HTTP/1.1 NNN <reason>`.
pub(crate) fn status_code(head: &[u8]) -> Option<u16> {
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    let digits = rest.get(..3)?;
    if rest.get(3) != Some(&b' ') || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |a, &d| a * 10 + u16::from(d - b'0')))
}

pub(crate) fn valid_etag(t: &[u8]) -> bool {
    t.len() >= 2
        && t[0] == b'"'
        && t[t.len() - 1] == b'"'
        && t[1..t.len() - 1]
            .iter()
            .all(|&c| c == 0x21 || (0x23..=0x7e).contains(&c) || c >= 0x80)
}
