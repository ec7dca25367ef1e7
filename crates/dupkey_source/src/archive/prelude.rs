//! The prelude: the header and one entry per collection, each carrying the text of its
//! `metadata.json`.

use super::*;

/// The next step for a prelude that cannot be read: nothing in the archive can be.
pub(crate) const NEXT_PRELUDE: &str =
    "check that this is a mongodump --archive file, or dump it again";

pub(crate) fn read_prelude<R: Read>(
    stream: &mut Stream<'_, R>,
) -> Result<(ArchiveHeader, Vec<ArchiveCollection>), SourceError> {
    if !stream.want(4)? || stream.front(4) != ARCHIVE_MAGIC {
        let head = stream.available();
        let what = if head.len() < 4 {
            format!(
                "not a mongodump archive: {} bytes long, too short for its magic number",
                head.len()
            )
        } else {
            format!(
                "not a mongodump archive: it starts with {}, not the magic number 6D E2 99 81",
                hex(&head[..4])
            )
        };
        return Err(stream.broken(0, &what, NEXT_PRELUDE).into());
    }
    stream.consume(4);
    let at = stream.offset();
    let header = match prelude_item(stream)? {
        Some(len) => {
            let doc = prelude_document(stream, at, len, "header")?;
            let header = ArchiveHeader {
                version: string_field(doc, "version"),
                concurrent_collections: doc.get_i32("concurrent_collections").ok(),
                server_version: string_field(doc, "server_version"),
                tool_version: string_field(doc, "tool_version"),
            };
            stream.consume(len);
            header
        }
        None => {
            return Err(stream
                .broken(at, "the prelude has no header document", NEXT_PRELUDE)
                .into());
        }
    };
    let mut collections: Vec<ArchiveCollection> = Vec::new();
    loop {
        let at = stream.offset();
        let Some(len) = prelude_item(stream)? else {
            stream.consume(4);
            stream.cut_next = NEXT_CUT;
            return Ok((header, collections));
        };
        let doc = prelude_document(stream, at, len, "collection entry")?;
        let entry = collection_entry(stream, at, doc)?;
        if collections.iter().any(|c| c.namespace == entry.namespace) {
            return Err(stream
                .broken(
                    at,
                    &format!("the prelude lists {} twice", entry.namespace),
                    NEXT_PRELUDE,
                )
                .into());
        }
        collections.push(entry);
        stream.consume(len);
    }
}

/// The next prelude document's length, or `None` at the terminator that ends the prelude.
pub(crate) fn prelude_item<R: Read>(
    stream: &mut Stream<'_, R>,
) -> Result<Option<usize>, SourceError> {
    let at = stream.offset();
    match stream.item()? {
        Item::Document(len) => Ok(Some(len)),
        Item::Terminator => Ok(None),
        Item::End => Err(stream.cut(at, "the input ends inside the prelude").error),
    }
}

pub(crate) fn prelude_document<'s, R: Read>(
    stream: &'s Stream<'_, R>,
    at: u64,
    len: usize,
    what: &str,
) -> Result<&'s RawDocument, SourceError> {
    let doc = RawDocument::from_bytes(stream.front(len)).map_err(|e| {
        stream.broken(
            at,
            &format!(
                "the prelude's {what} is not a BSON document: {}",
                describe_bson_error(&e)
            ),
            NEXT_PRELUDE,
        )
    })?;
    validate_document(doc).map_err(|reason| {
        stream.broken(
            at,
            &format!("the prelude's {what} is not a BSON document: {reason}"),
            NEXT_PRELUDE,
        )
    })?;
    Ok(doc)
}

pub(crate) fn collection_entry<R: Read>(
    stream: &Stream<'_, R>,
    at: u64,
    doc: &RawDocument,
) -> Result<ArchiveCollection, SourceError> {
    let database = string_field(doc, "db").unwrap_or_default();
    let Some(collection) = string_field(doc, "collection").filter(|c| !c.is_empty()) else {
        return Err(stream
            .broken(
                at,
                "a collection entry of the prelude names no collection",
                NEXT_PRELUDE,
            )
            .into());
    };
    let namespace = namespace_of(&database, &collection);
    let metadata = match string_field(doc, "metadata") {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(
            parse_metadata_json(&text).map_err(|e| SourceError::Archive {
                path: stream.origin.path.to_path_buf(),
                offset: at,
                gzip: stream.origin.gzip,
                message: format!(
                    "{}: broken collection metadata of {namespace} in the archive's prelude at {}: \
                 {e}; dump it again (the metadata of an archive cannot be repaired in place)",
                    stream.origin.path.display(),
                    crate::at(at, stream.origin.gzip)
                ),
            })?,
        ),
    };
    Ok(ArchiveCollection {
        namespace,
        database,
        collection,
        collection_type: string_field(doc, "type").filter(|t| !t.is_empty()),
        metadata,
    })
}

pub(crate) fn string_field(doc: &RawDocument, key: &str) -> Option<String> {
    match doc.get(key) {
        Ok(Some(RawBsonRef::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

pub(crate) fn namespace_of(database: &str, collection: &str) -> String {
    if database.is_empty() {
        collection.to_string()
    } else {
        format!("{database}.{collection}")
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}
