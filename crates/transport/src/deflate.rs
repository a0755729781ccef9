//! COMPRESS=DEFLATE (RFC 4978): raw deflate on both directions of a
//! connection, below the line reader and above TLS.
//!
//! Invariant: inflating never produces more than one read chunk per call, so
//! a small, highly compressible input cannot make the connection allocate
//! more than its line and literal limits already allow.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Deflate state for one connection.
pub(crate) struct Deflate {
    comp: Compress,
    decomp: Decompress,
    /// Compressed bytes received and not inflated yet.
    pub pending: Vec<u8>,
}

impl Deflate {
    pub fn new() -> Self {
        Self { comp: Compress::new(Compression::default(), false), decomp: Decompress::new(false), pending: Vec::new() }
    }

    /// Inflates from `pending` into `out` (appending at most `max` bytes).
    /// Returns how many bytes were produced.
    pub fn inflate(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let start = out.len();
        out.resize(start + max, 0);
        let (in0, out0) = (self.decomp.total_in(), self.decomp.total_out());
        let status = self
            .decomp
            .decompress(&self.pending, &mut out[start..], FlushDecompress::None)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad compressed data: {e}")))?;
        let consumed = (self.decomp.total_in() - in0) as usize;
        let produced = (self.decomp.total_out() - out0) as usize;
        out.truncate(start + produced);
        self.pending.drain(..consumed.min(self.pending.len()));
        if status == Status::StreamEnd {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "compressed stream ended"));
        }
        Ok(produced)
    }

    /// Deflates `input` and sync-flushes, so the peer can read everything.
    pub fn deflate(&mut self, input: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let mut pos = 0;
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().max(4096));
            }
            let start = out.len();
            let spare = out.capacity() - start;
            out.resize(start + spare, 0);
            let (in0, out0) = (self.comp.total_in(), self.comp.total_out());
            self.comp
                .compress(&input[pos..], &mut out[start..], FlushCompress::Sync)
                .map_err(|e| io::Error::other(format!("compression failed: {e}")))?;
            pos += (self.comp.total_in() - in0) as usize;
            let produced = (self.comp.total_out() - out0) as usize;
            out.truncate(start + produced);
            // Done once all input is in and the flush left spare room.
            if pos >= input.len() && produced < spare {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_small_steps() {
        let mut a = Deflate::new();
        let mut b = Deflate::new();
        let text: Vec<u8> = (0..50_000).map(|i| b"abcdefghij\r\n"[i % 12]).collect();
        b.pending = a.deflate(&text).expect("deflate");
        let mut out = Vec::new();
        while out.len() < text.len() {
            let n = b.inflate(&mut out, 4096).expect("inflate");
            assert!(n <= 4096);
            assert!(n > 0);
        }
        assert_eq!(out, text);
    }
}
