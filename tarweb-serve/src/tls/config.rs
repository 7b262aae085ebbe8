//! TLS configuration: the rustls `ServerConfig` (built once), and the
//! certificates it presents, loaded from PEM files, chosen by SNI and
//! replaceable while serving (SIGHUP) without touching the config.

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// `--ktls`: whether records go through the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KtlsMode {
    /// Refuse to start without kernel TLS.
    Require,
    /// Kernel TLS when the "tls" ULP exists, else the record layer in
    /// user space (one log line at start says so).
    Auto,
    /// Always user space.
    Off,
}

/// Where the certificates come from (kept for reloads).
#[derive(Clone, Debug)]
pub struct CertSources {
    /// Full chain (leaf first) and its key: the default certificate.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `<host>.pem` files (chain and key in one file), chosen by SNI.
    pub dir: Option<PathBuf>,
}

struct Certs {
    default: Arc<CertifiedKey>,
    by_host: HashMap<String, Arc<CertifiedKey>>,
}

/// Picks the certificate by SNI (exact host name, case-insensitive),
/// falling back to the default pair (also for clients that send no SNI).
/// The set is swapped whole on reload; a handshake takes one read lock.
pub struct CertResolver {
    certs: RwLock<Arc<Certs>>,
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertResolver")
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(name) = hello.server_name() {
            if let Some(k) = certs.by_host.get(&name.to_ascii_lowercase()) {
                return Some(k.clone());
            }
        }
        Some(certs.default.clone())
    }
}

/// Everything the workers need for TLS, shared read-only.
pub struct Tls {
    pub server_config: Arc<ServerConfig>,
    /// Records in the kernel (kTLS) after the handshake, or in user space.
    pub kernel: bool,
    /// kTLS key usage limits (see `ktls::Limits`).
    pub limits: super::ktls::Limits,
    resolver: Arc<CertResolver>,
    sources: CertSources,
    provider: Arc<CryptoProvider>,
}

impl Tls {
    /// Loads the certificates and builds the config. `kernel`: whether
    /// sessions will be handed to kTLS (then rustls must allow extracting
    /// the secrets). `h2`: offer HTTP/2 by ALPN (preferred to HTTP/1.1).
    pub fn new(sources: CertSources, kernel: bool, h2: bool) -> Result<Tls, String> {
        // ring's default suites are exactly TLS 1.3 AES-128-GCM,
        // AES-256-GCM, ChaCha20-Poly1305 and TLS 1.2 ECDHE (ECDSA, RSA) with
        // the same three AEADs: all of them the kernel can take over.
        let provider = Arc::new(ring::default_provider());
        let certs = load(&sources, &provider)?;
        let resolver = Arc::new(CertResolver {
            certs: RwLock::new(Arc::new(certs)),
        });
        let mut cfg = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS config: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        cfg.alpn_protocols = if h2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        // Stateless tickets (TLS 1.3 and 1.2): resumption works across
        // workers without a shared cache lock; keys rotate every 6 hours.
        cfg.ticketer = ring::Ticketer::new().map_err(|e| format!("TLS ticketer: {e}"))?;
        // dangerous_into_kernel_connection() needs it: after the
        // handshake the secrets go to the kernel or to the user-space
        // record layer (`records`), never out of the process.
        cfg.enable_secret_extraction = true;
        // TARWEB_KTLS_RECORD_LIMIT: a test knob (make test-ktls uses a tiny
        // limit to exercise the renewal without sending 128 GiB).
        let records = std::env::var("TARWEB_KTLS_RECORD_LIMIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(super::ktls::Limits::DEFAULT_RECORDS);
        let limits = super::ktls::Limits {
            records,
            can_rekey: kernel && super::ktls::kernel_can_rekey(),
            // TARWEB_KTLS_FAIL=ulp|tx|rx: a test knob (make test-ktls
            // provokes each kTLS fallback with it).
            fail_at: std::env::var("TARWEB_KTLS_FAIL")
                .ok()
                .and_then(|v| super::ktls::Step::parse(&v)),
        };
        Ok(Tls {
            server_config: Arc::new(cfg),
            kernel,
            limits,
            resolver,
            sources,
            provider,
        })
    }

    /// Reads the certificate files again and swaps them in; on any error
    /// the old ones stay and the error says which file and why. Returns
    /// how many certificates are now served (default + per host).
    pub fn reload(&self) -> Result<usize, String> {
        let certs = load(&self.sources, &self.provider)?;
        let n = 1 + certs.by_host.len();
        *self
            .resolver
            .certs
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(certs);
        Ok(n)
    }
}

impl Tls {
    /// Whether a certificate this server presents covers `name` (a DNS
    /// name): one of `--tls-cert-dir` by its file name, or the default one
    /// by the names it holds (wildcards included).
    pub fn covers(&self, name: &str) -> bool {
        let certs = self
            .resolver
            .certs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if certs.by_host.keys().any(|h| h.eq_ignore_ascii_case(name)) {
            return true;
        }
        let (Ok(dns), Some(leaf)) = (
            rustls::pki_types::ServerName::try_from(name),
            certs.default.cert.first(),
        ) else {
            return false;
        };
        webpki::EndEntityCert::try_from(leaf)
            .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&dns).is_ok())
    }
}

fn load(s: &CertSources, provider: &CryptoProvider) -> Result<Certs, String> {
    let default = Arc::new(load_pair(&s.cert, &s.key, provider)?);
    let mut by_host = HashMap::new();
    if let Some(dir) = &s.dir {
        let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in rd {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let Some(host) = path.file_stem().and_then(|h| h.to_str()) else {
                continue;
            };
            let key = load_pair(&path, &path, provider)?;
            by_host.insert(host.to_ascii_lowercase(), Arc::new(key));
        }
    }
    Ok(Certs { default, by_host })
}

/// Largest certificate or key file read: a chain of a few certificates is
/// a few KiB. The cap keeps a wrong path (`/dev/zero`, a log file) from
/// eating memory, at start and on every reload.
pub(crate) const MAX_PEM_FILE: u64 = 1 << 20;

/// Reads a certificate or key file with the checks a blob gets: it must be
/// a regular file (a FIFO renamed over it must not block the thread that
/// reloads: opened non-blocking, refused before a byte is read), at most
/// [`MAX_PEM_FILE`] bytes, and the same file (device, inode, size, mtime,
/// ctime) from the `stat` before opening to the end of reading, or it was
/// replaced or written meanwhile and the next change event reloads it.
pub(crate) fn read_pem_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let err = |what: &str| format!("{}: {what}", path.display());
    let ident = |m: &std::fs::Metadata| {
        (
            m.dev(),
            m.ino(),
            m.size(),
            (m.mtime(), m.mtime_nsec()),
            (m.ctime(), m.ctime_nsec()),
        )
    };
    let regular = |m: &std::fs::Metadata| -> Result<(), String> {
        if !m.is_file() {
            return Err(err("not a regular file"));
        }
        if m.len() > MAX_PEM_FILE {
            return Err(err(&format!(
                "{} bytes, larger than the {} KiB a certificate or key file may have",
                m.len(),
                MAX_PEM_FILE / 1024
            )));
        }
        Ok(())
    };
    let before = std::fs::metadata(path).map_err(|e| err(&e.to_string()))?;
    regular(&before)?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| err(&e.to_string()))?;
    let opened = f.metadata().map_err(|e| err(&e.to_string()))?;
    regular(&opened)?;
    if ident(&opened) != ident(&before) {
        return Err(err("replaced while being opened; not read"));
    }
    let mut bytes = Vec::with_capacity(opened.len() as usize);
    f.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(&e.to_string()))?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(err(&format!(
            "grew past {} KiB while being read",
            MAX_PEM_FILE / 1024
        )));
    }
    let after = std::fs::metadata(path).map_err(|e| err(&e.to_string()))?;
    if ident(&after) != ident(&before) || bytes.len() as u64 != before.len() {
        return Err(err("changed while being read"));
    }
    Ok(bytes)
}

/// A chain (leaf first) from `cert` and the private key (PKCS#8, or
/// PKCS#1 RSA / SEC1 EC) from `key`, which may be the same file. The key
/// must match the leaf. Both files are read by [`read_pem_file`].
fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let cert_pem = read_pem_file(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no CERTIFICATE in the file", cert.display()));
    }
    let key_pem = if key == cert {
        cert_pem
    } else {
        read_pem_file(key)?
    };
    let der =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| format!("{}: {e}", key.display()))?;
    CertifiedKey::from_der(chain, der, provider)
        .map_err(|e| format!("{} with {}: {e}", cert.display(), key.display()))
}
