//! The library's error type: every variant names the file and the cause.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A file name found more than once in a package that must be flat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Duplicate {
    pub name: String,
    pub paths: Vec<PathBuf>,
}

/// Renders duplicates one name per line with every path it was found at.
#[derive(Debug)]
pub struct DuplicateList<'a>(pub &'a [Duplicate]);

impl fmt::Display for DuplicateList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for dup in self.0 {
            write!(f, "\n  {}:", dup.name)?;
            for path in &dup.paths {
                write!(f, "\n    {}", path.display())?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a folder (or not accessible); give the folder that holds the frames", .0.display())]
    NotAFolder(PathBuf),
    #[error("{}: file name is not valid UTF-8; rename it with only [A-Za-z0-9._-]", .0.display())]
    NonUtf8Name(PathBuf),
    #[error(
        "{}: file name holds a control character (tab, newline, ...) that checksum.txt cannot record; \
         rename it with only [A-Za-z0-9._-]",
        .0.display()
    )]
    ControlCharacterName(PathBuf),
    #[error(
        "file names must be unique across subfolders (the package is flat); separate packages or rename these:{}",
        DuplicateList(.0)
    )]
    Duplicates(Vec<Duplicate>),
    #[error(
        "{}: changed while being read (expected {expected} bytes, found {found}); \
         wait until the file is complete and run again",
        path.display()
    )]
    Changed { path: PathBuf, expected: u64, found: u64 },
    #[error("{}: {source}", path.display())]
    Package { path: PathBuf, source: crate::zip::read::ZipError },
    #[error("interrupted; nothing was left behind")]
    Interrupted,
}

impl Error {
    /// For `map_err`: an I/O error at `path`.
    pub fn io_at(path: impl AsRef<std::path::Path>) -> impl FnOnce(io::Error) -> Error {
        let path = path.as_ref().to_owned();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
