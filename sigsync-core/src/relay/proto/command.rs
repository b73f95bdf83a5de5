//! SMTP commands from the sending side (Exchange), parsed with smtp-proto while the raw line
//! is kept: MAIL and RCPT go to the next hop verbatim but for the parameters we take off.
//!
//! smtp-proto refuses parameters it does not know (`XOORG`), so parameters are split off the
//! raw line first; the ones we handle ourselves are taken out, and the rest is validated by
//! smtp-proto.

use std::borrow::Cow;

use smtp_proto::{Error as ProtoError, Request};

use super::reply::Reply;

/// The longest command line we accept (smtp-proto's limit; RFC 5321 allows 512 plus
/// extension parameters).
pub(crate) const MAX_COMMAND_LINE: usize = 4096;

/// A parameter of MAIL or RCPT: its upper-cased keyword and the token as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub keyword: &'static str,
    pub raw: String,
}

/// What a MAIL or RCPT parameter belongs to, to decide what the next hop may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamExtension {
    /// `SIZE=`: taken off (the message grows by the signature); we check it ourselves.
    Size,
    /// `BODY=`: 8BITMIME.
    EightBitMime,
    /// `SMTPUTF8`.
    SmtpUtf8,
    /// `RET=`, `ENVID=`, `NOTIFY=`, `ORCPT=`: DSN.
    Dsn,
    /// `XOORG=`: taken off (Exchange's organisation, used for attribution).
    Xoorg,
}

impl Param {
    pub(crate) fn extension(&self) -> ParamExtension {
        match self.keyword {
            "SIZE" => ParamExtension::Size,
            "BODY" => ParamExtension::EightBitMime,
            "SMTPUTF8" => ParamExtension::SmtpUtf8,
            "XOORG" => ParamExtension::Xoorg,
            _ => ParamExtension::Dsn,
        }
    }
}

/// MAIL FROM or RCPT TO: the verbatim `MAIL FROM:<path>` part, the parameters, and what
/// smtp-proto read from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathCommand {
    /// `MAIL FROM:<a@b>` / `RCPT TO:<c@d>` as received.
    pub head: String,
    /// The address without angle brackets (empty for the null sender).
    pub address: String,
    /// The parameters as received, in order.
    pub params: Vec<Param>,
    /// `SIZE=` (MAIL only).
    pub size: Option<u64>,
    /// `XOORG=`, xtext-decoded (MAIL only, when XOORG is advertised).
    pub xoorg: Option<String>,
}

impl PathCommand {
    /// The line to send on: the head and the parameters `keep` allows, with CRLF.
    pub(crate) fn forward_line(&self, mut keep: impl FnMut(&Param) -> bool) -> String {
        let params: usize = self.params.iter().map(|p| p.raw.len() + 1).sum();
        let mut line = String::with_capacity(self.head.len() + params + 2);
        line.push_str(&self.head);
        for p in self.params.iter().filter(|p| keep(p)) {
            line.push(' ');
            line.push_str(&p.raw);
        }
        line.push_str("\r\n");
        line
    }

    /// The domain of the address (after the last `@`), lower-cased; `None` for `<>`.
    pub(crate) fn domain(&self) -> Option<String> {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
    }
}

/// A command of the sending side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Ehlo(String),
    Helo(String),
    StartTls,
    Mail(PathCommand),
    Rcpt(PathCommand),
    Data,
    Bdat {
        size: usize,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    /// A command we know but do not offer (AUTH, EXPN, ETRN, ...).
    NotImplemented(&'static str),
}

/// Options that change what the parser accepts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ParseOptions {
    /// XOORG is advertised, so `XOORG=` on MAIL is accepted.
    pub xoorg: bool,
}

const MAIL_PARAMS: &[&str] = &["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID"];
const RCPT_PARAMS: &[&str] = &["NOTIFY", "ORCPT"];

/// Parses one command line (with its line ending). An error is the reply to send.
pub(crate) fn parse(line: &[u8], opts: ParseOptions) -> Result<Command, Reply> {
    if line.len() > MAX_COMMAND_LINE {
        return Err(Reply::new(500, "5.5.6", "Command line too long"));
    }
    let verb_end = line
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(line.len());
    let verb = &line[..verb_end];
    if verb.eq_ignore_ascii_case(b"MAIL") {
        return parse_path(line, true, opts).map(Command::Mail);
    }
    if verb.eq_ignore_ascii_case(b"RCPT") {
        return parse_path(line, false, opts).map(Command::Rcpt);
    }
    let line: Cow<'_, [u8]> = if line.ends_with(b"\n") {
        Cow::Borrowed(line)
    } else {
        Cow::Owned([line, b"\n"].concat())
    };
    match Request::parse(&mut line.iter()) {
        Ok(Request::Ehlo { host }) => Ok(Command::Ehlo(host.into_owned())),
        Ok(Request::Helo { host }) => Ok(Command::Helo(host.into_owned())),
        Ok(Request::StartTls) => Ok(Command::StartTls),
        Ok(Request::Data) => Ok(Command::Data),
        Ok(Request::Bdat {
            chunk_size,
            is_last,
        }) => Ok(Command::Bdat {
            size: chunk_size,
            last: is_last,
        }),
        Ok(Request::Rset) => Ok(Command::Rset),
        Ok(Request::Noop { .. }) => Ok(Command::Noop),
        Ok(Request::Quit) => Ok(Command::Quit),
        Ok(Request::Vrfy { .. }) => Ok(Command::Vrfy),
        Ok(Request::Help { .. }) => Ok(Command::Help),
        Ok(other) => Ok(Command::NotImplemented(other.name())),
        Err(ProtoError::UnknownCommand) => Err(Reply::new(500, "5.5.1", "Command unrecognized")),
        Err(e) => Err(proto_error(e)),
    }
}

fn proto_error(e: ProtoError) -> Reply {
    match e {
        ProtoError::UnsupportedParameter { param } => {
            Reply::new(555, "5.5.4", format!("Unsupported parameter {param}"))
        }
        ProtoError::InvalidParameter { param } => {
            Reply::new(501, "5.5.4", format!("Invalid value of parameter {param}"))
        }
        ProtoError::InvalidSenderAddress => Reply::new(501, "5.1.7", "Bad sender address syntax"),
        ProtoError::InvalidRecipientAddress => {
            Reply::new(501, "5.1.3", "Bad recipient address syntax")
        }
        ProtoError::SyntaxError { syntax } => Reply::new(501, "5.5.2", format!("Syntax: {syntax}")),
        ProtoError::ResponseTooLong => Reply::new(500, "5.5.6", "Command line too long"),
        _ => Reply::new(501, "5.5.2", "Syntax error"),
    }
}

/// `MAIL FROM:<path> params` or `RCPT TO:<path> params`.
fn parse_path(line: &[u8], mail: bool, opts: ParseOptions) -> Result<PathCommand, Reply> {
    let syntax = || {
        Reply::new(
            501,
            "5.5.2",
            if mail {
                "Syntax: MAIL FROM:<address> [parameters]"
            } else {
                "Syntax: RCPT TO:<address> [parameters]"
            },
        )
    };
    let text = std::str::from_utf8(line)
        .map_err(|_| Reply::new(501, "5.5.2", "Command is not valid UTF-8"))?;
    let text = text.trim_end_matches(['\r', '\n']);
    let open = text.find('<').ok_or_else(syntax)?;
    let close = open + path_end(&text[open..]).ok_or_else(syntax)?;
    let head = &text[..=close];
    let mut params = Vec::new();
    let mut xoorg = None;
    for token in text[close + 1..].split_ascii_whitespace() {
        let (name, value) = token.split_once('=').unwrap_or((token, ""));
        let known = if mail { MAIL_PARAMS } else { RCPT_PARAMS };
        let keyword = if mail && opts.xoorg && name.eq_ignore_ascii_case("XOORG") {
            xoorg = Some(
                xtext_decode(value)
                    .ok_or_else(|| Reply::new(501, "5.5.4", "Invalid value of parameter XOORG"))?,
            );
            "XOORG"
        } else if let Some(k) = known.iter().find(|k| name.eq_ignore_ascii_case(k)) {
            k
        } else {
            return Err(Reply::new(
                555,
                "5.5.4",
                format!("Unsupported parameter {}", name.to_ascii_uppercase()),
            ));
        };
        params.push(Param {
            keyword,
            raw: token.to_owned(),
        });
    }
    // smtp-proto validates the path and the parameters it knows: the head and the parameters
    // but XOORG, each after one space, and CRLF. That is often the line as it came.
    let as_received = line.len() == text.len() + 2 && line.ends_with(b"\r\n") && {
        let mut rest = &text[close + 1..];
        params.iter().all(|p| {
            let next = (p.keyword != "XOORG")
                .then(|| rest.strip_prefix(' ')?.strip_prefix(p.raw.as_str()))
                .flatten();
            next.map(|r| rest = r).is_some()
        }) && rest.is_empty()
    };
    let check: Cow<'_, [u8]> = if as_received {
        Cow::Borrowed(line)
    } else {
        let mut check = String::with_capacity(text.len() + 2);
        check.push_str(head);
        for p in params.iter().filter(|p| p.keyword != "XOORG") {
            check.push(' ');
            check.push_str(&p.raw);
        }
        check.push_str("\r\n");
        Cow::Owned(check.into_bytes())
    };
    let (address, size) = match Request::parse(&mut check.iter()) {
        Ok(Request::Mail { from }) if mail => (
            Cow::into_owned(from.address),
            params
                .iter()
                .any(|p| p.keyword == "SIZE")
                .then_some(from.size as u64),
        ),
        Ok(Request::Rcpt { to }) if !mail => (Cow::into_owned(to.address), None),
        Ok(_) => return Err(syntax()),
        Err(e) => return Err(proto_error(e)),
    };
    if !mail && address.is_empty() {
        return Err(Reply::new(501, "5.1.3", "Bad recipient address syntax"));
    }
    Ok(PathCommand {
        head: head.to_owned(),
        address,
        params,
        size,
        xoorg,
    })
}

/// The index of the `>` that closes the path starting at `s[0] == '<'`, skipping quoted
/// local parts (`<"a>b"@c>`).
fn path_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// RFC 3461 xtext: `+XX` stands for the byte XX.
pub(crate) fn xtext_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if (b'!'..=b'~').contains(&b[i]) && b[i] != b'=' {
            out.push(b[i]);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(line: &str, xoorg: bool) -> Result<PathCommand, Reply> {
        match parse(line.as_bytes(), ParseOptions { xoorg })? {
            Command::Mail(m) => Ok(m),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mail_keeps_the_raw_head_and_every_parameter_verbatim() {
        let m = mail(
            "MAIL FROM:<Adele+SRS=x=y@Contoso.com> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 SMTPUTF8\r\n",
            false,
        )
        .unwrap();
        assert_eq!(m.head, "MAIL FROM:<Adele+SRS=x=y@Contoso.com>");
        assert_eq!(m.address, "Adele+SRS=x=y@Contoso.com");
        assert_eq!(m.domain().as_deref(), Some("contoso.com"));
        assert_eq!(m.size, Some(1234));
        assert_eq!(
            m.forward_line(|p| p.extension() != ParamExtension::Size),
            "MAIL FROM:<Adele+SRS=x=y@Contoso.com> BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 SMTPUTF8\r\n"
        );
    }

    #[test]
    fn null_sender_and_quoted_local_parts_parse() {
        let m = mail("MAIL FROM:<>\r\n", false).unwrap();
        assert_eq!(m.address, "");
        assert_eq!(m.domain(), None);
        let m = mail("mail from:<\"a>b\"@contoso.com> BODY=7BIT\r\n", false).unwrap();
        assert_eq!(m.head, "mail from:<\"a>b\"@contoso.com>");
        assert_eq!(m.params.len(), 1);
    }

    #[test]
    fn xoorg_is_accepted_only_when_advertised_and_is_decoded() {
        let m = mail("MAIL FROM:<a@contoso.com> XOORG=contoso+2Ecom\r\n", true).unwrap();
        assert_eq!(m.xoorg.as_deref(), Some("contoso.com"));
        assert_eq!(
            m.forward_line(|p| p.extension() != ParamExtension::Xoorg),
            "MAIL FROM:<a@contoso.com>\r\n"
        );
        let e = mail("MAIL FROM:<a@contoso.com> XOORG=contoso.com\r\n", false).unwrap_err();
        assert_eq!(e.code, 555);
    }

    #[test]
    fn rcpt_keeps_dsn_parameters_and_refuses_others() {
        let Command::Rcpt(r) = parse(
            b"RCPT TO:<b@fabrikam.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@fabrikam.com\r\n",
            ParseOptions::default(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.address, "b@fabrikam.com");
        assert_eq!(
            r.forward_line(|_| true),
            "RCPT TO:<b@fabrikam.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@fabrikam.com\r\n"
        );
        assert_eq!(r.params[0].extension(), ParamExtension::Dsn);
        let e = parse(b"RCPT TO:<b@f.com> FOO=1\r\n", ParseOptions::default()).unwrap_err();
        assert_eq!(
            (e.code, e.enhanced.unwrap().to_string()),
            (555, "5.5.4".into())
        );
        let e = parse(b"RCPT TO:<>\r\n", ParseOptions::default()).unwrap_err();
        assert_eq!(e.code, 501);
        let e = parse(
            b"RCPT TO:<b@f.com> NOTIFY=SOMETIMES\r\n",
            ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, 501);
    }

    #[test]
    fn other_commands_parse_with_smtp_proto() {
        let p = |s: &str| parse(s.as_bytes(), ParseOptions::default());
        assert_eq!(
            p("EHLO exo.example\r\n"),
            Ok(Command::Ehlo("exo.example".into()))
        );
        assert_eq!(p("starttls\r\n"), Ok(Command::StartTls));
        assert_eq!(
            p("BDAT 100 LAST\r\n"),
            Ok(Command::Bdat {
                size: 100,
                last: true
            })
        );
        assert_eq!(
            p("BDAT 7\r\n"),
            Ok(Command::Bdat {
                size: 7,
                last: false
            })
        );
        assert_eq!(p("DATA\r\n"), Ok(Command::Data));
        assert_eq!(p("AUTH PLAIN x\r\n"), Ok(Command::NotImplemented("AUTH")));
        assert_eq!(p("XYZZY\r\n").unwrap_err().code, 500);
        assert_eq!(p("MAIL FROM:a@b\r\n").unwrap_err().code, 501);
        assert_eq!(
            p(&format!("NOOP {}\r\n", "x".repeat(MAX_COMMAND_LINE)))
                .unwrap_err()
                .code,
            500
        );
    }

    proptest::proptest! {
        /// How the parameters are spaced and how the line ends change nothing (smtp-proto is
        /// given the line as received only when it is the normalised line).
        #[test]
        fn spacing_and_line_ends_do_not_change_what_mail_and_rcpt_parse_to(
            mail: bool,
            xoorg: bool,
            params in proptest::collection::vec(proptest::sample::select(vec![
                "SIZE=10", "body=8BITMIME", "SMTPUTF8", "RET=HDRS", "NOTIFY=NEVER",
                "ORCPT=rfc822;a@b", "XOORG=c+2Ecom", "xoorg=c", "FOO=1", "SIZE=x",
            ]), 0..4),
            seps in proptest::collection::vec(proptest::sample::select(vec![" ", "  ", "\t"]), 4),
            end in proptest::sample::select(vec!["\r\n", "\n", " \r\n", "\r\r\n"]),
        ) {
            let head = if mail { "MAIL FROM:<a@contoso.com>" } else { "rcpt to:<b@fabrikam.com>" };
            let (mut line, mut normal) = (head.to_owned(), head.to_owned());
            for (p, sep) in params.iter().zip(&seps) {
                line.push_str(sep);
                line.push_str(p);
                normal.push(' ');
                normal.push_str(p);
            }
            line.push_str(end);
            normal.push_str("\r\n");
            let opts = ParseOptions { xoorg };
            proptest::prop_assert_eq!(parse(line.as_bytes(), opts), parse(normal.as_bytes(), opts));
        }
    }

    #[test]
    fn xtext_decodes_plus_escapes_and_refuses_bad_ones() {
        assert_eq!(xtext_decode("a+2Bb").as_deref(), Some("a+b"));
        assert_eq!(xtext_decode("a+2"), None);
        assert_eq!(xtext_decode("a=b"), None);
    }
}
