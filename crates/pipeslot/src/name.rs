//! Pipe and mailslot names, parsed once into [`PipeName`] and [`MailslotName`].
//!
//! # Grammar (S1-S11, S139-S143)
//!
//! ```text
//! pipe name      \\HOST\pipe\PATH          HOST = "." | host name or address
//! mailslot name  \\HOST\mailslot\PATH      HOST = "." | host | domain | "*"
//! ```
//!
//! - The `pipe` / `mailslot` component is matched without regard to case
//!   (S4: `\\.\PiPe\x` is a pipe name).
//! - `PATH` is everything after the third backslash. It must not be empty
//!   (S8), and may contain backslashes (S6, S139: `\\.\mailslot\abc\def`),
//!   `/` and every printable punctuation character (S5: `a<>*?|"/b`). A PATH
//!   made of a single backslash is valid (S8). Nothing is normalised: `a\.\b`
//!   and `a\b`, or `x\` and `x`, are different names (S7).
//! - Names compare without regard to case (S4, S139): `\\.\pipe\FOO` equals
//!   `\\.\pipe\foo`. Case folding maps each character to its single-character
//!   upper case when it has one, as Windows' one-to-one upcase table does;
//!   the name keeps its original spelling for display.
//! - The whole name may be up to 256 characters (S3). Longer names give
//!   [`ErrorKind::NameTooLong`] (ERROR_FILENAME_EXCED_RANGE, what Wine
//!   returns; Windows documents no code — spec C8).
//! - A string that is not of this form gives [`ErrorKind::InvalidName`]
//!   (ERROR_INVALID_NAME, S9, S142), and so does a NUL anywhere (it would
//!   make an abstract socket address, T6) or any other control character
//!   (pipeslot's choice: no source shows Windows accepting them, and they
//!   would corrupt listings and logs).
//!
//! # A deliberate difference: invisible and reordering characters
//!
//! Windows accepts almost any character in the name part (S5 tests
//! printable punctuation; nothing limits it to that). pipeslot refuses, with
//! [`ErrorKind::InvalidName`], every character that is invisible or
//! rearranges the text around it when the name is printed:
//!
//! - control characters (Unicode general category Cc: C0, DEL, C1),
//! - format characters (category Cf): the bidirectional overrides and
//!   isolates (U+202A-U+202E, U+2066-U+2069), which let
//!   `\\.\pipe\x\u{202E}gol.exe` print as `\\.\pipe\xexe.log`, the
//!   zero-width space, joiners and marks (U+200B-U+200F), the byte-order
//!   mark U+FEFF, the soft hyphen, and the other Cf characters of
//!   Unicode 15,
//! - the line and paragraph separators U+2028 and U+2029 (categories Zl
//!   and Zp), which end a log line as a newline does.
//!
//! Such a name could make two different names look alike, or make a log
//! line, an error message or `pipeslot ls` say something else than it
//! does. Refusing them at the one place names are parsed means every
//! message that prints a name, in this crate and above it, prints only
//! characters that show as what they are. A Windows program that uses such
//! a name gets ERROR_INVALID_NAME here, which it already handles for
//! malformed names.
//!
//! # From a name to a socket file
//!
//! A name never becomes a path directly: its file stem is a short sanitised
//! prefix of the folded path plus 128 bits of SHA-256 of it
//! (`server-3f2a…`), so that the file is always one component, never
//! contains `/` or `..`, and is at most [`MAX_FILE_STEM_LEN`] bytes — well
//! inside the 108-byte limit of a Unix socket address (docs/design.md §3, T5). The
//! host part does not enter the stem: `\\hostb\pipe\x` maps to the same file
//! as `\\.\pipe\x` on host b.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};

/// The longest name accepted, in characters (S3).
pub const MAX_NAME_CHARS: usize = 256;

/// The longest file stem a name maps to, in bytes: a prefix of at most 16
/// bytes, a dash, 32 hex digits.
pub const MAX_FILE_STEM_LEN: usize = 16 + 1 + 32;

/// Where a name points.
///
/// ```
/// use pipeslot::name::{Host, MailslotName, PipeName};
///
/// let remote = PipeName::parse(r"\\DB1\pipe\sql").unwrap();
/// assert_eq!(remote.host(), &Host::Remote("db1".into())); // folded to lower case
/// let everyone = MailslotName::parse(r"\\*\mailslot\news").unwrap();
/// assert_eq!(everyone.host(), &Host::AllHosts);
/// assert!(Host::Remote("localhost".into()).is_this_machine());
/// assert!(!Host::AllHosts.is_this_machine());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// `.`: this machine.
    Local,
    /// A host name, address or domain name, folded to lower case.
    Remote(String),
    /// `*`: every host of the primary domain (mailslots only, S140).
    AllHosts,
}

impl Host {
    /// Whether this host part names this machine: `.`, `localhost`, a
    /// loopback address, or this machine's computer name
    /// ([`crate::host::computer_name`], in full or its first label),
    /// without regard to case.
    pub fn is_this_machine(&self) -> bool {
        match self {
            Host::Local => true,
            Host::AllHosts => false,
            Host::Remote(host) => crate::host::is_this_machine(host),
        }
    }
}

/// A parsed pipe name, `\\HOST\pipe\PATH`.
///
/// ```
/// use pipeslot::name::{Host, PipeName};
///
/// let name = PipeName::parse(r"\\.\PIPE\Server").unwrap();
/// assert_eq!(name.host(), &Host::Local);
/// assert_eq!(name.path(), "Server");
/// assert_eq!(name, PipeName::parse(r"\\.\pipe\SERVER").unwrap()); // S4
/// assert_eq!(name.to_string(), r"\\.\PIPE\Server");
///
/// let err = PipeName::parse("not a named pipe").unwrap_err(); // S9
/// assert_eq!(err.win32_code(), 123); // ERROR_INVALID_NAME
/// ```
#[derive(Clone)]
pub struct PipeName(ParsedName);

/// A parsed mailslot name, `\\HOST\mailslot\PATH`.
///
/// ```
/// use pipeslot::name::{Host, MailslotName};
///
/// let name = MailslotName::parse(r"\\*\mailslot\CLS_MAILSLOT").unwrap();
/// assert_eq!(name.host(), &Host::AllHosts);
/// let local = MailslotName::parse(r"\\.\mailslot\abc\def\ghi").unwrap(); // S139
/// assert_eq!(local.path(), r"abc\def\ghi");
/// assert!(MailslotName::parse("blah").is_err()); // S142
/// ```
#[derive(Clone)]
pub struct MailslotName(ParsedName);

impl PipeName {
    /// Parses `\\HOST\pipe\PATH` (see the [module docs](self)).
    pub fn parse(text: &str) -> Result<PipeName> {
        let parsed = ParsedName::parse(text, "pipe")?;
        if parsed.host == Host::AllHosts {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!("{text:?}: `*` is a mailslot broadcast host, not a pipe host"),
            ));
        }
        Ok(PipeName(parsed))
    }

    /// The local pipe name `\\.\pipe\PATH`.
    ///
    /// ```
    /// # use pipeslot::name::PipeName;
    /// assert_eq!(PipeName::local("x").unwrap().to_string(), r"\\.\pipe\x");
    /// ```
    pub fn local(path: &str) -> Result<PipeName> {
        PipeName::parse(&format!(r"\\.\pipe\{path}"))
    }

    /// The host part.
    pub fn host(&self) -> &Host {
        &self.0.host
    }

    /// Whether the name is on this machine (`\\.\pipe\...`).
    pub fn is_local(&self) -> bool {
        self.0.host == Host::Local
    }

    /// The path part, as spelled.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    /// The whole name, as spelled.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The same path on this machine (`\\.\pipe\PATH`), as a gateway opens
    /// it on behalf of a remote client.
    pub fn to_local(&self) -> PipeName {
        PipeName(self.0.to_local("pipe"))
    }

    /// The name other hosts reach this pipe by: for a local name,
    /// `\\COMPUTER\pipe\PATH` with this machine's computer name
    /// ([`crate::host::computer_name`]); any other name as it is. What a
    /// server announces to other hosts (the book's serverNP does the same).
    ///
    /// ```
    /// use pipeslot::PipeName;
    ///
    /// let name = PipeName::parse(r"\\.\pipe\SERVER").unwrap();
    /// let shared = name.for_network();
    /// assert_eq!(shared.path(), "SERVER");
    /// assert!(shared.host().is_this_machine());
    /// assert_eq!(shared.as_str(), format!(r"\\{}\pipe\SERVER", pipeslot::host::computer_name()));
    /// ```
    pub fn for_network(&self) -> PipeName {
        if !self.is_local() {
            return self.clone();
        }
        PipeName::parse(&format!(
            r"\\{}\pipe\{}",
            crate::host::computer_name(),
            self.path()
        ))
        // A computer name that is not a host name (or too long a result)
        // leaves the name as it was.
        .unwrap_or_else(|_| self.clone())
    }

    /// The file stem of this name's socket and lock files (see the
    /// [module docs](self)).
    pub fn file_stem(&self) -> String {
        self.0.file_stem()
    }
}

impl MailslotName {
    /// Parses `\\HOST\mailslot\PATH` (see the [module docs](self)).
    pub fn parse(text: &str) -> Result<MailslotName> {
        ParsedName::parse(text, "mailslot").map(MailslotName)
    }

    /// The local mailslot name `\\.\mailslot\PATH`.
    pub fn local(path: &str) -> Result<MailslotName> {
        MailslotName::parse(&format!(r"\\.\mailslot\{path}"))
    }

    /// The host part.
    pub fn host(&self) -> &Host {
        &self.0.host
    }

    /// Whether the name is on this machine (`\\.\mailslot\...`).
    pub fn is_local(&self) -> bool {
        self.0.host == Host::Local
    }

    /// The path part, as spelled.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    /// The whole name, as spelled.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The same path on this machine (`\\.\mailslot\PATH`).
    pub fn to_local(&self) -> MailslotName {
        MailslotName(self.0.to_local("mailslot"))
    }

    /// The file stem of this name's socket and lock files.
    pub fn file_stem(&self) -> String {
        self.0.file_stem()
    }
}

macro_rules! name_traits {
    ($t:ident) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.0.host == other.0.host && self.0.folded_path == other.0.folded_path
            }
        }

        impl Eq for $t {}

        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.0.host.hash(state);
                self.0.folded_path.hash(state);
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.text)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($t)).field(&self.0.text).finish()
            }
        }

        impl FromStr for $t {
            type Err = Error;
            fn from_str(text: &str) -> Result<Self> {
                $t::parse(text)
            }
        }

        impl TryFrom<&str> for $t {
            type Error = Error;
            fn try_from(text: &str) -> Result<Self> {
                $t::parse(text)
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0.text
            }
        }
    };
}

name_traits!(PipeName);
name_traits!(MailslotName);

/// What both kinds of name share.
#[derive(Clone)]
struct ParsedName {
    /// The name as given.
    text: Box<str>,
    host: Host,
    /// Byte offset of the path part in `text`.
    path_start: usize,
    /// The path part, case-folded: the identity of the name on its host.
    folded_path: Box<str>,
    /// [`ParsedName::file_stem`], made once (a SHA-256 and its hex on
    /// every open otherwise).
    stem: std::sync::OnceLock<Box<str>>,
}

impl ParsedName {
    fn parse(text: &str, kind: &'static str) -> Result<ParsedName> {
        let invalid = |why: &str| Error::new(ErrorKind::InvalidName, format!("{text:?}: {why}"));
        if let Some(bad) = text.chars().find(|c| c.is_control()) {
            return Err(invalid(&format!(
                "a {kind} name cannot contain the control character {:?}",
                bad
            )));
        }
        if let Some(bad) = text.chars().find(|&c| is_invisible_or_reordering(c)) {
            return Err(invalid(&format!(
                "a {kind} name cannot contain the invisible format character U+{:04X}",
                u32::from(bad)
            )));
        }
        if text.chars().count() > MAX_NAME_CHARS {
            return Err(Error::new(
                ErrorKind::NameTooLong,
                format!("a {kind} name is at most {MAX_NAME_CHARS} characters"),
            ));
        }
        let expected = || format!(r"expected \\HOST\{kind}\NAME");
        let rest = text
            .strip_prefix(r"\\")
            .ok_or_else(|| invalid(&expected()))?;
        let (host_text, rest) = rest.split_once('\\').ok_or_else(|| invalid(&expected()))?;
        let (component, path) = rest.split_once('\\').ok_or_else(|| invalid(&expected()))?;
        if !component.eq_ignore_ascii_case(kind) {
            return Err(invalid(&expected()));
        }
        if path.is_empty() {
            return Err(invalid(&format!("the {kind} name part is empty")));
        }
        let host = match host_text {
            "." => Host::Local,
            "*" => Host::AllHosts,
            h if is_host_name(h) => Host::Remote(h.to_ascii_lowercase()),
            _ => return Err(invalid(&format!("{host_text:?} is not a host name"))),
        };
        Ok(ParsedName {
            text: text.into(),
            host,
            path_start: text.len() - path.len(),
            folded_path: fold_case(path).into(),
            stem: std::sync::OnceLock::new(),
        })
    }

    fn path(&self) -> &str {
        &self.text[self.path_start..]
    }

    fn to_local(&self, kind: &str) -> ParsedName {
        let text = format!(r"\\.\{kind}\{}", self.path());
        ParsedName {
            path_start: text.len() - self.path().len(),
            text: text.into(),
            host: Host::Local,
            folded_path: self.folded_path.clone(),
            // The same path, the same stem: made once on the name the
            // caller keeps (an open makes a local name each time).
            stem: std::sync::OnceLock::from(Box::<str>::from(self.stem())),
        }
    }

    fn file_stem(&self) -> String {
        self.stem().to_string()
    }

    fn stem(&self) -> &str {
        self.stem.get_or_init(|| self.make_file_stem().into())
    }

    fn make_file_stem(&self) -> String {
        let digest = Sha256::digest(self.folded_path.as_bytes());
        let mut stem: String = self
            .folded_path
            .chars()
            .map(|c| match c {
                'A'..='Z' => c.to_ascii_lowercase(),
                'a'..='z' | '0'..='9' | '_' | '-' => c,
                _ => '_',
            })
            .take(16)
            .collect();
        stem.push('-');
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for byte in &digest[..16] {
            stem.push(char::from(HEX[usize::from(byte >> 4)]));
            stem.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        stem
    }
}

/// A host name, IPv4 or IPv6 address, or domain name: 1 to 255 characters
/// of letters, digits, `-`, `_`, `.` and `:`.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host != ".."
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Whether `c` is a format character (Unicode general category Cf) or a
/// line or paragraph separator (Zl, Zp): invisible, or changing how the
/// text around it is displayed (see the [module docs](self)).
fn is_invisible_or_reordering(c: char) -> bool {
    let c = u32::from(c);
    FORMAT_AND_SEPARATOR_RANGES
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Folds case the way Windows compares object names: every character that
/// has a single-character upper case becomes it.
fn fold_case(path: &str) -> String {
    path.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// The characters of general category Cf (Unicode 15.1), plus U+2028 (Zl)
/// and U+2029 (Zp), as sorted, disjoint, inclusive ranges.
const FORMAT_AND_SEPARATOR_RANGES: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x0600, 0x0605),   // Arabic number signs
    (0x061C, 0x061C),   // Arabic letter mark
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x180E, 0x180E),   // Mongolian vowel separator
    (0x200B, 0x200F),   // zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),   // line and paragraph separators; bidi embeddings and overrides
    (0x2060, 0x2064),   // word joiner, invisible operators
    (0x2066, 0x206F),   // bidi isolates, deprecated format characters
    (0xFEFF, 0xFEFF),   // zero-width no-break space (byte-order mark)
    (0xFFF9, 0xFFFB),   // interlinear annotation
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0001, 0xE0001), // language tag
    (0xE0020, 0xE007F), // tag characters
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_table_is_sorted_and_disjoint() {
        for pair in FORMAT_AND_SEPARATOR_RANGES.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn format_table_edges() {
        for c in [
            '\u{AD}',
            '\u{200B}',
            '\u{202E}',
            '\u{2028}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{E007F}',
        ] {
            assert!(is_invisible_or_reordering(c), "{c:?}");
        }
        for c in [
            'a', '\u{AC}', '\u{200A}', '\u{2027}', '\u{202F}', '\u{2065}', '\u{FFFC}', 'é',
        ] {
            assert!(!is_invisible_or_reordering(c), "{c:?}");
        }
    }

    #[test]
    fn folding_keeps_characters_without_a_single_upper_case() {
        // 'ß' upper-cases to "SS": Windows' one-to-one table leaves it alone.
        assert_eq!(fold_case("aßb"), "AßB");
    }

    #[test]
    fn stem_is_short_and_safe() {
        let name = PipeName::parse(r"\\.\pipe\..\..\etc/passwd").unwrap();
        let stem = name.file_stem();
        assert!(stem.len() <= MAX_FILE_STEM_LEN);
        assert!(!stem.contains('/') && !stem.contains(".."));
    }
}
