//! The listening socket and the accept loop: the source-address allow-list, the connection
//! limit, one task per connection on the task tracker, and the end of accepting at shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::proto::reply::Reply;
use super::runtime::Runtime;
use super::session;

/// The listening socket, with `backlog` (`listener.backlog`) and the address reusable as
/// tokio's `bind` makes it.
pub(crate) fn listen(address: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(backlog)
}

/// Accepts connections until shutdown; the listening socket closes when this returns.
pub(crate) async fn accept_loop(listener: TcpListener, rt: Arc<Runtime>) {
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            _ = rt.shutdown.cancelled() => return refuse_queued(&listener, &rt),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if !rt.snapshot.load().allow.allows(peer.ip()) {
            tracing::warn!(%peer, "connection from an address outside the allow-list refused");
            rt.metrics.connection_refused("allow_list");
            refuse(
                tcp,
                Reply::new(554, "5.7.1", "This address may not use this relay"),
            );
            continue;
        }
        let Ok(slot) = rt.connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; connection refused");
            rt.metrics.connection_refused("limit");
            refuse(
                tcp,
                Reply::new(421, "4.3.2", "Too many connections, try again later"),
            );
            continue;
        };
        rt.tracker.spawn(session::run(tcp, peer, rt.clone(), slot));
    }
}

/// At shutdown: the connections the kernel completed but the relay had not accepted yet get
/// `421` like any session that starts during the stop, instead of a reset when the listening
/// socket closes.
fn refuse_queued(listener: &TcpListener, rt: &Runtime) {
    let hostname = rt.snapshot.load().config.listener.hostname.clone();
    let mut refused = 0;
    // (Unconstrained: tokio's per-task budget would end the loop after 128 accepts.)
    while let Some(Ok((tcp, _))) = tokio::task::unconstrained(listener.accept()).now_or_never() {
        refused += 1;
        rt.metrics.connection_refused("shutdown");
        refuse(
            tcp,
            Reply::new(421, "4.3.2", format!("{hostname} Service shutting down")),
        );
    }
    if refused > 0 {
        tracing::info!(
            connections = refused,
            "connections queued at shutdown answered 421"
        );
    }
}

/// Answers `reply` and closes, without holding up the accept loop.
fn refuse(mut tcp: TcpStream, reply: Reply) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            tcp.write_all(&reply.to_bytes()).await?;
            tcp.shutdown().await
        })
        .await;
    });
}
