//! npack: the frame-sequence packager.
//!
//! Scans a folder of frames, writes the original npack's `checksum.txt`, packs a flat stored ZIP in
//! one pass over the data on every core, and verifies a package (ZIP or "zipless" folder). The hub
//! reuses [`verify`] to validate deliveries.

pub mod checksum;
pub mod error;
/// The delivery naming rule (shared with the hub).
pub use delivery_names as names;
pub mod read;
pub mod scan;
pub mod sequence;
pub mod verify;
pub mod zip;

pub use checksum::{CHECKSUM_TXT, ChecksumEntry};
pub use error::{Error, Result};
pub use read::{NoProgress, Progress, checksum_files};
pub use scan::{Scan, SourceFile, scan_folder};
pub use zip::write::{PackOptions, PackSummary, pack_folder, write_package};
