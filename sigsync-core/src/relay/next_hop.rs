//! The return leg: an SMTP client on tokio-rustls that connects to a tenant's endpoint,
//! STARTTLS with the tenant's client certificate chain, EHLO with the certificate name,
//! pipelined MAIL/RCPT, DATA or BDAT; and a per-tenant pool that reuses connections within
//! Exchange's 20-minute limit and caps how many are open at once.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::config::{secs, RelayConfig};
use super::io::{Conn, Stream};
use super::proto::data::DotStuffer;
use super::proto::ehlo::Capabilities;
use super::proto::reply::Reply;
use super::resolver::{Endpoint, Resolver};

/// Why the return leg failed before the next hop gave a final answer. Each is the relay's own
/// failure, so the sender gets a 4xx.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HopError {
    #[error("no address for the next hop: {0}")]
    Resolve(io::Error),
    #[error("cannot connect to the next hop: {0}")]
    Connect(String),
    #[error("TLS with the next hop failed: {0}")]
    Tls(String),
    #[error("the next hop refused the session: {0}")]
    Refused(Reply),
    #[error("no free connection to the tenant's endpoint within the wait")]
    Busy,
    #[error("next hop: {0}")]
    Io(#[from] io::Error),
}

impl HopError {
    /// The 4xx the sender gets.
    pub(crate) fn reply(&self) -> Reply {
        match self {
            HopError::Resolve(_) | HopError::Connect(_) => {
                Reply::new(451, "4.4.1", "Next hop unreachable, try again later")
            }
            HopError::Tls(_) => Reply::new(
                454,
                "4.7.5",
                "TLS with the next hop failed, try again later",
            ),
            HopError::Refused(_) => Reply::new(
                451,
                "4.4.2",
                "Next hop refused the session, try again later",
            ),
            HopError::Busy => Reply::new(
                451,
                "4.4.5",
                "All connections to the next hop are busy, try again later",
            ),
            HopError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
                Reply::new(451, "4.4.2", "Next hop timed out, try again later")
            }
            HopError::Io(_) => Reply::new(
                451,
                "4.4.2",
                "Connection to the next hop lost, try again later",
            ),
        }
    }
}

/// How to reach one tenant.
pub(crate) struct HopTarget<'a> {
    pub endpoint: &'a Endpoint,
    /// The EHLO name: the certificate name.
    pub ehlo: &'a str,
    /// `None`: plain text (loopback endpoints only, checked at start).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// An open session with a next hop, ready for MAIL.
pub(crate) struct Client {
    conn: Conn,
    pub caps: Capabilities,
    pub host: String,
    opened: Instant,
    messages: u32,
    idle_since: Instant,
    /// DATA commands sent whose reply was not read: the connection is not reusable until
    /// they are (a reply on its way would answer the next transaction's first command).
    data_pending: u8,
    _slot: OwnedSemaphorePermit,
}

impl Client {
    async fn open(
        target: &HopTarget<'_>,
        resolver: &dyn Resolver,
        cfg: &RelayConfig,
        slot: OwnedSemaphorePermit,
    ) -> Result<Client, HopError> {
        let targets = target
            .endpoint
            .targets(resolver)
            .await
            .map_err(HopError::Resolve)?;
        let mut last = HopError::Connect("no address".into());
        for t in &targets {
            for addr in &t.addrs {
                let tcp = match tokio::time::timeout(
                    secs(cfg.timeouts.connect),
                    TcpStream::connect(addr),
                )
                .await
                {
                    Ok(Ok(tcp)) => tcp,
                    Ok(Err(e)) => {
                        last = HopError::Connect(format!("{} ({addr}): {e}", t.host));
                        continue;
                    }
                    Err(_) => {
                        last = HopError::Connect(format!("{} ({addr}): timed out", t.host));
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                match Self::handshake(Conn::new(Stream::Plain(tcp)), &t.host, target, cfg).await {
                    Ok((conn, caps)) => {
                        let now = Instant::now();
                        return Ok(Client {
                            conn,
                            caps,
                            host: t.host.clone(),
                            opened: now,
                            messages: 0,
                            idle_since: now,
                            data_pending: 0,
                            _slot: slot,
                        });
                    }
                    Err(e) => {
                        tracing::debug!(host = %t.host, %addr, error = %e, "next hop session failed");
                        last = e;
                    }
                }
            }
        }
        Err(last)
    }

    /// Greeting, EHLO, STARTTLS and EHLO again.
    async fn handshake(
        mut conn: Conn,
        host: &str,
        target: &HopTarget<'_>,
        cfg: &RelayConfig,
    ) -> Result<(Conn, Capabilities), HopError> {
        let t = secs(cfg.timeouts.greeting);
        let greeting = conn.read_reply(t, "waiting for the greeting").await?;
        if greeting.code != 220 {
            return Err(HopError::Refused(greeting));
        }
        let mut caps = ehlo(&mut conn, target.ehlo, t).await?;
        if let Some(tls) = &target.tls {
            if !caps.starttls {
                return Err(HopError::Tls(format!("{host} does not offer STARTTLS")));
            }
            conn.send(b"STARTTLS\r\n", t, "sending STARTTLS").await?;
            let r = conn.read_reply(t, "waiting for the STARTTLS reply").await?;
            if r.code != 220 {
                return Err(HopError::Tls(format!("{host} answered STARTTLS with {r}")));
            }
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| HopError::Tls(format!("{host}: {e}")))?;
            conn = conn
                .connect_tls(tls.clone(), name, t)
                .await
                .map_err(|e| HopError::Tls(format!("{host}: {e}")))?;
            caps = ehlo(&mut conn, target.ehlo, t).await.map_err(|e| match e {
                // A server that dislikes our certificate often closes after the handshake.
                HopError::Io(io) => HopError::Tls(format!("{host} after the handshake: {io}")),
                other => other,
            })?;
        }
        Ok((conn, caps))
    }

    /// Sends the lines and reads one reply per line (all at once when the next hop
    /// pipelines).
    pub(crate) async fn commands(
        &mut self,
        lines: &[String],
        cfg: &RelayConfig,
    ) -> io::Result<Vec<Reply>> {
        self.commands_then_data(lines, false, cfg).await
    }

    /// As [`Client::commands`], with DATA sent last in the same write when `data` (a
    /// pipelining next hop only); its reply is left for [`Client::message`] to read.
    pub(crate) async fn commands_then_data(
        &mut self,
        lines: &[String],
        data: bool,
        cfg: &RelayConfig,
    ) -> io::Result<Vec<Reply>> {
        let t = secs(cfg.timeouts.mail_rcpt);
        let mut replies = Vec::with_capacity(lines.len());
        if self.caps.pipelining {
            // (Queued in the connection's output buffer: one write, no buffer of its own.)
            for line in lines {
                self.conn.queue(line.as_bytes());
            }
            if data {
                self.conn.queue(b"DATA\r\n");
                self.data_pending += 1;
            }
            self.conn.flush(t, "sending commands").await?;
            for _ in lines {
                replies.push(self.conn.read_reply(t, "waiting for a reply").await?);
            }
        } else {
            debug_assert!(!data, "DATA is batched only to a pipelining next hop");
            for line in lines {
                self.conn
                    .send(line.as_bytes(), t, "sending a command")
                    .await?;
                replies.push(self.conn.read_reply(t, "waiting for a reply").await?);
            }
        }
        Ok(replies)
    }

    /// Sends DATA ahead of the message, without waiting for the 354 (read by `message`): a next
    /// hop without CHUNKING then answers it while the sender's data is still arriving, which
    /// saves a round trip at the end.
    pub(crate) async fn data_command(&mut self, cfg: &RelayConfig) -> io::Result<()> {
        self.data_pending += 1;
        self.conn
            .send(
                b"DATA\r\n",
                secs(cfg.timeouts.data_block_send),
                "sending DATA",
            )
            .await
    }

    /// Sends `prefix` and then `msg` as one message, and returns the next hop's final reply (or
    /// the refusal of DATA).
    /// `data_sent`: DATA already went out ([`Client::data_command`]). `go_on` is asked right
    /// before the end of the data goes out; `false` (past the processing deadline) returns
    /// `Ok(None)` and leaves the connection unusable.
    pub(crate) async fn message(
        &mut self,
        prefix: &[u8],
        msg: &[u8],
        bdat: bool,
        data_sent: bool,
        cfg: &RelayConfig,
        go_on: impl FnOnce() -> bool,
    ) -> io::Result<Option<Reply>> {
        self.messages += 1;
        let block = secs(cfg.timeouts.data_block_send);
        let end = secs(cfg.timeouts.data_termination);
        if bdat && !data_sent {
            if !go_on() {
                return Ok(None);
            }
            let head = format!("BDAT {} LAST\r\n", prefix.len() + msg.len());
            self.conn.queue(head.as_bytes());
            self.conn.queue(prefix);
            if msg.len() <= PIECE {
                // One write for a small message.
                self.conn.queue(msg);
                self.conn.flush(block, "sending BDAT").await?;
            } else {
                self.conn.flush(block, "sending BDAT").await?;
                for piece in msg.chunks(PIECE) {
                    self.conn.send(piece, block, "sending data").await?;
                }
            }
            return self
                .conn
                .read_reply(end, "waiting for the final reply")
                .await
                .map(Some);
        }
        if !data_sent {
            self.data_command(cfg).await?;
        }
        let r = self
            .conn
            .read_reply(secs(cfg.timeouts.data_init), "waiting for the DATA reply")
            .await?;
        self.data_pending -= 1;
        if r.code != 354 {
            return Ok(Some(r));
        }
        let mut stuffer = DotStuffer::new();
        // (Stuffed into the connection's output buffer, which is kept from message to message.)
        stuffer.stuff(prefix, self.conn.queued());
        let mut pieces = msg.chunks(PIECE).peekable();
        let mut go_on = Some(go_on);
        loop {
            let piece = pieces.next();
            let last = pieces.peek().is_none();
            if let Some(p) = piece {
                stuffer.stuff(p, self.conn.queued());
            }
            if last {
                // The last piece carries the end of data: the deadline is checked before it.
                if !(go_on.take().expect("once"))() {
                    self.conn.queued().clear();
                    return Ok(None);
                }
                self.conn.queue(stuffer.finish());
            }
            self.conn.flush(block, "sending data").await?;
            if last {
                break;
            }
        }
        self.conn
            .read_reply(end, "waiting for the final reply")
            .await
            .map(Some)
    }

    /// Ends the transaction on the next hop (after a refused RCPT set or a message we refuse).
    pub(crate) async fn rset(&mut self, cfg: &RelayConfig) -> io::Result<()> {
        let t = secs(cfg.timeouts.mail_rcpt);
        self.conn.send(b"RSET\r\n", t, "sending RSET").await?;
        let r = self
            .conn
            .read_reply(t, "waiting for the RSET reply")
            .await?;
        if r.is_positive() {
            Ok(())
        } else {
            Err(io::Error::other(format!("RSET answered {r}")))
        }
    }

    /// Says goodbye (best effort).
    pub(crate) async fn quit(mut self) {
        let t = Duration::from_secs(2);
        if self.conn.send(b"QUIT\r\n", t, "sending QUIT").await.is_ok() {
            let _ = self.conn.read_reply(t, "waiting for the QUIT reply").await;
        }
        self.conn.shutdown().await;
    }

    fn fresh(&self, cfg: &RelayConfig) -> bool {
        self.opened.elapsed() < secs(cfg.next_hop.max_connection_age)
            && self.messages < cfg.next_hop.max_messages_per_connection
            && self.idle_since.elapsed() < secs(cfg.next_hop.idle_timeout)
    }
}

async fn ehlo(conn: &mut Conn, name: &str, t: Duration) -> Result<Capabilities, HopError> {
    conn.send(format!("EHLO {name}\r\n").as_bytes(), t, "sending EHLO")
        .await?;
    let r = conn.read_reply(t, "waiting for the EHLO reply").await?;
    if r.code == 250 {
        return Ok(Capabilities::from_ehlo(&r));
    }
    if !r.is_permanent() {
        return Err(HopError::Refused(r));
    }
    // RFC 5321 §3.2: an old server that refuses EHLO may take HELO.
    conn.send(format!("HELO {name}\r\n").as_bytes(), t, "sending HELO")
        .await?;
    let r = conn.read_reply(t, "waiting for the HELO reply").await?;
    if r.code == 250 {
        Ok(Capabilities::default())
    } else {
        Err(HopError::Refused(r))
    }
}

/// Bytes written per call when sending a message.
const PIECE: usize = 64 * 1024;

/// One tenant's connections: idle ones for reuse and a cap on how many are open. An idle
/// connection keeps its slot, so a waiter takes either a returned connection or a freed slot,
/// whichever comes first.
pub(crate) struct Pool {
    idle: Mutex<Vec<Client>>,
    slots: Arc<Semaphore>,
    returned: Notify,
}

impl Pool {
    pub(crate) fn new(max_connections: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(max_connections)),
            returned: Notify::new(),
        }
    }

    /// A reused connection (`true`) or a new one (`false`), within `timeouts.tenant_slot`.
    pub(crate) async fn get(
        &self,
        target: &HopTarget<'_>,
        resolver: &dyn Resolver,
        cfg: &RelayConfig,
    ) -> Result<(Client, bool), HopError> {
        let deadline = tokio::time::Instant::now() + secs(cfg.timeouts.tenant_slot);
        loop {
            if let Some(c) = self.take_idle(cfg) {
                return Ok((c, true));
            }
            let returned = self.returned.notified();
            let slot = tokio::select! {
                slot = self.slots.clone().acquire_owned() => slot.map_err(|_| HopError::Busy)?,
                _ = returned => continue,
                _ = tokio::time::sleep_until(deadline) => return Err(HopError::Busy),
            };
            return Client::open(target, resolver, cfg, slot)
                .await
                .map(|c| (c, false));
        }
    }

    /// A new connection, for when a reused one turned out to be closed (drop that one first:
    /// it holds a slot).
    pub(crate) async fn connect(
        &self,
        target: &HopTarget<'_>,
        resolver: &dyn Resolver,
        cfg: &RelayConfig,
    ) -> Result<Client, HopError> {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // Close an idle connection to make room, or wait for a slot.
                drop(self.idle.lock().expect("pool lock").pop());
                tokio::time::timeout(
                    secs(cfg.timeouts.tenant_slot),
                    self.slots.clone().acquire_owned(),
                )
                .await
                .map_err(|_| HopError::Busy)?
                .map_err(|_| HopError::Busy)?
            }
        };
        Client::open(target, resolver, cfg, slot).await
    }

    fn take_idle(&self, cfg: &RelayConfig) -> Option<Client> {
        let mut idle = self.idle.lock().expect("pool lock");
        while let Some(c) = idle.pop() {
            if c.fresh(cfg) {
                return Some(c);
            }
        }
        None
    }

    /// Returns a connection that ended its transaction cleanly.
    pub(crate) fn put(&self, mut client: Client, cfg: &RelayConfig) {
        if client.data_pending > 0 {
            // A reply still on its way would answer the next transaction's first command.
            tracing::debug!("next-hop connection with an unread DATA reply closed");
            return;
        }
        client.idle_since = Instant::now();
        if client.messages < cfg.next_hop.max_messages_per_connection
            && client.opened.elapsed() < secs(cfg.next_hop.max_connection_age)
        {
            self.idle.lock().expect("pool lock").push(client);
            self.returned.notify_one();
        } else {
            tokio::spawn(client.quit());
        }
    }

    /// Closes idle connections that are too old or idle too long.
    pub(crate) fn reap(&self, cfg: &RelayConfig) {
        let stale: Vec<Client> = {
            let mut idle = self.idle.lock().expect("pool lock");
            let (keep, stale) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|c| c.fresh(cfg));
            *idle = keep;
            stale
        };
        for c in stale {
            tokio::spawn(c.quit());
        }
    }

    /// Closes every idle connection (shutdown).
    pub(crate) async fn close_all(&self) {
        let all = std::mem::take(&mut *self.idle.lock().expect("pool lock"));
        for c in all {
            c.quit().await;
        }
    }
}
