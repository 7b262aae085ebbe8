//! tarweb-pack: turns a static site (a directory or a tar) into one `.twb`
//! blob of precomputed HTTP responses for tarweb-serve.

#![forbid(unsafe_code)]

mod compress;
mod content_type;
mod input;
mod inspect;
mod output;
mod pack;
mod response;
mod reuse;
mod rules;
mod site;
mod store;

use clap::{CommandFactory, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Packs a static site into one blob of precomputed HTTP responses.
///
/// INPUT is a directory, a tar file (ustar, GNU or PAX; gzip- or
/// zstd-compressed too) or `-` for a tar on standard input. Every regular
/// file becomes a route; `dir/index.html` also answers `dir/`, and `dir`
/// redirects to `dir/`. `_headers` and `_redirects` (Netlify / Cloudflare
/// Pages syntax) are applied and not served; `404.html` becomes the body of
/// every 404. Variants (gzip 9, brotli 11, zstd 19) are kept when they save
/// enough; `x.js.gz`, `.br`, `.zst`/`.zstd` siblings are used instead of
/// compressing `x.js` when they decode to it.
///
/// SOURCE_DATE_EPOCH, when set, clamps every Last-Modified (reproducible
/// builds). The output is written to a temporary file beside OUTPUT (created
/// first, so an unwritable directory fails at once), fsynced and renamed: a
/// failed pack leaves nothing behind. An existing OUTPUT must be a regular
/// file. `-o -` writes the blob to standard output. While it packs, nameless
/// scratch files beside OUTPUT (in TMPDIR for `-o -`) hold the site's bytes,
/// the compressed variants and the built heads, about the blob's size again:
/// memory is the site's index and the files being compressed, not the site.
///
/// Output that a reader stops reading (`tarweb-pack inspect site.twb |
/// head`) ends the command quietly with status 0.
#[derive(Parser)]
#[command(
    name = "tarweb-pack",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    pack: PackArgs,
}

#[derive(clap::Args)]
struct PackArgs {
    /// Site directory, tar file, or `-` (tar on stdin).
    #[arg(required = true)]
    input: Option<PathBuf>,
    /// The blob to write (e.g. site.twb), or `-` for standard output.
    #[arg(short, long, required = true)]
    output: Option<PathBuf>,
    /// Strip this leading directory (sites are often tarred as `public/...`).
    #[arg(long, value_name = "DIR")]
    prefix: Option<String>,
    /// Default Cache-Control of every response; `_headers` can override it
    /// per path. An empty value sends none.
    #[arg(long, value_name = "VALUE", default_value = "no-cache")]
    cache_control: String,
    /// gzip with zopfli: a few percent smaller, far slower.
    #[arg(long)]
    zopfli: bool,
    /// A blob packed before (typically the one deployed): its compressed
    /// variants of files that did not change are copied, not recomputed.
    /// The result is byte for byte a fresh pack's; a missing or unusable
    /// OLD is a warning and a fresh pack.
    #[arg(long, value_name = "OLD")]
    reuse: Option<PathBuf>,
    /// Compression threads (default: one per core). The blob is the same
    /// whatever the number.
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,
    /// No progress bar and no summary line (warnings and errors still print).
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List routes, variants, sizes, savings and padding of a blob.
    Inspect {
        blob: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Validate a blob fully: structure, digest, HTTP heads, variants
    /// decoding to their identity bytes, ETags. Exit 0 when valid.
    Verify { blob: PathBuf },
}

fn source_date_epoch() -> anyhow::Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v.trim().parse().map(Some).map_err(|_| {
            anyhow::anyhow!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds")
        }),
        _ => Ok(None),
    }
}

/// `s` with every character that a terminal would act on or hide (control
/// characters, bidirectional and zero-width formatting) written as an
/// escape (`\u{1b}`, `\n`): names from a tar, a directory or a blob may
/// hold anything, and an error message must not clear the screen or
/// reorder itself.
pub(crate) fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    if !s.chars().any(hidden) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !hidden(c) {
            out.push(c);
        } else if c.is_ascii() {
            out.extend(c.escape_default());
        } else {
            out.extend(c.escape_unicode());
        }
    }
    out.into()
}

/// A line on standard error, made [`printable`]. Errors are ignored: a
/// diagnostic channel that is gone (`2>&1 | head`) cannot report its own
/// failure, and must not stop the work or panic as `eprintln!` would.
fn note(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr().lock(), "{}", printable(&line.to_string()));
}

/// Whether `e` comes from writing to a reader that went away.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Inspect { blob, json }) => report(|out| inspect::inspect(&blob, json, out)),
        Some(Command::Verify { blob }) => report(|out| {
            let line = inspect::verify(&blob)?;
            writeln!(out, "{}", printable(&line))?;
            Ok(())
        }),
        None => {
            let a = cli.pack;
            let input = a.input.expect("required");
            let output = output::Output::from_arg(a.output.expect("required"));
            let source = if input.as_os_str() == "-" {
                input::Source::Stdin
            } else if input.is_dir() {
                input::Source::Dir(input)
            } else {
                input::Source::TarFile(input)
            };
            let opts = pack::Options {
                source,
                prefix: a.prefix,
                output,
                compress: compress::Options { zopfli: a.zopfli },
                cache_control: Some(a.cache_control).filter(|c| !c.is_empty()),
                source_date_epoch: source_date_epoch()?,
                threads: a.threads,
                progress: !a.quiet && std::io::stderr().is_terminal(),
                reuse: a.reuse.clone(),
            };
            let s = pack::pack(&opts, &mut |w| {
                note(format_args!("tarweb-pack: warning: {w}"))
            })?;
            if !a.quiet {
                let mib = |n: u64| n as f64 / (1u64 << 20) as f64;
                let saved = s.identity_bytes.saturating_sub(s.smallest_bytes);
                note(format_args!(
                    "tarweb-pack: {} files, {:.2} MiB in, {:.2} MiB out ({} routes, {} variants, {:.1} KiB padding); \
                     compression saves {:.2} MiB ({:.0}%) for clients accepting every coding; {:.2} s; digest {}",
                    s.files,
                    mib(s.bytes_in),
                    mib(s.bytes_out),
                    s.routes,
                    s.variants,
                    s.padding as f64 / 1024.0,
                    mib(saved),
                    100.0 * saved as f64 / s.identity_bytes.max(1) as f64,
                    s.elapsed.as_secs_f64(),
                    s.digest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                ));
                if let Some(old) = &a.reuse {
                    note(format_args!(
                        "tarweb-pack: {} of {} compressed variants copied from {}",
                        s.reused,
                        s.encoded,
                        old.display()
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Runs a command that prints a report on standard output (buffered). A
/// reader that stops reading (`| head`) is not an error: the command ends
/// quietly with status 0, as ripgrep and fd do, rather than panicking in
/// `println!` or dying of SIGPIPE (141 under `set -o pipefail`). The blob
/// itself (`-o -`) is different: a reader that leaves before its last byte
/// did not get it, and that is reported as an error.
fn report(f: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let r = f(&mut out).and_then(|()| Ok(out.flush()?));
    match r {
        Err(e) if is_broken_pipe(&e) => {
            // What is still buffered can go nowhere: drop it unwritten.
            let _ = out.into_parts();
            Ok(())
        }
        r => r,
    }
}

/// `tarweb-pack --generate-to DIR` (`make install`): the man pages (one per
/// subcommand too) and the bash, zsh and fish completions, made from the definition above so that
/// they list exactly the flags this build has, laid out as under share/
/// (`man/man1/`, `bash-completion/completions/`, `zsh/site-functions/`,
/// `fish/vendor_completions.d/`). Taken before clap parses: a build step,
/// not an option, so neither the page nor the completions offer it.
fn generate_to(dir: &std::path::Path) -> std::io::Result<()> {
    use clap_complete::Shell;
    let name = Cli::command().get_name().to_string();
    let man = dir.join("man/man1");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(Cli::command(), &man)?;
    for (shell, sub, file) in [
        (Shell::Bash, "bash-completion/completions", name.clone()),
        (Shell::Zsh, "zsh/site-functions", format!("_{name}")),
        (
            Shell::Fish,
            "fish/vendor_completions.d",
            format!("{name}.fish"),
        ),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), &name, &mut script);
        std::fs::create_dir_all(dir.join(sub))?;
        std::fs::write(dir.join(sub).join(file), script)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if let [_, flag, dir] = &args[..] {
        if flag == "--generate-to" {
            return match generate_to(dir.as_ref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    note(format_args!(
                        "tarweb-pack: --generate-to {}: {e}",
                        dir.to_string_lossy()
                    ));
                    ExitCode::FAILURE
                }
            };
        }
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            note(format_args!("tarweb-pack: error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
