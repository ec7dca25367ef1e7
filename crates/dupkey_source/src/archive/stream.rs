//! The archive's byte stream: large reads into one buffer, split in place into documents
//! and terminators, every problem told with its offset in the (uncompressed) stream.

use super::*;

/// A window on the (uncompressed) stream: large reads into one buffer, split in place.
pub(crate) struct Stream<'a, R> {
    pub(crate) input: R,
    pub(crate) origin: Origin<'a>,
    pub(crate) buf: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Stream offset of `buf[0]`.
    pub(crate) base: u64,
    pub(crate) at_eof: bool,
    /// The next step a message about a cut stream gives.
    pub(crate) cut_next: &'static str,
}

/// The next step when the prelude is cut short: nothing can be read.
pub(crate) const NEXT_CUT_PRELUDE: &str = "the file is incomplete: dump it again";
/// The next step when the stream is cut short after the prelude.
pub(crate) const NEXT_CUT: &str =
    "the file is incomplete: dump it again, or pass --skip-invalid to read what is there";

/// What the next four bytes announce.
pub(crate) enum Item {
    /// The input ends here, at a block boundary or not.
    End,
    /// `FF FF FF FF`.
    Terminator,
    /// A whole document of this many bytes is in the window.
    Document(usize),
}

/// Why reading stopped: `cut` when the input ended too early, which `--skip-invalid` accepts.
pub(crate) struct Problem {
    pub(crate) error: SourceError,
    pub(crate) cut: bool,
}

impl Problem {
    pub(crate) fn resolve<E: From<SourceError>>(
        self,
        mut stats: ReadStats,
        opts: &ReadOptions,
    ) -> Result<ReadStats, E> {
        if self.cut && opts.skip_invalid {
            stats.record_invalid(&self.error);
            Ok(stats)
        } else {
            Err(self.error.into())
        }
    }
}

impl From<Problem> for SourceError {
    fn from(p: Problem) -> Self {
        p.error
    }
}

impl<'a, R: Read> Stream<'a, R> {
    pub(crate) fn new(input: R, origin: Origin<'a>, chunk: usize) -> Self {
        Stream {
            input,
            origin,
            buf: vec![0; chunk.max(16)],
            start: 0,
            end: 0,
            base: 0,
            at_eof: false,
            cut_next: NEXT_CUT_PRELUDE,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.base + to_u64(self.start)
    }

    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn front(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len]
    }

    pub(crate) fn consume(&mut self, len: usize) {
        self.start += len;
    }

    /// Makes `n` bytes available unless the input ends first; whether it did.
    pub(crate) fn want(&mut self, n: usize) -> Result<bool, Problem> {
        while self.end - self.start < n && !self.at_eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.base += to_u64(self.start);
                self.end -= self.start;
                self.start = 0;
            }
            if n > self.buf.len() {
                self.buf.resize(n, 0);
            }
            let got = fill(&mut self.input, &mut self.buf[self.end..]).map_err(|e| Problem {
                error: self.origin.read_error(self.base + to_u64(self.end), &e),
                cut: false,
            })?;
            self.end += got;
            self.at_eof = self.end < self.buf.len();
        }
        Ok(self.end - self.start >= n)
    }

    /// Reads as far as the next item and says what it is, leaving it in the window.
    pub(crate) fn item(&mut self) -> Result<Item, Problem> {
        let at = self.offset();
        if !self.want(4)? {
            let remaining = self.end - self.start;
            if remaining == 0 {
                return Ok(Item::End);
            }
            return Err(self.cut(
                at,
                &format!("only {remaining} bytes remain, too few for a length prefix"),
            ));
        }
        loop {
            match frame(self.available()) {
                Frame::Document(len) => return Ok(Item::Document(len)),
                Frame::BadLength(TERMINATOR) => return Ok(Item::Terminator),
                Frame::Need(n) => {
                    if !self.want(n)? {
                        let remaining = self.end - self.start;
                        return Err(self.cut(
                            at,
                            &format!(
                                "the document there has a length prefix of {n} bytes, only \
                                 {remaining} remain"
                            ),
                        ));
                    }
                }
                Frame::BadLength(length) => {
                    return Err(self.broken(
                        at,
                        &format!(
                            "impossible length {length} (a BSON document takes 5 to {} bytes, \
                             FF FF FF FF ends a block)",
                            MAX_DOCUMENT_BYTES
                        ),
                        NEXT_BROKEN,
                    ));
                }
                Frame::Unterminated(len) => {
                    return Err(self.broken(
                        at,
                        &format!(
                            "the document with length prefix {len} does not end in a 0 byte, so \
                             its length prefix is wrong"
                        ),
                        NEXT_BROKEN,
                    ));
                }
            }
        }
    }

    /// The stream ends too early.
    pub(crate) fn cut(&self, at: u64, what: &str) -> Problem {
        Problem {
            error: SourceError::Archive {
                path: self.origin.path.to_path_buf(),
                offset: at,
                gzip: self.origin.gzip,
                message: format!(
                    "{}: mongodump archive cut short at {}: {what}; {}",
                    self.origin.path.display(),
                    crate::at(at, self.origin.gzip),
                    self.cut_next
                ),
            },
            cut: true,
        }
    }

    /// The structure is wrong: reading cannot go on.
    pub(crate) fn broken(&self, at: u64, what: &str, next: &str) -> Problem {
        Problem {
            error: SourceError::Archive {
                path: self.origin.path.to_path_buf(),
                offset: at,
                gzip: self.origin.gzip,
                message: format!(
                    "{}: broken mongodump archive at {}: {what}; {next}",
                    self.origin.path.display(),
                    crate::at(at, self.origin.gzip)
                ),
            },
            cut: false,
        }
    }
}
