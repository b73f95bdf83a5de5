//! A buffered SMTP connection over TCP or TLS, for both legs: read a line or a reply, write
//! bytes, each with its own deadline, and upgrade to TLS in place (STARTTLS).
//!
//! The deadlines share one timer per connection ([`Timer`]): registering a timer entry for
//! every read and write cost more than the read or write itself.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

use super::proto::reply::Reply;

/// TCP, or TLS over TCP on either side.
pub(crate) enum Stream {
    Plain(TcpStream),
    Server(Box<server::TlsStream<TcpStream>>),
    Client(Box<client::TlsStream<TcpStream>>),
    /// Taken away for a TLS upgrade (only seen if the upgrade failed).
    Closed,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }
}

const READ_CHUNK: usize = 64 * 1024;

/// How much later than its deadline an operation may time out: a timer already set at most
/// this much past the new deadline is left as it is, rather than moved earlier.
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// The one timer of a connection, for the deadline of each read or write in turn.
///
/// Each operation keeps its own full timeout (RFC 5321 §4.5.3.2), counted from when it first
/// has to wait (an operation that completes at once needs no timer), and it never times out
/// before that deadline, at most [`TIMER_SLACK`] after it. Moving a tokio timer costs more than
/// a read, so the timer is left where it is when it would go off before the new deadline: if
/// it does go off then, it is moved on to the deadline (once per timeout's length of activity).
/// It is moved earlier only when it would go off too late.
#[derive(Default)]
struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// The deadline `timeout` from now, with the timer set to go off no later than
    /// [`TIMER_SLACK`] after it.
    fn arm(&mut self, timeout: Duration) -> Instant {
        let now = Instant::now();
        // (As `tokio::time::timeout` does, a timeout too large to add never ends.)
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
        match &mut self.0 {
            None => self.0 = Some(Box::pin(tokio::time::sleep_until(deadline))),
            Some(sleep) if sleep.deadline() > deadline + TIMER_SLACK => {
                sleep.as_mut().reset(deadline)
            }
            Some(_) => {}
        }
        deadline
    }

    /// Whether `deadline` has passed; otherwise the waker is woken when it does.
    fn poll_expired(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self.0.as_mut().expect("armed");
        loop {
            ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= deadline {
                return Poll::Ready(());
            }
            // Set for an earlier operation, it went off before this one's deadline.
            sleep.as_mut().reset(deadline);
        }
    }

    /// Runs `op` until it ends or `timeout` passes (then a [`timed_out`] error).
    async fn run<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        op: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        let mut op = std::pin::pin!(op);
        let mut deadline = None;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = op.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            let deadline = *deadline.get_or_insert_with(|| self.arm(timeout));
            ready!(self.poll_expired(deadline, cx));
            Poll::Ready(Err(timed_out(what)))
        })
        .await
    }
}

/// A stream with a read buffer, and an output queue for replies to pipelined commands.
pub(crate) struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    pos: usize,
    /// Queued bytes: they go out before the next read waits for the peer.
    out: Vec<u8>,
    timer: Timer,
}

pub(crate) fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}"))
}

impl Conn {
    pub(crate) fn new(stream: Stream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(4096),
            pos: 0,
            out: Vec::new(),
            timer: Timer::default(),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Server(_) | Stream::Client(_))
    }

    /// The bytes read but not consumed yet.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks `n` unread bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos += n;
        debug_assert!(self.pos <= self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Forgets whatever was read but not consumed (pipelined plain text before TLS).
    pub(crate) fn discard_unread(&mut self) -> usize {
        let n = self.buf.len() - self.pos;
        self.buf.clear();
        self.pos = 0;
        n
    }

    /// Reads more bytes: an error on EOF or when `timeout` passes first. Whatever was queued
    /// goes out first: the peer may be waiting for it.
    pub(crate) async fn fill(&mut self, timeout: Duration, what: &str) -> io::Result<()> {
        self.flush(timeout, "sending replies").await?;
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let read = self.stream.read_buf(&mut self.buf);
        match self.timer.run(timeout, what, read).await? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed {what}"),
            )),
            _ => Ok(()),
        }
    }

    /// Waits for the next line: its length with its LF (at most `max` bytes long). The line
    /// is the start of [`Conn::unread`] (not consumed: parse it there, then
    /// [`Conn::consume`] it).
    pub(crate) async fn next_line(
        &mut self,
        timeout: Duration,
        max: usize,
        what: &str,
    ) -> io::Result<usize> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.unread()) {
                return Ok(i + 1);
            }
            if self.unread().len() > max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            self.fill(timeout, what).await?;
        }
    }

    /// The next complete line if one is already buffered.
    pub(crate) fn buffered_line(&self) -> Option<&[u8]> {
        memchr::memchr(b'\n', self.unread()).map(|i| &self.unread()[..=i])
    }

    /// The next reply of the peer.
    pub(crate) async fn read_reply(&mut self, timeout: Duration, what: &str) -> io::Result<Reply> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match Reply::parse(self.unread()) {
                Ok(Some((reply, n))) => {
                    self.consume(n);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            self.fill(left, what).await?;
        }
    }

    /// Queues `bytes` to go out with the next write (RFC 2920 §3.2: replies to pipelined
    /// commands may wait while more commands are buffered, and then go out in one write).
    pub(crate) fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The output queue, to write into (see [`Conn::queue`]).
    pub(crate) fn queued(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Sends what was queued, within `timeout`.
    pub(crate) async fn flush(&mut self, timeout: Duration, what: &str) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let mut out = std::mem::take(&mut self.out);
        let sent = self.write(&out, timeout, what).await;
        out.clear();
        self.out = out;
        sent
    }

    /// Writes whatever was queued and then all of `bytes`, and flushes, within `timeout`.
    pub(crate) async fn send(
        &mut self,
        bytes: &[u8],
        timeout: Duration,
        what: &str,
    ) -> io::Result<()> {
        if !self.out.is_empty() {
            self.queue(bytes);
            return self.flush(timeout, what).await;
        }
        self.write(bytes, timeout, what).await
    }

    async fn write(&mut self, bytes: &[u8], timeout: Duration, what: &str) -> io::Result<()> {
        let stream = &mut self.stream;
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        self.timer.run(timeout, what, write).await
    }

    /// Sends what was queued and closes the write side (best effort).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self
            .flush(Duration::from_secs(1), "sending the last replies")
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.shutdown()).await;
    }

    /// STARTTLS as the server, in place: whatever was buffered before is dropped (RFC 3207
    /// §4.2) and its length returned.
    pub(crate) async fn accept_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> io::Result<usize> {
        self.flush(timeout, "sending the STARTTLS reply").await?;
        let dropped = self.discard_unread();
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(io::Error::other("TLS is already on"));
        };
        let tls = tokio::time::timeout(timeout, acceptor.accept(tcp))
            .await
            .map_err(|_| timed_out("in the TLS handshake"))??;
        self.stream = Stream::Server(Box::new(tls));
        Ok(dropped)
    }

    /// STARTTLS as the client, presenting the configuration's client certificate.
    pub(crate) async fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        timeout: Duration,
    ) -> io::Result<Conn> {
        let Stream::Plain(tcp) = self.stream else {
            return Err(io::Error::other("TLS is already on"));
        };
        let tls = tokio::time::timeout(timeout, TlsConnector::from(config).connect(name, tcp))
            .await
            .map_err(|_| timed_out("in the TLS handshake"))??;
        Ok(Conn::new(Stream::Client(Box::new(tls))))
    }

    /// The certificate the peer presented in the TLS handshake (server side), if any.
    pub(crate) fn peer_certificate_subject(&self) -> Option<String> {
        let Stream::Server(s) = &self.stream else {
            return None;
        };
        let cert = s.get_ref().1.peer_certificates()?.first()?.clone();
        let info = super::tls::CertInfo::read(&cert, "peer").ok()?;
        info.common_names.first().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A connection to read from (the relay's side) and its silent peer.
    async fn pair() -> (Conn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (tcp, _) = l.accept().await.unwrap();
        (Conn::new(Stream::Plain(tcp)), peer)
    }

    /// Reads with `timeout` while the peer writes one byte after `after` (never if `None`):
    /// how long it took and whether it timed out.
    async fn read(
        conn: &mut Conn,
        peer: &mut TcpStream,
        timeout: u64,
        after: Option<u64>,
    ) -> (Duration, bool) {
        let start = Instant::now();
        let write = async {
            match after {
                Some(s) => {
                    tokio::time::sleep(Duration::from_secs(s)).await;
                    peer.write_all(b"x").await.unwrap();
                }
                None => std::future::pending().await,
            }
        };
        let read = async {
            let r = conn.fill(Duration::from_secs(timeout), "reading").await;
            (r, start.elapsed())
        };
        let ((r, took), ()) = tokio::join!(read, async {
            tokio::select! { () = write => {}, () = tokio::time::sleep(Duration::from_secs(timeout + 1)) => {} }
        });
        conn.consume(conn.unread().len());
        let timed_out = match r {
            Ok(()) => false,
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                true
            }
        };
        (took, timed_out)
    }

    fn near(elapsed: Duration, secs: u64) -> bool {
        let at = Duration::from_secs(secs);
        elapsed >= at && elapsed <= at + TIMER_SLACK + Duration::from_millis(2)
    }

    /// The one timer per connection keeps each read's own deadline: it times out at it, not
    /// before it (after a shorter deadline set for the read before) and not after it (after
    /// a longer one).
    #[tokio::test(start_paused = true)]
    async fn each_read_times_out_at_its_own_deadline_whatever_the_read_before_had() {
        let (mut conn, mut peer) = pair().await;
        let (t, out) = read(&mut conn, &mut peer, 10, None).await;
        assert!(out && near(t, 10), "{t:?}");
        // A long deadline set, then a short one: the timer moves earlier.
        let (t, out) = read(&mut conn, &mut peer, 300, Some(1)).await;
        assert!(!out && near(t, 1), "{t:?}");
        let (t, out) = read(&mut conn, &mut peer, 10, None).await;
        assert!(out && near(t, 10), "{t:?}");
        // A short deadline set, then a long one: going off at the short one ends nothing.
        let (t, out) = read(&mut conn, &mut peer, 5, Some(1)).await;
        assert!(!out && near(t, 1), "{t:?}");
        let (t, out) = read(&mut conn, &mut peer, 60, Some(30)).await;
        assert!(!out && near(t, 30), "{t:?}");
        let (t, out) = read(&mut conn, &mut peer, 60, None).await;
        assert!(out && near(t, 60), "{t:?}");
        // Writes share the timer: one that completes at once leaves reads' deadlines alone.
        conn.send(b"y", Duration::from_secs(1), "writing")
            .await
            .unwrap();
        let (t, out) = read(&mut conn, &mut peer, 20, None).await;
        assert!(out && near(t, 20), "{t:?}");
    }
}
