//! Telling an archive from other files, and opening one collection of it as a
//! `CollectionReader` (what `check` and `open_collection` read).

use super::*;

/// Whether the file at `path` is to be read as a `mongodump --archive` file (gzipped or not):
/// its first bytes say so, or its name does (`*.archive`, `*.archive.gz`, `*.agz`, or
/// `archive`/`archive.gz` as `mongodump --archive=DIR` names it), in which case reading it
/// tells what is wrong with it.
pub fn is_archive(path: &Path) -> Result<bool, SourceError> {
    Ok(archive_name(path) || sniff_archive(path)?.is_some())
}

fn archive_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name == "archive" || name.ends_with(".archive") || name.ends_with(".agz")
}

/// Whether `path` is a mongodump archive (`Some(gzip)`), judged from its first bytes. Files
/// too short, or whose gzip stream does not start cleanly, are not.
pub(crate) fn sniff_archive(path: &Path) -> Result<Option<bool>, SourceError> {
    let gzip = starts_with_gzip(path)?;
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    let mut head = Vec::with_capacity(4);
    let read = if gzip {
        MultiGzDecoder::new(BufReader::new(file))
            .take(4)
            .read_to_end(&mut head)
    } else {
        file.take(4).read_to_end(&mut head)
    };
    Ok((read.is_ok() && head == ARCHIVE_MAGIC).then_some(gzip))
}

pub(super) fn starts_with_gzip(path: &Path) -> Result<bool, SourceError> {
    let file = File::open(path).map_err(|e| open_error(path, &e))?;
    let mut head = Vec::with_capacity(2);
    file.take(2)
        .read_to_end(&mut head)
        .map_err(|e| crate::file::read_error(path, false, 0, &e))?;
    Ok(head == [0x1f, 0x8b])
}

/// Opens collection `wanted` of an archive as a [`CollectionReader`] that streams only its
/// documents. Without `wanted`, an archive of one collection opens it.
pub(crate) fn open_member(
    path: &Path,
    wanted: Option<&str>,
) -> Result<CollectionReader, SourceError> {
    let archive = open_archive(path)?;
    let index = match wanted {
        Some(wanted) => archive.find(wanted)?,
        None => match archive.collections.as_slice() {
            [_] => 0,
            _ => {
                return Err(SourceError::NeedArchiveCollection {
                    path: path.to_path_buf(),
                    available: archive.namespaces(),
                });
            }
        },
    };
    let found = &archive.collections[index];
    if !found.holds_documents() {
        let reason = if found.is_oplog() {
            "it is the oplog mongodump --oplog recorded, not a collection".to_string()
        } else if found.is_timeseries() {
            format!(
                "it is a time-series collection: the archive holds its buckets \
                 ({}.system.buckets.{}), not its documents",
                found.database, found.collection
            )
        } else {
            format!(
                "it is a view (on {}): an archive holds only its definition",
                found
                    .metadata
                    .as_ref()
                    .and_then(|m| m.options.get_str("viewOn").ok())
                    .unwrap_or("another collection")
            )
        };
        return Err(SourceError::NoData {
            path: path.to_path_buf(),
            namespace: found.namespace.clone(),
            reason,
        });
    }
    Ok(
        CollectionReader::new(path.to_path_buf(), DataFormat::Bson, archive.gzip)?
            .with_archive_facts(found.namespace.clone(), found.metadata.clone()),
    )
}

/// One pass of [`CollectionReader::for_each`] over an archive collection.
pub(crate) fn read_member<E, F>(
    path: &Path,
    namespace: &str,
    framing: Framing,
    progress: &ReadProgress,
    opts: &ReadOptions,
    f: F,
) -> Result<ReadStats, E>
where
    E: DocumentError,
    F: FnMut(&RawDocument) -> Result<(), E>,
{
    let mut archive = open_archive(path)?;
    archive.framing = framing;
    archive.progress = progress.clone();
    let index = archive
        .collections
        .iter()
        .position(|c| c.namespace == namespace)
        .ok_or_else(|| SourceError::NoCollection {
            path: path.to_path_buf(),
            requested: namespace.to_string(),
            available: archive.namespaces(),
        })?;
    archive.for_each_in(index, opts, f)
}
