//! Automatic HTTPS (ACME, RFC 8555; `--acme-*`).
//!
//! At start ([`prepare`], before confinement) the cache directory is made
//! and every managed name's cached certificate that has not expired is
//! served; the others get a self-signed one (or `--tls-cert`) meanwhile.
//! Then one thread ([`spawn`], never a worker) runs the ACME client
//! (`instant-acme`: JWS, nonces, polling) on a current-thread tokio
//! runtime: it orders a certificate for each name whose renewal is due
//! (now, when nothing valid is cached; two thirds of the lifetime, or
//! the window ACME Renewal Information suggests), answers the challenge,
//! writes the chain and key to the cache (0600) and installs them live by
//! the same swap as a certificate reload. A failed order leaves the served
//! certificate alone and is retried with a jittered exponential backoff.
//! Every step says one line on stderr.
//!
//! Challenges are answered from memory, never from the blob:
//! TLS-ALPN-01 by the TLS listeners (`Tls::set_alpn_challenge`, ALPN
//! `acme-tls/1`), HTTP-01 by the plain listeners ([`Challenges`]).
//!
//! Over 600 lines on purpose: the ACME client's whole life (cache, account, orders, challenges, renewal) runs on one thread; split, its state would be passed around.

use crate::http::request::Method;
use crate::tls::Tls;
use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, CertificateIdentifier,
    ChallengeType, Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Let's Encrypt's production directory: the default `--acme-directory`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// `--acme-directory staging`.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Which challenge orders are answered with (`--acme-challenge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeKind {
    /// TLS-ALPN-01 when there is a TLS listener, HTTP-01 when there is a
    /// plain one; after a failed order, the other one (when both exist).
    Auto,
    TlsAlpn01,
    Http01,
}

impl fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChallengeKind::Auto => "auto",
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
            ChallengeKind::Http01 => "http-01",
        })
    }
}

/// The `--acme-*` options.
#[derive(Clone, Debug)]
pub struct AcmeOptions {
    /// `--acme-domain` (the `--acme-sites` names are added by the server).
    pub domains: Vec<String>,
    /// `--acme-sites`: every `--sites` host name too.
    pub sites: bool,
    /// The directory URL (`staging` already expanded).
    pub directory: String,
    pub email: Option<String>,
    /// `--acme-cache`: account key and certificates, one subdirectory per
    /// ACME directory.
    pub cache: PathBuf,
    /// `--acme-directory-ca`: the root of the ACME server's own HTTPS
    /// (a private or test server); None: the system's roots.
    pub directory_ca: Option<PathBuf>,
    pub challenge: ChallengeKind,
}

/// HTTP-01 key authorizations by token, read by the workers' plain
/// listeners (only for `/.well-known/acme-challenge/` requests).
#[derive(Default)]
pub struct Challenges {
    http01: RwLock<HashMap<String, String>>,
}

const HTTP01_PREFIX: &[u8] = b"/.well-known/acme-challenge/";

impl Challenges {
    /// For a GET or HEAD of `/.well-known/acme-challenge/TOKEN`: `f` of the
    /// key authorization (None: no pending challenge has the token).
    /// Other requests: None, and `f` is not called.
    pub(crate) fn http01<R>(
        &self,
        method: Method,
        target: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Option<R> {
        if !matches!(method, Method::Get | Method::Head) {
            return None;
        }
        let token = target.strip_prefix(HTTP01_PREFIX)?;
        let map = self.http01.read().unwrap_or_else(|e| e.into_inner());
        let ka = std::str::from_utf8(token)
            .ok()
            .and_then(|t| map.get(t))
            .map(String::as_bytes);
        Some(f(ka))
    }

    fn set(&self, token: &str, key_authorization: Option<String>) {
        let mut map = self.http01.write().unwrap_or_else(|e| e.into_inner());
        match key_authorization {
            Some(ka) => map.insert(token.to_string(), ka),
            None => map.remove(token),
        };
    }
}

fn log(msg: impl fmt::Display) {
    eprintln!("tarweb-serve: acme: {msg}");
}

/// A name's certificate as served: its validity, and the leaf (ARI).
struct CertInfo {
    not_before: SystemTime,
    not_after: SystemTime,
    leaf: CertificateDer<'static>,
}

impl CertInfo {
    /// From the PEM chain (leaf first).
    fn of(pem: &[u8]) -> Result<CertInfo, String> {
        let leaf = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or("no CERTIFICATE")?
            .map_err(|e| e.to_string())?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(&leaf).map_err(|e| format!("certificate: {e}"))?;
        let t = |ts: i64| UNIX_EPOCH + Duration::from_secs(ts.max(0) as u64);
        let v = cert.validity();
        let (not_before, not_after) = (t(v.not_before.timestamp()), t(v.not_after.timestamp()));
        Ok(CertInfo {
            not_before,
            not_after,
            leaf,
        })
    }

    /// Two thirds into the lifetime.
    fn two_thirds(&self) -> SystemTime {
        let life = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        self.not_before + life * 2 / 3
    }
}

fn when(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// A name ACME manages.
struct Managed {
    name: String,
    cert: Option<CertInfo>,
    /// When to order next (renewal, or the retry after a failure).
    due: SystemTime,
    failures: u32,
}

/// Everything the ACME thread needs, made before confinement.
pub(crate) struct Prepared {
    shared: Shared,
    names: Vec<Managed>,
    rt: tokio::runtime::Runtime,
}

/// What the ACME thread reads while it runs.
struct Shared {
    opts: AcmeOptions,
    /// The cache subdirectory of this ACME directory.
    dir: PathBuf,
    tls: Arc<Tls>,
    challenges: Arc<Challenges>,
    /// Which challenges can be answered: a TLS listener, a plain one.
    tls_listener: bool,
    plain_listener: bool,
}

/// A DNS name ACME can validate (no wildcard, no IP address), lower case.
pub(crate) fn check_name(name: &str) -> Result<String, String> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if n.contains('*') {
        return Err(format!(
            "--acme-domain {name}: wildcards need the DNS-01 challenge, which tarweb does not answer"
        ));
    }
    match rustls::pki_types::ServerName::try_from(n.as_str()) {
        Ok(rustls::pki_types::ServerName::DnsName(_)) if n.contains('.') || n == "localhost" => {
            Ok(n)
        }
        _ => Err(format!("--acme-domain {name}: not a DNS name")),
    }
}

/// The cache subdirectory of a directory URL: its host, port and path,
/// other bytes as `_` (staging and production accounts kept apart).
fn cache_subdir(directory: &str) -> String {
    let rest = directory
        .split_once("://")
        .map_or(directory, |(_, rest)| rest);
    rest.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The host and TCP port of a directory URL (Landlock lets the ACME
/// thread connect to that port and no other).
pub(crate) fn directory_host_port(directory: &str) -> Result<(&str, u16), String> {
    let err = |why: &str| format!("--acme-directory {directory}: {why}");
    let rest = directory
        .strip_prefix("https://")
        .ok_or_else(|| err("an https:// URL is needed"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // [v6]:port, host:port, or no port.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() || authority.contains('@') {
        return Err(err("no host"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match port {
        None => Ok((host, 443)),
        Some(p) => Ok((host, p.parse().map_err(|_| err("bad port"))?)),
    }
}

pub(crate) fn directory_port(directory: &str) -> Result<u16, String> {
    directory_host_port(directory).map(|(_, p)| p)
}

/// An error with its causes (hyper's says only "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Where the ACME thread reads and writes after confinement: the cache
/// directory (read and write), and what it reads (the directory's root
/// CA, or the system's roots; the resolver's files).
pub(crate) struct SandboxNeeds {
    pub write_dirs: Vec<PathBuf>,
    pub read_dirs: Vec<PathBuf>,
    pub read_files: Vec<PathBuf>,
    pub connect_ports: Vec<u16>,
}

pub(crate) fn sandbox_needs(o: &AcmeOptions) -> Result<SandboxNeeds, String> {
    let mut read_dirs = Vec::new();
    let mut read_files: Vec<PathBuf> = [
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.exists())
    .collect();
    match &o.directory_ca {
        Some(ca) => read_files.push(
            ca.canonicalize()
                .map_err(|e| format!("--acme-directory-ca {}: {e}", ca.display()))?,
        ),
        None => {
            // The system's roots: Debian's bundle and the certificates its
            // hashed links point to.
            for d in [
                "/etc/ssl",
                "/etc/pki",
                "/usr/share/ca-certificates",
                "/usr/local/share/ca-certificates",
            ] {
                if let Ok(c) = Path::new(d).canonicalize() {
                    read_dirs.push(c);
                }
            }
        }
    }
    let cache = o
        .cache
        .canonicalize()
        .map_err(|e| format!("--acme-cache {}: {e}", o.cache.display()))?;
    Ok(SandboxNeeds {
        write_dirs: vec![cache],
        read_dirs,
        read_files,
        // DNS over TCP (a truncated answer) too.
        connect_ports: vec![directory_port(&o.directory)?, 53],
    })
}

/// Makes the cache directory (0700), serves every valid cached
/// certificate, and readies the thread's runtime. Runs before confinement.
pub(crate) fn prepare(
    opts: AcmeOptions,
    tls: Arc<Tls>,
    challenges: Arc<Challenges>,
    tls_listener: bool,
    plain_listener: bool,
    owner: Option<(u32, u32)>,
) -> Result<Prepared, String> {
    let (host, port) = directory_host_port(&opts.directory)?;
    // One lookup now, while glibc may still load the NSS modules it needs
    // (after confinement it could not map them); an error shows later.
    if host.parse::<std::net::IpAddr>().is_err() {
        use std::net::ToSocketAddrs;
        let _ = (host, port).to_socket_addrs();
    }
    let dir = opts.cache.join(cache_subdir(&opts.directory));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("--acme-cache {}: {e}", dir.display()))?;
    // Started as root with --user: the cache is the user's, or the ACME
    // thread (running as the user) could not write to it.
    if let Some((uid, gid)) = owner {
        give_to(&opts.cache, uid, gid)?;
    }
    match (opts.challenge, tls_listener, plain_listener) {
        (ChallengeKind::TlsAlpn01, false, _) => {
            return Err("--acme-challenge tls-alpn-01 needs --tls-listen".into())
        }
        (ChallengeKind::Http01, _, false) => {
            return Err("--acme-challenge http-01 needs a plain listener".into())
        }
        _ => {}
    }
    let now = SystemTime::now();
    let mut names = Vec::new();
    for name in &opts.domains {
        let path = dir.join(format!("{name}.pem"));
        let mut m = Managed {
            name: name.clone(),
            cert: None,
            due: now,
            failures: 0,
        };
        if path.exists() {
            let cached = crate::tls::config::read_pem_file(&path)
                .and_then(|pem| CertInfo::of(&pem).map(|i| (pem, i)));
            match cached {
                Ok((_, info)) if info.not_after <= now => log(format_args!(
                    "{name}: the cached certificate expired {}; ordering a new one",
                    when(info.not_after)
                )),
                Ok((pem, info)) => match tls.install_acme(name, &pem) {
                    Ok(()) => {
                        m.due = info.two_thirds();
                        log(format_args!(
                            "{name}: serving the cached certificate, valid until {}, renewal due {}",
                            when(info.not_after),
                            when(m.due)
                        ));
                        m.cert = Some(info);
                    }
                    Err(e) => log(format_args!(
                        "{name}: cached certificate unusable ({e}); ordering a new one"
                    )),
                },
                Err(e) => log(format_args!(
                    "{name}: cached certificate unreadable ({e}); ordering a new one"
                )),
            }
        } else {
            log(format_args!(
                "{name}: nothing cached; ordering a certificate"
            ));
        }
        names.push(m);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("ACME runtime: {e}"))?;
    Ok(Prepared {
        shared: Shared {
            opts,
            dir,
            tls,
            challenges,
            tls_listener,
            plain_listener,
        },
        names,
        rt,
    })
}

/// Changes the owner of `dir`, its subdirectories and files (the cache:
/// a few entries, no symlinks followed).
fn give_to(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("--acme-cache {}: chown: {e}", p.display());
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(|e| err(dir, e))?;
    for entry in std::fs::read_dir(dir).map_err(|e| err(dir, e))? {
        let entry = entry.map_err(|e| err(dir, e))?;
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            give_to(&path, uid, gid)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|e| err(&path, e))?;
        }
    }
    Ok(())
}

/// Starts the ACME thread (after confinement: it inherits it).
pub(crate) fn spawn(p: Prepared) -> Result<(), String> {
    std::thread::Builder::new()
        .name("acme".into())
        .spawn(move || {
            let Prepared {
                shared,
                mut names,
                rt,
            } = p;
            // A bug here must not stop renewals for good, nor take the
            // serving process down: say so, wait, go on from the state
            // as it was.
            loop {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.block_on(run(&shared, &mut names))
                }));
                if r.is_ok() {
                    return;
                }
                log("the ACME thread panicked; starting over in 60 s");
                std::thread::sleep(Duration::from_secs(60));
            }
        })
        .map(drop)
        .map_err(|e| format!("ACME thread: {e}"))
}

/// A uniform random number in [0, 1).
fn random_unit() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait after `failures` failed attempts: 30 s doubling up to 6 h,
/// times a random factor in [0.5, 1) so that servers that failed together
/// (a CA outage) do not retry together.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(30)
        .saturating_mul(1 << failures.saturating_sub(1).min(10))
        .min(Duration::from_secs(6 * 3600));
    base.mul_f64(0.5 + random_unit() / 2.0)
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs())
}

async fn run(p: &Shared, names: &mut [Managed]) {
    let mut account: Option<Account> = None;
    let mut account_failures = 0;
    loop {
        let acct = match &account {
            Some(a) => a.clone(),
            None => match open_account(p).await {
                Ok(a) => {
                    account_failures = 0;
                    // ARI, where offered, may move cached certificates'
                    // renewals.
                    for m in names.iter_mut().filter(|m| m.failures == 0) {
                        if let Some(c) = &m.cert {
                            m.due = renewal_due(&a, &m.name, c).await;
                        }
                    }
                    account = Some(a.clone());
                    a
                }
                Err(e) => {
                    account_failures += 1;
                    let wait = backoff(account_failures);
                    log(format_args!(
                        "account at {}: {e}; next attempt in {}",
                        p.opts.directory,
                        secs(wait)
                    ));
                    tokio::time::sleep(wait).await;
                    continue;
                }
            },
        };
        let now = SystemTime::now();
        let Some(m) = names.iter_mut().min_by_key(|m| m.due) else {
            return;
        };
        if m.due > now {
            // Woken at least hourly: a wall clock that jumped is noticed.
            let wait = m.due.duration_since(now).unwrap_or_default();
            tokio::time::sleep(wait.min(Duration::from_secs(3600))).await;
            continue;
        }
        let kind = choose(p, m.failures);
        let started = std::time::Instant::now();
        match issue(&acct, p, &m.name, kind).await {
            Ok(pem) => {
                let installed = CertInfo::of(pem.as_bytes()).and_then(|info| {
                    p.tls.install_acme(&m.name, pem.as_bytes())?;
                    Ok(info)
                });
                match installed {
                    Ok(info) => {
                        m.failures = 0;
                        // Cached once it is known to load: a restart
                        // serves it. A failed write costs only that.
                        let path = p.dir.join(format!("{}.pem", m.name));
                        if let Err(e) = write_private(&path, pem.as_bytes()) {
                            log(format_args!(
                                "{}: not cached ({e}); served all the same",
                                m.name
                            ));
                        }
                        m.due = renewal_due(&acct, &m.name, &info).await;
                        log(format_args!(
                            "{}: certificate installed ({:.1} s), valid until {}, renewal due {}",
                            m.name,
                            started.elapsed().as_secs_f64(),
                            when(info.not_after),
                            when(m.due)
                        ));
                        m.cert = Some(info);
                    }
                    Err(e) => {
                        m.failures += 1;
                        let wait = backoff(m.failures);
                        m.due = SystemTime::now() + wait;
                        log(format_args!(
                            "{}: the issued certificate is unusable ({e}); keeping the served one; next attempt in {}",
                            m.name,
                            secs(wait)
                        ));
                    }
                }
            }
            Err(e) => {
                m.failures += 1;
                let wait = backoff(m.failures);
                m.due = SystemTime::now() + wait;
                let kept = match &m.cert {
                    Some(c) => format!(
                        "keeping the served certificate (valid until {})",
                        when(c.not_after)
                    ),
                    None => "no certificate from ACME yet".to_string(),
                };
                log(format_args!(
                    "{}: order failed ({kind}): {}; {kept}; next attempt in {}",
                    m.name,
                    e.msg,
                    secs(wait)
                ));
                if e.account_gone {
                    // The server forgot the account (a test server's
                    // restart): a new one next time.
                    account = None;
                    let _ = std::fs::remove_file(p.dir.join("account.json"));
                }
            }
        }
    }
}

/// The challenge of this attempt.
fn choose(p: &Shared, failures: u32) -> ChallengeKind {
    match p.opts.challenge {
        ChallengeKind::Auto => match (p.tls_listener, p.plain_listener) {
            (true, true) if failures % 2 == 1 => ChallengeKind::Http01,
            (true, _) => ChallengeKind::TlsAlpn01,
            _ => ChallengeKind::Http01,
        },
        k => k,
    }
}

/// When to renew: in the ARI window where the directory offers it (a
/// random point of it, RFC 9773 §4.2), else at two thirds of the lifetime.
async fn renewal_due(account: &Account, name: &str, c: &CertInfo) -> SystemTime {
    let fallback = c.two_thirds();
    let Ok(id) = CertificateIdentifier::try_from(&c.leaf) else {
        return fallback;
    };
    match account.renewal_info(&id).await {
        Ok((info, _)) => {
            let w = info.suggested_window;
            let t = |ts: i64| UNIX_EPOCH + Duration::from_secs(ts.max(0) as u64);
            let (start, end) = (t(w.start.unix_timestamp()), t(w.end.unix_timestamp()));
            let span = end.duration_since(start).unwrap_or_default();
            let due = start + span.mul_f64(random_unit());
            log(format_args!(
                "{name}: renewal information: window {} to {}",
                when(start),
                when(end)
            ));
            due
        }
        Err(instant_acme::Error::Unsupported(_)) => fallback,
        Err(e) => {
            log(format_args!(
                "{name}: renewal information unavailable ({e}); renewing at two thirds of the lifetime"
            ));
            fallback
        }
    }
}

fn builder(p: &Shared) -> Result<AccountBuilder, String> {
    match &p.opts.directory_ca {
        Some(ca) => Account::builder_with_root(ca)
            .map_err(|e| format!("--acme-directory-ca {}: {}", ca.display(), chain(&e))),
        None => Account::builder().map_err(|e| format!("TLS roots: {}", chain(&e))),
    }
}

/// The account: from the cache, or registered (and then cached, 0600).
async fn open_account(p: &Shared) -> Result<Account, String> {
    let path = p.dir.join("account.json");
    if let Ok(bytes) = std::fs::read(&path) {
        let creds: AccountCredentials =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let a = builder(p)?
            .from_credentials(creds)
            .await
            .map_err(|e| chain(&e))?;
        log(format_args!(
            "account {} (cached in {})",
            a.id(),
            path.display()
        ));
        return Ok(a);
    }
    let contact: Vec<String> = p.opts.email.iter().map(|e| format!("mailto:{e}")).collect();
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (a, creds) = builder(p)?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            p.opts.directory.clone(),
            None,
        )
        .await
        .map_err(|e| chain(&e))?;
    let json = serde_json::to_vec(&creds).map_err(|e| e.to_string())?;
    write_private(&path, &json)?;
    log(format_args!(
        "account {} registered at {} (key in {})",
        a.id(),
        p.opts.directory,
        path.display()
    ));
    Ok(a)
}

/// Writes `bytes` to `path` whole or not at all: a 0600 temporary file
/// beside it, synced, renamed over it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let r = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(err)
}

struct Failure {
    msg: String,
    /// The server no longer knows the account.
    account_gone: bool,
}

impl From<String> for Failure {
    fn from(msg: String) -> Failure {
        Failure {
            msg,
            account_gone: false,
        }
    }
}

fn acme_err(what: &str, e: instant_acme::Error) -> Failure {
    let account_gone = matches!(&e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"));
    Failure {
        msg: format!("{what}: {}", chain(&e)),
        account_gone,
    }
}

/// Takes the challenge responses down however the order ends.
struct Pending<'a> {
    p: &'a Shared,
    name: &'a str,
    alpn: bool,
    tokens: Vec<String>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.alpn {
            let _ = self.p.tls.set_alpn_challenge(self.name, None);
        }
        for t in &self.tokens {
            self.p.challenges.set(t, None);
        }
    }
}

/// A TLS-ALPN-01 certificate (RFC 8737 §3): self-signed for `name`, with
/// the critical acmeIdentifier extension holding the key authorization's
/// SHA-256. Returns (certificate, PKCS#8 key), DER.
fn alpn_cert(name: &str, digest: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let e = |e: rcgen::Error| format!("TLS-ALPN-01 certificate: {e}");
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(e)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(e)?;
    let cert = params.self_signed(&key).map_err(e)?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

/// Why an order failed: each challenge's error, as the server says.
async fn why(order: &mut Order) -> String {
    let mut out = Vec::new();
    let mut auths = order.authorizations();
    while let Some(Ok(mut a)) = auths.next().await {
        if let Ok(st) = a.refresh().await {
            for c in &st.challenges {
                if let Some(e) = &c.error {
                    out.push(format!("{:?}: {e}", c.r#type));
                }
            }
        }
    }
    out.join("; ")
}

/// One order for `name`: challenge answered, validated, finalized with a
/// new P-256 key. Returns the chain and the key, PEM (the cache's format).
async fn issue(
    account: &Account,
    p: &Shared,
    name: &str,
    kind: ChallengeKind,
) -> Result<String, Failure> {
    log(format_args!(
        "{name}: ordering a certificate from {} ({kind})",
        p.opts.directory
    ));
    let ids = [Identifier::Dns(name.to_string())];
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(|e| acme_err("new order", e))?;
    let mut pending = Pending {
        p,
        name,
        alpn: false,
        tokens: Vec::new(),
    };
    let ty = match kind {
        ChallengeKind::Http01 => ChallengeType::Http01,
        _ => ChallengeType::TlsAlpn01,
    };
    let mut answered = 0;
    {
        let mut auths = order.authorizations();
        while let Some(a) = auths.next().await {
            let mut a = a.map_err(|e| acme_err("authorization", e))?;
            match a.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                s => return Err(format!("authorization {s:?}").into()),
            }
            let mut ch = a
                .challenge(ty.clone())
                .ok_or_else(|| format!("the server offers no {kind} challenge"))?;
            let ka = ch.key_authorization();
            if ty == ChallengeType::Http01 {
                p.challenges.set(&ch.token, Some(ka.as_str().to_string()));
                pending.tokens.push(ch.token.clone());
            } else {
                p.tls
                    .set_alpn_challenge(name, Some(alpn_cert(name, ka.digest().as_ref())?))?;
                pending.alpn = true;
            }
            ch.set_ready().await.map_err(|e| acme_err("challenge", e))?;
            answered += 1;
        }
    }
    if answered > 0 {
        log(format_args!(
            "{name}: {kind} challenge answered; waiting for validation"
        ));
    } else {
        log(format_args!("{name}: already authorized"));
    }
    let retry = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(120));
    let status = order.poll_ready(&retry).await;
    match status {
        Ok(OrderStatus::Ready) => {}
        Ok(s) => {
            let w = why(&mut order).await;
            return Err(format!("order {s:?}: {w}").into());
        }
        Err(e) => {
            // The challenges' own errors say more than the order's, which
            // usually repeats one of them.
            let w = why(&mut order).await;
            let mut f = acme_err("validation", e);
            if !w.is_empty() {
                f.msg = format!("validation: {w}");
            }
            return Err(f);
        }
    }
    drop(pending);
    log(format_args!("{name}: validated; finalizing"));
    let e = |e: rcgen::Error| format!("CSR: {e}");
    let key = rcgen::KeyPair::generate().map_err(e)?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(e)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(e)?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| acme_err("finalize", e))?;
    let chain = order
        .poll_certificate(&retry)
        .await
        .map_err(|e| acme_err("certificate", e))?;
    let mut pem = chain;
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem.push_str(&key.serialize_pem());
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("Example.COM.").unwrap(), "example.com");
        assert!(check_name("*.example.com").is_err());
        assert!(check_name("192.0.2.1").is_err());
        assert!(check_name("exa mple.com").is_err());
    }

    #[test]
    fn directories_get_their_own_cache() {
        assert_eq!(
            cache_subdir(LETS_ENCRYPT),
            "acme-v02.api.letsencrypt.org_directory"
        );
        assert_eq!(
            cache_subdir("https://127.0.0.1:14000/dir"),
            "127.0.0.1_14000_dir"
        );
        assert_eq!(
            directory_port("https://127.0.0.1:14000/dir").unwrap(),
            14000
        );
        assert_eq!(directory_port(LETS_ENCRYPT).unwrap(), 443);
        assert!(directory_port("http://example.com/dir").is_err());
        assert_eq!(
            directory_host_port("https://[::1]:8443/dir").unwrap(),
            ("::1", 8443)
        );
        assert_eq!(
            directory_host_port("https://ca.example/dir").unwrap(),
            ("ca.example", 443)
        );
        assert!(directory_port("https:///dir").is_err());
    }

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for n in 1..40 {
            let b = backoff(n);
            let base =
                Duration::from_secs(30 * (1u64 << (n - 1).min(10))).min(Duration::from_secs(21600));
            assert!(b >= base / 2 && b <= base, "{n}: {b:?}");
        }
    }

    #[test]
    fn http01_answers_only_its_path() {
        let c = Challenges::default();
        c.set("tok", Some("tok.thumb".into()));
        let got = |m, t: &[u8]| c.http01(m, t, |ka| ka.map(<[u8]>::to_vec));
        assert_eq!(
            got(Method::Get, b"/.well-known/acme-challenge/tok"),
            Some(Some(b"tok.thumb".to_vec()))
        );
        assert_eq!(
            got(Method::Get, b"/.well-known/acme-challenge/other"),
            Some(None)
        );
        assert_eq!(got(Method::Get, b"/index.html"), None);
        assert_eq!(got(Method::Other, b"/.well-known/acme-challenge/tok"), None);
        c.set("tok", None);
        assert_eq!(
            got(Method::Head, b"/.well-known/acme-challenge/tok"),
            Some(None)
        );
    }
}
