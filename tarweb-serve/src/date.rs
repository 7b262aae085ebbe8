//! The `Date` line, formatted at most once a second per thread, and
//! HTTP-date parsing for conditionals.

use std::time::{SystemTime, UNIX_EPOCH};
use tarweb_format::hpack::encode_field;

/// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`
pub const DATE_LINE_LEN: usize = 37;

/// This second's `Date` line, followed by the fixed `Server` line (or
/// nothing), so that a response pushes both with one copy; and the same
/// two as HTTP/2 fields (HPACK, static table only).
pub struct DateCache {
    secs: i64,
    /// Milliseconds into `secs` at the last refresh (the access log's).
    millis: u16,
    /// `Date: ...\r\n` then `Server: ...\r\n`.
    lines: Vec<u8>,
    /// `date` and `server`, HPACK-encoded.
    h2: Vec<u8>,
    /// The `server` value (empty: none).
    server: Vec<u8>,
}

impl DateCache {
    /// `server`: the `Server: ...\r\n` line, or empty.
    pub fn new(server: &[u8]) -> DateCache {
        let mut lines = vec![0; DATE_LINE_LEN];
        lines.extend_from_slice(server);
        let server_value = server
            .strip_prefix(b"Server: ")
            .and_then(|v| v.strip_suffix(b"\r\n"))
            .unwrap_or(b"");
        let mut d = DateCache {
            secs: i64::MIN,
            millis: 0,
            lines,
            h2: Vec::with_capacity(64 + 2 * server.len()),
            server: server_value.to_vec(),
        };
        d.refresh();
        d
    }

    /// Re-formats if the second changed (clock_gettime is a vDSO call).
    pub fn refresh(&mut self) {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now = d.as_secs() as i64;
        self.millis = d.subsec_millis() as u16;
        if now != self.secs {
            self.secs = now;
            let line = &mut self.lines[..DATE_LINE_LEN];
            line[..6].copy_from_slice(b"Date: ");
            format_imf(now, (&mut line[6..35]).try_into().expect("29 bytes"));
            line[35..].copy_from_slice(b"\r\n");
            self.h2.clear();
            encode_field(&mut self.h2, b"date", &self.lines[6..35]);
            if !self.server.is_empty() {
                encode_field(&mut self.h2, b"server", &self.server);
            }
        }
    }

    /// `date` and `server` as HTTP/2 header fields (HPACK).
    pub fn h2_fields(&self) -> &[u8] {
        &self.h2
    }

    /// `Date: ...\r\n` alone (the access log's time).
    pub fn line(&self) -> &[u8] {
        &self.lines[..DATE_LINE_LEN]
    }

    /// The `Date` and `Server` lines, as every response carries them.
    pub fn head_lines(&self) -> &[u8] {
        &self.lines
    }

    pub fn now(&self) -> i64 {
        self.secs
    }

    /// Milliseconds into [`DateCache::now`] at the last refresh.
    pub fn millis(&self) -> u16 {
        self.millis
    }
}

/// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (29 bytes).
pub fn format_imf(t: i64, out: &mut [u8; 29]) {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = t.div_euclid(86400);
    let sod = t.rem_euclid(86400);
    let wd = days.rem_euclid(7) as usize;
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = (yoe + era * 400 + i64::from(m <= 2)).clamp(0, 9999);
    let two = |o: &mut [u8], v: i64| {
        o[0] = b'0' + (v / 10) as u8;
        o[1] = b'0' + (v % 10) as u8;
    };
    out[..3].copy_from_slice(DAYS[wd]);
    out[3..5].copy_from_slice(b", ");
    two(&mut out[5..7], d);
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    out[11] = b' ';
    two(&mut out[12..14], y / 100);
    two(&mut out[14..16], y % 100);
    out[16] = b' ';
    two(&mut out[17..19], sod / 3600);
    out[19] = b':';
    two(&mut out[20..22], sod / 60 % 60);
    out[22] = b':';
    two(&mut out[23..25], sod % 60);
    out[25..].copy_from_slice(b" GMT");
}

/// Parses an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime
/// forms, as RFC 9110 §5.6.7 requires) into unix seconds.
pub fn parse_http_date(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Some(d.as_secs() as i64),
        Err(_) => None,
    }
}

/// `2000-10-10T13:55:36` (UTC) of a Unix time.
pub fn rfc3339(t: i64, out: &mut [u8; 19]) {
    let days = t.div_euclid(86400);
    let sod = t.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut w = &mut out[..];
    let _ = std::io::Write::write_fmt(
        &mut w,
        format_args!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y.clamp(0, 9999),
            m,
            d,
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let mut o = [0u8; 19];
        rfc3339(0, &mut o);
        assert_eq!(&o, b"1970-01-01T00:00:00");
        rfc3339(971186136, &mut o);
        assert_eq!(&o, b"2000-10-10T13:55:36");
        rfc3339(951782400, &mut o); // a leap day
        assert_eq!(&o, b"2000-02-29T00:00:00");
    }

    #[test]
    fn formats_like_httpdate() {
        for t in [
            0i64,
            784111777,
            1_700_000_000,
            951_782_400,
            4_102_444_800,
            1_234_567_890,
        ] {
            let mut out = [0u8; 29];
            format_imf(t, &mut out);
            let want =
                httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(t as u64));
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
            assert_eq!(parse_http_date(&out), Some(t));
        }
    }

    #[test]
    fn parses_obsolete_forms() {
        assert_eq!(
            parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date(b"Sun Nov  6 08:49:37 1994"),
            Some(784111777)
        );
        assert_eq!(parse_http_date(b"garbage"), None);
    }

    #[test]
    fn cache_line_shape() {
        let d = DateCache::new(b"Server: t\r\n");
        assert!(d.line().starts_with(b"Date: "));
        assert!(d.line().ends_with(b" GMT\r\n"));
        assert_eq!(&d.head_lines()[..DATE_LINE_LEN], d.line());
        assert_eq!(&d.head_lines()[DATE_LINE_LEN..], b"Server: t\r\n");
    }
}
