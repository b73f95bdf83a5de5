//! SMTP replies: parsing the next hop's (multi-line, with RFC 3463 enhanced codes of any width,
//! e.g. `5.7.64`) and formatting ours as full RFC 5321 lines.
//!
//! Our own parser rather than smtp-proto's `ResponseReceiver`: that one reads only one-digit
//! subject and detail fields (so `5.7.64 TenantAttribution` and `4.4.62` lose their code) and
//! joins the lines, which we pass on one by one.
//!
//! A reply is written on every command and read for every command sent on: its text is one
//! string (lines joined by `\n`, which no line holds), borrowed when it is ours and constant.
//!
//! (Over 600 lines: more than a third is tests, with the former string-based parsers kept as
//! oracles for the byte-based ones.)

use std::borrow::Cow;
use std::fmt;

/// The longest reply line we accept from a next hop (RFC 5321 §4.5.3.1.5 says 512; we allow
/// more, as real servers exceed it).
pub(crate) const MAX_REPLY_LINE: usize = 4096;
/// The most lines of one reply we accept.
pub(crate) const MAX_REPLY_LINES: usize = 128;

/// An RFC 3463 enhanced status code: `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedCode {
    /// 2, 4 or 5.
    pub class: u8,
    /// 0-999.
    pub subject: u16,
    /// 0-999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses `class.subject.detail` (each field 1-3 digits, class 2, 4 or 5).
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_bytes(s.as_bytes())
    }

    /// As [`EnhancedCode::parse`], on bytes (a next hop's reply, read for every command).
    fn from_bytes(s: &[u8]) -> Option<Self> {
        let mut fields = [0u16; 3];
        let mut it = s.split(|&b| b == b'.');
        for (field, max) in fields.iter_mut().zip([1, 3, 3]) {
            let f = it.next()?;
            if f.is_empty() || f.len() > max || !f.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *field = f.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0'));
        }
        if it.next().is_some() {
            return None;
        }
        let [class, subject, detail] = fields;
        let class = class as u8;
        matches!(class, 2 | 4 | 5).then_some(EnhancedCode {
            class,
            subject,
            detail,
        })
    }
}

impl EnhancedCode {
    /// Writes `class.subject.detail` at the start of `buf` (as `Display` does, without its
    /// machinery: replies are written on every command); returns its length (at most 17).
    fn write_into(&self, buf: &mut [u8]) -> usize {
        let mut len = 0;
        for (i, n) in [u16::from(self.class), self.subject, self.detail]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            len += put_decimal(&mut buf[len..], n);
        }
        len
    }

    /// `text` after this code as [`EnhancedCode::write_into`] writes it, if it starts so.
    fn strip_from<'a>(&self, mut text: &'a [u8]) -> Option<&'a [u8]> {
        for (i, n) in [u16::from(self.class), self.subject, self.detail]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                text = text.strip_prefix(b".")?;
            }
            let (digits, start) = decimal(n);
            text = text.strip_prefix(&digits[start..])?;
        }
        Some(text)
    }
}

/// `n` in decimal: the digits are `.0[.1..]`.
fn decimal(mut n: u16) -> ([u8; 5], usize) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    (digits, i)
}

/// Writes `n` in decimal at the start of `buf`; returns how many digits.
fn put_decimal(buf: &mut [u8], n: u16) -> usize {
    let (digits, start) = decimal(n);
    let digits = &digits[start..];
    buf[..digits.len()].copy_from_slice(digits);
    digits.len()
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply: the code, the enhanced code (when the server sent one) and the text lines
/// without code or enhanced code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code, if any.
    pub enhanced: Option<EnhancedCode>,
    /// The text of the lines, joined by `\n` (see [`Reply::lines`]).
    text: Cow<'static, str>,
}

/// One line's text for a reply of ours: a line feed in it would end the line, so it becomes
/// a space (as a CR does on the wire).
fn one_line(text: Cow<'static, str>) -> Cow<'static, str> {
    if memchr::memchr(b'\n', text.as_bytes()).is_some() {
        Cow::Owned(text.replace('\n', " "))
    } else {
        text
    }
}

/// Why a next hop's reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Not an RFC 5321 reply line.
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    /// The lines of a multi-line reply carry different codes.
    #[error("reply lines carry different codes ({0} and {1})")]
    MixedCodes(u16, u16),
    /// A line or the whole reply is too long.
    #[error("reply too long")]
    TooLong,
}

impl Reply {
    /// A one-line reply with an enhanced code, e.g. `Reply::new(451, "4.4.1", "next hop down")`.
    ///
    /// # Panics
    /// When `enhanced` is not a valid enhanced code (a bug at the call site).
    pub fn new(code: u16, enhanced: &str, text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            code,
            enhanced: Some(EnhancedCode::parse(enhanced).expect("a valid enhanced code")),
            text: one_line(text.into()),
        }
    }

    /// A one-line reply without an enhanced code (greetings, EHLO).
    pub fn plain(code: u16, text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            code,
            enhanced: None,
            text: one_line(text.into()),
        }
    }

    /// A reply of several lines (at least one: none is one empty line).
    pub fn from_lines<S: AsRef<str>>(
        code: u16,
        enhanced: Option<EnhancedCode>,
        lines: impl IntoIterator<Item = S>,
    ) -> Self {
        let mut text = String::new();
        for (i, line) in lines.into_iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&one_line(Cow::Owned(line.as_ref().to_owned())));
        }
        Reply {
            code,
            enhanced,
            text: Cow::Owned(text),
        }
    }

    /// The text of each line, without code or enhanced code.
    pub fn lines(&self) -> std::str::Split<'_, char> {
        self.text.split('\n')
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx (e.g. 354 to DATA).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text of all lines joined by a space (for logs and pattern checks).
    pub fn text(&self) -> Cow<'_, str> {
        if memchr::memchr(b'\n', self.text.as_bytes()).is_some() {
            Cow::Owned(self.text.replace('\n', " "))
        } else {
            Cow::Borrowed(&self.text)
        }
    }

    /// The same reply made transient: a 5xx code becomes 451 (or 454 for 554/530 TLS and
    /// security replies, 452 for 552) and the enhanced class becomes 4. Used for replies that
    /// point at our configuration rather than at the message.
    pub fn into_transient(mut self) -> Self {
        if self.is_permanent() {
            self.code = match self.code {
                552 => 452,
                530 | 554 if self.enhanced.is_some_and(|e| e.subject == 7) => 454,
                _ => 451,
            };
        }
        if let Some(e) = self.enhanced.as_mut() {
            if e.class == 5 {
                e.class = 4;
            }
        }
        self
    }

    /// Why this next-hop reply points at our own configuration rather than at the message
    /// (reference §3.3), if it does: Exchange's tenant attribution (`5.7.64`, ATTR36), the
    /// wrong region or endpoint (`4.4.62`, ATTR35), an unattributed message (ATTR46), or our
    /// client certificate (ATTR41, a 7.x reply about a certificate or TLS).
    pub fn points_at_configuration(&self) -> Option<&'static str> {
        if self.is_positive() || self.is_intermediate() {
            return None;
        }
        let text = self.text().to_ascii_lowercase();
        let e = self.enhanced;
        if e.is_some_and(|e| e.subject == 7 && e.detail == 64)
            || text.contains("tenantattribution")
            || text.contains("attr36")
        {
            Some("tenant_attribution")
        } else if e.is_some_and(|e| e.subject == 4 && e.detail == 62) || text.contains("attr35") {
            Some("wrong_region")
        } else if text.contains("attr46") {
            Some("unattributed")
        } else if text.contains("attr41")
            || (e.is_some_and(|e| e.subject == 7)
                && (text.contains("certificate") || text.contains("tls")))
        {
            Some("certificate")
        } else {
            None
        }
    }

    /// The reply as sent on the wire: every line `code[-| ][enhanced ]text` with CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 32);
        self.write_to(&mut out);
        out
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // `code`, the separator, and the enhanced code with its space: put together once, on
        // the stack, and copied to each line.
        let mut head = [0u8; 32];
        let sep = put_decimal(&mut head, self.code);
        let mut len = sep + 1;
        if let Some(e) = &self.enhanced {
            len += e.write_into(&mut head[len..]);
            head[len] = b' ';
        }
        let mut rest = self.text.as_bytes();
        out.reserve(rest.len() + len + 3);
        loop {
            let (line, more) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            head[sep] = if more.is_none() { b' ' } else { b'-' };
            let space = self.enhanced.is_some() && !line.is_empty();
            out.extend_from_slice(&head[..len + usize::from(space)]);
            // Text never carries a line break onto the wire (LFs only separate lines).
            if memchr::memchr(b'\r', line).is_some() {
                out.extend(line.iter().map(|&b| if b == b'\r' { b' ' } else { b }));
            } else {
                out.extend_from_slice(line);
            }
            out.extend_from_slice(b"\r\n");
            match more {
                Some(m) => rest = m,
                None => break,
            }
        }
    }

    /// Parses one complete reply at the start of `buf`. `Ok(None)` when more bytes are
    /// needed; otherwise the reply and how many bytes it took.
    pub fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
        let mut pos = 0;
        let mut code = None;
        let mut lines = 0;
        let mut joined = String::new();
        let mut enhanced = None;
        loop {
            let rest = &buf[pos..];
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                if rest.len() > MAX_REPLY_LINE {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            if nl > MAX_REPLY_LINE || lines >= MAX_REPLY_LINES {
                return Err(ReplyError::TooLong);
            }
            let mut line = &rest[..nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            pos += nl + 1;
            if line.len() < 3
                || !line[..3].iter().all(u8::is_ascii_digit)
                || !(b'2'..=b'5').contains(&line[0])
                || (line.len() > 3 && line[3] != b' ' && line[3] != b'-')
            {
                return Err(ReplyError::Malformed(
                    String::from_utf8_lossy(line).into_owned(),
                ));
            }
            let this = line[..3]
                .iter()
                .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
            match code {
                None => code = Some(this),
                Some(c) if c != this => return Err(ReplyError::MixedCodes(c, this)),
                Some(_) => {}
            }
            let last = line.len() == 3 || line[3] == b' ';
            let text = line.get(4..).unwrap_or_default();
            if lines == 0 {
                // The enhanced code is taken when the first line starts with one of the
                // code's class.
                let word = text.split(|&b| b == b' ').next().unwrap_or_default();
                enhanced =
                    EnhancedCode::from_bytes(word).filter(|e| u16::from(e.class) == this / 100);
            } else {
                joined.push('\n');
            }
            // The enhanced code as we write it is stripped from the start of every line.
            let text = match enhanced.and_then(|e| e.strip_from(text)) {
                Some(rest) => rest.strip_prefix(b" ").unwrap_or(rest),
                None => text,
            };
            match std::str::from_utf8(text) {
                Ok(text) => joined.push_str(text),
                Err(_) => joined.push_str(&String::from_utf8_lossy(text)),
            }
            lines += 1;
            if last {
                break;
            }
        }
        Ok(Some((
            Reply {
                code: code.expect("at least one line"),
                enhanced,
                text: Cow::Owned(joined),
            },
            pos,
        )))
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.enhanced {
            Some(e) => write!(f, "{} {e} {}", self.code, self.text()),
            None => write!(f, "{} {}", self.code, self.text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Reply {
        let (r, n) = Reply::parse(s.as_bytes()).unwrap().unwrap();
        assert_eq!(n, s.len());
        r
    }

    #[test]
    fn enhanced_codes_of_any_width_are_read() {
        let r = parse("550 5.7.64 TenantAttribution; Relay Access Denied [ATTR36]\r\n");
        assert_eq!(r.code, 550);
        assert_eq!(r.enhanced, EnhancedCode::parse("5.7.64"));
        assert!(r
            .lines()
            .eq(["TenantAttribution; Relay Access Denied [ATTR36]"]));
        let r = parse("451 4.4.62 Mail sent to the wrong Office 365 region. ATTR35\r\n");
        assert_eq!(r.enhanced.unwrap().detail, 62);
        assert!(parse("250 2.0.0\r\n").lines().eq([""]));
        assert!(parse("250\r\n").lines().eq([""]));
    }

    #[test]
    fn multi_line_replies_keep_each_line_and_strip_the_code_from_each() {
        let r = parse("452-4.5.3 Too many recipients\r\n452 4.5.3 try again later\r\n");
        assert!(r.lines().eq(["Too many recipients", "try again later"]));
        assert_eq!(
            r.to_bytes(),
            b"452-4.5.3 Too many recipients\r\n452 4.5.3 try again later\r\n"
        );
    }

    #[test]
    fn a_code_that_does_not_match_the_class_is_text() {
        let r = parse("250 5.0.0 odd\r\n");
        assert_eq!(r.enhanced, None);
        assert!(r.lines().eq(["5.0.0 odd"]));
    }

    #[test]
    fn incomplete_replies_need_more_bytes_and_bad_ones_fail() {
        assert_eq!(Reply::parse(b"250-a\r\n250 b").unwrap(), None);
        assert_eq!(Reply::parse(b"").unwrap(), None);
        assert!(matches!(
            Reply::parse(b"hello\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            Reply::parse(b"250-a\r\n251 b\r\n"),
            Err(ReplyError::MixedCodes(250, 251))
        ));
        assert!(matches!(
            Reply::parse(&vec![b'2'; MAX_REPLY_LINE + 10]),
            Err(ReplyError::TooLong)
        ));
    }

    #[test]
    fn replies_that_point_at_configuration_become_transient() {
        let r = parse("550 5.7.64 TenantAttribution; Relay Access Denied\r\n").into_transient();
        assert_eq!(
            r.to_string(),
            "451 4.7.64 TenantAttribution; Relay Access Denied"
        );
        let r = parse("554 5.7.0 certificate rejected\r\n").into_transient();
        assert_eq!(r.code, 454);
        let r = parse("451 4.4.62 wrong region\r\n").into_transient();
        assert_eq!(r.code, 451);
    }

    #[test]
    fn configuration_replies_are_recognised_and_message_replies_are_not() {
        let reason = |s: &str| parse(s).points_at_configuration();
        assert_eq!(
            reason("550 5.7.64 TenantAttribution; Relay Access Denied [ATTR36]\r\n"),
            Some("tenant_attribution")
        );
        assert_eq!(
            reason("451 4.4.62 Mail sent to the wrong Office 365 region. ATTR35\r\n"),
            Some("wrong_region")
        );
        assert_eq!(
            reason("451 4.4.4 Mail received as unauthenticated ATTR35\r\n"),
            Some("wrong_region")
        );
        assert_eq!(
            reason("451 4.4.5 Address domain different from previous accepted address ATTR46\r\n"),
            Some("unattributed")
        );
        assert_eq!(reason("454 4.7.0 Failed to establish appropriate TLS channel ATTR41: CertificateExpired\r\n"), Some("certificate"));
        assert_eq!(
            reason("550 5.7.1 client certificate rejected\r\n"),
            Some("certificate")
        );
        for s in [
            "550 5.1.1 User unknown\r\n",
            "452 4.5.3 Too many recipients\r\n",
            "550 5.6.11 bare linefeeds\r\n",
            "250 2.0.0 OK\r\n",
            "354 go ahead\r\n",
        ] {
            assert_eq!(reason(s), None, "{s}");
        }
    }

    /// The parser as it was before it worked on bytes (lossy strings, the enhanced code
    /// formatted per line): the oracle for the property below.
    fn parse_by_strings(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
        let mut pos = 0;
        let mut code = None;
        let mut raw_lines = Vec::new();
        loop {
            let rest = &buf[pos..];
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                if rest.len() > MAX_REPLY_LINE {
                    return Err(ReplyError::TooLong);
                }
                return Ok(None);
            };
            if nl > MAX_REPLY_LINE || raw_lines.len() >= MAX_REPLY_LINES {
                return Err(ReplyError::TooLong);
            }
            let mut line = &rest[..nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            pos += nl + 1;
            let text = String::from_utf8_lossy(line);
            let bytes = line;
            if bytes.len() < 3
                || !bytes[..3].iter().all(u8::is_ascii_digit)
                || !(b'2'..=b'5').contains(&bytes[0])
                || (bytes.len() > 3 && bytes[3] != b' ' && bytes[3] != b'-')
            {
                return Err(ReplyError::Malformed(text.into_owned()));
            }
            let this: u16 = text[..3].parse().expect("three digits");
            match code {
                None => code = Some(this),
                Some(c) if c != this => return Err(ReplyError::MixedCodes(c, this)),
                Some(_) => {}
            }
            let last = bytes.len() == 3 || bytes[3] == b' ';
            raw_lines.push(text.get(4..).unwrap_or("").to_owned());
            if last {
                break;
            }
        }
        let code = code.expect("at least one line");
        let enhanced = raw_lines
            .first()
            .and_then(|l| enhanced_by_strings(l.split(' ').next().unwrap_or("")))
            .filter(|e| u16::from(e.class) == code / 100);
        let lines: Vec<String> = raw_lines
            .into_iter()
            .map(|l| match enhanced {
                Some(e) => match l.strip_prefix(&e.to_string()) {
                    Some(rest) => rest.strip_prefix(' ').unwrap_or(rest).to_owned(),
                    None => l,
                },
                None => l,
            })
            .collect();
        Ok(Some((Reply::from_lines(code, enhanced, lines), pos)))
    }

    /// One line of something like a reply: right, or wrong in one of the ways servers are.
    fn reply_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let code =
            proptest::sample::select(vec!["250", "451", "550", "554", "354", "199", "25x", "25"]);
        let sep = proptest::sample::select(vec![" ", "-", "", "x"]);
        let enhanced = proptest::sample::select(vec![
            "",
            "2.0.0 ",
            "2.0.0",
            "4.4.1 ",
            "5.7.64 ",
            "5.07.64 ",
            "5.7.1234 ",
            "4.7.1 ",
            "9.1.1 ",
            "5.7. ",
        ]);
        let text = proptest::collection::vec(
            proptest::sample::select(vec![b'a', b' ', b'.', b'5', 0xc3, 0xa9, 0xff, b'\r']),
            0..12,
        );
        let end = proptest::sample::select(vec!["\r\n", "\n", ""]);
        (code, sep, enhanced, text, end).prop_map(|(c, s, e, t, n)| {
            [c.as_bytes(), s.as_bytes(), e.as_bytes(), &t, n.as_bytes()].concat()
        })
    }

    proptest::proptest! {
        /// Reading replies as bytes gives what reading them as strings gave, replies and
        /// errors alike.
        #[test]
        fn parsing_bytes_gives_what_parsing_strings_gave(
            lines in proptest::collection::vec(reply_line(), 1..5),
        ) {
            let buf = lines.concat();
            proptest::prop_assert_eq!(Reply::parse(&buf), parse_by_strings(&buf));
        }
    }

    proptest::proptest! {
        /// The wire form is `code[-| ][enhanced ]text` per line, whatever the numbers (the
        /// digits are written by hand, not by `fmt`), and it parses back to the same reply.
        #[test]
        fn replies_are_written_as_their_display_form_and_parse_back(
            code in 200u16..600,
            class in proptest::sample::select(vec![2u8, 4, 5]),
            subject in 0u16..1000,
            detail in 0u16..1000,
            with_enhanced: bool,
            lines in proptest::collection::vec("[a-zA-Z0-9 ]{0,12}", 1..4),
        ) {
            let enhanced = with_enhanced.then_some(EnhancedCode { class, subject, detail });
            let reply = Reply::from_lines(code, enhanced, &lines);
            let mut expected = String::new();
            for (i, line) in lines.iter().enumerate() {
                let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                expected.push_str(&format!("{code}{sep}"));
                if let Some(e) = enhanced {
                    expected.push_str(&e.to_string());
                    if !line.is_empty() {
                        expected.push(' ');
                    }
                }
                expected.push_str(line);
                expected.push_str("\r\n");
            }
            proptest::prop_assert_eq!(String::from_utf8(reply.to_bytes()).unwrap(), expected);
            if enhanced.is_none_or(|e| u16::from(e.class) == code / 100) {
                let (back, n) = Reply::parse(&reply.to_bytes()).unwrap().unwrap();
                proptest::prop_assert_eq!(n, reply.to_bytes().len());
                proptest::prop_assert_eq!(back.code, code);
                proptest::prop_assert_eq!(back.enhanced, enhanced);
            }
        }
    }

    /// `EnhancedCode::parse` as it was (on strings, with `str::parse`): the oracle below.
    fn enhanced_by_strings(s: &str) -> Option<EnhancedCode> {
        let mut it = s.split('.');
        let (c, s, d) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let field = |f: &str, max: usize| {
            (!f.is_empty() && f.len() <= max && f.bytes().all(|b| b.is_ascii_digit()))
                .then(|| f.parse::<u16>().ok())
                .flatten()
        };
        let class = field(c, 1)? as u8;
        matches!(class, 2 | 4 | 5).then_some(EnhancedCode {
            class,
            subject: field(s, 3)?,
            detail: field(d, 3)?,
        })
    }

    proptest::proptest! {
        /// Enhanced codes read as bytes are what reading them as strings gave.
        #[test]
        fn enhanced_codes_read_as_bytes_are_what_strings_gave(s in "[0-9.a+-]{0,12}") {
            proptest::prop_assert_eq!(EnhancedCode::parse(&s), enhanced_by_strings(&s));
        }
    }

    #[test]
    fn our_replies_never_carry_a_line_break_in_the_text() {
        let r = Reply::new(451, "4.4.1", "a\r\nb");
        assert_eq!(r.to_bytes(), b"451 4.4.1 a  b\r\n");
        assert_eq!(r.lines().count(), 1);
        // A next hop's CR inside a line is passed on as a space, its lines as lines.
        let r = parse("250-a\rb\r\n250 c\r\n");
        assert_eq!(r.to_bytes(), b"250-a b\r\n250 c\r\n");
        let r = Reply::from_lines(250, None, ["x\ny", "z"]);
        assert_eq!(r.to_bytes(), b"250-x y\r\n250 z\r\n");
    }
}
