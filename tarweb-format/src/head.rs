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
    // Each remaining line: `name: value` CRLF, then the final empty line.
    // (`head` ends with an empty line and neither line above contains one,
    // so the strip never fails; it is there so no slice can underflow.)
    let Some(lines) = rest.strip_suffix(b"\r\n") else {
        return Err(HeadProblem::NoEmptyLine);
    };
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
    let d = decimal(n, &mut digits);
    let mut at = PREFIX.len();
    buf[at..at + d.len()].copy_from_slice(d);
    at += d.len();
    buf[at..at + 2].copy_from_slice(b"\r\n");
    &buf[..at + 2]
}

/// `n` in decimal, no leading zeros, at the end of `buf`: the used part.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_lines() {
        let mut buf = [0u8; 40];
        for n in [0u64, 1, 9, 10, 13, 4096, 1_000_000, u64::MAX] {
            let want = format!("Content-Length: {n}\r\n");
            assert_eq!(content_length_line(n, &mut buf), want.as_bytes());
        }
        // The longest fits the buffer.
        assert_eq!(content_length_line(u64::MAX, &mut buf).len(), 16 + 20 + 2);
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            status_code(b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n"),
            Some(304)
        );
        // Any reason phrase, even none, after the space.
        assert_eq!(status_code(b"HTTP/1.1 599 \r\n"), Some(599));
        assert_eq!(status_code(b"HTTP/1.1 000 x"), Some(0));
        for bad in [
            &b""[..],
            b"HTTP/1.1 200",
            b"HTTP/1.1 200\r\n",
            b"HTTP/1.0 200 OK\r\n",
            b"http/1.1 200 OK\r\n",
            b"HTTP/1.1  200 OK\r\n",
            b"HTTP/1.1 20 OK\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 2x0 OK\r\n",
            b"HTTP/1.1 +20 OK\r\n",
        ] {
            assert_eq!(status_code(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn strong_etags() {
        for ok in [&b"\"\""[..], b"\"a\"", b"\"3f0c-x!#~\"", b"\"\x80\xff\""] {
            assert!(valid_etag(ok), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b"\"",
            b"a",
            b"\"a",
            b"a\"",
            b"W/\"a\"",
            b"\"a\"b\"",
            b"\"a b\"",
            b"\"a\tb\"",
            b"\"a\x7fb\"",
            b"\"a\x00\"",
        ] {
            assert!(!valid_etag(bad), "{bad:?}");
        }
    }

    const HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nETag: \"x\"\r\n\r\n";
    const STATUS_LEN: usize = 17;
    const LENGTH_LEN: usize = 19;

    #[test]
    fn good_heads_pass() {
        assert_eq!(check_head(HEAD, STATUS_LEN, Some((LENGTH_LEN, 5))), Ok(()));
        let nm = b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nVary: a,\tb\r\n\r\n";
        assert_eq!(check_head(nm, 27, None), Ok(()));
        // Headers are optional; so is a value.
        assert_eq!(
            check_head(
                b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n",
                32,
                Some((19, 0))
            ),
            Ok(())
        );
        assert_eq!(
            check_head(b"HTTP/1.1 304 Not Modified\r\nX:\r\n\r\n", 27, None),
            Ok(())
        );
    }

    #[test]
    fn bad_heads_name_the_problem() {
        use HeadProblem::*;
        let len = Some((LENGTH_LEN, 5));
        let with = |from: &str, to: &str| {
            String::from_utf8(HEAD.to_vec())
                .unwrap()
                .replacen(from, to, 1)
                .into_bytes()
        };
        assert_eq!(
            check_head(&HEAD[..HEAD.len() - 2], STATUS_LEN, len),
            Err(NoEmptyLine)
        );
        assert_eq!(
            check_head(HEAD, HEAD.len() + 1, len),
            Err(StatusLenPastEnd {
                status_len: HEAD.len() + 1
            })
        );
        assert_eq!(
            check_head(&with("HTTP/1.1", "HTTP/1.0"), STATUS_LEN, len),
            Err(BadStatusLine)
        );
        assert_eq!(check_head(HEAD, STATUS_LEN - 1, len), Err(BadStatusLine));
        assert_eq!(check_head(HEAD, 0, len), Err(BadStatusLine));
        assert_eq!(
            check_head(HEAD, STATUS_LEN + LENGTH_LEN, len),
            Err(StatusLenNotAtCrlf)
        );
        assert_eq!(
            check_head(HEAD, STATUS_LEN, Some((HEAD.len(), 5))),
            Err(LengthLinePastEnd)
        );
        assert_eq!(
            check_head(HEAD, STATUS_LEN, Some((LENGTH_LEN, 6))),
            Err(LengthLine { body_len: 6 })
        );
        assert_eq!(
            check_head(
                &with("Length: 5", "Length: 05"),
                STATUS_LEN,
                Some((LENGTH_LEN + 1, 5))
            ),
            Err(LengthLine { body_len: 5 })
        );
        // A length line that swallows the empty line: then it is wrong.
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            check_head(short, 17, Some((21, 0))),
            Err(LengthLine { body_len: 0 })
        );
        assert_eq!(
            check_head(&with("plain\r\n", "plain\n"), STATUS_LEN, len),
            Err(LineNotCrlf)
        );
        assert_eq!(
            check_head(&with("Content-Type:", "Content-Type"), STATUS_LEN, len),
            Err(NoColon)
        );
        assert_eq!(
            check_head(&with("Content-Type", "Content Type"), STATUS_LEN, len),
            Err(NameNotToken)
        );
        assert_eq!(
            check_head(&with("Content-Type", ""), STATUS_LEN, len),
            Err(NameNotToken)
        );
        assert_eq!(
            check_head(&with("text/plain", "text\rplain"), STATUS_LEN, len),
            Err(ValueControl)
        );
        assert_eq!(
            check_head(&with("text/plain", "text\x00plain"), STATUS_LEN, len),
            Err(ValueControl)
        );
        assert_eq!(
            check_head(&with("text/plain", "text\x7fplain"), STATUS_LEN, len),
            Err(ValueControl)
        );
        // A second empty line inside the head is a line without a colon.
        assert_eq!(
            check_head(&with("ETag", "\r\nETag"), STATUS_LEN, len),
            Err(NoColon)
        );
    }
}
