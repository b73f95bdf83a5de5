//! Message data on the wire: DATA's dot-unstuffing (smtp-proto's receiver) and dot-stuffing,
//! BDAT chunks, and the bare-LF check that decides DATA or BDAT towards the next hop.

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver};

/// Receives a DATA body: unstuffs dots and finds the `CRLF.CRLF` end (only a CRLF-framed dot
/// ends the data: a bare LF before the dot does not, which closes the SMTP smuggling gap).
///
/// smtp-proto's receiver starts as if in the middle of a line, so a message that is only the
/// terminating dot, or that starts with a stuffed dot, would be misread; we start it with a
/// CRLF that is taken off again.
pub(crate) struct DataDecoder {
    inner: DataReceiver,
    seeded: bool,
}

impl DataDecoder {
    pub(crate) fn new() -> Self {
        DataDecoder {
            inner: DataReceiver::new(),
            seeded: false,
        }
    }

    /// Feeds `input`; appends the unstuffed message to `out`. Returns how many bytes of
    /// `input` were used and whether the end was seen (bytes after it are not used). `out`
    /// must be the same buffer across calls; when the end is seen it holds the message with
    /// its final CRLF.
    pub(crate) fn ingest(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        if !self.seeded {
            self.seeded = true;
            let mut seed = b"\r\n".iter();
            self.inner.ingest(&mut seed, out);
            out.truncate(out.len() - 2);
        }
        let mut it = input.iter();
        let done = self.inner.ingest(&mut it, out);
        (input.len() - it.as_slice().len(), done)
    }
}

/// Receives one BDAT chunk of a known size.
pub(crate) struct ChunkReader {
    inner: BdatReceiver,
}

impl ChunkReader {
    pub(crate) fn new(size: usize) -> Self {
        ChunkReader {
            inner: BdatReceiver::new(size, false),
        }
    }

    /// Feeds `input`, appending the chunk's bytes to `out`; returns the bytes used and whether
    /// the chunk is complete.
    pub(crate) fn ingest(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        let mut it = input.iter();
        let done = self.inner.ingest(&mut it, out);
        (input.len() - it.as_slice().len(), done)
    }
}

/// Whether `msg` has a line feed not preceded by a carriage return (Exchange refuses those over
/// DATA with `550 5.6.11`; they must go by BDAT).
pub(crate) fn has_bare_lf(msg: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', msg).any(|i| i == 0 || msg[i - 1] != b'\r')
}

/// Dot-stuffs message bytes for DATA, a piece at a time: a `.` that starts a line is doubled,
/// and a bare LF becomes CRLF (a next hop without CHUNKING gets a well-formed message rather
/// than one it may refuse or misread).
#[derive(Debug, Default)]
pub(crate) struct DotStuffer {
    /// The previous byte written was a CR.
    after_cr: bool,
    /// At the start of a line (true before the first byte).
    at_line_start: bool,
}

impl DotStuffer {
    pub(crate) fn new() -> Self {
        DotStuffer {
            after_cr: false,
            at_line_start: true,
        }
    }

    /// Appends the stuffed form of `piece` (the next bytes of the message) to `out`.
    ///
    /// Only line feeds are looked for (a line-leading dot follows one, or starts the piece):
    /// text has many more dots than lines.
    pub(crate) fn stuff(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        out.reserve(piece.len() + piece.len() / 64 + 4);
        let Some(&last) = piece.last() else {
            return;
        };
        // Bytes from `start` on are not written yet; a doubled dot is written as one more dot
        // before the pending one.
        let mut start = 0;
        if self.at_line_start && piece[0] == b'.' {
            out.push(b'.');
        }
        for i in memchr::memchr_iter(b'\n', piece) {
            let cr = if i == 0 {
                self.after_cr
            } else {
                piece[i - 1] == b'\r'
            };
            if !cr {
                out.extend_from_slice(&piece[start..i]);
                out.extend_from_slice(b"\r\n");
                start = i + 1;
            }
            if piece.get(i + 1) == Some(&b'.') {
                out.extend_from_slice(&piece[start..=i]);
                out.push(b'.');
                start = i + 1;
            }
        }
        out.extend_from_slice(&piece[start..]);
        self.after_cr = last == b'\r';
        self.at_line_start = last == b'\n';
    }

    /// The end of the data: a CRLF if the message did not end with one, then `.CRLF`.
    pub(crate) fn finish(&self) -> &'static [u8] {
        if self.at_line_start {
            b".\r\n"
        } else {
            b"\r\n.\r\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(pieces: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut d = DataDecoder::new();
        let mut out = Vec::new();
        for (n, p) in pieces.iter().enumerate() {
            let (used, done) = d.ingest(p, &mut out);
            if done {
                let mut rest = p[used..].to_vec();
                for q in &pieces[n + 1..] {
                    rest.extend_from_slice(q);
                }
                return (out, rest);
            }
            assert_eq!(used, p.len());
        }
        panic!("no end seen in {pieces:?}");
    }

    #[test]
    fn data_is_unstuffed_and_ends_only_at_crlf_dot_crlf() {
        let (msg, rest) = decode(&[b"Subject: x\r\n\r\n..dot\r\n", b"a\n.\nb\r\n.\r\nQUIT\r\n"]);
        assert_eq!(msg, b"Subject: x\r\n\r\n.dot\r\na\n.\nb\r\n");
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn data_that_starts_with_a_dot_or_is_empty_is_read_right() {
        assert_eq!(decode(&[b".\r\n"]).0, b"");
        assert_eq!(decode(&[b"..a\r\n.\r\n"]).0, b".a\r\n");
        // Split at every position: the end is found wherever the bytes are cut.
        let wire = b"..x\r\n\r\n..\r\ny\r\n.\r\nNOOP\r\n";
        for cut in 0..wire.len() {
            let (msg, rest) = decode(&[&wire[..cut], &wire[cut..]]);
            assert_eq!(
                (msg.as_slice(), rest.as_slice()),
                (&b".x\r\n\r\n.\r\ny\r\n"[..], &b"NOOP\r\n"[..]),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bdat_chunks_take_exactly_their_size() {
        let mut r = ChunkReader::new(5);
        let mut out = Vec::new();
        assert_eq!(r.ingest(b"abc", &mut out), (3, false));
        assert_eq!(r.ingest(b"de\r\nQUIT", &mut out), (2, true));
        assert_eq!(out, b"abcde");
    }

    #[test]
    fn bare_lf_is_detected() {
        assert!(!has_bare_lf(b"a\r\nb\r\n"));
        assert!(has_bare_lf(b"a\nb"));
        assert!(has_bare_lf(b"\n"));
        assert!(!has_bare_lf(b"a\rb"));
    }

    fn stuff_all(msg: &[u8], cut: usize) -> Vec<u8> {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        s.stuff(&msg[..cut], &mut out);
        s.stuff(&msg[cut..], &mut out);
        out.extend_from_slice(s.finish());
        out
    }

    #[test]
    fn stuffing_doubles_line_leading_dots_wherever_the_message_is_cut_and_round_trips() {
        let msg = b".a\r\nb.c\r\n.\r\n..\r\nbare\nlf.\n.x";
        let want = b"..a\r\nb.c\r\n..\r\n...\r\nbare\r\nlf.\r\n..x\r\n.\r\n";
        for cut in 0..=msg.len() {
            assert_eq!(stuff_all(msg, cut), want, "cut {cut}");
        }
        // What we stuff, a receiver unstuffs to the message (bare LFs now CRLF).
        let (back, _) = decode(&[want]);
        assert_eq!(back, b".a\r\nb.c\r\n.\r\n..\r\nbare\r\nlf.\r\n.x\r\n");
        assert_eq!(stuff_all(b"", 0), b".\r\n");
        assert_eq!(stuff_all(b"a\r\n", 1), b"a\r\n.\r\n");
    }

    impl DotStuffer {
        /// The stuffer as it was (every dot and every LF looked at): the oracle below.
        fn stuff_by_dots_and_lfs(&mut self, piece: &[u8], out: &mut Vec<u8>) {
            out.reserve(piece.len() + piece.len() / 64 + 4);
            let mut start = 0;
            for i in memchr::memchr2_iter(b'\n', b'.', piece) {
                match piece[i] {
                    b'.' => {
                        let line_start = if i == 0 {
                            self.at_line_start
                        } else {
                            piece[i - 1] == b'\n'
                        };
                        if line_start {
                            out.extend_from_slice(&piece[start..=i]);
                            out.push(b'.');
                            start = i + 1;
                        }
                    }
                    _ => {
                        let cr = if i == 0 {
                            self.after_cr
                        } else {
                            piece[i - 1] == b'\r'
                        };
                        if !cr {
                            out.extend_from_slice(&piece[start..i]);
                            out.extend_from_slice(b"\r\n");
                            start = i + 1;
                        }
                    }
                }
            }
            out.extend_from_slice(&piece[start..]);
            if let Some(&last) = piece.last() {
                self.after_cr = last == b'\r';
                self.at_line_start = last == b'\n';
            }
        }
    }

    proptest::proptest! {
        /// Looking only at line feeds stuffs as looking at every dot and line feed did,
        /// wherever the message is cut.
        #[test]
        fn stuffing_by_line_feeds_gives_what_stuffing_by_dots_and_line_feeds_gave(
            msg in proptest::collection::vec(proptest::sample::select(vec![b'.', b'\r', b'\n', b'a']), 0..40),
            cuts in proptest::collection::vec(0usize..40, 0..3),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(msg.len())).collect();
            cuts.push(msg.len());
            cuts.sort_unstable();
            let (mut new, mut old) = (DotStuffer::new(), DotStuffer::new());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut from = 0;
            for c in cuts {
                new.stuff(&msg[from..c], &mut a);
                old.stuff_by_dots_and_lfs(&msg[from..c], &mut b);
                from = c;
            }
            a.extend_from_slice(new.finish());
            b.extend_from_slice(old.finish());
            proptest::prop_assert_eq!(a, b);
        }
    }
}
