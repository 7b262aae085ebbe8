//! The server's own log lines (not the access log): one level each, and a
//! timestamp (RFC 3339, UTC, ms) when not under systemd; under systemd
//! (`JOURNAL_STREAM` set: stdout and stderr go to the journal, which
//! stamps them itself) an sd-daemon `<N>` priority prefix instead, which
//! journald reads as the level. Informational lines go to stdout,
//! warnings and errors to stderr, as before; each line is one write, so
//! lines of different threads never interleave.

use std::fmt;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// syslog priorities (sd-daemon(3)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error = 3,
    Warn = 4,
    Info = 6,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
        }
    }
}

fn journal() -> bool {
    static J: OnceLock<bool> = OnceLock::new();
    *J.get_or_init(|| std::env::var_os("JOURNAL_STREAM").is_some_and(|v| !v.is_empty()))
}

/// The line as written, without its newline.
pub fn format(level: Level, msg: fmt::Arguments<'_>) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(128);
    if journal() {
        let _ = write!(s, "<{}>", level as u8);
    } else {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut stamp = [0u8; 19];
        crate::date::rfc3339(now.as_secs() as i64, &mut stamp);
        let _ = write!(
            s,
            "{}.{:03}Z {} ",
            std::str::from_utf8(&stamp).unwrap_or(""),
            now.subsec_millis(),
            level.name()
        );
    }
    let _ = s.write_fmt(msg);
    s.push('\n');
    s
}

/// Writes one line (errors of stdout/stderr themselves are ignored).
pub fn line(level: Level, msg: fmt::Arguments<'_>) {
    let s = format(level, msg);
    let _ = match level {
        Level::Info => std::io::stdout().lock().write_all(s.as_bytes()),
        Level::Warn | Level::Error => std::io::stderr().lock().write_all(s.as_bytes()),
    };
}

pub fn info(msg: fmt::Arguments<'_>) {
    line(Level::Info, msg);
}

pub fn warn(msg: fmt::Arguments<'_>) {
    line(Level::Warn, msg);
}

pub fn error(msg: fmt::Arguments<'_>) {
    line(Level::Error, msg);
}

/// `info!("...", args)`: a line at level INFO (stdout).
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log::info(format_args!($($t)*)) };
}

/// `warn!("...", args)`: a line at level WARN (stderr).
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log::warn(format_args!($($t)*)) };
}

/// `error!("...", args)`: a line at level ERROR (stderr).
#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::log::error(format_args!($($t)*)) };
}
