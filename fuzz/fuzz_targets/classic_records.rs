//! The classic server's records: decoding never panics, and what decodes
//! re-encodes to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::classic::{self, Announcement, Response};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(command) = classic::decode_request(bytes) {
        let encoded = classic::encode_request(command).expect("a decoded command re-encodes");
        assert_eq!(classic::decode_request(&encoded), Ok(command));
    }
    if let Ok(Response::Line(line)) = classic::decode_response(bytes) {
        let encoded = classic::encode_response_line(line).expect("a decoded line re-encodes");
        assert_eq!(classic::decode_response(&encoded), Ok(Response::Line(line)));
    }
    if let Ok(announcement) = Announcement::decode(bytes) {
        let encoded = announcement.encode().expect("a decoded record re-encodes");
        assert_eq!(Announcement::decode(&encoded), Ok(announcement));
    }
    if let Some(len) = classic::first_line_len(bytes) {
        assert!((1..=classic::MAX_LINE_LEN).contains(&len) && len <= bytes.len());
    }
});
