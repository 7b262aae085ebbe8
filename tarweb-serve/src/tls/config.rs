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
use std::sync::{Arc, Mutex, RwLock};

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
    /// ACME TLS-ALPN-01 (RFC 8737): the challenge certificate of each name
    /// being validated, presented only to a client that offers ALPN
    /// `acme-tls/1` and nothing else. Empty unless an order is pending.
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

/// The ALPN protocol of TLS-ALPN-01 validation connections.
pub(crate) const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertResolver")
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // RFC 8737 §3: a validator offers exactly `acme-tls/1`; it gets the
        // challenge certificate or no handshake at all, never a real one.
        if let Some(mut alpn) = hello.alpn() {
            if alpn.any(|p| p == ACME_TLS_ALPN) {
                let name = hello.server_name()?.to_ascii_lowercase();
                return self
                    .alpn_challenges
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&name)
                    .cloned();
            }
        }
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
    /// The certificate files (None: ACME's certificates only).
    sources: Option<CertSources>,
    provider: Arc<CryptoProvider>,
    /// What the files gave at the last (re)load.
    files: Mutex<Option<Certs>>,
    /// ACME: the certificate of each managed name, kept across reloads of
    /// the files (ACME's win over a file's for the same name).
    acme: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    /// ACME's names, in the order given: the first one's certificate is
    /// the default when there are no files.
    acme_names: Vec<String>,
    /// Without files, what is presented before ACME's first certificate:
    /// self-signed for the ACME names, made at start.
    fallback: Option<Arc<CertifiedKey>>,
}

impl Tls {
    /// Loads the certificates and builds the config. `kernel`: whether
    /// sessions will be handed to kTLS (then rustls must allow extracting
    /// the secrets). `h2`: offer HTTP/2 by ALPN (preferred to HTTP/1.1).
    /// `acme_names`: the names ACME manages (none: ACME is off); without
    /// `sources`, a self-signed certificate for them is presented until
    /// ACME installs one.
    pub fn new(
        sources: Option<CertSources>,
        kernel: bool,
        h2: bool,
        acme_names: Vec<String>,
    ) -> Result<Tls, String> {
        // ring's default suites are exactly TLS 1.3 AES-128-GCM,
        // AES-256-GCM, ChaCha20-Poly1305 and TLS 1.2 ECDHE (ECDSA, RSA) with
        // the same three AEADs: all of them the kernel can take over.
        let provider = Arc::new(ring::default_provider());
        let files = sources.as_ref().map(|s| load(s, &provider)).transpose()?;
        let fallback = match (&files, acme_names.is_empty()) {
            (Some(_), _) => None,
            (None, false) => Some(Arc::new(self_signed(&acme_names, &provider)?)),
            (None, true) => return Err("TLS needs --tls-cert and --tls-key, or ACME".into()),
        };
        let resolver = Arc::new(CertResolver {
            certs: RwLock::new(Arc::new(merge(
                files.as_ref(),
                &HashMap::new(),
                &acme_names,
                fallback.as_ref(),
            ))),
            alpn_challenges: RwLock::new(HashMap::new()),
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
        // Last: a browser never offers it, a validator offers only it.
        if !acme_names.is_empty() {
            cfg.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
        }
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
            files: Mutex::new(files),
            acme: Mutex::new(HashMap::new()),
            acme_names,
            fallback,
        })
    }

    /// Reads the certificate files again and swaps them in; on any error
    /// the old ones stay and the error says which file and why. Returns
    /// how many certificates are now served (default + per host).
    pub fn reload(&self) -> Result<usize, String> {
        let Some(sources) = &self.sources else {
            return Ok(self.publish());
        };
        let certs = load(sources, &self.provider)?;
        *self.files.lock().unwrap_or_else(|e| e.into_inner()) = Some(certs);
        Ok(self.publish())
    }

    /// ACME: serves `pem` (chain, leaf first, and its key, as in a
    /// `--tls-cert-dir` file) for `name` from the next handshake on, by the
    /// same swap as a reload. An error leaves what was served.
    pub(crate) fn install_acme(&self, name: &str, pem: &[u8]) -> Result<(), String> {
        let key = Arc::new(pair_from_pem(pem, pem, name, name, &self.provider)?);
        self.acme
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_ascii_lowercase(), key);
        self.publish();
        Ok(())
    }

    /// ACME TLS-ALPN-01: presents `cert` (DER) and `key` (PKCS#8 DER) to
    /// validators of `name`, or stops (`None`).
    pub(crate) fn set_alpn_challenge(
        &self,
        name: &str,
        pair: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), String> {
        let mut map = self
            .resolver
            .alpn_challenges
            .write()
            .unwrap_or_else(|e| e.into_inner());
        match pair {
            None => {
                map.remove(&name.to_ascii_lowercase());
            }
            Some((cert, key)) => {
                // Not `from_der`: its key check parses the certificate
                // with webpki, which refuses the critical acmeIdentifier
                // extension. rcgen made the pair together.
                let key = self
                    .provider
                    .key_provider
                    .load_private_key(PrivateKeyDer::Pkcs8(key.into()))
                    .map_err(|e| format!("TLS-ALPN-01 key: {e}"))?;
                let ck = CertifiedKey::new(vec![cert.into()], key);
                map.insert(name.to_ascii_lowercase(), Arc::new(ck));
            }
        }
        Ok(())
    }

    /// Swaps in the set made of the files' and ACME's certificates;
    /// returns how many are served (default + per host).
    fn publish(&self) -> usize {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let acme = self.acme.lock().unwrap_or_else(|e| e.into_inner());
        let certs = merge(
            files.as_ref(),
            &acme,
            &self.acme_names,
            self.fallback.as_ref(),
        );
        let n = 1 + certs.by_host.len();
        *self
            .resolver
            .certs
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(certs);
        n
    }
}

/// The set served: the files' certificates, ACME's over them by name; the
/// default is the files' default, else the first ACME name's certificate,
/// else the self-signed fallback.
fn merge(
    files: Option<&Certs>,
    acme: &HashMap<String, Arc<CertifiedKey>>,
    acme_names: &[String],
    fallback: Option<&Arc<CertifiedKey>>,
) -> Certs {
    let mut by_host = files.map(|f| f.by_host.clone()).unwrap_or_default();
    for (h, k) in acme {
        by_host.insert(h.clone(), k.clone());
    }
    let first_acme = acme_names
        .iter()
        .find_map(|n| acme.get(&n.to_ascii_lowercase()));
    let default = match (files, first_acme, fallback) {
        (Some(f), _, _) => f.default.clone(),
        (None, Some(k), _) => k.clone(),
        (None, None, Some(k)) => k.clone(),
        // Tls::new makes a fallback whenever there are no files.
        (None, None, None) => unreachable!("no default certificate"),
    };
    Certs { default, by_host }
}

/// A self-signed certificate for `names` (ACME's, before the first
/// issuance): HTTPS answers, though no browser trusts it.
fn self_signed(names: &[String], provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("self-signed certificate for {}: {e}", names.join(" ")))?;
    let der = PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    CertifiedKey::from_der(vec![ck.cert.der().clone()], der, provider)
        .map_err(|e| format!("self-signed certificate: {e}"))
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
    let key_pem = if key == cert {
        cert_pem.clone()
    } else {
        read_pem_file(key)?
    };
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    pair_from_pem(&cert_pem, &key_pem, &c, &k, provider)
}

/// [`load_pair`] from bytes; `cert_name` and `key_name` name them in errors.
pub(crate) fn pair_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &str,
    key_name: &str,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{cert_name}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{cert_name}: no CERTIFICATE in the file"));
    }
    let der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("{key_name}: {e}"))?;
    CertifiedKey::from_der(chain, der, provider)
        .map_err(|e| format!("{cert_name} with {key_name}: {e}"))
}
