//! One connection from a sender: reads commands, moves bytes and owns the timeouts; the
//! protocol is in `proto` and the proxying in `transaction`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::config::secs;
use super::io::{Conn, Stream};
use super::proto::command::{self, Command, ParseOptions, PathCommand, MAX_COMMAND_LINE};
use super::proto::data::{ChunkReader, DataDecoder};
use super::proto::ehlo::{ehlo_reply, Advertise};
use super::proto::reply::Reply;
use super::runtime::Runtime;
use super::transaction::{self, Received, Txn};

struct Session {
    rt: Arc<Runtime>,
    conn: Conn,
    peer: SocketAddr,
    helo: Option<String>,
    txn: Option<Txn>,
    /// The BDAT chunks of the transaction so far.
    chunks: Option<Received>,
}

/// Serves one connection until QUIT, an error, a timeout, shutdown or abort.
pub(crate) async fn run(
    tcp: TcpStream,
    peer: SocketAddr,
    rt: Arc<Runtime>,
    _slot: OwnedSemaphorePermit,
) {
    let _ = tcp.set_nodelay(true);
    rt.metrics.connection_opened();
    let mut session = Session {
        rt: rt.clone(),
        conn: Conn::new(Stream::Plain(tcp)),
        peer,
        helo: None,
        txn: None,
        chunks: None,
    };
    let span = tracing::debug_span!("session", %peer);
    let served = tokio::select! {
        r = tracing::Instrument::instrument(session.serve(), span.clone()) => r,
        _ = rt.abort.cancelled() => Err(io::Error::other("relay stopped")),
    };
    if let Err(e) = served {
        span.in_scope(|| tracing::debug!(error = %e, "session ended"));
    }
    if let Some(txn) = session.txn.take() {
        // The sender left (or the relay stopped) mid-transaction: nothing was acknowledged.
        tokio::spawn(txn.abort());
    }
    session.conn.shutdown().await;
    rt.metrics.connection_closed();
}

fn ok(text: impl Into<std::borrow::Cow<'static, str>>) -> Reply {
    Reply::new(250, "2.0.0", text)
}

impl Session {
    async fn reply(&mut self, reply: &Reply) -> io::Result<()> {
        self.replies(std::slice::from_ref(reply)).await
    }

    /// Sends replies, or holds them while the sender's next command is already here
    /// (pipelining, RFC 2920 §3.2): the replies to one batch go out in one write, before the
    /// session next waits for the sender.
    async fn replies(&mut self, replies: &[Reply]) -> io::Result<()> {
        for r in replies {
            r.write_to(self.conn.queued());
        }
        if self.conn.buffered_line().is_some() {
            return Ok(());
        }
        let t = secs(self.rt.snapshot.load().config.timeouts.command);
        self.conn.flush(t, "sending replies").await
    }

    async fn serve(&mut self) -> io::Result<()> {
        let hostname = self.rt.snapshot.load().config.listener.hostname.clone();
        if self.rt.shutdown.is_cancelled() {
            self.rt.metrics.connection_refused("shutdown");
            return self
                .reply(&Reply::new(
                    421,
                    "4.3.2",
                    format!("{hostname} Service shutting down"),
                ))
                .await;
        }
        self.reply(&Reply::plain(
            220,
            format!("{hostname} ESMTP sigsync relay"),
        ))
        .await?;
        // One waiter on the shutdown token for the whole session: a new one per command
        // registered and unregistered itself on every command.
        let shutdown = self.rt.shutdown.clone().cancelled_owned();
        tokio::pin!(shutdown);
        loop {
            let snapshot = self.rt.snapshot();
            let t = secs(snapshot.config.timeouts.command);
            let read = self
                .conn
                .next_line(t, MAX_COMMAND_LINE, "waiting for a command");
            let line = if self.txn.is_none() {
                tokio::select! {
                    biased;
                    () = &mut shutdown => {
                        return self.reply(&Reply::new(421, "4.3.2", format!("{hostname} Service shutting down"))).await;
                    }
                    line = read => line,
                }
            } else {
                read.await
            };
            let len = match line {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    let _ = self
                        .reply(&Reply::new(
                            421,
                            "4.4.2",
                            format!("{hostname} Timeout, closing"),
                        ))
                        .await;
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    let _ = self.reply(&Reply::new(500, "5.5.6", "Line too long")).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            let opts = ParseOptions {
                xoorg: snapshot.config.listener.advertise_xoorg,
            };
            let parsed = command::parse(&self.conn.unread()[..len], opts);
            self.conn.consume(len);
            let cmd = match parsed {
                Ok(c) => c,
                Err(reply) => {
                    self.reply(&reply).await?;
                    continue;
                }
            };
            match cmd {
                Command::Ehlo(host) => {
                    self.reset().await;
                    let adv = Advertise {
                        size: snapshot.config.limits.max_message_size,
                        starttls: !self.conn.is_tls(),
                        chunking: snapshot.config.listener.chunking,
                        xoorg: snapshot.config.listener.advertise_xoorg,
                    };
                    let client = format!("[{}]", self.peer.ip());
                    self.helo = Some(host);
                    self.reply(&ehlo_reply(&hostname, &client, adv)).await?;
                }
                Command::Helo(host) => {
                    self.reset().await;
                    self.helo = Some(host);
                    self.reply(&Reply::plain(250, hostname.clone())).await?;
                }
                Command::StartTls => {
                    if self.conn.is_tls() {
                        self.reply(&Reply::new(503, "5.5.1", "TLS already active"))
                            .await?;
                        continue;
                    }
                    self.reset().await;
                    self.reply(&Reply::new(220, "2.0.0", "Ready to start TLS"))
                        .await?;
                    let dropped = self.conn.accept_tls(&snapshot.acceptor, t).await?;
                    if dropped > 0 {
                        tracing::warn!(peer = %self.peer, bytes = dropped, "plain text pipelined after STARTTLS was dropped");
                    }
                    if let Some(subject) = self.conn.peer_certificate_subject() {
                        tracing::debug!(peer = %self.peer, %subject, "sender presented a client certificate");
                    }
                    self.helo = None;
                }
                Command::Mail(m) => {
                    if let Some(reply) = self.mail_refusal(&snapshot.config) {
                        self.reply(&reply).await?;
                        if reply.code == 421 {
                            return Ok(());
                        }
                        continue;
                    }
                    let rcpts = self.pipelined_rcpts(opts);
                    let data_follows = self
                        .conn
                        .buffered_line()
                        .is_some_and(|l| l.eq_ignore_ascii_case(b"DATA\r\n"));
                    let result =
                        transaction::mail(&self.rt, self.peer.ip(), m, rcpts, data_follows).await;
                    self.txn = result.txn;
                    self.replies(&result.replies).await?;
                }
                Command::Rcpt(r) => {
                    let reply = match self.txn.as_mut() {
                        Some(txn) => txn.rcpt(&self.rt, r).await,
                        None => Reply::new(503, "5.5.1", "Need MAIL command"),
                    };
                    self.reply(&reply).await?;
                }
                Command::Data => self.data().await?,
                Command::Bdat { size, last } => self.bdat(size, last).await?,
                Command::Rset => {
                    self.reset().await;
                    self.reply(&ok("OK")).await?;
                }
                Command::Noop => self.reply(&ok("OK")).await?,
                Command::Quit => {
                    self.reset().await;
                    self.reply(&Reply::new(221, "2.0.0", format!("{hostname} Bye")))
                        .await?;
                    return Ok(());
                }
                Command::Vrfy => {
                    self.reply(&Reply::new(252, "2.5.0", "Cannot VRFY user"))
                        .await?
                }
                Command::Help => {
                    self.reply(&Reply::new(214, "2.0.0", "See RFC 5321"))
                        .await?
                }
                Command::NotImplemented(name) => {
                    self.reply(&Reply::new(502, "5.5.1", format!("{name} not implemented")))
                        .await?
                }
            }
        }
    }

    /// Why MAIL cannot start a transaction now, if it cannot.
    fn mail_refusal(&self, cfg: &super::config::RelayConfig) -> Option<Reply> {
        if self.rt.shutdown.is_cancelled() {
            return Some(Reply::new(
                421,
                "4.3.2",
                "Service shutting down, try again later",
            ));
        }
        if self.helo.is_none() {
            return Some(Reply::new(503, "5.5.1", "Send EHLO first"));
        }
        if self.txn.is_some() {
            return Some(Reply::new(503, "5.5.1", "Nested MAIL command"));
        }
        let plaintext_ok = cfg.listener.allow_plaintext_on_loopback && self.peer.ip().is_loopback();
        if !self.conn.is_tls() && !plaintext_ok {
            return Some(Reply::new(
                530,
                "5.7.0",
                "Must issue a STARTTLS command first",
            ));
        }
        None
    }

    /// The RCPT commands already buffered behind MAIL (a pipelining sender), to forward with
    /// it in one go.
    fn pipelined_rcpts(&mut self, opts: ParseOptions) -> Vec<Result<PathCommand, Reply>> {
        let mut out = Vec::new();
        while let Some(line) = self.conn.buffered_line() {
            if line.len() < 5 || !line[..5].eq_ignore_ascii_case(b"RCPT ") {
                break;
            }
            let n = line.len();
            out.push(match command::parse(line, opts) {
                Ok(Command::Rcpt(r)) => Ok(r),
                Ok(_) => Err(Reply::new(501, "5.5.2", "Syntax error")),
                Err(reply) => Err(reply),
            });
            self.conn.consume(n);
        }
        out
    }

    /// Ends a transaction without a message.
    async fn reset(&mut self) {
        self.chunks = None;
        if let Some(txn) = self.txn.take() {
            txn.abort().await;
        }
    }

    /// Why DATA or BDAT cannot carry a message now, if it cannot.
    fn data_refusal(&self) -> Option<Reply> {
        match &self.txn {
            None => Some(Reply::new(503, "5.5.1", "Need MAIL command")),
            Some(t) if t.broken.is_some() => t.broken.clone(),
            Some(t) if t.rcpts.is_empty() => Some(Reply::new(554, "5.5.1", "No valid recipients")),
            Some(_) => None,
        }
    }

    async fn data(&mut self) -> io::Result<()> {
        if let Some(reply) = self.data_refusal() {
            return self.reply(&reply).await;
        }
        if self.chunks.is_some() {
            return self
                .reply(&Reply::new(503, "5.5.1", "DATA after BDAT"))
                .await;
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.start_data().await;
        }
        self.reply(&Reply::plain(354, "End data with <CR><LF>.<CR><LF>"))
            .await?;
        let mut received = Received::new();
        let mut decoder = DataDecoder::new();
        let t = secs(self.rt.snapshot.load().config.timeouts.data_block);
        loop {
            // (Unstuffing only takes bytes away: room for what is here is room enough.)
            received.body.reserve(self.conn.unread().len());
            let (used, done) = decoder.ingest(self.conn.unread(), &mut received.body);
            self.conn.consume(used);
            self.check_limits(&mut received);
            if done {
                break;
            }
            self.conn.fill(t, "waiting for message data").await?;
        }
        self.finish(received).await
    }

    async fn bdat(&mut self, size: usize, last: bool) -> io::Result<()> {
        let refusal = self.data_refusal();
        let mut received = match (&refusal, self.chunks.take()) {
            (None, Some(r)) => r,
            _ => Received::new(),
        };
        let mut reader = ChunkReader::new(size);
        let t = secs(self.rt.snapshot.load().config.timeouts.data_block);
        loop {
            let (used, done) = reader.ingest(self.conn.unread(), &mut received.body);
            self.conn.consume(used);
            if refusal.is_some() {
                received.body.clear();
            } else {
                self.check_limits(&mut received);
            }
            if done {
                break;
            }
            self.conn.fill(t, "waiting for a BDAT chunk").await?;
        }
        if let Some(reply) = refusal {
            return self.reply(&reply).await;
        }
        if !last {
            self.chunks = Some(received);
            return self.reply(&ok(format!("{size} octets received"))).await;
        }
        self.finish(received).await
    }

    /// Past the size limit or the budget, the rest of the message is read and dropped; the
    /// reply at its end says why.
    fn check_limits(&mut self, r: &mut Received) {
        if !r.too_big && !r.no_memory {
            let len = r.body.len() as u64;
            if len > self.rt.snapshot.load().config.limits.max_message_size {
                r.too_big = true;
            } else if let Some(txn) = self.txn.as_mut() {
                if !txn.reservation.ensure(2 * len) {
                    r.no_memory = true;
                }
            }
        }
        if r.too_big || r.no_memory {
            r.body.clear();
        }
    }

    async fn finish(&mut self, received: Received) -> io::Result<()> {
        let txn = self.txn.take().expect("checked by data_refusal");
        let reply = txn
            .finish(
                &self.rt,
                received,
                self.helo.as_deref().unwrap_or_default(),
                self.peer.ip(),
                self.conn.is_tls(),
            )
            .await;
        self.reply(&reply).await
    }
}
