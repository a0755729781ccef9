//! The DATA scanner fed in client-chosen chunks, and the BDAT byte check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_smtp::data::{DataScanner, check_bytes};

fuzz_target!(|data: &[u8]| {
    // First byte: chunk size (1..=256); second: size limit in bytes (tiny, to reach the limits).
    let (Some(&chunk), Some(&limit)) = (data.first(), data.get(1)) else { return };
    let input = &data[2..];
    let chunk = usize::from(chunk) + 1;
    let max_size = usize::from(limit) * 16;
    let mut s = DataScanner::new(max_size, 78);
    let mut consumed = 0;
    for piece in input.chunks(chunk) {
        if let Some(n) = s.feed(piece) {
            assert!(n <= piece.len());
            consumed += n;
            break;
        }
        consumed += piece.len();
    }
    assert!(consumed <= input.len());
    let (body, defects) = s.finish();
    assert!(body.len() <= max_size);
    assert!(body.len() <= consumed);
    if !defects.too_big {
        // The body is the unstuffed input: never longer than what was consumed.
        assert!(body.len() <= consumed);
    }
    let _ = check_bytes(input, 78);
});
