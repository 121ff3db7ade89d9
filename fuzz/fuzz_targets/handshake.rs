//! Hello decoding (threats T9, T10, T11): any bytes are a hello, a request
//! for more bytes or an error, never a panic, and a decoded hello re-encodes
//! to exactly the bytes it came from. The same for the records of an
//! instance in another process (`pipeslot_proto::instance`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::{ClientHello, ServerHello};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(Some((hello, used))) = ClientHello::decode(bytes) {
        assert_eq!(hello.encode().unwrap(), bytes[..used]);
    }
    if let Ok(Some((hello, used))) = ServerHello::decode(bytes) {
        assert_eq!(hello.encode(), bytes[..used]);
    }
    if let Ok(Some((bound, used))) = pipeslot_proto::instance::Bound::decode(bytes) {
        assert_eq!(bound.encode().unwrap(), bytes[..used]);
    }
});
