//! An arena-backed hash table from key bytes to the documents holding the key.
//!
//! Millions of distinct keys are the common case (most keys are never shared), so nothing is
//! allocated per key: key, `_id` and value bytes live in one growing arena, entries are plain
//! structs, and the open-addressing index stores entry numbers. Ids beyond the first are kept
//! in a side list in arrival order, grouped by entry only at the end.

use crate::ids::Ids;

/// One distinct key: its bytes followed by the first `_id`'s, in one arena record. Most keys
/// are never shared, so what only shared keys need is in a [`Group`] of their own.
#[derive(Debug, Clone, Copy)]
struct Entry {
    record: Span,
    key_len: u32,
    /// The key's group number + 1 once a second document shares it; 0 before.
    group: u32,
}

/// A key two or more documents share.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// The key's values, recorded when the second document comes.
    display: Span,
    count: u32,
    /// Past [`MANY`] documents: the number + 1 of the [`Ids`] holding the later ones.
    many: u32,
}

/// Documents a group holds before its later ids go to a buffer of its own, in their encoded
/// bytes only: a group of millions (every document lacking the key) then takes the ids' own
/// size, not an arena record and a 12-byte [`Extra`] each, and is handed over as it is.
const MANY: u32 = 64;

/// Where bytes are in the arena, in 8 bytes: chunk number (15 bits), position in the chunk
/// (22 bits: chunks hold at most 4 MiB but for a lone larger item, at position 0) and length
/// (27 bits: up to 128 MiB, far beyond any BSON value).
#[derive(Debug, Clone, Copy, Default)]
struct Span(u64);

impl Span {
    const LEN_BITS: u32 = 27;
    const OFF_BITS: u32 = 22;

    fn new(chunk: usize, off: usize, len: usize) -> Span {
        Span(
            ((chunk as u64) << (Self::OFF_BITS + Self::LEN_BITS))
                | ((off as u64) << Self::LEN_BITS)
                | len as u64,
        )
    }

    fn chunk(self) -> usize {
        (self.0 >> (Self::OFF_BITS + Self::LEN_BITS)) as usize
    }

    fn off(self) -> usize {
        ((self.0 >> Self::LEN_BITS) & ((1 << Self::OFF_BITS) - 1)) as usize
    }

    fn len(self) -> usize {
        (self.0 & ((1 << Self::LEN_BITS) - 1)) as usize
    }
}

/// An id beyond a key's first, in 12 bytes (a [`Span`] held as two halves, so that the
/// struct is aligned to 4 bytes): a group of millions of documents keeps millions of them.
#[derive(Debug, Clone, Copy)]
struct Extra {
    entry: u32,
    id: [u32; 2],
}

impl Extra {
    fn new(entry: u32, id: Span) -> Extra {
        Extra {
            entry,
            id: [id.0 as u32, (id.0 >> 32) as u32],
        }
    }

    fn id(&self) -> Span {
        Span(u64::from(self.id[0]) | (u64::from(self.id[1]) << 32))
    }
}

/// What an insert found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    New,
    /// The key was there; `needs_display` while its values are not recorded yet.
    Shared {
        entry: u32,
        needs_display: bool,
    },
}

#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    arena: Arena,
    entries: Vec<Entry>,
    groups: Vec<Group>,
    /// The later ids of groups past [`MANY`] documents.
    many: Vec<Ids>,
    /// Bytes the `many` buffers hold, for the memory budget.
    many_bytes: usize,
    /// Open addressing: (entry number + 1, high half of the hash); 0 is empty. The hash half
    /// lets a probe skip other keys without touching their entries.
    slots: Vec<(u32, u32)>,
    extra: Vec<Extra>,
}

/// A group of ids sharing a key, borrowed from the table.
pub(crate) struct GroupRef<'t> {
    pub key: &'t [u8],
    pub display: &'t [u8],
    first_id: &'t [u8],
    extra: &'t [Extra],
    arena: &'t Arena,
    /// The ids after the first [`MANY`], of a group that has more.
    more: Option<Ids>,
}

impl<'t> GroupRef<'t> {
    /// Every id of the group, in arrival order.
    pub(crate) fn into_ids(self) -> Ids {
        let mut ids = Ids::new();
        ids.push_encoded(self.first_id);
        for x in self.extra {
            ids.push_encoded(self.arena.slice(x.id()));
        }
        match self.more {
            // The first ids go in front of the later ones, in the buffer that holds them.
            Some(mut more) => {
                more.prepend(&ids);
                more
            }
            None => ids,
        }
    }
}

impl KeyTable {
    /// A table sized for about `keys` distinct keys, so it does not rehash on the way there.
    pub(crate) fn with_expected_keys(keys: usize) -> Self {
        let mut t = KeyTable::default();
        if keys > 0 {
            let slots = (keys * 2).next_power_of_two().max(1024);
            t.slots = empty_slots(slots);
            t.entries.reserve_exact(keys);
        }
        t
    }

    /// Bytes used, for the memory budget.
    pub(crate) fn bytes(&self) -> usize {
        self.arena.bytes()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.groups.capacity() * std::mem::size_of::<Group>()
            + self.many_bytes
            + self.many.capacity() * std::mem::size_of::<Ids>()
            + self.slots.capacity() * 8
            + self.extra.capacity() * std::mem::size_of::<Extra>()
    }

    /// Distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, bytes: &[u8]) -> Span {
        self.arena.push(bytes)
    }

    fn slice(&self, s: Span) -> &[u8] {
        self.arena.slice(s)
    }

    pub(crate) fn insert(&mut self, key: &[u8], id: &[u8]) -> Inserted {
        self.insert_hashed(hash(key), key, id)
    }

    /// Asks the processor to bring the slot `hash` starts probing at into cache, without
    /// waiting for it.
    pub(crate) fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        if !self.slots.is_empty() {
            let i = (hash as usize) & (self.slots.len() - 1);
            let slot = (&raw const self.slots[i]).cast::<i8>();
            // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints the cache:
            // it reads nothing the program sees and cannot fault (the address is in `slots`).
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    /// [`KeyTable::insert`] with the key's [`hash`] already computed.
    pub(crate) fn insert_hashed(&mut self, hash: u64, key: &[u8], id: &[u8]) -> Inserted {
        if self.slots.is_empty() || self.entries.len() * 2 >= self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let tag = (hash >> 32) as u32;
        let mut i = (hash as usize) & mask;
        loop {
            let (slot, slot_tag) = self.slots[i];
            if slot == 0 {
                let record = self.arena.push_pair(key, id);
                grow_gently(&mut self.entries, 1);
                self.entries.push(Entry {
                    record,
                    key_len: key.len() as u32,
                    group: 0,
                });
                self.slots[i] = (self.entries.len() as u32, tag);
                return Inserted::New;
            }
            if slot_tag != tag {
                i = (i + 1) & mask;
                continue;
            }
            let entry = slot - 1;
            let e = self.entries[entry as usize];
            if self.key(e) == key {
                if e.group == 0 {
                    self.groups.push(Group {
                        display: Span::default(),
                        count: 1,
                        many: 0,
                    });
                    self.entries[entry as usize].group = self.groups.len() as u32;
                }
                let g = self.entries[entry as usize].group as usize - 1;
                self.add_to_group(entry, g, id);
                let g = &mut self.groups[g];
                g.count += 1;
                return Inserted::Shared {
                    entry,
                    needs_display: g.display.len() == 0,
                };
            }
            i = (i + 1) & mask;
        }
    }

    /// Keeps the id of one more document of group `g` (of `entry`).
    fn add_to_group(&mut self, entry: u32, g: usize, id: &[u8]) {
        let group = self.groups[g];
        if group.count < MANY {
            let id = self.push(id);
            grow_gently(&mut self.extra, 1);
            self.extra.push(Extra::new(entry, id));
            return;
        }
        if group.many == 0 {
            self.many.push(Ids::new());
            self.groups[g].many = self.many.len() as u32;
        }
        let ids = &mut self.many[self.groups[g].many as usize - 1];
        let before = ids.heap_bytes();
        ids.push_encoded(id);
        self.many_bytes += ids.heap_bytes() - before;
    }

    /// The key bytes of an entry.
    fn key(&self, e: Entry) -> &[u8] {
        &self.slice(e.record)[..e.key_len as usize]
    }

    /// The first `_id` of an entry.
    fn first_id(&self, e: Entry) -> &[u8] {
        &self.slice(e.record)[e.key_len as usize..]
    }

    /// The group of an entry: its values and how many documents hold it.
    fn group(&self, e: Entry) -> Group {
        match e.group {
            0 => Group {
                display: Span::default(),
                count: 1,
                many: 0,
            },
            g => self.groups[g as usize - 1],
        }
    }

    pub(crate) fn set_display(&mut self, entry: u32, display: &[u8]) {
        if display.is_empty() {
            return;
        }
        let span = self.push(display);
        let g = self.entries[entry as usize].group;
        if g > 0 {
            self.groups[g as usize - 1].display = span;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        self.slots = empty_slots(size);
        let mask = size - 1;
        // Entries keep no hash (8 bytes a key saved): growing hashes the keys again. Their
        // new slots are random: a run of them is prefetched before the first is written, as
        // inserts do, or each would wait for memory in turn.
        const RUN: usize = 16;
        let mut hashes = [0u64; RUN];
        for (run, entries) in self.entries.chunks(RUN).enumerate() {
            for (h, e) in hashes.iter_mut().zip(entries) {
                *h = hash(self.key(*e));
                self.prefetch(*h);
            }
            for (k, &h) in hashes.iter().take(entries.len()).enumerate() {
                let mut i = (h as usize) & mask;
                while self.slots[i].0 != 0 {
                    i = (i + 1) & mask;
                }
                self.slots[i] = ((run * RUN + k) as u32 + 1, (h >> 32) as u32);
            }
        }
    }

    /// Calls `f(key, values, id)` for every id of every key, ids of a key in arrival order,
    /// without building any collection (used to move the table to disk when it is full).
    pub(crate) fn for_each_id<E>(
        &mut self,
        mut f: impl FnMut(&[u8], &[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.extra.sort_by_key(|x| x.entry);
        let mut x = 0;
        for (n, &e) in self.entries.iter().enumerate() {
            let (key, display) = (self.key(e), self.slice(self.group(e).display));
            f(key, display, self.first_id(e))?;
            while x < self.extra.len() && self.extra[x].entry as usize == n {
                f(key, display, self.slice(self.extra[x].id()))?;
                x += 1;
            }
            if let Some(ids) = self
                .group(e)
                .many
                .checked_sub(1)
                .map(|m| &self.many[m as usize])
            {
                for id in ids.encoded_iter() {
                    f(key, display, id)?;
                }
            }
        }
        Ok(())
    }

    /// Keys held by at least `min` documents. The table's last use: the ids of groups past
    /// [`MANY`] documents are handed over, not copied, and leave the table.
    pub(crate) fn groups(&mut self, min: u32) -> Vec<GroupRef<'_>> {
        // A stable sort keeps each key's ids in arrival order.
        self.extra.sort_by_key(|x| x.entry);
        let mut many: Vec<Option<Ids>> = std::mem::take(&mut self.many)
            .into_iter()
            .map(Some)
            .collect();
        self.many_bytes = 0;
        let of_group: Vec<u32> = self
            .groups
            .iter_mut()
            .map(|g| std::mem::take(&mut g.many))
            .collect();
        let mut out = Vec::new();
        let mut x = 0;
        for (n, &e) in self.entries.iter().enumerate() {
            let start = x;
            while x < self.extra.len() && self.extra[x].entry as usize == n {
                x += 1;
            }
            let group = self.group(e);
            if group.count < min {
                continue;
            }
            let more = (e.group > 0)
                .then(|| of_group[e.group as usize - 1].checked_sub(1))
                .flatten()
                .and_then(|m| many[m as usize].take());
            out.push(GroupRef {
                key: self.key(e),
                display: self.slice(group.display),
                first_id: self.first_id(e),
                extra: &self.extra[start..x],
                arena: &self.arena,
                more,
            });
        }
        out
    }
}

/// Bytes of keys, ids and values, in chunks that are never moved: growing the arena costs
/// one allocation per chunk, not a copy of everything held so far.
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    capacity: usize,
}

/// Largest chunk size; larger items get a chunk of their own.
const CHUNK: usize = 4 << 20;

impl Arena {
    /// Stores `bytes`.
    fn push(&mut self, bytes: &[u8]) -> Span {
        let span = self.reserve(bytes.len());
        self.chunks[span.chunk()].extend_from_slice(bytes);
        span
    }

    /// The span `len` bytes pushed next will take, in a chunk with room for them.
    fn reserve(&mut self, len: usize) -> Span {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= len);
        if !fits {
            // Small tables stay small: chunks double from 64 KiB up to CHUNK.
            let size = self
                .chunks
                .last()
                .map_or(64 << 10, |c| (c.capacity() * 2).min(CHUNK));
            let chunk = Vec::with_capacity(size.max(len));
            self.capacity += chunk.capacity();
            self.chunks.push(chunk);
        }
        let n = self.chunks.len() - 1;
        Span::new(n, self.chunks[n].len(), len)
    }

    /// Stores `a` and `b` one after the other, as one span.
    fn push_pair(&mut self, a: &[u8], b: &[u8]) -> Span {
        let len = a.len() + b.len();
        let span = self.reserve(len);
        let chunk = &mut self.chunks[span.chunk()];
        chunk.extend_from_slice(a);
        chunk.extend_from_slice(b);
        span
    }

    fn slice(&self, s: Span) -> &[u8] {
        &self.chunks[s.chunk()][s.off()..s.off() + s.len()]
    }

    fn bytes(&self) -> usize {
        self.capacity
    }
}

/// `n` empty slots, their memory written now. Slots are read before they are written: memory
/// fresh from the system, first read, maps a shared page of zeros, and the first write to it
/// then costs a second fault and, with the other thread running, a TLB flush on every core.
/// Written in one sweep, each page faults once, and the sweep is sequential.
fn empty_slots(n: usize) -> Vec<(u32, u32)> {
    let mut slots = Vec::with_capacity(n);
    advise_huge_pages(&slots);
    slots.resize(n, (0, 0));
    slots
}

/// Grows a vector by doubling while small and by at most 32 MiB at a time after, so the
/// memory budget is never overshot by a whole doubling.
fn grow_gently<T>(v: &mut Vec<T>, additional: usize) {
    if v.len() + additional <= v.capacity() {
        return;
    }
    let step_cap = (32 << 20) / std::mem::size_of::<T>().max(1);
    let step = v.capacity().clamp(1024, step_cap).max(additional);
    v.reserve_exact(step);
}

/// Asks Linux to back a large allocation with 2 MiB pages: random probes into a table of tens
/// of megabytes then miss the TLB far less. Only the slots are probed at random; the arena,
/// entries and id lists are written in order, and asked the same, they made `check` slower
/// and far less steady (0.18-0.26 s against 0.13-0.14 s after other processes had run: the
/// kernel then has to find and clear whole 2 MiB pages). A hint: elsewhere, or where the
/// kernel declines, nothing changes.
fn advise_huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<T>();
        let start = v.as_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: MADV_HUGEPAGE only changes how the kernel backs the pages of this range,
            // never their contents, and the range lies inside the allocation `v` owns.
            #[allow(unsafe_code)]
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// A fast hash of key bytes (not attacker-chosen here) with every bit of the result depending
/// on every byte: each 8-byte word is mixed in by a folded 64x64->128-bit multiply.
pub fn hash(bytes: &[u8]) -> u64 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xA076_1D64_78BD_642F;
    let mut h = (bytes.len() as u64).wrapping_mul(K2);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = folded_multiply(
            h ^ u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
            K1,
        );
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = folded_multiply(h ^ u64::from_le_bytes(w), K2);
    }
    folded_multiply(h, K1)
}

/// The high and low halves of the 128-bit product, XORed.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_keys_hash_apart() {
        // Generated numbers: long shared prefixes, a few digits apart.
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            seen.insert(hash(format!("\u{2}INV/2025-26/{i:06}\0\0").as_bytes()));
            seen.insert(hash(&i.to_le_bytes()));
        }
        assert_eq!(seen.len(), 400_000);
    }

    #[test]
    fn groups_keep_arrival_order() {
        // 1000 keys of about 5 documents, and one key of 295 (past MANY: its later ids go to
        // a buffer of their own), interleaved.
        let mut t = KeyTable::default();
        let mut want: std::collections::BTreeMap<Vec<u8>, Vec<u32>> = Default::default();
        for i in 0..5000u32 {
            let key = if i % 17 == 0 {
                b"big".to_vec()
            } else {
                (i % 1000).to_le_bytes().to_vec()
            };
            want.entry(key.clone()).or_default().push(i);
            let r = t.insert(&key, &i.to_le_bytes());
            if let Inserted::Shared {
                entry,
                needs_display: true,
            } = r
            {
                t.set_display(entry, b"v");
            }
        }
        want.retain(|_, ids| ids.len() > 1);
        let mut spilled: std::collections::BTreeMap<Vec<u8>, Vec<u32>> = Default::default();
        t.for_each_id(|key, _, id| {
            let id = u32::from_le_bytes(id.try_into().unwrap());
            spilled.entry(key.to_vec()).or_default().push(id);
            Ok::<_, ()>(())
        })
        .unwrap();
        spilled.retain(|_, ids| ids.len() > 1);
        assert_eq!(spilled, want);
        let groups = t.groups(2);
        assert_eq!(groups.len(), want.len());
        let mut got = std::collections::BTreeMap::new();
        for g in groups {
            assert_eq!(g.display, b"v");
            let key = g.key.to_vec();
            let ids: Vec<u32> = g
                .into_ids()
                .encoded_iter()
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            got.insert(key, ids);
        }
        assert_eq!(got, want);
        assert_eq!(got[b"big".as_slice()].len(), 5000 / 17 + 1);
    }
}
