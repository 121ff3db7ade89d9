//! Handoff manifest decoding (what a child reads from its parent): any
//! bytes are a manifest or an error, never a panic, and a decoded manifest
//! re-encodes to exactly the bytes it came from (the format is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::handoff::Manifest;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(manifest) = Manifest::decode(bytes) {
        assert_eq!(manifest.encode(), bytes);
    }
});
