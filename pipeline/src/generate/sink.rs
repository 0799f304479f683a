//! The generator's CSV writer: one byte buffer per file, numbers and dates formatted by hand, handed in 1 MiB
//! blocks to a writer thread that owns the file, so formatting and the kernel's copying overlap on two
//! cores. Files are written as `<name>.partial` and renamed into place only once every file is complete.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use super::GenerateError;
use super::calendar::DateTable;

/// Bytes buffered before a block is handed to the writer thread.
const FLUSH_AT: usize = 1 << 20;
/// Blocks that may wait for the writer thread before formatting blocks (bounds memory at ~4 MiB a file).
const QUEUED_BLOCKS: usize = 3;

/// "00" "01" … "99": integers are formatted two digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// One output CSV file being written.
pub(crate) struct CsvSink<'scope> {
    path: PathBuf,
    partial: PathBuf,
    buf: Vec<u8>,
    rows: u64,
    /// Full blocks to the writer thread; `None` once finished.
    blocks: Option<SyncSender<Vec<u8>>>,
    /// Written blocks coming back for reuse.
    spare: Receiver<Vec<u8>>,
    writer: Option<ScopedJoinHandle<'scope, Result<(), GenerateError>>>,
}

/// A completely written file, waiting to be renamed into place.
pub(crate) struct Written {
    path: PathBuf,
    partial: PathBuf,
}

impl Written {
    /// Renames `<name>.partial` to `<name>`.
    pub(crate) fn publish(self) -> Result<(), GenerateError> {
        std::fs::rename(&self.partial, &self.path)
            .map_err(|source| GenerateError::PublishOutput { path: self.path, source })
    }
}

/// The writer thread: writes blocks in order until the sender hangs up, returning each block for reuse.
fn write_blocks(
    mut file: File,
    partial: &Path,
    blocks: &Receiver<Vec<u8>>,
    spare: &std::sync::mpsc::Sender<Vec<u8>>,
) -> Result<(), GenerateError> {
    let failed = |source| GenerateError::WriteRow { path: partial.to_path_buf(), source };
    for mut block in blocks {
        file.write_all(&block).map_err(failed)?;
        block.clear();
        // The sink may be gone already; the block is then simply dropped.
        let _ = spare.send(block);
    }
    file.flush().map_err(failed)
}

impl<'scope> CsvSink<'scope> {
    /// Creates `<dir>/<name>.partial`, starts its writer thread in `scope`, and buffers the header line.
    pub(crate) fn create<'env>(
        scope: &'scope Scope<'scope, 'env>,
        dir: &Path,
        name: &str,
        header: &str,
    ) -> Result<Self, GenerateError> {
        let path = dir.join(name);
        let partial = dir.join(format!("{name}.partial"));
        let file =
            File::create(&partial).map_err(|source| GenerateError::CreateOutput { path: partial.clone(), source })?;
        let (block_tx, block_rx) = sync_channel::<Vec<u8>>(QUEUED_BLOCKS);
        let (spare_tx, spare_rx) = channel::<Vec<u8>>();
        let thread_partial = partial.clone();
        let writer = scope.spawn(move || write_blocks(file, &thread_partial, &block_rx, &spare_tx));
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Self { path, partial, buf, rows: 0, blocks: Some(block_tx), spare: spare_rx, writer: Some(writer) })
    }

    /// Data rows written so far (the header is not counted).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends raw bytes (the caller guarantees they need no quoting).
    #[inline]
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends the field separator.
    #[inline]
    pub(crate) fn sep(&mut self) {
        self.buf.push(b',');
    }

    /// Appends a text field, quoted RFC 4180 style if it holds a separator, a quote or a line break.
    pub(crate) fn text(&mut self, s: &str) {
        if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.buf.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
    }

    /// Appends an unsigned integer in decimal.
    #[inline]
    pub(crate) fn uint(&mut self, n: u64) {
        self.padded(b"", n, 1);
    }

    /// Appends `prefix` then `n` zero-padded to at least `width` digits (`C000123`, `INV0000001`).
    #[inline]
    pub(crate) fn padded(&mut self, prefix: &[u8], mut n: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            i -= 2;
            digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            i -= 2;
            digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            digits[i] = b'0' + n as u8;
        }
        let start = i.min(digits.len().saturating_sub(width));
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(&digits[start..]);
    }

    /// Appends a non-negative fixed-point number given in units of 10^-`scale` (`12345`, 2 → `123.45`).
    #[inline]
    pub(crate) fn fixed(&mut self, units: u64, scale: u32) {
        let unit = 10u64.pow(scale);
        self.uint(units / unit);
        self.buf.push(b'.');
        self.padded(b"", units % unit, scale as usize);
    }

    /// Appends an amount in cents as `123.45`.
    #[inline]
    pub(crate) fn cents(&mut self, cents: u64) {
        self.fixed(cents, 2);
    }

    /// Appends a day as `YYYY-MM-DD`.
    #[inline]
    pub(crate) fn date(&mut self, dates: &DateTable, day: i32) {
        dates.push(day, &mut self.buf);
    }

    /// Appends `true` or `false`.
    #[inline]
    pub(crate) fn boolean(&mut self, b: bool) {
        self.buf.extend_from_slice(if b { b"true" } else { b"false" });
    }

    /// Ends the row, flushing the buffer to the file when it is full.
    #[inline]
    pub(crate) fn end_row(&mut self) -> Result<(), GenerateError> {
        self.buf.push(b'\n');
        self.rows += 1;
        if self.buf.len() >= FLUSH_AT { self.flush() } else { Ok(()) }
    }

    /// Hands the buffer to the writer thread and continues in a recycled (or new) one.
    fn flush(&mut self) -> Result<(), GenerateError> {
        let next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(FLUSH_AT + 4096));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self.blocks.as_ref().is_some_and(|blocks| blocks.send(full).is_ok());
        if sent { Ok(()) } else { self.join_writer().and(Err(self.writer_gone())) }
    }

    /// Waits for the writer thread and returns its result.
    fn join_writer(&mut self) -> Result<(), GenerateError> {
        self.blocks = None;
        match self.writer.take() {
            Some(handle) => handle.join().unwrap_or_else(|_| Err(self.writer_gone())),
            None => Ok(()),
        }
    }

    /// The error for a writer thread that stopped without saying why (it panicked).
    fn writer_gone(&self) -> GenerateError {
        GenerateError::WriteRow {
            path: self.partial.clone(),
            source: std::io::Error::other("the file's writer thread stopped unexpectedly"),
        }
    }

    /// Writes what is buffered, waits for the writer thread, and closes the file; the caller publishes it
    /// once every file is written.
    pub(crate) fn finish(mut self) -> Result<Written, GenerateError> {
        self.flush()?;
        self.join_writer()?;
        Ok(Written { path: self.path.clone(), partial: self.partial.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_with_padding_and_fixed_decimals() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::thread::scope(|scope| {
            let mut sink = CsvSink::create(scope, dir.path(), "t.csv", "h").unwrap_or_else(|e| panic!("{e}"));
            sink.buf.clear();
            for n in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
                sink.uint(n);
                sink.sep();
            }
            sink.padded(b"C", 123, 6);
            sink.sep();
            sink.padded(b"P", 12_345_678, 7);
            sink.sep();
            sink.cents(5);
            sink.sep();
            sink.cents(123_456);
            sink.sep();
            sink.fixed(920_000, 6);
            sink.sep();
            sink.text("Acme, \"the\" best");
            assert_eq!(
                String::from_utf8_lossy(&sink.buf),
                "0,7,10,99,100,12345,18446744073709551615,C000123,P12345678,0.05,1234.56,0.920000,\
                 \"Acme, \"\"the\"\" best\""
            );
        });
    }

    #[test]
    fn a_file_of_many_blocks_is_written_whole_and_published_under_its_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let rows = 300_000u64;
        std::thread::scope(|scope| {
            let mut sink = CsvSink::create(scope, dir.path(), "n.csv", "n").unwrap_or_else(|e| panic!("{e}"));
            for n in 0..rows {
                sink.padded(b"ROW", n, 10);
                sink.end_row().unwrap_or_else(|e| panic!("{e}"));
            }
            assert_eq!(sink.rows(), rows);
            let written = sink.finish().unwrap_or_else(|e| panic!("{e}"));
            assert!(dir.path().join("n.csv.partial").exists());
            assert!(!dir.path().join("n.csv").exists(), "not published before publish()");
            written.publish().unwrap_or_else(|e| panic!("{e}"));
        });
        let text = std::fs::read_to_string(dir.path().join("n.csv")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text.len() as u64, 2 + rows * 14, "header plus 14 bytes a row, well over 1 MiB");
        assert!(text.ends_with("ROW0000299999\n"));
        assert!(!dir.path().join("n.csv.partial").exists());
    }
}
