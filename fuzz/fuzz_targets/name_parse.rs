//! Pipe and mailslot name parsing (threats T5, T6): any string either fails
//! with a name error or yields a name whose file stem is short and safe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeslot::{ErrorKind, MailslotName, PipeName};

fuzz_target!(|text: &str| {
    match PipeName::parse(text) {
        Ok(name) => {
            let stem = name.file_stem();
            assert!(stem.len() <= pipeslot::name::MAX_FILE_STEM_LEN);
            assert!(!stem.contains('/') && !stem.contains(".."));
            assert_eq!(PipeName::parse(name.as_str()).ok().as_ref(), Some(&name));
        }
        Err(e) => assert!(matches!(e.kind(), ErrorKind::InvalidName | ErrorKind::NameTooLong)),
    }
    if let Ok(name) = MailslotName::parse(text) {
        assert!(name.file_stem().len() <= pipeslot::name::MAX_FILE_STEM_LEN);
    }
});
