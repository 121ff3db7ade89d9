//! Names cannot carry characters that hide or reorder text when printed
//! (issue 11 item 12; threat T5). A deliberate difference from Windows,
//! documented in `pipeslot::name`.

use pipeslot::{ErrorKind, MailslotName, PipeName};

/// Bidi overrides and isolates, zero-width characters, the byte-order mark,
/// the soft hyphen, line/paragraph separators, a tag character, and a C1
/// control.
const HOSTILE: &[char] = &[
    '\u{202E}',
    '\u{202A}',
    '\u{2066}',
    '\u{2069}',
    '\u{200B}',
    '\u{200D}',
    '\u{200F}',
    '\u{FEFF}',
    '\u{00AD}',
    '\u{2028}',
    '\u{2029}',
    '\u{E0041}',
    '\u{0085}',
    '\u{061C}',
];

#[test]
fn format_and_control_characters_are_invalid_names() {
    for &c in HOSTILE {
        let pipe = PipeName::parse(&format!("\\\\.\\pipe\\x{c}gol.exe")).unwrap_err();
        assert_eq!(
            (pipe.kind(), pipe.win32_code()),
            (ErrorKind::InvalidName, 123),
            "{c:?}"
        );
        let slot = MailslotName::local(&format!("a{c}b")).unwrap_err();
        assert_eq!(slot.kind(), ErrorKind::InvalidName, "{c:?}");
    }
}

#[test]
fn the_refusal_message_does_not_carry_the_character() {
    // The error names the code point instead of printing it, so the message
    // itself cannot be reordered.
    let err = PipeName::parse("\\\\.\\pipe\\x\u{202E}gol.exe").unwrap_err();
    let message = err.to_string();
    assert!(!message.contains('\u{202E}'), "{message:?}");
    assert!(message.contains("U+202E"), "{message:?}");
}

#[test]
fn visible_unicode_stays_valid() {
    // Only invisible and reordering characters are refused: letters of any
    // script, symbols and emoji remain valid (S5).
    for path in [
        "café",
        "日本語",
        "Ünïcödé-名前",
        "pipe🙂",
        "a<>*?|\"/b",
        "א-ב",
    ] {
        let name = PipeName::local(path).unwrap();
        assert_eq!(name.path(), path);
        assert!(MailslotName::local(path).is_ok(), "{path}");
    }
}
