//! Hot responses (src/hot.rs): a mid-size body asked for often in one
//! second leaves with its head in one sendfile; the bytes are those of the
//! ordinary path; bytes already queued on a socket survive the rebuild of
//! their region in the next second.

mod common;
use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

/// 100,000 bytes: above the sendfile threshold, below hot::MAX_LEN.
const PATH: &str = "/data.bin";

fn d(b: &HashMap<String, u64>, a: &HashMap<String, u64>, k: &str) -> u64 {
    delta(b, a, k)
}

/// Was this request answered from the hot file (one sendfile, no head
/// sendmsg)?
fn was_hot(b: &HashMap<String, u64>, a: &HashMap<String, u64>) -> bool {
    d(b, a, "sendmsg") == 0 && d(b, a, "sendfile") == 1 && d(b, a, "writev") == 0
}

fn date_of(r: &Response) -> SystemTime {
    httpdate::parse_http_date(r.header("Date").expect("Date")).expect("an HTTP-date")
}

/// GETs `PATH` on `c` until one is answered hot (bounded).
fn until_hot(s: &Server, c: &mut Client) -> Response {
    for _ in 0..500 {
        let b = s.stats();
        let r = c.get(PATH, "");
        assert!(r.body == site().files[PATH]);
        if was_hot(&b, &s.stats()) {
            return r;
        }
    }
    panic!("{PATH} never became hot in 500 requests");
}

#[test]
fn a_busy_mid_size_response_is_one_read_one_sendfile() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    let start = s.stats();
    let t0 = Instant::now();
    let (mut hot, mut total) = (0, 0);
    while total < 300 {
        let b = s.stats();
        let before = SystemTime::now();
        let r = c.get(PATH, "");
        let after = SystemTime::now();
        let a = s.stats();
        total += 1;
        assert_eq!(r.status, 200);
        assert!(r.body == site().files[PATH], "body of request {total}");
        // The Date is this second's, hot or not (whole seconds: HTTP-date).
        let date = date_of(&r);
        assert!(date <= after, "Date from the future");
        assert!(
            before
                .duration_since(date)
                .map_or(true, |d| d < Duration::from_secs(1)),
            "stale Date"
        );
        assert_eq!(d(&b, &a, "read"), 1);
        if was_hot(&b, &a) {
            hot += 1;
        } else {
            // The ordinary path: head with MSG_MORE, then the body.
            assert_eq!(
                (d(&b, &a, "sendmsg"), d(&b, &a, "sendfile")),
                (1, 1),
                "request {total}"
            );
        }
    }
    let end = s.stats();
    // Wall-clock seconds the run can have touched: each starts with at
    // most 15 ordinary requests (worth_building: 16 for this size), then
    // one rebuild.
    let secs = t0.elapsed().as_secs() + 2;
    assert!(
        hot >= 300 - 16 * secs,
        "{hot} of {total} hot, {secs} seconds touched"
    );
    let writes = d(&start, &end, "pwritev");
    assert!(
        (1..=secs).contains(&writes),
        "{writes} rebuilds, {secs} seconds touched"
    );
}

/// Same head (but Date) and body as a server without hot responses, for
/// each connection line, in both places the hot file can live.
#[test]
fn hot_bytes_are_the_ordinary_bytes() {
    for copy in ["auto", "memfd"] {
        let hot = Server::start(&["--threads", "1", "--blob-copy", copy]);
        let plain = Server::start(&["--threads", "1", "--hot-responses", "0"]);
        for (req, keep) in [
            (format!("GET {PATH} HTTP/1.1\r\nHost: t\r\n\r\n"), true),
            (
                format!("GET {PATH} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                true,
            ),
            (
                format!("GET {PATH} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
                false,
            ),
        ] {
            let want = {
                let mut c = plain.client();
                c.send(req.as_bytes());
                c.read_response(false).unwrap()
            };
            let b = hot.stats();
            let t0 = Instant::now();
            let mut c = hot.client();
            for i in 0..60 {
                if !keep && i > 0 {
                    c = hot.client();
                }
                c.send(req.as_bytes());
                let r = c.read_response(false).unwrap();
                assert_eq!(
                    r.head_without_date(),
                    want.head_without_date(),
                    "{copy}: {req:?}"
                );
                assert!(r.body == want.body, "{copy}: {req:?}: body {i}");
            }
            let a = hot.stats();
            // At most 15 ordinary sends per second touched, then hot.
            let (heads, secs) = (d(&b, &a, "sendmsg"), t0.elapsed().as_secs() + 2);
            assert!(
                heads <= (15 * secs).min(59),
                "{copy}: {req:?}: {heads} of 60 sent the ordinary way in {secs} seconds"
            );
        }
        let copies = hot.blob_copies();
        assert_eq!(
            copies.len(),
            1,
            "the hot file is not a blob copy: {copies:?}"
        );
    }
}

/// On loopback a sent response sits in the receiver's queue as references
/// to the very pages sendfile read. Rebuilding the region in the next
/// second must not change those bytes: the old pages are punched out
/// before the new ones are written, never overwritten.
#[test]
fn queued_bytes_survive_the_rebuild_of_their_region() {
    let s = Server::start(&["--threads", "1"]);
    let mut busy = s.client();
    let stream = loop {
        until_hot(&s, &mut busy);
        // A second client asks once and does not read yet.
        let b = s.stats();
        let mut q = TcpStream::connect(s.addr).unwrap();
        q.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        q.write_all(format!("GET {PATH} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        // Its response is sent (sendfile was called) but not read.
        let deadline = Instant::now() + Duration::from_secs(5);
        while delta(&b, &s.stats(), "sendfile") == 0 {
            assert!(Instant::now() < deadline, "request not answered");
            std::thread::sleep(Duration::from_millis(2));
        }
        if was_hot(&b, &s.stats()) {
            break q;
        }
        // The second turned between the two: try again.
    };
    // Next second: keep asking until the region is written again.
    let before = s.stats();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut fresh;
    loop {
        assert!(Instant::now() < deadline, "region never rebuilt");
        fresh = busy.get(PATH, "");
        if delta(&before, &s.stats(), "pwritev") > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Rebuilt: so in a later second than the queued response's.
    let fresh_date = fresh.header("Date").unwrap().to_string();
    let mut q = Client::over(stream);
    let r = q.read_response(false).unwrap();
    assert!(r.body == site().files[PATH], "queued body changed");
    let got = r.header("Date").unwrap();
    assert!(
        got != fresh_date,
        "queued head shows the rebuilt region's Date {got}: overwritten in place"
    );
    assert_eq!(r.head_without_date(), fresh.head_without_date());
}

/// A response whose hot region was freed or rebuilt before the output got
/// to it (queued behind a 17 MiB body the client does not read) is sent
/// from the ordinary segments, with the Date it was answered with.
#[test]
fn a_stale_hot_mark_falls_back_to_the_ordinary_bytes() {
    let s = Server::start(&["--threads", "1"]);
    let mut busy = s.client();
    until_hot(&s, &mut busy);
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let asked = SystemTime::now();
    slow.write_all(
        format!("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET {PATH} HTTP/1.1\r\nHost: t\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    // Two seconds on: the region is rebuilt (busy) and the old id is gone.
    let before = s.stats();
    let deadline = Instant::now() + Duration::from_secs(10);
    while delta(&before, &s.stats(), "pwritev") == 0
        || asked.elapsed().unwrap() < Duration::from_millis(2100)
    {
        assert!(Instant::now() < deadline, "region never rebuilt");
        busy.get(PATH, "");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut c = Client::over(slow);
    let big = c.read_response(false).unwrap();
    assert!(big.body == site().files["/big.bin"]);
    let r = c.read_response(false).unwrap();
    assert!(r.body == site().files[PATH]);
    let date = date_of(&r);
    assert!(
        asked
            .duration_since(date)
            .map_or(true, |d| d < Duration::from_secs(1))
            && date <= asked + Duration::from_secs(1),
        "Date of the second it was answered in"
    );
}
