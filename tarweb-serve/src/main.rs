#![forbid(unsafe_code)]

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tarweb_serve::server::{
    self, CertSources, CopyTo, KtlsMode, LoadOpts, Mode, Options, SandboxMode, Target,
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
    /// Debug stats endpoint (syscall counters), on its own thread.
    #[arg(long)]
    stats_listen: Option<SocketAddr>,
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
    /// Access log file (combined format), or `-` for stdout. Off by default.
    #[arg(long)]
    access_log: Option<String>,
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
    /// HTTPS address to listen on (repeatable).
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
enum Sandbox {
    Off,
    Auto,
    Require,
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

fn main() {
    let cli = Cli::parse();
    let ms = Duration::from_millis;
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
        stats_listen: cli.stats_listen,
        load: LoadOpts {
            copy: match cli.blob_copy {
                BlobCopy::Auto => CopyTo::Auto,
                BlobCopy::Copy => CopyTo::Copy,
                BlobCopy::Memfd => CopyTo::Memfd,
            },
            mlock: cli.mlock,
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
                eprintln!("tarweb-serve: --tls-cert and --tls-key go together");
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
    };
    if let Err(e) = server::run(o) {
        eprintln!("tarweb-serve: {e}");
        std::process::exit(1);
    }
}
