//! CRC-64/XZ (the ECMA-182 polynomial, reflected, as Go's `hash/crc64` computes it), the
//! checksum each namespace's EOF block carries.

/// CRC-64 with the ECMA-182 polynomial, reflected, initial value and final XOR all ones: what
/// Go's `hash/crc64` computes with `crc64.MakeTable(crc64.ECMA)`, which mongodump uses. Check
/// value ("123456789"): 0x995DC9BBDF1939FA.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc64(u64);

/// The ECMA-182 polynomial 0x42F0E1EBA9EA3693, bit-reversed.
pub(crate) const CRC64_POLY: u64 = 0xC96C_5795_D787_0F42;

/// Slicing-by-8 tables: `CRC64_TABLES[0]` is the byte table, `[k]` advances it k more bytes.
static CRC64_TABLES: [[u64; 256]; 8] = crc64_tables();

pub(crate) const fn crc64_tables() -> [[u64; 256]; 8] {
    let mut t = [[0_u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC64_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            k += 1;
        }
        i += 1;
    }
    t
}

impl Crc64 {
    pub(crate) fn new() -> Self {
        Crc64(u64::MAX)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let t = &CRC64_TABLES;
        let mut crc = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            crc ^= u64::from_le_bytes(word);
            crc = t[7][(crc & 0xff) as usize]
                ^ t[6][((crc >> 8) & 0xff) as usize]
                ^ t[5][((crc >> 16) & 0xff) as usize]
                ^ t[4][((crc >> 24) & 0xff) as usize]
                ^ t[3][((crc >> 32) & 0xff) as usize]
                ^ t[2][((crc >> 40) & 0xff) as usize]
                ^ t[1][((crc >> 48) & 0xff) as usize]
                ^ t[0][(crc >> 56) as usize];
        }
        for &b in chunks.remainder() {
            crc = t[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.0 = crc;
    }

    /// The checksum of the bytes so far, as the archive stores it (as int64 bits).
    pub(crate) fn value(&self) -> u64 {
        !self.0
    }
}
