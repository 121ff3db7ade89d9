//! The namespace (in progress).
