//! A next hop standing in for a tenant's Exchange Online inbound endpoint: STARTTLS with a
//! server certificate of the test CA, a client certificate required and verified (chain to the
//! root, not expired), the tenant's certificate name checked the way Exchange does (a
//! `550 5.7.64 TenantAttribution` on MAIL when it does not match), and everything it accepted
//! recorded. Faults are scripted. Commands are parsed with smtp-proto and the data with an
//! independent line reader, not with the relay's own code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use smtp_proto::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::pki;

/// What the next hop does; change it between messages with [`NextHop::script`].
#[derive(Debug, Clone)]
pub struct Script {
    /// STARTTLS offered and required before MAIL.
    pub tls: bool,
    /// A client certificate of the test CA is required in the TLS handshake (read at start).
    pub require_client_certificate: bool,
    /// The name the client certificate must carry (the inbound connector's certificate name).
    pub certificate_name: Option<String>,
    pub pipelining: bool,
    pub chunking: bool,
    pub dsn: bool,
    /// SIZE limit advertised (0: none).
    pub size: u64,
    pub greeting: String,
    pub mail_reply: Option<String>,
    /// Reply per recipient address (lower case).
    pub rcpt_replies: HashMap<String, String>,
    /// Reply to the DATA command itself.
    pub data_reply: Option<String>,
    /// Final reply after the data.
    pub final_reply: Option<String>,
    pub delay_data_reply: Duration,
    pub delay_final: Duration,
    /// Close the connection after this many bytes of message data.
    pub drop_after_bytes: Option<usize>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            tls: true,
            require_client_certificate: true,
            certificate_name: None,
            pipelining: true,
            chunking: true,
            dsn: true,
            size: 157_286_400,
            greeting: "220 mx.test Microsoft ESMTP MAIL Service ready".into(),
            mail_reply: None,
            rcpt_replies: HashMap::new(),
            data_reply: None,
            final_reply: None,
            delay_data_reply: Duration::ZERO,
            delay_final: Duration::ZERO,
            drop_after_bytes: None,
        }
    }
}

/// One message the next hop accepted (its final reply was 2xx).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub ehlo: String,
    pub client_cn: Option<String>,
    pub tls: bool,
    /// The MAIL and RCPT lines as received (without CRLF); only accepted RCPTs.
    pub mail: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
    pub bdat: bool,
}

impl Delivered {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

#[derive(Debug, Default)]
pub struct Log {
    pub delivered: Vec<Delivered>,
    pub connections: usize,
    pub open: usize,
    pub max_open: usize,
    pub tls_failures: usize,
    pub resets: usize,
    /// Transactions whose data started but that never got a final reply from us.
    pub cut_data: usize,
}

#[derive(Clone)]
pub struct NextHop {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    log: Arc<Mutex<Log>>,
    stop: tokio_util::sync::CancellationToken,
}

fn server_tls(script_requires_cert: bool) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> =
        rustls::pki_types::pem::PemObject::pem_file_iter(pki("nexthop.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key: PrivateKeyDer<'static> =
        rustls::pki_types::pem::PemObject::from_pem_file(pki("nexthop.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if script_requires_cert {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::pem::PemObject::pem_file_iter(pki("root.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(builder.with_single_cert(certs, key).unwrap())
}

impl NextHop {
    /// Starts on a free loopback port.
    pub async fn start(script: Script) -> NextHop {
        Self::start_on("127.0.0.1:0".parse().unwrap(), script).await
    }

    pub async fn start_on(addr: SocketAddr, script: Script) -> NextHop {
        let listener = TcpListener::bind(addr).await.unwrap();
        let hop = NextHop {
            addr: listener.local_addr().unwrap(),
            script: Arc::new(Mutex::new(script)),
            log: Arc::new(Mutex::new(Log::default())),
            stop: tokio_util::sync::CancellationToken::new(),
        };
        let acceptor = TlsAcceptor::from(server_tls(hop.current().require_client_certificate));
        let h = hop.clone();
        tokio::spawn(async move {
            loop {
                let tcp = tokio::select! {
                    _ = h.stop.cancelled() => return,
                    a = listener.accept() => match a { Ok((tcp, _)) => { let _ = tcp.set_nodelay(true); tcp } Err(_) => continue },
                };
                let h = h.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    {
                        let mut log = h.log.lock().unwrap();
                        log.connections += 1;
                        log.open += 1;
                        log.max_open = log.max_open.max(log.open);
                    }
                    let stop = h.stop.clone();
                    // A QUIT counts the connection closed before the 221 goes out, so that the
                    // client cannot open the next one before this one is counted out.
                    let counted = tokio::select! {
                        quit = h.serve(tcp, acceptor) => quit,
                        _ = stop.cancelled() => false,
                    };
                    if !counted {
                        h.log.lock().unwrap().open -= 1;
                    }
                });
            }
        });
        hop
    }

    /// Stops listening and drops every connection (the next hop goes down).
    pub fn shut_down(&self) {
        self.stop.cancel();
    }

    pub fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.script.lock().unwrap());
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.log.lock().unwrap().delivered.clone()
    }

    pub fn log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.lock().unwrap())
    }

    fn current(&self) -> Script {
        self.script.lock().unwrap().clone()
    }

    /// Serves one connection; `true` when it ended with QUIT (and was counted out then).
    async fn serve(&self, tcp: TcpStream, acceptor: TlsAcceptor) -> bool {
        let script = self.current();
        let mut io: Box<dyn Io> = Box::new(BufReader::new(tcp));
        if write(&mut io, &format!("{}\r\n", script.greeting))
            .await
            .is_err()
        {
            return false;
        }
        let mut st = Conn::default();
        loop {
            let Ok(line) = read_line(&mut io).await else {
                return false;
            };
            let script = self.current();
            let req = Request::parse(&mut line.iter()).map(|r| r.into_owned());
            let reply: String = match req {
                Ok(Request::Ehlo { host }) => {
                    st.ehlo = host;
                    let mut caps = vec!["mx.test Hello".to_owned()];
                    if script.size > 0 {
                        caps.push(format!("SIZE {}", script.size));
                    }
                    if script.pipelining {
                        caps.push("PIPELINING".into());
                    }
                    if script.dsn {
                        caps.push("DSN".into());
                    }
                    caps.push("ENHANCEDSTATUSCODES".into());
                    if script.tls && !st.tls {
                        caps.push("STARTTLS".into());
                    }
                    caps.push("8BITMIME".into());
                    if script.chunking {
                        caps.push("CHUNKING".into());
                    }
                    caps.push("SMTPUTF8".into());
                    let n = caps.len();
                    caps.iter()
                        .enumerate()
                        .map(|(i, c)| format!("250{}{c}\r\n", if i + 1 == n { ' ' } else { '-' }))
                        .collect()
                }
                Ok(Request::StartTls) => {
                    if write(&mut io, "220 2.0.0 SMTP server ready\r\n")
                        .await
                        .is_err()
                    {
                        return false;
                    }
                    let Some(tcp) = io.into_tcp() else {
                        return false;
                    };
                    match acceptor.accept(tcp).await {
                        Ok(tls) => {
                            st.client_cn = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .and_then(|c| common_name(c));
                            st.tls = true;
                            io = Box::new(BufReader::new(tls));
                            continue;
                        }
                        Err(_) => {
                            self.log.lock().unwrap().tls_failures += 1;
                            return false;
                        }
                    }
                }
                Ok(Request::Mail { .. }) => {
                    if script.tls && !st.tls {
                        "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
                    } else if script
                        .certificate_name
                        .as_ref()
                        .is_some_and(|n| st.client_cn.as_deref() != Some(n))
                    {
                        "550 5.7.64 TenantAttribution; Relay Access Denied [ATTR36] [contoso.mail.protection.test]\r\n".into()
                    } else if let Some(r) = &script.mail_reply {
                        format!("{r}\r\n")
                    } else {
                        st.mail = Some(trim(&line));
                        st.rcpts.clear();
                        "250 2.1.0 Sender OK\r\n".into()
                    }
                }
                Ok(Request::Rcpt { to }) => match (
                    &st.mail,
                    script.rcpt_replies.get(&to.address.to_ascii_lowercase()),
                ) {
                    (None, _) => "503 5.5.1 Need MAIL command\r\n".into(),
                    (Some(_), Some(r)) => format!("{r}\r\n"),
                    (Some(_), None) => {
                        st.rcpts.push(trim(&line));
                        "250 2.1.5 Recipient OK\r\n".into()
                    }
                },
                Ok(Request::Data) => {
                    tokio::time::sleep(script.delay_data_reply).await;
                    if st.mail.is_none() || st.rcpts.is_empty() {
                        "503 5.5.1 Need MAIL and RCPT\r\n".into()
                    } else if let Some(r) = &script.data_reply {
                        st.mail = None;
                        format!("{r}\r\n")
                    } else {
                        if write(&mut io, "354 Start mail input; end with <CRLF>.<CRLF>\r\n")
                            .await
                            .is_err()
                        {
                            return false;
                        }
                        match read_data(&mut io, script.drop_after_bytes).await {
                            Some(data) => self.end_of_data(&mut st, &script, data, false).await,
                            None => {
                                self.log.lock().unwrap().cut_data += 1;
                                return false;
                            }
                        }
                    }
                }
                Ok(Request::Bdat {
                    chunk_size,
                    is_last,
                }) => {
                    let mut chunk = vec![0; chunk_size];
                    if script.drop_after_bytes.is_some_and(|n| n < chunk_size) {
                        let _ = io
                            .read_exact(&mut chunk[..script.drop_after_bytes.unwrap()])
                            .await;
                        self.log.lock().unwrap().cut_data += 1;
                        return false;
                    }
                    if io.read_exact(&mut chunk).await.is_err() {
                        self.log.lock().unwrap().cut_data += 1;
                        return false;
                    }
                    st.bdat.extend_from_slice(&chunk);
                    if !is_last {
                        format!("250 2.0.0 {chunk_size} octets received\r\n")
                    } else if st.mail.is_none() || st.rcpts.is_empty() {
                        "503 5.5.1 Need MAIL and RCPT\r\n".into()
                    } else {
                        let data = std::mem::take(&mut st.bdat);
                        self.end_of_data(&mut st, &script, data, true).await
                    }
                }
                Ok(Request::Rset) => {
                    st.mail = None;
                    st.rcpts.clear();
                    st.bdat.clear();
                    self.log.lock().unwrap().resets += 1;
                    "250 2.0.0 Resetting\r\n".into()
                }
                Ok(Request::Noop { .. }) => "250 2.0.0 OK\r\n".into(),
                Ok(Request::Quit) => {
                    self.log.lock().unwrap().open -= 1;
                    let _ = write(
                        &mut io,
                        "221 2.0.0 Service closing transmission channel\r\n",
                    )
                    .await;
                    return true;
                }
                Ok(_) => "502 5.5.1 Not implemented\r\n".into(),
                Err(_) => "500 5.5.2 Syntax error\r\n".into(),
            };
            if write(&mut io, &reply).await.is_err() {
                return false;
            }
        }
    }

    async fn end_of_data(
        &self,
        st: &mut Conn,
        script: &Script,
        data: Vec<u8>,
        bdat: bool,
    ) -> String {
        tokio::time::sleep(script.delay_final).await;
        let reply = script
            .final_reply
            .clone()
            .unwrap_or_else(|| "250 2.6.0 <id@mx.test> Queued mail for delivery".into());
        if reply.starts_with('2') {
            self.log.lock().unwrap().delivered.push(Delivered {
                ehlo: st.ehlo.clone(),
                client_cn: st.client_cn.clone(),
                tls: st.tls,
                mail: st.mail.clone().unwrap_or_default(),
                rcpts: st.rcpts.clone(),
                data,
                bdat,
            });
        }
        st.mail = None;
        st.rcpts.clear();
        format!("{reply}\r\n")
    }
}

#[derive(Default)]
struct Conn {
    ehlo: String,
    client_cn: Option<String>,
    tls: bool,
    mail: Option<String>,
    rcpts: Vec<String>,
    bdat: Vec<u8>,
}

fn trim(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = x
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some(cn)
}

/// A readable and writable stream that may be the plain TCP one.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {
    fn into_tcp(self: Box<Self>) -> Option<TcpStream>;
}

impl Io for BufReader<TcpStream> {
    fn into_tcp(self: Box<Self>) -> Option<TcpStream> {
        Some(self.into_inner())
    }
}

impl Io for BufReader<tokio_rustls::server::TlsStream<TcpStream>> {
    fn into_tcp(self: Box<Self>) -> Option<TcpStream> {
        None
    }
}

async fn write(io: &mut Box<dyn Io>, s: &str) -> std::io::Result<()> {
    io.write_all(s.as_bytes()).await?;
    io.flush().await
}

async fn read_line(io: &mut Box<dyn Io>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let b = io.read_u8().await?;
        line.push(b);
        if b == b'\n' {
            return Ok(line);
        }
    }
}

/// DATA until the `.` line, unstuffed; `None` if the connection dropped (or we drop it).
async fn read_data(io: &mut Box<dyn Io>, drop_after: Option<usize>) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let line = read_line(io).await.ok()?;
        if line == b".\r\n" {
            return Some(data);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(line);
        if drop_after.is_some_and(|n| data.len() >= n) {
            return None;
        }
    }
}
