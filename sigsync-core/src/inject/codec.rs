//! Transfer encodings: decode, and streaming re-encode straight into the output (charsets are
//! in `charset`).

use std::borrow::Cow;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::outcome::InjectError;
use super::structure::Cte;

/// Decodes a body's transfer encoding; 7bit, 8bit and binary borrow the input.
pub(crate) fn transfer_decode<'a>(body: &'a [u8], cte: &Cte) -> Result<Cow<'a, [u8]>, InjectError> {
    match cte {
        Cte::SevenBit | Cte::EightBit | Cte::Binary => Ok(Cow::Borrowed(body)),
        Cte::QuotedPrintable => Ok(Cow::Owned(qp_decode(body))),
        Cte::Base64 => b64_decode(body).map(Cow::Owned),
        Cte::Other(name) => Err(InjectError::Encoding(format!(
            "unsupported transfer encoding {name:?}"
        ))),
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lenient quoted-printable decoding: soft breaks (also with trailing whitespace) removed,
/// `=XX` decoded, any other `=` kept literally.
pub(crate) fn qp_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'=' {
            // copy a run without '='
            let run = memchr::memchr(b'=', &body[i..]).unwrap_or(body.len() - i);
            out.extend_from_slice(&body[i..i + run]);
            i += run;
            continue;
        }
        if let (Some(h), Some(l)) = (
            body.get(i + 1).copied().and_then(hex),
            body.get(i + 2).copied().and_then(hex),
        ) {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        let mut j = i + 1;
        while matches!(body.get(j), Some(b' ') | Some(b'\t')) {
            j += 1;
        }
        match (body.get(j), body.get(j + 1)) {
            (None, _) => i = j,
            (Some(b'\n'), _) => i = j + 1,
            (Some(b'\r'), Some(b'\n')) => i = j + 2,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// Where a quoted-printable soft break (`=`, optional white space, an eol) that starts at `i`
/// ends; `None` when none starts there.
fn soft_break_end(encoded: &[u8], i: usize) -> Option<usize> {
    if encoded.get(i) != Some(&b'=') {
        return None;
    }
    let mut j = i + 1;
    while matches!(encoded.get(j), Some(b' ') | Some(b'\t')) {
        j += 1;
    }
    match (encoded.get(j), encoded.get(j + 1)) {
        (Some(b'\n'), _) => Some(j + 1),
        (Some(b'\r'), Some(b'\n')) => Some(j + 2),
        _ => None,
    }
}

/// The offset in a quoted-printable body where its decoded bytes reach `k`, at a token
/// boundary (never inside `=XX`; after a soft break rather than before it).
pub(crate) fn qp_encoded_offset(encoded: &[u8], k: usize) -> Option<usize> {
    let mut d = 0;
    let mut i = 0;
    loop {
        // Soft breaks decode to nothing: step over them first.
        if let Some(next) = soft_break_end(encoded, i) {
            i = next;
            continue;
        }
        if d == k {
            return Some(i);
        }
        let c = *encoded.get(i)?;
        if c != b'=' {
            // A run without `=` decodes byte for byte: step over it at once.
            let run = memchr::memchr(b'=', &encoded[i..]).unwrap_or(encoded.len() - i);
            let n = run.min(k - d);
            i += n;
            d += n;
            continue;
        }
        let esc = encoded
            .get(i + 1)
            .copied()
            .and_then(hex)
            .and(encoded.get(i + 2).copied().and_then(hex));
        i += if esc.is_some() { 3 } else { 1 };
        d += 1;
    }
}

/// Quoted-printable for bytes spliced into an encoded body at `mid_line` or at a line start:
/// a soft break before (mid-line) and after (unless the data ends a line), so the original
/// encoded lines around it stay as they are.
pub(crate) fn qp_splice(data: &[u8], eol: &'static [u8], mid_line: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2 + 8);
    if mid_line {
        out.push(b'=');
        out.extend_from_slice(eol);
    }
    let mut enc = Encoder::new(&Cte::QuotedPrintable, eol);
    enc.write(data, &mut out);
    enc.finish(true, &mut out);
    out
}

const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Base64 decoding that skips whitespace and fails on any other non-alphabet byte.
pub(crate) fn b64_decode(body: &[u8]) -> Result<Vec<u8>, InjectError> {
    match b64_decode_lines(body) {
        Some(out) => Ok(out),
        None => b64_decode_lenient(body),
    }
}

/// The general path: white space skipped, padding only at the end (in any amount), trailing
/// bits allowed; any other non-alphabet byte is an error.
fn b64_decode_lenient(body: &[u8]) -> Result<Vec<u8>, InjectError> {
    let mut clean = Vec::with_capacity(body.len());
    for &c in body {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => clean.push(c),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => return Err(InjectError::Encoding("invalid byte in base64 body".into())),
        }
    }
    // Padding only at the end.
    let data_end = clean.iter().position(|&c| c == b'=').unwrap_or(clean.len());
    if clean[data_end..].iter().any(|&c| c != b'=') {
        return Err(InjectError::Encoding("base64 data after padding".into()));
    }
    B64_LENIENT
        .decode(&clean[..data_end])
        .map_err(|e| InjectError::Encoding(format!("bad base64: {e}")))
}

/// The common shape, decoded with SIMD: lines of whole 4-character groups, padding only on
/// the last line, nothing but line breaks and trailing white space between them. The lines
/// are gathered with `memchr` and decoded in one pass. `None` for anything else (the general
/// path then decides, with its own error).
fn b64_decode_lines(body: &[u8]) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(body.len());
    let mut padded = false;
    let mut start = 0;
    while start < body.len() {
        let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |i| start + i);
        let line = &body[start..end];
        start = end + 1;
        let len = line
            .iter()
            .rposition(|c| !matches!(c, b'\r' | b' ' | b'\t'))
            .map_or(0, |i| i + 1);
        if len == 0 {
            continue;
        }
        let line = &line[..len];
        if padded || len % 4 != 0 {
            return None;
        }
        padded = line.ends_with(b"=");
        buf.extend_from_slice(line);
    }
    let n = base64_simd::STANDARD.decode_inplace(&mut buf).ok()?.len();
    buf.truncate(n);
    Some(buf)
}

/// A streaming transfer encoder that writes into the output buffer.
pub(crate) enum Encoder {
    /// 7bit, 8bit, binary: bytes as they are.
    Identity,
    /// Quoted-printable with lines of at most 76 characters.
    Qp(QpState),
    /// Base64 with lines of 76 characters.
    B64(B64State),
}

/// State of the quoted-printable encoder.
pub(crate) struct QpState {
    eol: &'static [u8],
    line_len: usize,
    pending_ws: Option<u8>,
    pending_cr: bool,
}

/// State of the base64 encoder.
pub(crate) struct B64State {
    eol: &'static [u8],
    carry: Vec<u8>,
    wrote: bool,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

impl Encoder {
    /// An encoder for `cte` that ends lines with `eol`.
    pub fn new(cte: &Cte, eol: &'static [u8]) -> Encoder {
        match cte {
            Cte::QuotedPrintable => Encoder::Qp(QpState {
                eol,
                line_len: 0,
                pending_ws: None,
                pending_cr: false,
            }),
            Cte::Base64 => Encoder::B64(B64State {
                eol,
                carry: Vec::with_capacity(57),
                wrote: false,
            }),
            _ => Encoder::Identity,
        }
    }

    /// Encodes `data` into `out`.
    pub fn write(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            Encoder::Identity => out.extend_from_slice(data),
            Encoder::Qp(s) => s.write(data, out),
            Encoder::B64(s) => {
                let mut data = data;
                if !s.carry.is_empty() {
                    let take = (57 - s.carry.len()).min(data.len());
                    s.carry.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if s.carry.len() == 57 {
                        b64_line(&s.carry, s.eol, out);
                        s.carry.clear();
                        s.wrote = true;
                    }
                }
                let mut chunks = data.chunks_exact(57);
                for c in &mut chunks {
                    b64_line(c, s.eol, out);
                    s.wrote = true;
                }
                s.carry.extend_from_slice(chunks.remainder());
            }
        }
    }

    /// Flushes what is pending. `ends_with_eol` says whether the original body ended with a
    /// line break, which the re-encoded body keeps (as a soft break for quoted-printable).
    pub fn finish(&mut self, ends_with_eol: bool, out: &mut Vec<u8>) {
        match self {
            Encoder::Identity => {}
            Encoder::Qp(s) => {
                if s.pending_cr {
                    s.pending_cr = false;
                    s.token(b"=0D", out);
                }
                if let Some(ws) = s.pending_ws.take() {
                    s.token(
                        &[b'=', HEX[(ws >> 4) as usize], HEX[(ws & 15) as usize]],
                        out,
                    );
                }
                if ends_with_eol && s.line_len > 0 {
                    out.push(b'=');
                    out.extend_from_slice(s.eol);
                    s.line_len = 0;
                }
            }
            Encoder::B64(s) => {
                if !s.carry.is_empty() {
                    b64_line(&s.carry, s.eol, out);
                    s.carry.clear();
                    s.wrote = true;
                }
                if !ends_with_eol && s.wrote && out.ends_with(s.eol) {
                    out.truncate(out.len() - s.eol.len());
                }
            }
        }
    }
}

fn b64_line(chunk: &[u8], eol: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + chunk.len().div_ceil(3) * 4, 0);
    let n = base64_simd::STANDARD
        .encode(chunk, base64_simd::Out::from_slice(&mut out[start..]))
        .len();
    out.truncate(start + n);
    out.extend_from_slice(eol);
}

impl QpState {
    fn token(&mut self, t: &[u8], out: &mut Vec<u8>) {
        if self.line_len + t.len() > 75 {
            out.push(b'=');
            out.extend_from_slice(self.eol);
            self.line_len = 0;
        }
        out.extend_from_slice(t);
        self.line_len += t.len();
    }

    fn flush_ws_literal(&mut self, out: &mut Vec<u8>) {
        if let Some(ws) = self.pending_ws.take() {
            self.token(&[ws], out);
        }
    }

    fn hard_break(&mut self, out: &mut Vec<u8>) {
        if let Some(ws) = self.pending_ws.take() {
            self.token(
                &[b'=', HEX[(ws >> 4) as usize], HEX[(ws & 15) as usize]],
                out,
            );
        }
        out.extend_from_slice(self.eol);
        self.line_len = 0;
    }

    /// Encodes `data`: runs of characters that stand for themselves are copied a line's
    /// worth at a time; everything else goes through [`QpState::byte`]. The output is the
    /// same as encoding byte by byte.
    fn write(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            let literal = matches!(b, 33..=60 | 62..=126);
            let line_start_escape = self.line_len == 0 && matches!(b, b'.' | b'F' | b'-');
            if !literal || self.pending_cr || self.pending_ws.is_some() || line_start_escape {
                self.byte(b, out);
                i += 1;
                continue;
            }
            let run = data[i..]
                .iter()
                .position(|c| !matches!(c, 33..=60 | 62..=126))
                .unwrap_or(data.len() - i);
            let mut chunk = &data[i..i + run];
            i += run;
            while !chunk.is_empty() {
                if self.line_len >= 75 {
                    out.push(b'=');
                    out.extend_from_slice(self.eol);
                    self.line_len = 0;
                }
                if self.line_len == 0 && matches!(chunk[0], b'.' | b'F' | b'-') {
                    // A soft break put it at the start of a line: escaped, as after a hard one.
                    self.byte(chunk[0], out);
                    chunk = &chunk[1..];
                    continue;
                }
                let n = (75 - self.line_len).min(chunk.len());
                out.extend_from_slice(&chunk[..n]);
                self.line_len += n;
                chunk = &chunk[n..];
            }
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            if b == b'\n' {
                self.hard_break(out);
                return;
            }
            self.flush_ws_literal(out);
            self.token(b"=0D", out);
        }
        match b {
            b'\r' => self.pending_cr = true,
            b'\n' => self.hard_break(out),
            b' ' | b'\t' => {
                self.flush_ws_literal(out);
                self.pending_ws = Some(b);
            }
            33..=60 | 62..=126 => {
                self.flush_ws_literal(out);
                if self.line_len + 1 > 75 {
                    // The soft break comes first, so that the line-start rule below sees it.
                    out.push(b'=');
                    out.extend_from_slice(self.eol);
                    self.line_len = 0;
                }
                // A '.' or "From " at the start of a line (after a hard or a soft break)
                // survives careless relays as =XX, and a '-' there can never start a multipart
                // delimiter line.
                if self.line_len == 0 && matches!(b, b'.' | b'F' | b'-') {
                    self.token(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]], out);
                } else {
                    self.token(&[b], out);
                }
            }
            _ => {
                self.flush_ws_literal(out);
                self.token(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]], out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qp(data: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(&Cte::QuotedPrintable, b"\r\n");
        let mut out = Vec::new();
        e.write(data, &mut out);
        e.finish(false, &mut out);
        out
    }

    #[test]
    fn qp_round_trips_and_keeps_lines_within_76() {
        let data = "Grüße =   \r\nFrom here\r\n.dot ".repeat(20) + &"x".repeat(300);
        let enc = qp(data.as_bytes());
        assert!(enc.split(|&c| c == b'\n').all(|l| l.len() <= 77), "{enc:?}");
        assert_eq!(qp_decode(&enc), data.as_bytes());
    }

    proptest::proptest! {
        /// The run-at-a-time encoder writes exactly what encoding byte by byte writes,
        /// however the input is split into calls.
        #[test]
        fn qp_fast_path_matches_byte_by_byte(
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => 33u8..=126,
                    1 => proptest::sample::select(vec![b' ', b'\t', b'\r', b'\n', b'.', b'F', b'-', b'=', 0xe9]),
                ],
                0..400,
            ),
            cut in 0usize..400,
        ) {
            let mut slow = QpState { eol: b"\r\n", line_len: 0, pending_ws: None, pending_cr: false };
            let mut want = Vec::new();
            for &b in &data {
                slow.byte(b, &mut want);
            }
            let mut fast = Encoder::new(&Cte::QuotedPrintable, b"\r\n");
            let mut got = Vec::new();
            let cut = cut.min(data.len());
            fast.write(&data[..cut], &mut got);
            fast.write(&data[cut..], &mut got);
            let mut slow = Encoder::Qp(slow);
            slow.finish(true, &mut want);
            fast.finish(true, &mut got);
            proptest::prop_assert_eq!(got, want);
        }
    }

    /// The byte-at-a-time mapping that `qp_encoded_offset` must agree with.
    fn offset_byte_by_byte(encoded: &[u8], k: usize) -> Option<usize> {
        let (mut d, mut i) = (0, 0);
        loop {
            if let Some(next) = soft_break_end(encoded, i) {
                i = next;
                continue;
            }
            if d == k {
                return Some(i);
            }
            let c = *encoded.get(i)?;
            let esc = c == b'='
                && encoded.get(i + 1).copied().and_then(hex).is_some()
                && encoded.get(i + 2).copied().and_then(hex).is_some();
            i += if esc { 3 } else { 1 };
            d += 1;
        }
    }

    proptest::proptest! {
        #[test]
        fn qp_offsets_match_the_byte_by_byte_mapping(
            encoded in proptest::collection::vec(
                proptest::sample::select(b"ab=3D\r\n \tzF".to_vec()), 0..200),
        ) {
            for k in 0..=encoded.len() + 1 {
                proptest::prop_assert_eq!(
                    qp_encoded_offset(&encoded, k),
                    offset_byte_by_byte(&encoded, k),
                    "k = {}", k
                );
            }
        }
    }

    proptest::proptest! {
        /// The line-by-line path, when it takes a body, decodes it as the general path does.
        #[test]
        fn b64_lines_decode_as_the_general_path(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            width in 1usize..30,
            crlf in proptest::bool::ANY,
            damage in proptest::option::of((0usize..400, proptest::sample::select(b"=-A \n".to_vec()))),
        ) {
            let text = base64::engine::general_purpose::STANDARD.encode(&data);
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut body = Vec::new();
            for chunk in text.as_bytes().chunks(width * 4) {
                body.extend_from_slice(chunk);
                body.extend_from_slice(eol);
            }
            if let Some((at, c)) = damage {
                let at = at.min(body.len());
                body.insert(at, c);
            }
            if let Some(fast) = b64_decode_lines(&body) {
                proptest::prop_assert_eq!(Some(fast), b64_decode_lenient(&body).ok());
            }
            if damage.is_none() {
                proptest::prop_assert_eq!(b64_decode(&body).ok(), Some(data));
            }
        }
    }

    #[test]
    fn qp_decode_joins_soft_breaks_split_inside_a_tag() {
        assert_eq!(qp_decode(b"</bo=\r\ndy>=3D=\n =zz"), b"</body>= =zz");
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for split in [0, 1, 56, 57, 58, 999] {
            let mut e = Encoder::new(&Cte::Base64, b"\n");
            let mut out = Vec::new();
            e.write(&data[..split], &mut out);
            e.write(&data[split..], &mut out);
            e.finish(true, &mut out);
            assert!(out.split(|&c| c == b'\n').all(|l| l.len() <= 76));
            assert!(out.ends_with(b"\n"));
            assert_eq!(b64_decode(&out).unwrap(), data);
        }
        assert!(b64_decode(b"QUJD*").is_err());
        assert!(b64_decode(b"QQ==QQ==").is_err());
    }
}
