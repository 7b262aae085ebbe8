//! The HPACK decoder and the fixed-buffer encoder allocate nothing after
//! `Decoder::new` and `Fields::new`: every HTTP/2 request goes through them.
//! (A test binary of its own, for its counting global allocator.)

use tarweb_format::hpack::{encode_field, encode_field_into, Decoder, Fields, HpackErrorKind};

/// The system's allocator, counting allocations per thread.
struct CountingAlloc;

thread_local! {
    // const-initialised, no destructor: usable from inside the allocator.
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn allocs() -> u64 {
    ALLOCS.with(|n| n.get())
}

fn count() {
    ALLOCS.with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counting touches no heap.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn decoding_and_encoding_into_a_buffer_allocate_nothing() {
    // RFC 7541 C.4 (Huffman, the dynamic table), a static-only block, a
    // block over the list limit (its entry still added, through the
    // scratch buffer), a size update to 0 and back, and a refused block.
    let mut blocks = vec![
        hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
        hex("8286 84be 5886 a8eb 1064 9cbf"),
        hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    ];
    let mut stored = Vec::new();
    encode_field(&mut stored, b":status", b"200");
    encode_field(&mut stored, b"content-type", b"text/html; charset=utf-8");
    encode_field(&mut stored, b"x-frame-options", b"DENY");
    blocks.push(stored);
    let mut big = vec![0x40, 0x01, b'k', 0x7f, 0xe9, 0x06]; // 127 + 873
    big.extend([b'v'; 1000]);
    blocks.push(big);
    blocks.push(b"\x20\x3f\xe1\x1f\x82".to_vec());

    let counted = allocs();
    let mut d = Decoder::new(4096);
    let mut out = Fields::new(512, 16);
    assert!(allocs() > counted, "the counter counts");
    let mut buf = [0u8; 64];
    let before = allocs();
    for (i, block) in blocks.iter().enumerate() {
        let r = d.decode(block, &mut out);
        if i == 4 {
            assert_eq!(r.unwrap_err().kind, HpackErrorKind::HeaderListTooLarge);
            assert_eq!(d.table_len(), 4);
        } else {
            r.unwrap();
        }
    }
    assert_eq!(
        d.decode(b"\x82\x80", &mut out).unwrap_err().kind,
        HpackErrorKind::IndexZero
    );
    let n = encode_field_into(&mut buf, b"date", b"Mon, 21 Oct 2013 20:13:21 GMT").unwrap();
    let after = allocs();
    assert_eq!(after - before, 0, "allocations while decoding");
    assert_eq!(n, 25);
}
