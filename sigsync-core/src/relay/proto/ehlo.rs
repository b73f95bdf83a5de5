//! EHLO: the capabilities we advertise to Exchange, and those a next hop advertises to us.

use super::reply::Reply;

/// What we advertise. Never the Exchange X-extensions (XEXCH50, XSHADOW, ...: Exchange would
/// then speak its internal protocol); XOORG only when configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Advertise {
    /// SIZE limit in bytes.
    pub size: u64,
    /// STARTTLS (not after TLS is up).
    pub starttls: bool,
    /// CHUNKING (BDAT).
    pub chunking: bool,
    /// XOORG.
    pub xoorg: bool,
}

/// Our reply to EHLO: `250-<hostname> ...`, then one line per extension.
pub(crate) fn ehlo_reply(hostname: &str, client: &str, adv: Advertise) -> Reply {
    let mut lines = vec![format!("{hostname} Hello {client}")];
    lines.push(format!("SIZE {}", adv.size));
    lines.push("PIPELINING".into());
    lines.push("DSN".into());
    lines.push("ENHANCEDSTATUSCODES".into());
    if adv.starttls {
        lines.push("STARTTLS".into());
    }
    lines.push("8BITMIME".into());
    if adv.chunking {
        lines.push("CHUNKING".into());
    }
    lines.push("SMTPUTF8".into());
    if adv.xoorg {
        lines.push("XOORG".into());
    }
    Reply::from_lines(250, None, lines)
}

/// The capabilities a next hop advertised in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    pub starttls: bool,
    pub pipelining: bool,
    pub eightbitmime: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub chunking: bool,
    pub enhanced_codes: bool,
    /// The SIZE limit, when one was given (0 = no limit stated).
    pub size: Option<u64>,
}

impl Capabilities {
    /// Reads the extension keywords of an EHLO reply (the first line is the greeting).
    pub(crate) fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        for line in reply.lines().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "PIPELINING" => caps.pipelining = true,
                "8BITMIME" => caps.eightbitmime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "DSN" => caps.dsn = true,
                "CHUNKING" => caps.chunking = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_codes = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                _ => {}
            }
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_ehlo_is_strict_rfc_5321_and_has_no_exchange_x_extensions() {
        let adv = Advertise {
            size: 157_286_400,
            starttls: true,
            chunking: true,
            xoorg: false,
        };
        let wire =
            String::from_utf8(ehlo_reply("relay.test", "[10.0.0.1]", adv).to_bytes()).unwrap();
        assert_eq!(
            wire,
            "250-relay.test Hello [10.0.0.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n\
             250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-8BITMIME\r\n\
             250-CHUNKING\r\n250 SMTPUTF8\r\n"
        );
        for x in ["XEXCH50", "XSHADOW", "XOORG", "BINARYMIME", "AUTH"] {
            assert!(!wire.contains(x), "{x}");
        }
        let wire = ehlo_reply(
            "relay.test",
            "[10.0.0.1]",
            Advertise {
                starttls: false,
                xoorg: true,
                ..adv
            },
        )
        .to_bytes();
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.ends_with("250 XOORG\r\n") && !wire.contains("STARTTLS"));
    }

    #[test]
    fn next_hop_capabilities_are_read_from_its_ehlo_reply() {
        let (reply, _) = Reply::parse(
            b"250-mx.test Hello\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n\
              250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-8BITMIME\r\n250-BINARYMIME\r\n\
              250-CHUNKING\r\n250 SMTPUTF8\r\n",
        )
        .unwrap()
        .unwrap();
        let caps = Capabilities::from_ehlo(&reply);
        assert!(caps.starttls && caps.pipelining && caps.dsn && caps.chunking && caps.smtputf8);
        assert_eq!(caps.size, Some(157_286_400));
        let (reply, _) = Reply::parse(b"250 sink.test\r\n").unwrap().unwrap();
        assert_eq!(Capabilities::from_ehlo(&reply), Capabilities::default());
    }
}
