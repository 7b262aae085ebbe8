#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tarweb_serve::server::{
    self, AccessLogFormat, AcmeOptions, CertSources, ChallengeKind, CopyTo, KtlsMode, LoadOpts,
    Mode, Options, SandboxMode, Target,
};

#[global_allocator]
static ALLOC: tarweb_serve::sys::CountingAlloc = tarweb_serve::sys::CountingAlloc;

/// Serve a static site from a .twb blob.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The site blob (made by tarweb-pack). Replacing it (rename, symlink
    /// flip) is picked up live.
    #[arg(required_unless_present = "sites", conflicts_with = "sites")]
    site: Option<PathBuf>,
    /// Virtual hosts: serve DIR/<host>.twb by the request's Host, and
    /// DIR/_default.twb (if any) for other hosts; 421 when none answers.
    #[arg(long, value_name = "DIR")]
    sites: Option<PathBuf>,
    /// How a new blob is noticed: inotify (polling where unavailable),
    /// poll, or off (SIGHUP only).
    #[arg(long, default_value = "inotify", value_parser = ["inotify", "poll", "off"])]
    watch: String,
    /// Polling interval (ms) of `--watch poll` and of the inotify fallback.
    #[arg(long, default_value_t = 1000)]
    watch_interval_ms: u64,
    /// Name the root's digest in a `Tarweb-Root` response header.
    #[arg(long)]
    root_header: bool,
    /// Address to listen on (repeatable; default [::]:8080). `[::]` is dual
    /// stack. Not with systemd's sockets (LISTEN_FDS): those are used.
    #[arg(long)]
    listen: Vec<SocketAddr>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Prometheus metrics at http://ADDR/metrics, on their own thread
    /// (`/` keeps the old `name value` syscall counters). Not on the
    /// serving ports. `--stats-listen` is its old name.
    #[arg(long, value_name = "ADDR", alias = "stats-listen")]
    metrics_listen: Option<SocketAddr>,
    /// Pin the blob in RAM.
    #[arg(long)]
    mlock: bool,
    /// Where the blob is served from: auto (the file itself under a read
    /// lease, nothing copied until a writer opens it; where no lease can be
    /// had, a private copy as with `copy`), copy (always a private copy: a
    /// nameless file next to the blob, whose page cache sendfile reads
    /// fastest, or a sealed memfd where that cannot be made) or memfd
    /// (always a private copy in RAM, sealed).
    #[arg(long, value_enum, default_value_t = BlobCopy::Auto)]
    blob_copy: BlobCopy,
    /// When a blob's bytes are checked against its digests: lazy (its
    /// index at load, each response before it is first sent, which is then
    /// answered 500 if damaged; loading costs the index, not the bytes) or
    /// full (every byte at load: a blob with any damaged byte is refused
    /// whole, and a live swap keeps the old root; loading costs hashing and
    /// parsing the whole blob).
    #[arg(long, value_enum, default_value_t = BlobVerify::Lazy)]
    blob_verify: BlobVerify,
    /// Server header value, or `off`.
    #[arg(long, default_value = "tarweb")]
    server_header: String,
    /// Requests per connection before it is closed.
    #[arg(long, default_value_t = 1000)]
    max_requests_per_connection: u32,
    /// Open connections, all threads together.
    #[arg(long, default_value_t = 16384)]
    max_connections: usize,
    /// Largest request body read and discarded (413 beyond).
    #[arg(long, default_value_t = 64 * 1024)]
    max_body: u64,
    /// Time to receive a whole request head, from its first byte (ms).
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Keep-alive idle time (ms).
    #[arg(long, default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Time a response may make no progress (ms).
    #[arg(long, default_value_t = 60_000)]
    send_timeout_ms: u64,
    /// On SIGTERM/SIGINT, time to finish in-flight responses (ms).
    #[arg(long, default_value_t = 10_000)]
    shutdown_timeout_ms: u64,
    /// Access log file, or `-` for stdout. Off by default. SIGUSR1
    /// reopens it (after logrotate renamed it).
    #[arg(long)]
    access_log: Option<String>,
    /// Access log lines: combined (NCSA, as nginx and Apache) or json
    /// (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Combined)]
    access_log_format: LogFormat,
    /// Bodies above this many bytes go by sendfile, smaller ones in the
    /// writev with their head (the default is measured: bench/threshold).
    #[arg(long, default_value_t = tarweb_serve::DEFAULT_SENDFILE_THRESHOLD)]
    sendfile_threshold: u64,
    /// Whole responses (status line to body) each worker keeps written
    /// out for the current second, for its busiest bodies above the
    /// sendfile threshold and up to 256 KiB: one sendfile per response
    /// instead of two sends. 0: off.
    #[arg(long, default_value_t = 64)]
    hot_responses: usize,
    /// TCP congestion control for the listeners and the connections they
    /// accept (e.g. cubic, reno, bbr). Default: the system's
    /// (net.ipv4.tcp_congestion_control).
    #[arg(long, value_name = "ALGO")]
    tcp_congestion: Option<String>,
    /// HTTPS address to listen on (repeatable). Under socket activation
    /// a systemd socket on the same port is used instead (tarweb.socket
    /// holds 80 and 443).
    #[arg(long)]
    tls_listen: Vec<SocketAddr>,
    /// Certificate chain, PEM, leaf first: the default certificate.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert, PEM (PKCS#8; PKCS#1 and SEC1 also read).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Directory of `<host>.pem` files (chain and key in one file),
    /// chosen by SNI; other names get --tls-cert.
    #[arg(long)]
    tls_cert_dir: Option<PathBuf>,
    /// Kernel TLS after the handshake: require, auto (fall back to
    /// user-space records), off.
    #[arg(long, value_enum, default_value_t = Ktls::Auto)]
    ktls: Ktls,
    /// Plain listeners answer every request with a 308 to https://, for
    /// the host names this server serves (its sites, its certificates'
    /// names, --redirect-host); 421 for others.
    #[arg(long)]
    redirect_https: bool,
    /// One more host name --redirect-https redirects (repeatable).
    #[arg(long, value_name = "NAME")]
    redirect_host: Vec<String>,
    /// Every connection (plain and TLS) starts with a PROXY protocol header
    /// (v1 or v2) from a load balancer: its address is the client's. A
    /// connection without one is closed with no answer.
    #[arg(long)]
    proxy_protocol: bool,
    /// Only peers in this network may connect (repeatable), e.g. the load
    /// balancers' addresses: 10.0.0.0/8, 192.0.2.7/32, ::1/128.
    #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
    proxy_from: Vec<ipnet::IpNet>,
    /// Confinement once everything is open: auto (Landlock, seccomp,
    /// no_new_privs and no capabilities, as far as the kernel allows; one
    /// line says what), require (refuse to start without every layer, or
    /// as root without --user), off (debugging).
    #[arg(long, value_enum, default_value_t = Sandbox::Auto)]
    sandbox: Sandbox,
    /// When started as root, serve as this user (and group; default: the
    /// user's), with no supplementary groups and no capabilities.
    #[arg(long, value_name = "USER[:GROUP]")]
    user: Option<String>,
    /// HTTP/2: offered by ALPN on HTTPS listeners, and taken with prior
    /// knowledge (the connection preface first) on plain ones.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    http2: OnOff,
    /// Automatic HTTPS: get and renew a certificate for NAME from an ACME
    /// CA (repeatable; one certificate per name). Needs --tls-listen and
    /// --acme-cache; the CA must reach this server on port 443 (TLS-ALPN-01)
    /// or 80 (HTTP-01) for NAME.
    #[arg(long, value_name = "NAME")]
    acme_domain: Vec<String>,
    /// Automatic HTTPS for every host name of --sites (DIR/<host>.twb).
    #[arg(long, requires = "sites")]
    acme_sites: bool,
    /// The ACME directory URL, or `staging` (Let's Encrypt's staging
    /// environment).
    #[arg(long, value_name = "URL", default_value = tarweb_serve::server::LETS_ENCRYPT)]
    acme_directory: String,
    /// Contact address given to the CA (expiry and policy mail).
    #[arg(long, value_name = "ADDRESS")]
    acme_email: Option<String>,
    /// Where the ACME account key and the certificates are kept (0600),
    /// across restarts. Required with ACME.
    #[arg(long, value_name = "DIR")]
    acme_cache: Option<PathBuf>,
    /// The root certificate (PEM) that signs the ACME server's own HTTPS,
    /// for a private or test CA (default: the system's roots).
    #[arg(long, value_name = "FILE")]
    acme_directory_ca: Option<PathBuf>,
    /// The challenge answered: auto (TLS-ALPN-01 on the HTTPS listeners,
    /// after a failure HTTP-01 on the plain ones, and so on), tls-alpn-01,
    /// http-01.
    #[arg(long, value_enum, default_value_t = Challenge::Auto)]
    acme_challenge: Challenge,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Challenge {
    Auto,
    #[value(name = "tls-alpn-01")]
    TlsAlpn01,
    #[value(name = "http-01")]
    Http01,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// A network (`10.0.0.0/8`) or one address (`192.0.2.7`, `::1`).
fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an address nor a network (ADDR/LEN)"))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Combined,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Sandbox {
    Off,
    Auto,
    Require,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BlobVerify {
    Lazy,
    Full,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BlobCopy {
    Auto,
    Copy,
    Memfd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Ktls {
    Require,
    Auto,
    Off,
}

/// `tarweb-serve --generate-to DIR` (`make install`): the man page and the
/// bash, zsh and fish completions, made from the definition above so that
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

fn main() {
    let args: Vec<_> = std::env::args_os().collect();
    if let [_, flag, dir] = &args[..] {
        if flag == "--generate-to" {
            if let Err(e) = generate_to(dir.as_ref()) {
                eprintln!("tarweb-serve: --generate-to {}: {e}", dir.to_string_lossy());
                std::process::exit(1);
            }
            return;
        }
    }
    let cli = Cli::parse();
    let ms = Duration::from_millis;
    let acme_on = !cli.acme_domain.is_empty() || cli.acme_sites;
    if !acme_on
        && (cli.acme_cache.is_some() || cli.acme_email.is_some() || cli.acme_directory_ca.is_some())
    {
        eprintln!("tarweb-serve: --acme-* options ignored: no --acme-domain or --acme-sites");
    }
    let acme = match (acme_on, cli.acme_cache) {
        (false, _) => None,
        (true, None) => {
            eprintln!("tarweb-serve: ACME needs --acme-cache DIR (account key and certificates)");
            std::process::exit(2);
        }
        (true, Some(cache)) => Some(AcmeOptions {
            domains: cli.acme_domain,
            sites: cli.acme_sites,
            directory: match cli.acme_directory.as_str() {
                "staging" => tarweb_serve::server::LETS_ENCRYPT_STAGING.to_string(),
                _ => cli.acme_directory,
            },
            email: cli.acme_email,
            cache,
            directory_ca: cli.acme_directory_ca,
            challenge: match cli.acme_challenge {
                Challenge::Auto => ChallengeKind::Auto,
                Challenge::TlsAlpn01 => ChallengeKind::TlsAlpn01,
                Challenge::Http01 => ChallengeKind::Http01,
            },
        }),
    };
    let target = match (cli.site, cli.sites) {
        (Some(f), _) => Target::File(f),
        (None, Some(d)) => Target::Dir(d),
        (None, None) => unreachable!("clap requires one"),
    };
    let o = Options {
        target,
        watch: match cli.watch.as_str() {
            "poll" => Mode::Poll,
            "off" => Mode::Off,
            _ => Mode::Inotify,
        },
        watch_interval: ms(cli.watch_interval_ms.max(10)),
        root_header: cli.root_header,
        listen: cli.listen,
        threads: cli
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        metrics_listen: cli.metrics_listen,
        load: LoadOpts {
            copy: match cli.blob_copy {
                BlobCopy::Auto => CopyTo::Auto,
                BlobCopy::Copy => CopyTo::Copy,
                BlobCopy::Memfd => CopyTo::Memfd,
            },
            mlock: cli.mlock,
            lazy: matches!(cli.blob_verify, BlobVerify::Lazy),
        },
        server_header: (cli.server_header != "off").then_some(cli.server_header),
        max_requests: cli.max_requests_per_connection,
        max_connections: cli.max_connections,
        max_body: cli.max_body,
        head_timeout: ms(cli.header_timeout_ms),
        idle_timeout: ms(cli.idle_timeout_ms),
        send_timeout: ms(cli.send_timeout_ms),
        shutdown_timeout: ms(cli.shutdown_timeout_ms),
        access_log: cli.access_log,
        access_log_format: match cli.access_log_format {
            LogFormat::Combined => AccessLogFormat::Combined,
            LogFormat::Json => AccessLogFormat::Json,
        },
        sendfile_threshold: cli.sendfile_threshold,
        hot_responses: cli.hot_responses,
        tcp_congestion: cli.tcp_congestion,
        tls_certs: match (cli.tls_cert, cli.tls_key) {
            (Some(cert), Some(key)) => Some(CertSources {
                cert,
                key,
                dir: cli.tls_cert_dir,
            }),
            (None, None) => None,
            _ => {
                tarweb_serve::error!("tarweb-serve: --tls-cert and --tls-key go together");
                std::process::exit(2);
            }
        },
        tls_listen: cli.tls_listen,
        ktls: match cli.ktls {
            Ktls::Require => KtlsMode::Require,
            Ktls::Auto => KtlsMode::Auto,
            Ktls::Off => KtlsMode::Off,
        },
        redirect_https: cli.redirect_https,
        redirect_hosts: cli.redirect_host,
        proxy_protocol: cli.proxy_protocol,
        proxy_from: cli.proxy_from,
        sandbox: match cli.sandbox {
            Sandbox::Off => SandboxMode::Off,
            Sandbox::Auto => SandboxMode::Auto,
            Sandbox::Require => SandboxMode::Require,
        },
        user: cli.user,
        http2: cli.http2 == OnOff::On,
        acme,
    };
    if let Err(e) = server::run(o) {
        tarweb_serve::error!("tarweb-serve: {e}");
        std::process::exit(1);
    }
}
