//! A sending client standing in for Exchange Online: STARTTLS (verifying the relay's
//! certificate against the test CA), pipelining, DSN parameters, BDAT. Its own small reply
//! reader, not the relay's.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::pki;

/// A reply: the code and all text lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Sender {
    io: BufReader<Box<dyn Io>>,
    /// The last write's first line and the reply codes read since (for a test's report).
    trail: String,
}

fn tls_client() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_file_iter(pki("root.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

impl Sender {
    /// Connects and reads the greeting.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<(Sender, Reply)> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut s = Sender {
            io: BufReader::new(Box::new(tcp) as Box<dyn Io>),
            trail: "connected".into(),
        };
        let greeting = s.reply().await?;
        Ok((s, greeting))
    }

    /// EHLO, STARTTLS, EHLO again: a session ready for MAIL, the way Exchange opens one.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Sender> {
        let (mut s, greeting) = Sender::connect(addr).await?;
        assert_eq!(greeting.code, 220, "{greeting}");
        let ehlo = s
            .cmd("EHLO GV1PR07CU001.outbound.protection.outlook.com")
            .await?;
        assert!(ehlo.text.contains("STARTTLS"), "{ehlo}");
        let mut s = s.starttls().await?;
        let ehlo = s
            .cmd("EHLO GV1PR07CU001.outbound.protection.outlook.com")
            .await?;
        assert_eq!(ehlo.code, 250, "{ehlo}");
        Ok(s)
    }

    /// As [`Sender::open`], but an unexpected reply (a relay shutting down answers 421) is an
    /// error instead of a failed assertion, as a sender under load takes it.
    pub async fn try_open(addr: SocketAddr) -> std::io::Result<Sender> {
        Sender::try_open_traced(addr, &std::sync::Mutex::new("")).await
    }

    /// As [`Sender::try_open`], noting each step in `step` as it begins (for a test to say
    /// where a session that never opened stopped).
    pub async fn try_open_traced(
        addr: SocketAddr,
        step: &std::sync::Mutex<&'static str>,
    ) -> std::io::Result<Sender> {
        let at = |s: &'static str| *step.lock().unwrap() = s;
        let refused = |r: &Reply| std::io::Error::other(format!("refused: {r}"));
        at("connecting");
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut s = Sender {
            io: BufReader::new(Box::new(tcp) as Box<dyn Io>),
            trail: "connected".into(),
        };
        at("waiting for the greeting");
        let greeting = s.reply().await?;
        if greeting.code != 220 {
            return Err(refused(&greeting));
        }
        at("EHLO");
        let ehlo = s
            .cmd("EHLO GV1PR07CU001.outbound.protection.outlook.com")
            .await?;
        if !ehlo.text.contains("STARTTLS") {
            return Err(refused(&ehlo));
        }
        at("STARTTLS");
        let r = s.cmd("STARTTLS").await?;
        if r.code != 220 {
            return Err(refused(&r));
        }
        at("TLS handshake");
        let inner: Box<dyn Io> = s.io.into_inner();
        let tls = TlsConnector::from(tls_client())
            .connect(ServerName::try_from("relay.test").unwrap(), inner)
            .await?;
        let mut s = Sender {
            io: BufReader::new(Box::new(tls)),
            trail: "TLS".into(),
        };
        at("EHLO after TLS");
        let ehlo = s
            .cmd("EHLO GV1PR07CU001.outbound.protection.outlook.com")
            .await?;
        if ehlo.code != 250 {
            return Err(refused(&ehlo));
        }
        at("open");
        Ok(s)
    }

    /// A plain-text session (the relay allows it on loopback when configured).
    pub async fn open_plain(addr: SocketAddr) -> std::io::Result<Sender> {
        let (mut s, greeting) = Sender::connect(addr).await?;
        assert_eq!(greeting.code, 220, "{greeting}");
        let ehlo = s.cmd("EHLO load.test").await?;
        assert_eq!(ehlo.code, 250, "{ehlo}");
        Ok(s)
    }

    pub async fn starttls(self) -> std::io::Result<Sender> {
        self.starttls_as("relay.test").await
    }

    /// STARTTLS, verifying the server's certificate for `name` against the test CA.
    pub async fn starttls_as(mut self, name: &'static str) -> std::io::Result<Sender> {
        let r = self.cmd("STARTTLS").await?;
        assert_eq!(r.code, 220, "{r}");
        let inner: Box<dyn Io> = self.io.into_inner();
        let tls = TlsConnector::from(tls_client())
            .connect(ServerName::try_from(name).unwrap(), inner)
            .await?;
        Ok(Sender {
            io: BufReader::new(Box::new(tls)),
            trail: "TLS".into(),
        })
    }

    /// What this session last sent (its first line) and the reply codes read since.
    pub fn trail(&self) -> &str {
        &self.trail
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        self.trail = format!(
            "sent {:?} ({} bytes)",
            String::from_utf8_lossy(&first[..first.len().min(40)]),
            bytes.len()
        );
        self.io.get_mut().write_all(bytes).await?;
        self.io.get_mut().flush().await
    }

    pub async fn reply(&mut self) -> std::io::Result<Reply> {
        let mut text = Vec::new();
        loop {
            let mut line = Vec::new();
            loop {
                let b = self.io.read_u8().await?;
                line.push(b);
                if b == b'\n' {
                    break;
                }
            }
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            text.push(line.get(4..).unwrap_or("").to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                self.trail.push_str(&format!(" <- {code}"));
                return Ok(Reply {
                    code,
                    text: text.join("\n"),
                });
            }
        }
    }

    pub async fn cmd(&mut self, line: &str) -> std::io::Result<Reply> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }

    /// Sends all lines in one write and reads one reply per line (PIPELINING).
    pub async fn pipeline(&mut self, lines: &[String]) -> std::io::Result<Vec<Reply>> {
        let all: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
        self.send_raw(all.as_bytes()).await?;
        let mut out = Vec::new();
        for _ in lines {
            out.push(self.reply().await?);
        }
        Ok(out)
    }

    /// After a 354: the message, dot-stuffed, and the end; the final reply.
    pub async fn data_body(&mut self, msg: &[u8]) -> std::io::Result<Reply> {
        self.send_raw(&stuff(msg)).await?;
        self.reply().await
    }

    /// The message in BDAT chunks of `chunk` bytes; the replies to each chunk.
    pub async fn bdat(&mut self, msg: &[u8], chunk: usize) -> std::io::Result<Vec<Reply>> {
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = msg.chunks(chunk.max(1)).collect();
        for (i, p) in pieces.iter().enumerate() {
            let last = if i + 1 == pieces.len() { " LAST" } else { "" };
            self.send_raw(format!("BDAT {}{last}\r\n", p.len()).as_bytes())
                .await?;
            self.send_raw(p).await?;
            out.push(self.reply().await?);
        }
        Ok(out)
    }
}

/// Dot-stuffing with CRLF line ends, and the terminator.
pub fn stuff(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    let mut start = true;
    for &b in msg {
        if start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        start = b == b'\n';
    }
    if !start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// What one transaction got.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub mail: Reply,
    pub rcpts: Vec<Reply>,
    /// The reply to DATA (354 or a refusal).
    pub data: Option<Reply>,
    /// The final reply (after the data), if the transaction got that far.
    pub end: Option<Reply>,
}

impl Transcript {
    /// Whether the sender was told the message was taken.
    pub fn acknowledged(&self) -> bool {
        self.end.as_ref().is_some_and(Reply::positive)
    }
}

impl Sender {
    /// MAIL from adele@contoso.com, RCPT to bob@example.org and DATA pipelined, for a test
    /// that then sends (part of) the message itself.
    pub async fn start_data(&mut self) -> std::io::Result<()> {
        let lines = [
            "MAIL FROM:<adele@contoso.com>".to_string(),
            "RCPT TO:<bob@example.org>".to_string(),
            "DATA".to_string(),
        ];
        let r = self.pipeline(&lines).await?;
        assert_eq!(r[2].code, 354, "{r:?}");
        Ok(())
    }

    /// MAIL, the RCPTs and DATA pipelined as Exchange does, then the message.
    pub async fn transaction(
        &mut self,
        mail: &str,
        rcpts: &[String],
        msg: &[u8],
    ) -> std::io::Result<Transcript> {
        let mut lines = vec![mail.to_owned()];
        lines.extend(rcpts.iter().cloned());
        lines.push("DATA".into());
        let mut replies = self.pipeline(&lines).await?;
        let data = replies.pop();
        let mail = replies.remove(0);
        let end = match &data {
            Some(r) if r.code == 354 => Some(self.data_body(msg).await?),
            _ => None,
        };
        Ok(Transcript {
            mail,
            rcpts: replies,
            data,
            end,
        })
    }

    /// MAIL and RCPTs pipelined, then the message by BDAT in chunks.
    pub async fn transaction_bdat(
        &mut self,
        mail: &str,
        rcpts: &[String],
        msg: &[u8],
        chunk: usize,
    ) -> std::io::Result<Transcript> {
        let mut lines = vec![mail.to_owned()];
        lines.extend(rcpts.iter().cloned());
        let mut replies = self.pipeline(&lines).await?;
        let mail = replies.remove(0);
        let chunks = self.bdat(msg, chunk).await?;
        Ok(Transcript {
            mail,
            rcpts: replies,
            data: None,
            end: chunks.last().cloned(),
        })
    }
}
