//! kTLS probe: real TLS sessions on loopback, server and client in one
//! process. The server side does the handshake with rustls, then hands the
//! socket to the kernel (kTLS) and serves with recvmsg/writev/sendfile; the
//! client side is plain rustls. Prints `ok NAME` / `FAIL NAME: reason` per
//! scenario and a final `N passed, M failed`; exit status 0 iff all passed.
//!
//! Usage: ktls-probe [FILTER]   (run only scenarios whose name contains FILTER)
//!
//! Over 600 lines on purpose: it is one static program that runs inside
//! the VM with nothing else there, every scenario beside the others.

mod ktls;
mod suites;
mod sys;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use rustls::client::ClientConnection;
use rustls::crypto::{ring, CryptoProvider};
use rustls::kernel::KernelConnection;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::ServerConnectionData;
use rustls::{
    ClientConfig, ExtractedSecrets, ProtocolVersion, RootCertStore, ServerConfig, StreamOwned,
};
use tarweb_serve::tls::handshake::{Handshake, Progress};

use ktls::{record_type, CryptoInfo, Direction, CLOSE_NOTIFY};
use suites::{suites, Suite};

/// Every socket read/write gives up after this (SO_RCVTIMEO/SO_SNDTIMEO).
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A scenario whose two sides have not both finished by then fails.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(40);
/// The whole probe exits (and fails) after this, whatever happens.
const WATCHDOG: Duration = Duration::from_secs(100);

const BIG_LEN: usize = 3 << 20;
const REQUEST: &[u8] = b"GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n\
                         GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n";
const SMALL_HEADER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n";
const SMALL_BODY: &[u8] = b"hello from kTLS writev";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Pipelined request read with recvmsg; writev response; sendfile of
    /// 3 MiB; server close_notify (client must see a clean EOF); client
    /// close_notify (server must see an alert record).
    Serve,
    /// Serve with TLS_TX_ZEROCOPY_RO and (TLS 1.3) TLS_RX_EXPECT_NO_PAD.
    ServeZerocopy,
    /// The client closes first: the server sees close_notify, answers it.
    ClientClose,
    /// Garbage record from the client: EBADMSG on the server.
    Tamper,
    /// The client sends a KeyUpdate (update_requested) between two writes.
    KeyUpdate,
    /// Half a record, a pause, the rest: what level-triggered epoll reports.
    EpollPartialLevel,
    /// Same with edge-triggered epoll (what the server should use).
    EpollPartialEdge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Serve => "serve",
            Kind::ServeZerocopy => "serve-zerocopy",
            Kind::ClientClose => "client-close",
            Kind::Tamper => "tamper",
            Kind::KeyUpdate => "key-update",
            Kind::EpollPartialLevel => "epoll-partial-lt",
            Kind::EpollPartialEdge => "epoll-partial-et",
        }
    }
}

struct Env {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    big: Arc<Vec<u8>>,
    big_path: PathBuf,
}

type Outcome = Result<String, String>;

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        println!("FAIL watchdog: probe still running after {WATCHDOG:?}");
        println!("0 passed, 1 failed");
        std::process::exit(3);
    });

    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("ktls-probe: kernel {}", release.trim());
    let env = match setup() {
        Ok(env) => env,
        Err(e) => {
            println!("FAIL setup: {e}");
            println!("0 passed, 1 failed");
            std::process::exit(1);
        }
    };

    let start_stat = sys::tls_stat().unwrap_or_default();
    let (mut passed, mut failed) = (0, 0);
    let t0 = Instant::now();
    for suite in suites() {
        let mut kinds = vec![Kind::Serve, Kind::ClientClose, Kind::Tamper];
        if suite.name == "tls13-aes128gcm" || suite.name == "tls12-ecdhe-aes128gcm" {
            kinds.push(Kind::ServeZerocopy);
            kinds.push(Kind::EpollPartialLevel);
            kinds.push(Kind::EpollPartialEdge);
        }
        if suite.version == &rustls::version::TLS13 {
            kinds.push(Kind::KeyUpdate);
        }
        for kind in kinds {
            let name = format!("{}/{}", suite.name, kind.name());
            if !name.contains(&filter) {
                continue;
            }
            let t = Instant::now();
            match run_scenario(&env, &suite, kind) {
                Ok(note) => {
                    passed += 1;
                    println!("ok {name}");
                    println!("   {:.2}s {note}", t.elapsed().as_secs_f64());
                }
                Err(e) => {
                    failed += 1;
                    println!("FAIL {name}: {e}");
                }
            }
        }
    }
    let end_stat = sys::tls_stat().unwrap_or_default();
    println!(
        "tls_stat total delta: {} ({:.1}s)",
        fmt_delta(&sys::tls_stat_delta(&start_stat, &end_stat)),
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(&env.big_path);
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 && passed > 0 { 0 } else { 1 });
}

fn setup() -> Result<Env, String> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(|e| format!("rcgen: {e}"))?;
    let cert = ck.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der());

    // Pseudo-random contents, so that a lost, duplicated or reordered record
    // cannot go unnoticed.
    let mut big = vec![0u8; BIG_LEN];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in big.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let big_path = std::env::temp_dir().join(format!("ktls-probe-{}.bin", std::process::id()));
    std::fs::write(&big_path, &big).map_err(|e| format!("{}: {e}", big_path.display()))?;
    Ok(Env {
        cert,
        key,
        big: Arc::new(big),
        big_path,
    })
}

fn configs(env: &Env, suite: &Suite) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), String> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: vec![suite.suite],
        ..ring::default_provider()
    });
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[suite.version])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![env.cert.clone()],
            PrivateKeyDer::Pkcs8(env.key.clone_key()),
        )
        .map_err(|e| e.to_string())?;
    // Needed for dangerous_into_kernel_connection().
    server.enable_secret_extraction = true;

    let mut roots = RootCertStore::empty();
    roots.add(env.cert.clone()).map_err(|e| e.to_string())?;
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[suite.version])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(server), Arc::new(client)))
}

fn fmt_delta(d: &[(String, i64)]) -> String {
    if d.is_empty() {
        return "(no change)".into();
    }
    d.iter()
        .map(|(k, v)| format!("{k} {v:+}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run one scenario: server and client on their own threads, then check
/// that the kernel's TLS counters moved.
fn run_scenario(env: &Env, suite: &Suite, kind: Kind) -> Outcome {
    let (scfg, ccfg) = configs(env, suite)?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let before = sys::tls_stat().map_err(|e| format!("/proc/net/tls_stat: {e}"))?;

    let (tx, rx) = mpsc::channel::<(&str, Outcome)>();
    let (big, big_path) = (env.big.clone(), env.big_path.clone());
    let stx = tx.clone();
    thread::spawn(move || {
        let r = server_side(listener, scfg, kind, &big_path, big.len());
        let _ = stx.send(("server", r));
    });
    let big = env.big.clone();
    thread::spawn(move || {
        let r = client_side(addr, ccfg, kind, &big);
        let _ = tx.send(("client", r));
    });

    let deadline = Instant::now() + SCENARIO_TIMEOUT;
    let (mut server, mut client) = (None, None);
    while server.is_none() || client.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(("server", r)) => server = Some(r),
            Ok((_, r)) => client = Some(r),
            Err(_) => {
                let who = if server.is_none() { "server" } else { "client" };
                return Err(format!(
                    "timeout: {who} side still running after {SCENARIO_TIMEOUT:?}"
                ));
            }
        }
    }
    let server = server.unwrap().map_err(|e| format!("server: {e}"))?;
    let client = client.unwrap().map_err(|e| format!("client: {e}"))?;

    // Proof that the kernel did the record layer.
    let after = sys::tls_stat().map_err(|e| format!("/proc/net/tls_stat: {e}"))?;
    let delta = sys::tls_stat_delta(&before, &after);
    let d = |k| sys::get(&delta, k);
    if d("TlsTxSw") < 1 || d("TlsRxSw") < 1 {
        return Err(format!("tls_stat did not move: {}", fmt_delta(&delta)));
    }
    if kind == Kind::Tamper && d("TlsDecryptError") < 1 {
        return Err(format!("no TlsDecryptError: {}", fmt_delta(&delta)));
    }
    if kind == Kind::KeyUpdate && server.starts_with("rekeyed") {
        let has_rekey_counters = after.iter().any(|(k, _)| k == "TlsRxRekeyOk");
        if has_rekey_counters && (d("TlsRxRekeyOk") < 1 || d("TlsTxRekeyOk") < 1) {
            return Err(format!(
                "rekey counters did not move: {}",
                fmt_delta(&delta)
            ));
        }
    }
    Ok(format!(
        "server: {server}\n   client: {client}\n   tls_stat: {}",
        fmt_delta(&delta)
    ))
}

// ---------------------------------------------------------------- server --

fn server_side(
    listener: TcpListener,
    cfg: Arc<ServerConfig>,
    kind: Kind,
    big_path: &PathBuf,
    big_len: usize,
) -> Outcome {
    let (sock, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    set_timeouts(&sock)?;
    let (secrets, mut kconn) = handshake(&sock, cfg)?;
    let version = kconn.protocol_version();
    let fd = sock.as_raw_fd();
    // Pitfall 1: the client's first request usually sits right behind its
    // Finished. It must still be in the socket (ciphertext) for the kernel.
    let queued = sys::bytes_queued(fd).map_err(|e| format!("FIONREAD: {e}"))?;

    // Hand the session to the kernel.
    ktls::enable_ulp(fd).map_err(|e| format!("setsockopt TCP_ULP \"tls\": {e}"))?;
    let txi = CryptoInfo::new(version, secrets.tx.0, &secrets.tx.1).map_err(|e| e.to_string())?;
    let rxi = CryptoInfo::new(version, secrets.rx.0, &secrets.rx.1).map_err(|e| e.to_string())?;
    ktls::set_crypto(fd, Direction::Tx, &txi).map_err(|e| format!("TLS_TX: {e}"))?;
    ktls::set_crypto(fd, Direction::Rx, &rxi).map_err(|e| format!("TLS_RX: {e}"))?;
    let mut note = format!(
        "{:?} {} tx_seq={} rx_seq={}",
        version,
        ktls::cipher_name(&txi),
        secrets.tx.0,
        secrets.rx.0
    );
    drop((txi, rxi, secrets));
    if let Ok(stat) = sys::tls_stat() {
        note += &format!(
            " TlsCurrTxSw={} TlsCurrRxSw={}",
            sys::get(&stat, "TlsCurrTxSw"),
            sys::get(&stat, "TlsCurrRxSw")
        );
    }

    match kind {
        Kind::Serve | Kind::ServeZerocopy => {
            if kind == Kind::ServeZerocopy {
                ktls::set_flag(fd, ktls::Flag::TxZerocopyReadOnly)
                    .map_err(|e| format!("TLS_TX_ZEROCOPY_RO: {e}"))?;
                note += " +zerocopy_ro";
                if version == ProtocolVersion::TLSv1_3 {
                    ktls::set_flag(fd, ktls::Flag::RxExpectNoPad)
                        .map_err(|e| format!("TLS_RX_EXPECT_NO_PAD: {e}"))?;
                    note += " +expect_no_pad";
                }
            }
            // A TLS 1.3 client sends its request right behind its Finished
            // (TLS 1.2 clients wait for the server's Finished, which comes
            // last there): if nothing is queued, this test lost its point.
            if version == ProtocolVersion::TLSv1_3 && queued == 0 {
                return Err("request was not queued behind Finished: pitfall 1 untested".into());
            }
            serve(fd, big_path, big_len)?;
            note += &format!(
                " request ({queued} encrypted bytes already queued behind Finished)\
                 /writev/sendfile/close_notify both ways"
            );
        }
        Kind::ClientClose => {
            expect_close_notify(fd)?;
            ktls::send_record(fd, record_type::ALERT, &CLOSE_NOTIFY)
                .map_err(|e| format!("sendmsg close_notify: {e}"))?;
            let mut buf = [0u8; 64];
            match ktls::recv_record(fd, &mut buf) {
                Ok((record_type::APPLICATION_DATA, 0)) => {}
                other => return Err(format!("expected EOF after close_notify, got {other:?}")),
            }
            note += " close_notify received as record type 21, answered";
        }
        Kind::Tamper => {
            let mut buf = [0u8; 256];
            match ktls::recv_record(fd, &mut buf) {
                Err(e) if e.raw_os_error() == Some(libc::EBADMSG) => {}
                other => return Err(format!("expected EBADMSG, got {other:?}")),
            }
            // The error is sticky: the connection is unusable.
            let again = ktls::recv_record(fd, &mut buf);
            note += &format!(
                " garbage record -> EBADMSG; next recvmsg -> {}",
                fmt_res(&again)
            );
        }
        Kind::KeyUpdate => note += &format!(" {}", key_update(fd, &mut kconn)?),
        Kind::EpollPartialLevel | Kind::EpollPartialEdge => {
            sock.set_nonblocking(true).map_err(|e| e.to_string())?;
            note += &format!(" {}", epoll_partial(fd, kind == Kind::EpollPartialEdge)?);
        }
    }
    Ok(note)
}

fn fmt_res(r: &io::Result<(u8, usize)>) -> String {
    match r {
        Ok((t, n)) => format!("type {t}, {n} bytes"),
        Err(e) => errno_name(e),
    }
}

fn errno_name(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EBADMSG) => "EBADMSG",
        Some(libc::EKEYEXPIRED) => "EKEYEXPIRED",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::EAGAIN) => "EAGAIN (timeout)",
        Some(libc::EIO) => "EIO",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::ENOPROTOOPT) => "ENOPROTOOPT",
        _ => return e.to_string(),
    };
    name.to_string()
}

fn set_timeouts(sock: &TcpStream) -> Result<(), String> {
    sock.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())
}

/// Server handshake: tarweb-serve's own record-at-a-time driver
/// (`tarweb_serve::tls::handshake`), which never reads past the record
/// being assembled, so the bytes after the client's Finished (its first
/// request, typically in the same segment) stay in the socket for the
/// kernel. On this blocking socket a read or write that times out
/// (SO_RCVTIMEO/SO_SNDTIMEO) comes back as `Blocked`.
fn handshake(
    sock: &TcpStream,
    cfg: Arc<ServerConfig>,
) -> Result<(ExtractedSecrets, KernelConnection<ServerConnectionData>), String> {
    let mut h = Handshake::new(cfg).map_err(|e| e.to_string())?;
    match h.drive(sock.as_raw_fd(), ktls::counters()) {
        Ok(Progress::Done) => {}
        Ok(Progress::Blocked) => {
            return Err(format!("handshake: no progress within {IO_TIMEOUT:?}"))
        }
        Err(e) => return Err(format!("handshake: {e}")),
    }
    h.into_kernel()
        .map_err(|e| format!("dangerous_into_kernel_connection: {e}"))
}

fn serve(fd: RawFd, big_path: &PathBuf, big_len: usize) -> Result<(), String> {
    // The pipelined requests, decrypted by the kernel.
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while req.len() < REQUEST.len() {
        match ktls::recv_record(fd, &mut buf) {
            Ok((record_type::APPLICATION_DATA, 0)) => return Err("EOF before request".into()),
            Ok((record_type::APPLICATION_DATA, n)) => req.extend_from_slice(&buf[..n]),
            Ok((t, n)) => return Err(format!("record type {t} ({n} bytes) instead of request")),
            Err(e) => return Err(format!("recvmsg request: {}", errno_name(&e))),
        }
    }
    if req != REQUEST {
        return Err(format!(
            "request mismatch: {:?}",
            String::from_utf8_lossy(&req)
        ));
    }
    sys::writev_all(fd, &[SMALL_HEADER, SMALL_BODY]).map_err(|e| format!("writev: {e}"))?;
    let header = format!("HTTP/1.1 200 OK\r\nContent-Length: {big_len}\r\n\r\n");
    sys::writev_all(fd, &[header.as_bytes()]).map_err(|e| format!("writev: {e}"))?;
    let file = File::open(big_path).map_err(|e| format!("open: {e}"))?;
    sys::sendfile_all(fd, &file, big_len as u64).map_err(|e| format!("sendfile: {e}"))?;
    ktls::send_record(fd, record_type::ALERT, &CLOSE_NOTIFY)
        .map_err(|e| format!("sendmsg close_notify: {e}"))?;
    expect_close_notify(fd)
}

fn expect_close_notify(fd: RawFd) -> Result<(), String> {
    let mut buf = [0u8; 64];
    match ktls::recv_record(fd, &mut buf) {
        Ok((record_type::ALERT, 2)) if buf[..2] == CLOSE_NOTIFY => Ok(()),
        Ok((t, n)) => Err(format!(
            "expected close_notify, got type {t} {:?}",
            &buf[..n]
        )),
        Err(e) => Err(format!("expected close_notify: {}", errno_name(&e))),
    }
}

/// The client sends "before\n", KeyUpdate(update_requested), "after\n".
/// Kernels >= 6.14 can take new keys: install the next RX key, answer with our
/// own KeyUpdate under the old TX key, install the next TX key, reply. Older
/// kernels refuse a second TLS_RX (EBUSY): records under the new key cannot be
/// read, so close cleanly with close_notify (still under the old TX key,
/// which the peer accepts until it sees a KeyUpdate from us).
fn key_update(
    fd: RawFd,
    kconn: &mut KernelConnection<ServerConnectionData>,
) -> Result<String, String> {
    let version = kconn.protocol_version();
    let mut buf = [0u8; 256];
    match ktls::recv_record(fd, &mut buf) {
        Ok((record_type::APPLICATION_DATA, n)) if &buf[..n] == b"before\n" => {}
        other => return Err(format!("expected \"before\", got {}", fmt_res(&other))),
    }
    match ktls::recv_record(fd, &mut buf) {
        Ok((record_type::HANDSHAKE, n)) if buf[..n] == ktls::key_update_message(true) => {}
        other => {
            return Err(format!(
                "expected KeyUpdate record, got {}",
                fmt_res(&other)
            ))
        }
    }
    let (seq, secrets) = kconn
        .update_rx_secret()
        .map_err(|e| format!("update_rx_secret: {e}"))?;
    let info = CryptoInfo::new(version, seq, &secrets).map_err(|e| e.to_string())?;
    if let Err(e) = ktls::set_crypto(fd, Direction::Rx, &info) {
        // Old kernel: no rekey. Close cleanly; show what reading would do.
        ktls::send_record(fd, record_type::ALERT, &CLOSE_NOTIFY)
            .map_err(|e| format!("sendmsg close_notify: {e}"))?;
        let next = ktls::recv_record(fd, &mut buf);
        match &next {
            Err(n) if matches!(n.raw_os_error(), Some(libc::EBADMSG | libc::EKEYEXPIRED)) => {}
            _ => {
                return Err(format!(
                    "after failed rekey, next record gave {}",
                    fmt_res(&next)
                ))
            }
        }
        return Ok(format!(
            "no-rekey: kernel cannot rekey (second TLS_RX -> {}); next record -> {}; closed with close_notify",
            errno_name(&e),
            fmt_res(&next)
        ));
    }
    // Peer asked us to update too: KeyUpdate under the old key, then switch.
    ktls::send_record(fd, record_type::HANDSHAKE, &ktls::key_update_message(false))
        .map_err(|e| format!("sendmsg KeyUpdate: {}", errno_name(&e)))?;
    let (seq, secrets) = kconn
        .update_tx_secret()
        .map_err(|e| format!("update_tx_secret: {e}"))?;
    let info = CryptoInfo::new(version, seq, &secrets).map_err(|e| e.to_string())?;
    ktls::set_crypto(fd, Direction::Tx, &info)
        .map_err(|e| format!("second TLS_TX: {}", errno_name(&e)))?;
    match ktls::recv_record(fd, &mut buf) {
        Ok((record_type::APPLICATION_DATA, n)) if &buf[..n] == b"after\n" => {}
        other => {
            return Err(format!(
                "expected \"after\" under the new key, got {}",
                fmt_res(&other)
            ))
        }
    }
    sys::writev_all(fd, &[b"rekeyed\n"]).map_err(|e| format!("write: {e}"))?;
    ktls::send_record(fd, record_type::ALERT, &CLOSE_NOTIFY)
        .map_err(|e| format!("sendmsg close_notify: {e}"))?;
    Ok("rekeyed: RX and TX re-installed after KeyUpdate, data exchanged under new keys".into())
}

/// The client sends half of a record, waits 1.5 s, sends the rest; the
/// server waits in epoll (level- or edge-triggered) and counts wakeups whose
/// recvmsg finds no complete record. With level-triggering, each such wakeup
/// repeats at once (an event-loop spin a client can cause on purpose); with
/// edge-triggering there may be one per arriving segment, never a spin.
fn epoll_partial(fd: RawFd, edge: bool) -> Result<String, String> {
    let ep = sys::Epoll::new(fd).map_err(|e| format!("epoll: {e}"))?;
    let want = epoll_payload();
    if edge {
        ep.set_edge_triggered()
            .map_err(|e| format!("epoll_ctl: {e}"))?;
    }
    let mut buf = vec![0u8; 16 << 10];
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut empty_wakeups = 0u32;
    let n = loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        if left == 0 {
            return Err(format!(
                "record never became readable ({empty_wakeups} empty wakeups)"
            ));
        }
        if !ep.wait(left).map_err(|e| format!("epoll_wait: {e}"))? {
            continue;
        }
        match ktls::recv_record(fd, &mut buf) {
            Ok((record_type::APPLICATION_DATA, n)) => break n,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => empty_wakeups += 1,
            other => return Err(format!("recvmsg gave {}", fmt_res(&other))),
        }
        if edge && empty_wakeups > 3 {
            return Err("edge-triggered epoll keeps waking without a record".into());
        }
        if empty_wakeups >= 1000 {
            // Level-triggered spin proven; stop burning the CPU.
            thread::sleep(Duration::from_millis(20));
        }
    };
    if buf[..n] != want[..] {
        return Err(format!("got {n} bytes, not the {} sent", want.len()));
    }
    ktls::send_record(fd, record_type::ALERT, &CLOSE_NOTIFY)
        .map_err(|e| format!("sendmsg close_notify: {e}"))?;
    let spin = if !edge && empty_wakeups >= 1000 {
        " (SPIN: half record reported readable)"
    } else {
        ""
    };
    Ok(format!(
        "{}-triggered epoll: {}{} wakeup(s) with recvmsg EAGAIN before the full record",
        if edge { "edge" } else { "level" },
        if empty_wakeups >= 1000 { ">=" } else { "" },
        empty_wakeups.min(1000),
    ) + spin)
}

/// The epoll scenarios' payload: one record of 10000 bytes, so that its
/// first half (sent alone) is more than a page.
fn epoll_payload() -> Vec<u8> {
    (0..10000u32).map(|i| (i % 251) as u8).collect()
}

// ---------------------------------------------------------------- client --

type Client = StreamOwned<ClientConnection, TcpStream>;

fn client_side(addr: SocketAddr, cfg: Arc<ClientConfig>, kind: Kind, big: &[u8]) -> Outcome {
    let sock = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&sock)?;
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, sock);
    match kind {
        Kind::Serve | Kind::ServeZerocopy => {
            // Queued now, sent by rustls right behind its Finished: the
            // server must leave it in the socket for the kernel.
            tls.conn
                .writer()
                .write_all(REQUEST)
                .map_err(|e| e.to_string())?;
            let got = read_to_clean_eof(&mut tls)?;
            let mut want = Vec::with_capacity(big.len() + 200);
            want.extend_from_slice(SMALL_HEADER);
            want.extend_from_slice(SMALL_BODY);
            want.extend_from_slice(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).as_bytes(),
            );
            want.extend_from_slice(big);
            if got != want {
                let at = got
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(want.len()));
                return Err(format!(
                    "response differs at byte {at} (got {}, want {})",
                    got.len(),
                    want.len()
                ));
            }
            send_close_notify(&mut tls)?;
            Ok(format!(
                "{} bytes verified, clean EOF, close_notify sent",
                got.len()
            ))
        }
        Kind::ClientClose => {
            finish_handshake(&mut tls)?;
            send_close_notify(&mut tls)?;
            let got = read_to_clean_eof(&mut tls)?;
            if !got.is_empty() {
                return Err(format!("unexpected {} bytes", got.len()));
            }
            Ok("close_notify sent; server's close_notify seen as clean EOF".into())
        }
        Kind::Tamper => {
            finish_handshake(&mut tls)?;
            let mut garbage = vec![23u8, 3, 3, 0, 48];
            garbage.extend((0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a));
            tls.sock
                .write_all(&garbage)
                .map_err(|e| format!("write garbage: {e}"))?;
            // Wait until the server gives up on the connection.
            let mut sink = Vec::new();
            let r = tls.read_to_end(&mut sink);
            Ok(format!(
                "sent a 53-byte garbage record; then read -> {}",
                match r {
                    Ok(n) => format!("EOF after {n} bytes"),
                    Err(e) => e.to_string(),
                }
            ))
        }
        Kind::EpollPartialLevel | Kind::EpollPartialEdge => {
            finish_handshake(&mut tls)?;
            thread::sleep(Duration::from_millis(300)); // let the server install kTLS
            tls.conn
                .writer()
                .write_all(&epoll_payload())
                .map_err(|e| e.to_string())?;
            let mut record = Vec::new();
            while tls.conn.wants_write() {
                tls.conn.write_tls(&mut record).map_err(|e| e.to_string())?;
            }
            let half = record.len() / 2;
            tls.sock
                .write_all(&record[..half])
                .map_err(|e| format!("write: {e}"))?;
            thread::sleep(Duration::from_millis(1500));
            tls.sock
                .write_all(&record[half..])
                .map_err(|e| format!("write: {e}"))?;
            let got = read_to_clean_eof(&mut tls)?;
            if !got.is_empty() {
                return Err(format!("unexpected {} bytes", got.len()));
            }
            Ok(format!(
                "sent a {}-byte record in two halves 1.5 s apart",
                record.len()
            ))
        }
        Kind::KeyUpdate => {
            finish_handshake(&mut tls)?;
            tls.write_all(b"before\n").map_err(|e| e.to_string())?;
            flush(&mut tls)?;
            tls.conn
                .refresh_traffic_keys()
                .map_err(|e| format!("refresh_traffic_keys: {e}"))?;
            flush(&mut tls)?;
            tls.write_all(b"after\n").map_err(|e| e.to_string())?;
            flush(&mut tls)?;
            let got = read_to_clean_eof(&mut tls)?;
            match &got[..] {
                b"" => Ok("KeyUpdate sent; server closed cleanly without reply".into()),
                b"rekeyed\n" => {
                    Ok("KeyUpdate sent; reply under server's new key, clean EOF".into())
                }
                other => Err(format!(
                    "unexpected reply {:?}",
                    String::from_utf8_lossy(other)
                )),
            }
        }
    }
}

fn flush(tls: &mut Client) -> Result<(), String> {
    while tls.conn.wants_write() {
        tls.conn
            .write_tls(&mut tls.sock)
            .map_err(|e| format!("write: {e}"))?;
    }
    Ok(())
}

fn finish_handshake(tls: &mut Client) -> Result<(), String> {
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    flush(tls)
}

fn send_close_notify(tls: &mut Client) -> Result<(), String> {
    tls.conn.send_close_notify();
    flush(tls)
}

/// Read until the peer's close_notify; a bare FIN is an error in rustls.
fn read_to_clean_eof(tls: &mut Client) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    match tls.read_to_end(&mut got) {
        Ok(_) => Ok(got),
        Err(e) => Err(format!("read after {} bytes: {e}", got.len())),
    }
}
