//! Where the duplicate finder's keys go past its memory budget: 64 hash partition files on
//! disk, written in order and read back one at a time; and the typed error a spill failure
//! travels as, so callers tell it from any other I/O error by type.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Hash partitions a spill writes (split again, with another hash, when one is too big).
pub(crate) const PARTITIONS: usize = 64;

/// A spill file that could not be created, written or read back: the directory, what failed
/// and what to do. It travels inside the `io::Error` the finder returns (whose kind it keeps),
/// so a caller tells a spill failure from any other by type ([`SpillError::find`]), not by
/// guessing from the text.
#[derive(Debug)]
pub struct SpillError {
    /// Where the spill files go.
    pub dir: PathBuf,
    /// What was being done: "create", "write" or "read back".
    pub action: &'static str,
    pub source: io::Error,
}

impl SpillError {
    /// The spill failure an `io::Error` from the finder carries, if it is one.
    pub fn find(e: &io::Error) -> Option<&SpillError> {
        e.get_ref()?.downcast_ref::<SpillError>()
    }

    pub(crate) fn wrap<'d>(
        dir: &'d Path,
        action: &'static str,
    ) -> impl FnOnce(io::Error) -> io::Error + 'd {
        move |source| {
            if SpillError::find(&source).is_some() {
                return source;
            }
            let kind = source.kind();
            io::Error::new(
                kind,
                SpillError {
                    dir: dir.to_path_buf(),
                    action,
                    source,
                },
            )
        }
    }
}

impl std::fmt::Display for SpillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use io::ErrorKind as K;
        let advice = match self.source.kind() {
            K::StorageFull | K::FileTooLarge | K::QuotaExceeded => {
                "the keys that do not fit --memory-limit wait there: free space in it, point \
                 TMPDIR at a disk with room, or raise --memory-limit so that fewer keys spill"
            }
            K::PermissionDenied | K::ReadOnlyFilesystem | K::NotFound => {
                "point TMPDIR at a writable directory, or raise --memory-limit so that fewer \
                 keys spill"
            }
            _ => "check that disk, or point TMPDIR at another one",
        };
        write!(
            f,
            "cannot {} spill files in {}: {}; {advice}",
            self.action,
            self.dir.display(),
            self.source
        )
    }
}

impl std::error::Error for SpillError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Partition files being written.
#[derive(Debug)]
pub(crate) struct Spill {
    pub(crate) seed: u64,
    pub(crate) dir: PathBuf,
    pub(crate) files: Vec<(BufWriter<File>, u64, u64)>,
    pub(crate) paths: Vec<tempfile::TempPath>,
}

/// One finished partition on disk (removed when dropped).
pub(crate) struct PartitionFile {
    pub(crate) path: tempfile::TempPath,
    pub(crate) dir: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
}

impl Spill {
    pub(crate) fn new(dir: Option<&Path>, seed: u32) -> io::Result<Self> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut files = Vec::with_capacity(PARTITIONS);
        let mut paths = Vec::with_capacity(PARTITIONS);
        for _ in 0..PARTITIONS {
            let tmp = tempfile::Builder::new()
                .prefix("dupkey-spill-")
                .tempfile_in(&dir)
                .map_err(SpillError::wrap(&dir, "create"))?;
            let (file, path) = tmp.into_parts();
            files.push((BufWriter::with_capacity(64 << 10, file), 0, 0));
            paths.push(path);
        }
        Ok(Spill {
            seed: u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xcbf2_9ce4_8422_2325,
            dir,
            files,
            paths,
        })
    }

    pub(crate) fn write(&mut self, key: &[u8], id: &[u8], display: &[u8]) -> io::Result<()> {
        let p = (fnv1a(self.seed, key) % PARTITIONS as u64) as usize;
        let (w, bytes, records) = &mut self.files[p];
        for part in [key, id, display] {
            w.write_all(&(part.len() as u32).to_le_bytes())
                .and_then(|()| w.write_all(part))
                .map_err(SpillError::wrap(&self.dir, "write"))?;
        }
        *bytes += (key.len() + id.len() + display.len() + 12) as u64;
        *records += 1;
        Ok(())
    }

    pub(crate) fn finish(self) -> io::Result<Vec<PartitionFile>> {
        let mut out = Vec::with_capacity(PARTITIONS);
        for ((w, bytes, records), path) in self.files.into_iter().zip(self.paths) {
            w.into_inner()
                .map_err(|e| SpillError::wrap(&self.dir, "write")(e.into_error()))?
                .sync_all()
                .ok();
            out.push(PartitionFile {
                path,
                dir: self.dir.clone(),
                bytes,
                records,
            });
        }
        Ok(out)
    }
}

pub(crate) fn for_each_record(
    file: &PartitionFile,
    mut f: impl FnMut(&[u8], &[u8], &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let read_back = || SpillError::wrap(&file.dir, "read back");
    let mut r = BufReader::with_capacity(1 << 20, File::open(&file.path).map_err(read_back())?);
    let mut bufs: [Vec<u8>; 3] = Default::default();
    for _ in 0..file.records {
        for b in &mut bufs {
            let mut len = [0u8; 4];
            r.read_exact(&mut len).map_err(read_back())?;
            b.resize(u32::from_le_bytes(len) as usize, 0);
            r.read_exact(b).map_err(read_back())?;
        }
        f(&bufs[0], &bufs[1], &bufs[2])?;
    }
    Ok(())
}

pub(crate) fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}
