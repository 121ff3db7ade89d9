//! Frame decoding (threats T9, T10, T14): any byte stream decodes to frames
//! until it needs more bytes or is refused, never panics, and every decoded
//! frame re-encodes to exactly the bytes it came from.
#![no_main]

use std::num::NonZeroU32;

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::FrameDecoder;

fuzz_target!(|bytes: &[u8]| {
    // A small limit, so that both sides of it are reachable with short inputs.
    let mut decoder = FrameDecoder::new(NonZeroU32::new(256).unwrap());
    let mut rest = bytes;
    while let Ok(Some((frame, used))) = decoder.decode(rest) {
        let mut again = Vec::new();
        frame.encode(&mut again).unwrap();
        assert_eq!(again, rest[..used]);
        rest = &rest[used..];
    }
    let _ = decoder.finish(rest);
});
