//! Lock-file records: decoding never panics, and what decodes re-encodes to
//! something that decodes to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::LockRecord;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(record) = LockRecord::decode(bytes) {
        if let Ok(encoded) = record.encode() {
            assert_eq!(LockRecord::decode(&encoded).ok(), Some(record));
        }
    }
});
