//! A tenant's next hop on loopback for the C relay tests: an SMTP server with real TLS
//! (STARTTLS, the test PKI's `nexthop.pem`) that requires a client certificate chaining to the
//! test root, and records each message with the certificate the relay presented.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The committed test PKI of the relay's tests.
pub fn pki(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sigsync-core/tests/relay/pki")
        .join(name)
}

/// The first certificate of a PEM file.
pub fn first_certificate(path: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// One message the next hop took.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The client certificate the relay presented (leaf).
    pub client_certificate: Option<CertificateDer<'static>>,
    /// The MAIL FROM line.
    pub mail_from: String,
    /// The message, dot-stuffing undone.
    pub data: Vec<u8>,
}

/// A next hop serving on a free loopback port until the test process ends.
pub struct NextHop {
    /// Its port.
    pub port: u16,
    delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl NextHop {
    /// Binds a free loopback port and serves each connection on a thread.
    pub fn start() -> NextHop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let tls = server_tls();
        let log = delivered.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (tls, log) = (tls.clone(), log.clone());
                std::thread::spawn(move || serve(tcp, tls, log));
            }
        });
        NextHop { port, delivered }
    }

    /// The messages taken so far.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().unwrap().clone()
    }
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki("nexthop.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(pki("nexthop.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki("root.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    // Required, not optional: a relay without the tenant's certificate fails the handshake.
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

/// What ended a phase of the dialogue.
enum End {
    StartTls,
    Closed,
}

fn serve(tcp: TcpStream, tls: Arc<rustls::ServerConfig>, log: Arc<Mutex<Vec<Delivered>>>) {
    let mut plain = BufReader::new(tcp.try_clone().unwrap());
    let _ = plain.get_mut().write_all(b"220 mx.test ESMTP\r\n");
    if !matches!(dialogue(&mut plain, false, None, &log), End::StartTls) {
        return;
    }
    let Ok(conn) = rustls::ServerConnection::new(tls) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // Finish the handshake before reading, so the peer's certificate is known.
    while stream.conn.is_handshaking() {
        if stream.conn.complete_io(&mut stream.sock).is_err() {
            return;
        }
    }
    let cert = stream
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned());
    let mut secure = BufReader::new(stream);
    dialogue(&mut secure, true, cert, &log);
}

/// Answers commands until QUIT, a closed connection or (in plain text) STARTTLS.
fn dialogue<S: Read + Write>(
    io: &mut BufReader<S>,
    tls: bool,
    cert: Option<CertificateDer<'static>>,
    log: &Mutex<Vec<Delivered>>,
) -> End {
    let mut mail_from = None;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).unwrap_or(0) == 0 {
            return End::Closed;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &str = match verb.as_str() {
            "EHLO" | "HELO" if tls => "250-mx.test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
            "EHLO" | "HELO" => "250-mx.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
            "STAR" if !tls => {
                send(io, b"220 2.0.0 ready\r\n");
                return End::StartTls;
            }
            "MAIL" if !tls => "530 5.7.0 Must issue a STARTTLS command first\r\n",
            "MAIL" => {
                mail_from = Some(line.trim_end().to_owned());
                "250 2.1.0 Sender OK\r\n"
            }
            "RCPT" => "250 2.1.5 Recipient OK\r\n",
            "DATA" => {
                send(io, b"354 Start mail input\r\n");
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if io.read_until(b'\n', &mut l).unwrap_or(0) == 0 {
                        return End::Closed;
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    let unstuffed = if l.starts_with(b".") { &l[1..] } else { &l[..] };
                    data.extend_from_slice(unstuffed);
                }
                log.lock().unwrap().push(Delivered {
                    client_certificate: cert.clone(),
                    mail_from: mail_from.take().unwrap_or_default(),
                    data,
                });
                "250 2.0.0 Queued\r\n"
            }
            "RSET" | "NOOP" => "250 2.0.0 OK\r\n",
            "QUIT" => {
                send(io, b"221 2.0.0 Bye\r\n");
                return End::Closed;
            }
            _ => "502 5.5.1 Not implemented\r\n",
        };
        if !send(io, reply.as_bytes()) {
            return End::Closed;
        }
    }
}

/// Writes and flushes (a TLS stream sends on flush); false when the connection is gone.
fn send<S: Write>(io: &mut BufReader<S>, bytes: &[u8]) -> bool {
    let out = io.get_mut();
    out.write_all(bytes).and_then(|()| out.flush()).is_ok()
}
