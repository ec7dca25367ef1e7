//! Two threads joined by batches of bytes: one produces (reads the input and does its share
//! of the work), the other consumes. Batches are recycled, so a steady run allocates nothing;
//! the channel holds a few, so the producer never runs far ahead. [`with_batch_thread`]
//! produces on this thread; [`with_reading_thread`] reads on a second one and consumes here.

use std::io;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// Batches in flight between the threads.
const IN_FLIGHT: usize = 4;

/// The producer's side: write records into [`BatchSink::buffer`], then call
/// [`BatchSink::sent_if_full`].
#[derive(Debug)]
pub struct BatchSink {
    batch: Vec<u8>,
    limit: usize,
    tx: SyncSender<Vec<u8>>,
    recycled: Receiver<Vec<u8>>,
}

impl BatchSink {
    /// The batch being filled.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.batch
    }

    /// Hands the batch over once it holds `limit` bytes.
    pub fn sent_if_full(&mut self) -> io::Result<()> {
        if self.batch.len() < self.limit {
            return Ok(());
        }
        let mut next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.limit + (64 << 10)));
        next.clear();
        self.tx
            .send(std::mem::replace(&mut self.batch, next))
            .map_err(|_| stopped())
    }

    fn finish(self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.tx.send(self.batch).map_err(|_| stopped())
    }
}

/// The consumer's side: an iterator of batches; give each back with
/// [`BatchStream::recycle`] when done with it.
#[derive(Debug)]
pub struct BatchStream {
    rx: Receiver<Vec<u8>>,
    recycle: Sender<Vec<u8>>,
}

impl BatchStream {
    pub fn recycle(&self, batch: Vec<u8>) {
        let _ = self.recycle.send(batch);
    }
}

impl Iterator for BatchStream {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        self.rx.recv().ok()
    }
}

fn stopped() -> io::Error {
    io::Error::other("the second thread stopped")
}

/// Runs `consume` on a second thread over the batches `produce` fills on this one, and
/// returns both results. When the consumer fails, its error comes first (it explains the
/// producer's failed send); a panic on the second thread becomes an error.
pub fn with_batch_thread<P, C, A, B, E>(
    batch_bytes: usize,
    produce: P,
    consume: C,
) -> Result<(A, B), E>
where
    E: From<io::Error>,
    B: Send,
    P: FnOnce(&mut BatchSink) -> Result<A, E>,
    C: FnOnce(BatchStream) -> io::Result<B> + Send,
{
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (recycle, recycled) = mpsc::channel::<Vec<u8>>();
        let worker = scope.spawn(move || consume(BatchStream { rx, recycle }));
        let mut sink = BatchSink {
            batch: Vec::with_capacity(batch_bytes + (64 << 10)),
            limit: batch_bytes,
            tx,
            recycled,
        };
        let produced = produce(&mut sink);
        // Flushing after a failure would only feed a consumer whose result is discarded.
        let flushed = if produced.is_ok() {
            sink.finish()
        } else {
            drop(sink);
            Ok(())
        };
        let consumed = worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the second thread panicked")));
        let consumed = consumed.map_err(E::from)?;
        let produced = produced?;
        flushed.map_err(E::from)?;
        Ok((produced, consumed))
    })
}

/// Runs `read` on a second thread, filling batches, while `consume` takes them on this one;
/// returns both results. The consumer's error comes first: it explains the reader's failed
/// send, and a reader's failure after it (the consumer had stopped) says nothing more. The
/// consumer must drop the stream when it stops early, which ends the reader's next send; a
/// panic on the reading thread becomes an error.
pub fn with_reading_thread<R, C, A, B, E, F>(
    batch_bytes: usize,
    read: R,
    consume: C,
) -> Result<(A, B), E>
where
    E: From<io::Error> + From<F>,
    A: Send,
    F: Send,
    R: FnOnce(&mut BatchSink) -> Result<A, F> + Send,
    C: FnOnce(BatchStream) -> Result<B, E>,
{
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (recycle, recycled) = mpsc::channel::<Vec<u8>>();
        let reader = scope.spawn(move || {
            let mut sink = BatchSink {
                batch: Vec::with_capacity(batch_bytes + (64 << 10)),
                limit: batch_bytes,
                tx,
                recycled,
            };
            let read = read(&mut sink);
            // After a failure the consumer sees the batches sent so far, then the end.
            let flushed = if read.is_ok() { sink.finish() } else { Ok(()) };
            (read, flushed)
        });
        let consumed = consume(BatchStream { rx, recycle });
        let joined = reader.join();
        let consumed = consumed?;
        let (read, flushed) =
            joined.map_err(|_| io::Error::other("the reading thread panicked"))?;
        let read = read.map_err(E::from)?;
        flushed?;
        Ok((read, consumed))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_in_order() {
        let (sent, got) = with_batch_thread::<_, _, _, _, io::Error>(
            100,
            |sink| {
                for i in 0..10_000u32 {
                    sink.buffer().extend_from_slice(&i.to_le_bytes());
                    sink.sent_if_full()?;
                }
                Ok(10_000u32)
            },
            |stream| {
                let mut all = Vec::new();
                let mut batches = 0;
                let mut stream = stream;
                while let Some(batch) = stream.next() {
                    all.extend_from_slice(&batch);
                    stream.recycle(batch);
                    batches += 1;
                }
                Ok((all, batches))
            },
        )
        .unwrap();
        let (bytes, batches) = got;
        assert_eq!(sent, 10_000);
        assert!(batches > 300, "{batches}");
        let numbers: Vec<u32> = bytes
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(numbers, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn the_consumers_error_comes_first() {
        let r = with_batch_thread::<_, _, (), (), io::Error>(
            8,
            |sink| {
                for _ in 0..1000 {
                    sink.buffer().extend_from_slice(&[0; 8]);
                    sink.sent_if_full()?;
                }
                Ok(())
            },
            |_stream| Err(io::Error::other("grouping failed")),
        );
        assert_eq!(r.unwrap_err().to_string(), "grouping failed");
    }
    #[test]
    fn a_reading_thread_hands_every_byte_over_in_order() {
        let (sent, got) = with_reading_thread::<_, _, _, _, io::Error, io::Error>(
            100,
            |sink| {
                for i in 0..10_000u32 {
                    sink.buffer().extend_from_slice(&i.to_le_bytes());
                    sink.sent_if_full()?;
                }
                Ok(10_000u32)
            },
            |mut stream| {
                let mut all = Vec::new();
                while let Some(batch) = stream.next() {
                    all.extend_from_slice(&batch);
                    stream.recycle(batch);
                }
                Ok(all)
            },
        )
        .unwrap();
        assert_eq!(sent, 10_000);
        let numbers: Vec<u32> = got
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(numbers, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn the_consumer_stopping_ends_the_reader_and_its_error_comes_first() {
        let r = with_reading_thread::<_, _, (), (), io::Error, io::Error>(
            8,
            |sink| loop {
                sink.buffer().extend_from_slice(&[0; 8]);
                sink.sent_if_full()?;
            },
            |_stream| Err(io::Error::other("grouping failed")),
        );
        assert_eq!(r.unwrap_err().to_string(), "grouping failed");
        let r = with_reading_thread::<_, _, (), usize, io::Error, io::Error>(
            8,
            |sink| {
                sink.buffer().extend_from_slice(&[0; 8]);
                sink.sent_if_full()?;
                Err(io::Error::other("truncated at byte offset 8"))
            },
            |stream| Ok(stream.count()),
        );
        assert_eq!(r.unwrap_err().to_string(), "truncated at byte offset 8");
    }
}
