//! Startup and shutdown: load the roots, make the listeners (or adopt
//! systemd's), open everything serving needs, confine the process
//! (`sandbox`) while it has one thread, then start one worker per thread,
//! the watcher, the stats thread and the reaper, tell systemd we are
//! ready, and wait for signals: SIGHUP re-checks, SIGTERM/SIGINT drain and
//! exit.
//!
//! Over 600 lines on purpose: start-up in the order it must happen (listeners, blobs, certificates, ACME, confinement, workers, signals), read top to bottom.

use crate::access_log::{self, AccessLog};
use crate::config::Config;
use crate::hot::Hot;
use crate::metrics;
use crate::publish::Published;
use crate::root;
use crate::sandbox::{self, Plan};
use crate::stats;
use crate::sys::Counters;
use crate::sys::{self, Signal};
use crate::tls::Tls;
use crate::watch::{self, Watcher};

pub use crate::access_log::Format as AccessLogFormat;
pub use crate::acme::{AcmeOptions, ChallengeKind, LETS_ENCRYPT, LETS_ENCRYPT_STAGING};
pub use crate::root::{CopyTo, LoadOpts};
pub use crate::sandbox::Mode as SandboxMode;
pub use crate::tls::{CertSources, KtlsMode};
pub use crate::watch::{Mode, Target};
use crate::worker::{Listener, Worker};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub struct Options {
    /// One blob, or a directory of `<host>.twb` (`--sites`).
    pub target: Target,
    /// How new roots are noticed.
    pub watch: watch::Mode,
    /// Polling interval (`--watch poll`, or when inotify is unavailable).
    pub watch_interval: Duration,
    /// Send `Tarweb-Root: <digest>`.
    pub root_header: bool,
    pub listen: Vec<SocketAddr>,
    pub threads: usize,
    /// `--metrics-listen` (`--stats-listen` is its old name).
    pub metrics_listen: Option<SocketAddr>,
    /// Where blobs are copied, and `--mlock`.
    pub load: LoadOpts,
    /// `None`: no Server header.
    pub server_header: Option<String>,
    pub max_requests: u32,
    pub max_connections: usize,
    pub max_body: u64,
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub access_log: Option<String>,
    pub access_log_format: access_log::Format,
    pub sendfile_threshold: u64,
    /// Regions of each worker's hot-response file (0: off).
    pub hot_responses: usize,
    /// TCP congestion control of every listener (None: the system's).
    pub tcp_congestion: Option<String>,
    /// HTTPS listeners (not with systemd's sockets).
    pub tls_listen: Vec<SocketAddr>,
    /// Required with `tls_listen`.
    pub tls_certs: Option<CertSources>,
    pub ktls: KtlsMode,
    pub redirect_https: bool,
    /// `--redirect-host`: more names `--redirect-https` redirects.
    pub redirect_hosts: Vec<String>,
    /// `--proxy-protocol`: every connection starts with a PROXY header.
    pub proxy_protocol: bool,
    /// `--proxy-from`: the only peers that may connect (empty: any).
    pub proxy_from: Vec<ipnet::IpNet>,
    /// `--sandbox`.
    pub sandbox: SandboxMode,
    /// `--user USER[:GROUP]`.
    pub user: Option<String>,
    /// `--http2 on`.
    pub http2: bool,
    /// `--acme-*`: automatic HTTPS.
    pub acme: Option<AcmeOptions>,
}

/// Applies `--tcp-congestion` to a listener; the error names the
/// algorithms this kernel offers.
fn set_congestion(fd: &OwnedFd, name: Option<&str>, on: &str) -> Result<(), String> {
    let Some(name) = name else { return Ok(()) };
    sys::set_congestion_control(fd.as_raw_fd(), name).map_err(|e| {
        let path = "/proc/sys/net/ipv4/tcp_available_congestion_control";
        let have = std::fs::read_to_string(path).unwrap_or_default();
        format!(
            "--tcp-congestion {name} on {on}: {e} (this kernel has: {})",
            have.trim()
        )
    })
}

/// Builds the TLS side: decides kernel or user-space records (one line
/// on stderr when kTLS is missing), loads the certificates.
fn setup_tls(o: &Options, acme_names: &[String]) -> Result<Option<Arc<Tls>>, String> {
    if o.tls_listen.is_empty() {
        if o.acme.is_some() {
            return Err("ACME (--acme-domain, --acme-sites) needs --tls-listen: its certificates are for HTTPS".into());
        }
        return Ok(None);
    }
    if o.tls_certs.is_none() && o.acme.is_none() {
        return Err("--tls-listen needs --tls-cert and --tls-key (or ACME: --acme-domain)".into());
    }
    let kernel = match o.ktls {
        KtlsMode::Off => false,
        KtlsMode::Require | KtlsMode::Auto => {
            let have = sys::ktls_available();
            if !have && o.ktls == KtlsMode::Require {
                return Err("--ktls=require: this kernel has no kTLS (the \"tls\" ULP is missing; `modprobe tls` loads it)".into());
            }
            if !have {
                warn!("tarweb-serve: kernel TLS unavailable (no \"tls\" ULP): HTTPS records are encrypted in user space; `modprobe tls` (or /etc/modules-load.d/tls.conf) enables kTLS");
            }
            have
        }
    };
    Ok(Some(Arc::new(Tls::new(
        o.tls_certs.clone(),
        kernel,
        o.http2,
        acme_names.to_vec(),
    )?)))
}

/// SIGHUP, or the certificate files changed: read them again; a bad set
/// keeps the old one.
fn reload_tls(tls: Option<&Tls>, why: &str) {
    let Some(tls) = tls else {
        return;
    };
    match tls.reload() {
        Ok(n) => warn!("tarweb-serve: {why}: {n} certificate(s) reloaded"),
        Err(e) => {
            warn!("tarweb-serve: {why}: certificates not reloaded, keeping the old ones: {e}")
        }
    }
}

/// systemd's notify socket, connected before confinement (after it no
/// socket can be made, and Landlock would stand between us and a path).
struct Notify(Option<std::os::unix::net::UnixDatagram>);

impl Notify {
    fn connect() -> Notify {
        let Ok(path) = std::env::var("NOTIFY_SOCKET") else {
            return Notify(None);
        };
        let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
            return Notify(None);
        };
        let ok = if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|a| sock.connect_addr(&a))
        } else {
            sock.connect(&path)
        };
        Notify(ok.is_ok().then_some(sock))
    }

    fn send(&self, msg: &str) {
        if let Some(s) = &self.0 {
            let _ = s.send(msg.as_bytes());
        }
    }
}

/// Whether systemd's notify socket is an abstract one (`@name`).
fn notify_abstract() -> bool {
    std::env::var("NOTIFY_SOCKET").is_ok_and(|p| p.starts_with('@'))
}

/// `--metrics-listen`: one request per connection, answered from the
/// counters as they are now. `/metrics` is the Prometheus text; `/` the
/// old `name value` lines of `--stats-listen` (the syscall-budget tests,
/// bench/instr.sh and the kTLS probe read them); anything else 404.
fn metrics_thread(l: TcpListener, counters: &'static [Counters], published: Arc<Published>) {
    for s in l.incoming() {
        let Ok(mut s) = s else {
            // EMFILE and friends: do not spin.
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 4096];
        let mut got = 0;
        while got < buf.len() {
            match s.read(&mut buf[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
            if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = &buf[..got];
        let path = head
            .split(|&b| b == b' ')
            .nth(1)
            .map(|p| p.split(|&b| b == b'?').next().unwrap_or(p));
        let (status, ctype, body) = match path {
            Some(b"/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", {
                let sites = published.current();
                let roots: Vec<(&str, &str)> = sites
                    .entries()
                    .map(|(n, r)| (n, r.digest_hex.as_str()))
                    .collect();
                let fallbacks = crate::tls::ktls::FALLBACKS.load(Ordering::Relaxed);
                metrics::render(counters, &roots, fallbacks)
            }),
            Some(b"/") => ("200 OK", "text/plain", stats::render(counters)),
            _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
        };
        let head_only = head.starts_with(b"HEAD ");
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            if head_only { "" } else { body.as_str() }
        );
    }
}

pub fn run(o: Options) -> Result<(), String> {
    // Before any thread exists, so that every thread inherits the mask and
    // SIGTERM/SIGHUP can only be taken by `wait_signal` (a thread with one
    // unblocked would die of it, taking the process along).
    sys::block_signals();
    let started = std::time::Instant::now();
    // SIGIO is now blocked everywhere and taken below: blobs may be served
    // from their own files under a lease.
    root::enable_leases();
    let _ = sys::raise_nofile_limit();
    // Through NSS, while every file is still readable.
    let user = o.user.as_deref().map(sys::lookup_account).transpose()?;
    let (mut watcher, sites) = Watcher::start(o.target.clone(), o.load)?;
    let acme_names = match &o.acme {
        Some(a) => acme_names(a, &sites)?,
        None => Vec::new(),
    };
    let published = Arc::new(Published::new(sites).map_err(|e| format!("eventfd: {e}"))?);
    let tls = setup_tls(&o, &acme_names)?;
    let challenges = o
        .acme
        .as_ref()
        .map(|_| Arc::new(crate::acme::Challenges::default()));
    // Certificates ride on the blob's watch: a renewal (certbot's symlink
    // flip, a rename over the file) is picked up like a deploy.
    if let (Some(t), Some(src)) = (&tls, &o.tls_certs) {
        if o.watch != watch::Mode::Off {
            let t = t.clone();
            watcher.also_watch(
                vec![src.cert.clone(), src.key.clone()],
                src.dir.iter().cloned().collect(),
                Box::new(move || reload_tls(Some(&t), "certificate files changed")),
            );
        }
    }
    let threads = o.threads.max(1);
    let mut per_thread: Vec<Vec<Listener>> = (0..threads).map(|_| Vec::new()).collect();
    let mut tls_port = None;
    let tls_how = match tls.as_deref() {
        Some(t) if t.kernel && t.limits.can_rekey => "kTLS, rekey",
        Some(t) if t.kernel => "kTLS, no rekey",
        _ => "user-space TLS",
    };
    // --tls-listen addresses a systemd socket stands in for: not bound here.
    let mut tls_listen = o.tls_listen.clone();
    let shared = if let Some(fds) = sys::systemd_listeners() {
        for fd in &fds {
            set_congestion(fd, o.tcp_congestion.as_deref(), "a systemd socket")?;
            let addr = sys::local_addr(fd.as_raw_fd()).ok();
            // One socket unit holds both 80 and 443 and names them alike
            // (FileDescriptorName= is per unit): a socket on the port of a
            // --tls-listen address serves HTTPS in its place, so binding
            // 443 needs no capability in the service.
            let is_tls = addr.is_some_and(|a| o.tls_listen.iter().any(|t| t.port() == a.port()));
            if let (true, Some(a)) = (is_tls, addr) {
                tls_listen.retain(|t| t.port() != a.port());
                tls_port.get_or_insert(a.port());
            }
            for t in per_thread.iter_mut() {
                t.push(Listener {
                    fd: fd.try_clone().map_err(|e| format!("dup: {e}"))?,
                    tls: is_tls,
                });
            }
            match addr {
                Some(a) if is_tls => info!("listening on {a} (systemd, https, {tls_how})"),
                Some(a) => {
                    info!("listening on {a} (systemd)");
                    if a.port() == 443 {
                        warn!("the systemd socket on {a} serves plain HTTP: --tls-listen with port 443 (and a certificate) makes it HTTPS");
                    }
                }
                None => {}
            }
        }
        true
    } else {
        false
    };
    // --listen is for sockets this process opens; under socket activation
    // the plain listeners are systemd's.
    if shared && !o.listen.is_empty() {
        warn!(
            "tarweb-serve: --listen ignored: the listening sockets come from systemd (LISTEN_FDS)"
        );
    }
    let default_listen = ["[::]:8080".parse().expect("an address")];
    let plain = match (shared, o.listen.is_empty()) {
        (true, _) => &[][..],
        (false, true) => &default_listen[..],
        (false, false) => &o.listen[..],
    };
    let all = plain.iter().map(|a| (a, false));
    for (addr, is_tls) in all.chain(tls_listen.iter().map(|a| (a, true))) {
        let mut addr = *addr;
        // SO_REUSEPORT lets every worker bind the port, and would as well
        // let a second server bind it and silently take half the
        // connections: refuse when anything else holds the port.
        if addr.port() != 0
            && sys::port_taken(&addr).map_err(|e| format!("listen on {addr}: {e}"))?
        {
            return Err(format!(
                "listen on {addr}: another process already listens there \
                 (both would get a share of the connections); stop it or choose another port"
            ));
        }
        for (t, fds) in per_thread.iter_mut().enumerate() {
            let fd = sys::listener(&addr, 4096).map_err(|e| format!("listen on {addr}: {e}"))?;
            set_congestion(&fd, o.tcp_congestion.as_deref(), &addr.to_string())?;
            if t == 0 {
                // Port 0: every thread binds the port the first got.
                addr = sys::local_addr(fd.as_raw_fd()).map_err(|e| e.to_string())?;
                if is_tls {
                    tls_port.get_or_insert(addr.port());
                    info!("listening on {addr} (https, {tls_how})");
                } else {
                    info!("listening on {addr}");
                }
            }
            fds.push(Listener { fd, tls: is_tls });
        }
    }
    let counters: &'static [Counters] =
        Box::leak((0..threads).map(|_| Counters::default()).collect());
    let stats_listener = match o.metrics_listen {
        Some(a) => {
            let l = TcpListener::bind(a).map_err(|e| format!("metrics listen on {a}: {e}"))?;
            info!("metrics on {}", l.local_addr().map_err(|e| e.to_string())?);
            Some(l)
        }
        None => None,
    };
    let log_shared = match o.access_log.as_deref() {
        None => None,
        Some(p) => Some(access_log::Shared::open(p, threads)?),
    };
    let cfg = Arc::new(Config {
        server_line: o
            .server_header
            .as_ref()
            .map(|s| format!("Server: {s}\r\n").into_bytes())
            .unwrap_or_default(),
        max_requests: o.max_requests.max(1),
        max_conns: o.max_connections.div_ceil(threads).max(1),
        max_body: o.max_body,
        head_timeout: o.head_timeout,
        idle_timeout: o.idle_timeout,
        send_timeout: o.send_timeout,
        shutdown_timeout: o.shutdown_timeout,
        sendfile_threshold: o.sendfile_threshold,
        root_header: o.root_header,
        tls: tls.clone(),
        redirect_https: match (o.redirect_https, tls_port) {
            (false, _) => None,
            (true, None) => return Err("--redirect-https needs --tls-listen".into()),
            (true, Some(443)) => Some(String::new()),
            (true, Some(p)) => Some(format!(":{p}")),
        },
        redirect_hosts: o.redirect_hosts.clone(),
        proxy_protocol: o.proxy_protocol,
        proxy_from: o.proxy_from.clone(),
        http2: o.http2,
        acme: challenges.clone(),
    });
    let wake = sys::eventfd().map_err(|e| e.to_string())?;
    // Hot responses live where the blob's copy does: beside it on its
    // filesystem (`--blob-copy auto` or `copy`), or in memory.
    let hot_dir = match (o.load.copy, &o.target) {
        (root::CopyTo::Memfd, _) => None,
        (root::CopyTo::Auto | root::CopyTo::Copy, Target::File(p)) => Some(root::dir_of(p)),
        (root::CopyTo::Auto | root::CopyTo::Copy, Target::Dir(d)) => Some(d.as_path()),
    };
    let mut workers = Vec::new();
    for (t, fds) in per_thread.into_iter().enumerate() {
        let hot = if o.hot_responses == 0 {
            Hot::disabled()
        } else {
            match root::scratch_file(hot_dir, c"tarweb-hot") {
                Ok(f) => Hot::new(f, o.hot_responses),
                Err(e) => {
                    warn!("tarweb-serve: worker {t}: no hot responses: {e}");
                    Hot::disabled()
                }
            }
        };
        let w = Worker::new(
            cfg.clone(),
            t,
            published.clone(),
            &counters[t],
            fds,
            shared,
            wake.as_raw_fd(),
            log_shared
                .clone()
                .map(|l| AccessLog::new(l, t, o.access_log_format, &counters[t])),
            hot,
        )
        .map_err(|e| format!("worker {t}: {e}"))?;
        workers.push(w);
    }
    // ACME: the cache read (valid certificates served from the first
    // handshake) and the thread's runtime made, before confinement.
    let acme = match (&o.acme, &tls, &challenges) {
        (Some(a), Some(t), Some(c)) => {
            let opts = AcmeOptions {
                domains: acme_names.clone(),
                ..a.clone()
            };
            let prepared = crate::acme::prepare(
                opts,
                t.clone(),
                c.clone(),
                !o.tls_listen.is_empty(),
                !plain.is_empty() || shared,
                user.as_ref()
                    .filter(|_| sys::euid() == 0)
                    .map(|a| (a.uid, a.gid)),
            )?;
            // After `prepare`: the cache exists (Landlock names inodes).
            Some((prepared, crate::acme::sandbox_needs(a)?))
        }
        _ => None,
    };
    let notify = Notify::connect();
    // Everything is open: confine, while this is the only thread (every
    // thread started below inherits it all).
    let mut read_dirs = sandbox_dirs(&o);
    let acme_sandbox = match &acme {
        Some((_, needs)) => {
            read_dirs.extend(needs.read_dirs.iter().cloned());
            Some(sys::LandlockExtra {
                write_dirs: needs.write_dirs.clone(),
                read_files: needs.read_files.clone(),
                connect_ports: needs.connect_ports.clone(),
            })
        }
        None => None,
    };
    let plan = Plan {
        mode: o.sandbox,
        user,
        read_dirs,
        mlock: o.load.mlock,
        scope_unix: !notify_abstract(),
        log_dir: log_shared
            .as_ref()
            .and_then(|l| l.path())
            .and_then(sandbox::log_dir),
        acme: acme_sandbox,
    };
    if o.sandbox != SandboxMode::Off {
        root::no_new_files();
    }
    info!("{}", sandbox::confine(&plan)?);
    root::start_reaper().map_err(|e| format!("reaper thread: {e}"))?;
    if let Some((prepared, _)) = acme {
        crate::acme::spawn(prepared)?;
    }
    if let Some(l) = stats_listener {
        let published = published.clone();
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || metrics_thread(l, counters, published))
            .map_err(|e| e.to_string())?;
    }
    let log_writer = match &log_shared {
        Some(l) => Some(
            l.spawn_writer()
                .map_err(|e| format!("access log thread: {e}"))?,
        ),
        None => None,
    };
    let mut handles = Vec::new();
    for (t, w) in workers.into_iter().enumerate() {
        handles.push(
            std::thread::Builder::new()
                .name(format!("worker-{t}"))
                .spawn(move || {
                    // A bug in one worker must not leave a half-dead server
                    // behind: exit loudly so the supervisor restarts it.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run()));
                    if r.is_err() {
                        error!("tarweb-serve: worker {t} panicked; exiting");
                        std::process::exit(70);
                    }
                })
                .map_err(|e| e.to_string())?,
        );
    }
    let watch = watcher.spawn(published, o.watch, o.watch_interval);
    info!("ready");
    let _ = std::io::stdout().flush();
    notify.send("READY=1");
    // SIGHUP: re-check everything reloadable (one call per kind of thing);
    // SIGTERM/SIGINT: stop.
    // SIGUSR1: reopen the access log (logrotate's nginx recipe).
    let why = loop {
        match sys::wait_signal() {
            Signal::Hup => {
                // `systemctl reload` shows "reloading" until READY=1 again;
                // the blob re-check it starts goes on on the watcher
                // thread, which logs its outcome.
                notify.send(&format!(
                    "RELOADING=1\nMONOTONIC_USEC={}",
                    sys::monotonic_usec()
                ));
                watch.recheck();
                reload_tls(tls.as_deref(), "SIGHUP");
                notify.send("READY=1");
            }
            Signal::Usr1 => match &log_shared {
                Some(l) => l.reopen(),
                None => info!("SIGUSR1: no access log to reopen"),
            },
            Signal::Lease => root::leases_broken(),
            Signal::Term => break "SIGTERM or SIGINT",
        }
    };
    notify.send("STOPPING=1");
    sys::eventfd_signal(wake.as_raw_fd());
    for h in handles {
        let _ = h.join();
    }
    if let (Some(l), Some(w)) = (&log_shared, log_writer) {
        if l.stop(Duration::from_secs(5)) {
            let _ = w.join();
        } else {
            warn!("access log: its writer is still blocked (a stuck disk?); exiting without the lines it holds");
        }
    }
    let sum = |k: sys::Sc| counters.iter().map(|c| c.get(k as usize)).sum::<u64>();
    // The one line at shutdown, once the drain is over.
    info!(
        "stopped ({why}) after {} s: {} connections, {} requests",
        started.elapsed().as_secs(),
        sum(sys::Sc::Connections),
        sum(sys::Sc::Requests)
    );
    Ok(())
}

/// ACME's names: `--acme-domain`s, then (`--acme-sites`) every site's host
/// name, checked, lower case, each once.
fn acme_names(a: &AcmeOptions, sites: &crate::sites::Sites) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for d in &a.domains {
        names.push(crate::acme::check_name(d)?);
    }
    if a.sites {
        for (host, _) in sites.entries() {
            if host != crate::sites::DEFAULT_STEM {
                names.push(crate::acme::check_name(host)?);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    if names.is_empty() {
        return Err(if a.sites {
            "--acme-sites: no host names in --sites (and no --acme-domain)".into()
        } else {
            "ACME needs a name: --acme-domain NAME or --acme-sites".into()
        });
    }
    Ok(names)
}

/// Landlock's read-only directories: where the blobs and certificates
/// that are read again after start-up live.
fn sandbox_dirs(o: &Options) -> std::collections::BTreeSet<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    match &o.target {
        Target::File(p) => files.push(p.as_path()),
        Target::Dir(d) => dirs.push(d.as_path()),
    }
    if let Some(c) = &o.tls_certs {
        files.push(c.cert.as_path());
        files.push(c.key.as_path());
        if let Some(d) = &c.dir {
            dirs.push(d.as_path());
        }
    }
    sandbox::read_dirs(&files, &dirs)
}
