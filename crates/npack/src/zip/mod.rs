//! The flat, stored ZIP that a package is: writing it in one pass and reading it back safely.
//!
//! Only what packages need is implemented: stored entries (method 0), bare names, ZIP64 exactly
//! when a count, size or offset needs it (APPNOTE 6.3.10 §4.3.9, §4.4.8, §4.5.3).

pub mod format;
pub mod read;
pub mod write;
