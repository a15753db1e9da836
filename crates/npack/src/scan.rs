//! Finding the files of a package in a source folder, with the original npack's rules.

use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};

use crate::checksum::{CHECKSUM_TXT, recorded_name};
use crate::error::{Duplicate, Error, Result};

/// A regular file that belongs in the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name recorded in checksum.txt and used as the ZIP entry name.
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// Recorded as the ZIP entry's time; `None` where the platform has no modification time.
    pub modified: Option<std::time::SystemTime>,
}

/// Something in the source folder that is not part of the package and that the user should hear of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: &'static str,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// In checksum.txt line order.
    pub files: Vec<SourceFile>,
    pub skipped: Vec<Skipped>,
    pub total_bytes: u64,
}

/// Whether the original npack leaves a file out: hidden files and anything named like checksum.txt.
pub fn is_excluded_name(file_name: &str) -> bool {
    file_name.starts_with('.') || file_name.contains(CHECKSUM_TXT)
}

/// Orders names as their checksum.txt lines sort: by bytes, with the TAB that follows each name.
pub fn line_order(a: &str, b: &str) -> Ordering {
    a.bytes().chain(*b"\t").cmp(b.bytes().chain(*b"\t"))
}

/// Walks `src` (subfolders too; symlinked files are followed, symlinked folders are not, as the
/// original does) and returns the package's files in line order. Names must be unique across
/// subfolders: duplicates are an error listing every path of each.
pub fn scan_folder(src: &Path) -> Result<Scan> {
    if !src.is_dir() {
        return Err(Error::NotAFolder(src.to_owned()));
    }
    let mut scan = Scan::default();
    for entry in walkdir::WalkDir::new(src).follow_links(false).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().map(Path::to_owned).unwrap_or_else(|| src.to_owned());
            Error::Io { path, source: e.into() }
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        let Some(file_name) = entry.file_name().to_str() else {
            return Err(Error::NonUtf8Name(path.to_owned()));
        };
        if is_excluded_name(file_name) {
            continue;
        }
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(_) if entry.path_is_symlink() => {
                scan.skipped.push(Skipped { path: path.to_owned(), reason: "broken symbolic link" });
                continue;
            }
            Err(e) => {
                return Err(Error::Io { path: path.to_owned(), source: e });
            }
        };
        if meta.is_dir() {
            scan.skipped.push(Skipped { path: path.to_owned(), reason: "symbolic link to a folder" });
            continue;
        }
        if !meta.is_file() {
            scan.skipped.push(Skipped { path: path.to_owned(), reason: "not a regular file" });
            continue;
        }
        if file_name.contains(|c: char| c.is_control()) {
            return Err(Error::ControlCharacterName(path.to_owned()));
        }
        scan.files.push(SourceFile {
            name: recorded_name(file_name).to_owned(),
            path: path.to_owned(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    // Sorted once, in checksum.txt line order; equal names are then neighbours.
    scan.files.sort_by(|a, b| line_order(&a.name, &b.name));
    let mut duplicates: Vec<Duplicate> = Vec::new();
    for group in scan.files.chunk_by(|a, b| a.name == b.name).filter(|g| g.len() > 1) {
        duplicates
            .push(Duplicate { name: group[0].name.clone(), paths: group.iter().map(|f| f.path.clone()).collect() });
    }
    if !duplicates.is_empty() {
        return Err(Error::Duplicates(duplicates));
    }
    scan.total_bytes = scan.files.iter().map(|f| f.size).sum();
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_like_the_original() {
        assert!(is_excluded_name(".DS_Store"));
        assert!(is_excluded_name("checksum.txt"));
        assert!(is_excluded_name("old_checksum.txt.bak"));
        assert!(!is_excluded_name("a.dpx"));
    }

    #[test]
    fn walks_subfolders_and_reports_duplicates_with_all_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("r1/deep")).unwrap();
        fs::create_dir_all(root.join(".hidden")).unwrap();
        fs::write(root.join("b.dpx"), b"bb").unwrap();
        fs::write(root.join("r1/a.dpx"), b"a").unwrap();
        fs::write(root.join(".hidden/c.dpx"), b"ccc").unwrap();
        fs::write(root.join(".skip"), b"x").unwrap();
        fs::write(root.join("checksum.txt"), b"x").unwrap();
        let scan = scan_folder(root).unwrap();
        let names: Vec<_> = scan.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.dpx", "b.dpx", "c.dpx"]);
        assert_eq!(scan.total_bytes, 6);

        fs::write(root.join("r1/deep/b.dpx"), b"again").unwrap();
        let Err(Error::Duplicates(dups)) = scan_folder(root) else { panic!("expected duplicates") };
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].name, "b.dpx");
        assert_eq!(dups[0].paths.len(), 2);
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let err = scan_folder(Path::new("/definitely/not/here")).unwrap_err();
        assert!(err.to_string().contains("not a folder"));
    }
}
