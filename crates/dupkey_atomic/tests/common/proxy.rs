//! A TCP proxy to the test server that cuts or stalls connections, for the tests of riding
//! out transient errors: cuts at random byte counts in either direction, exactly the replies
//! to a named command, or requests of a named command delivered late; stalls of all traffic
//! on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mongodb::Client;
use mongodb::options::{ClientOptions, ServerAddress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::RwLock;
use tokio::task::JoinSet;

/// A proxied connection is cut after 0.5–1.5 times this many bytes in one direction: a
/// few dozen operations, so that cuts keep coming through the whole run.
pub const MEAN_BYTES: usize = 12 * 1024;

/// A TCP proxy to the test server that cuts connections by a [`Plan`].
pub struct Proxy {
    port: u16,
    /// Connections the plan has cut so far (a late request counts once it was delivered).
    pub cuts: Arc<AtomicUsize>,
    /// Held for reading by every write the proxy forwards; [`Proxy::stall`] holds it for
    /// writing.
    gate: Arc<RwLock<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// When the proxy cuts a connection.
#[derive(Clone)]
pub enum Plan {
    /// Every connection, after a random number of bytes (0.5–1.5 × `MEAN_BYTES`) in either
    /// direction, wherever that falls: in a request (which then never runs) or in a reply
    /// (whose command ran, unknown to the caller).
    Random,
    /// The reply to each of the next `times` commands named `command`: the command runs, its
    /// caller never learns the outcome.
    LoseReplies {
        command: &'static str,
        times: Arc<AtomicUsize>,
    },
    /// Each of the next `times` requests named `command` is held back while the client's
    /// connection is closed, then delivered `delay` later: a request stuck in the network
    /// that runs after the client has retried it.
    DelayRequests {
        command: &'static str,
        times: Arc<AtomicUsize>,
        delay: Duration,
    },
    /// Never cuts (stalls come from [`Proxy::stall`]).
    Clean,
}

impl Proxy {
    /// Forwards nothing, in either direction on any connection, for `pause`: to the driver the
    /// server hangs, and its monitor's heartbeat times out.
    pub async fn stall(&self, pause: Duration) {
        let _closed = self.gate.write().await;
        tokio::time::sleep(pause).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// Starts a proxy to the server of `DUPKEY_TEST_URI` on a free loopback port; `seed` drives
/// the random budgets of [`Plan::Random`].
pub async fn start_proxy(plan: Plan, seed: u64) -> Proxy {
    let upstream = upstream_address(&dupkey_test::test_uri().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cuts = Arc::new(AtomicUsize::new(0));
    let counted = cuts.clone();
    let gate = Arc::new(RwLock::new(()));
    let shared_gate = gate.clone();
    let task = tokio::spawn(async move {
        let mut rng = dupkey_test::Rng(seed);
        let mut connections = JoinSet::new();
        while let Ok((inbound, _)) = listener.accept().await {
            while connections.try_join_next().is_some() {}
            let mut budget = || MEAN_BYTES / 2 + rng.below(MEAN_BYTES);
            let budgets = [budget(), budget()];
            let (plan, upstream, cuts) = (plan.clone(), upstream.clone(), counted.clone());
            let gate = shared_gate.clone();
            connections.spawn(async move {
                let Ok(outbound) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let cut = match plan {
                    Plan::Random => pipe(inbound, outbound, budgets, gate).await,
                    Plan::Clean => pipe(inbound, outbound, [usize::MAX; 2], gate).await,
                    Plan::LoseReplies { command, times } => {
                        lose_replies(inbound, outbound, command, &times).await
                    }
                    Plan::DelayRequests {
                        command,
                        times,
                        delay,
                    } => delay_requests(inbound, outbound, command, &times, delay).await,
                };
                if cut {
                    cuts.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Proxy {
        port,
        cuts,
        gate,
        task,
    }
}

/// Forwards both directions until either ends or spends its budget (true: a cut); then both
/// sockets close.
async fn pipe(
    inbound: TcpStream,
    outbound: TcpStream,
    budgets: [usize; 2],
    gate: Arc<RwLock<()>>,
) -> bool {
    let (client_reads, client_writes) = inbound.into_split();
    let (server_reads, server_writes) = outbound.into_split();
    tokio::select! {
        cut = forward(client_reads, server_writes, budgets[0], &gate) => cut,
        cut = forward(server_reads, client_writes, budgets[1], &gate) => cut,
    }
}

/// Copies until EOF or an error (false), or until `budget` bytes went through (true): the
/// last read is shortened so the cut falls inside a message.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut budget: usize,
    gate: &RwLock<()>,
) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    while budget > 0 {
        let n = match from.read(&mut buf[..budget.min(16 * 1024)]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let _open = gate.read().await;
        if to.write_all(&buf[..n]).await.is_err() {
            return false;
        }
        budget -= n;
    }
    true
}

/// Forwards whole wire messages; after a request naming `command` (while `times` lasts) the
/// server's reply is swallowed and the connection closed (true). A driver connection runs one
/// command at a time, so the next reply on it is that command's.
async fn lose_replies(
    inbound: TcpStream,
    outbound: TcpStream,
    command: &str,
    times: &AtomicUsize,
) -> bool {
    let (mut client_reads, mut client_writes) = inbound.into_split();
    let (mut server_reads, mut server_writes) = outbound.into_split();
    loop {
        let Some(request) = read_message(&mut client_reads).await else {
            return false;
        };
        let lose = command_name(&request) == Some(command.as_bytes()) && take_one(times);
        if server_writes.write_all(&request).await.is_err() {
            return false;
        }
        let Some(reply) = read_message(&mut server_reads).await else {
            return false;
        };
        if lose {
            return true;
        }
        if client_writes.write_all(&reply).await.is_err() {
            return false;
        }
    }
}

/// Forwards whole wire messages until a request naming `command` comes (while `times`
/// lasts): then the client's connection is closed, and the request is delivered to the server
/// `delay` later, its reply dropped (true).
async fn delay_requests(
    inbound: TcpStream,
    outbound: TcpStream,
    command: &str,
    times: &AtomicUsize,
    delay: Duration,
) -> bool {
    let (mut client_reads, mut client_writes) = inbound.into_split();
    let (mut server_reads, mut server_writes) = outbound.into_split();
    loop {
        let Some(request) = read_message(&mut client_reads).await else {
            return false;
        };
        if command_name(&request) == Some(command.as_bytes()) && take_one(times) {
            drop((client_reads, client_writes));
            tokio::time::sleep(delay).await;
            if server_writes.write_all(&request).await.is_ok() {
                read_message(&mut server_reads).await;
            }
            return true;
        }
        if server_writes.write_all(&request).await.is_err() {
            return false;
        }
        let Some(reply) = read_message(&mut server_reads).await else {
            return false;
        };
        if client_writes.write_all(&reply).await.is_err() {
            return false;
        }
    }
}

/// Takes one from `times`; false when none is left.
fn take_one(times: &AtomicUsize) -> bool {
    times
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// One wire protocol message (its int32 length prefix counts itself).
async fn read_message(from: &mut OwnedReadHalf) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len).await.ok()?;
    let total = usize::try_from(i32::from_le_bytes(len)).ok()?.max(4);
    let mut message = len.to_vec();
    message.resize(total, 0);
    from.read_exact(&mut message[4..]).await.ok()?;
    Some(message)
}

/// The command of an OP_MSG: the first key of its body document, after the 16-byte header,
/// the flag bits, the section kind, the document length and the element type.
fn command_name(message: &[u8]) -> Option<&[u8]> {
    let op_code = i32::from_le_bytes(message.get(12..16)?.try_into().ok()?);
    if op_code != 2013 {
        return None;
    }
    let name = message.get(26..)?;
    name.iter().position(|b| *b == 0).map(|end| &name[..end])
}

/// A client of the test server that goes through `proxy`, with retryable writes off as in
/// the test server's URI, so that every retry in this run is dupkey_atomic's own.
pub async fn proxied_client(proxy: &Proxy) -> Client {
    Client::with_options(proxied_options(proxy).await).unwrap()
}

/// The options of [`proxied_client`], for tests that tune them.
pub async fn proxied_options(proxy: &Proxy) -> ClientOptions {
    let uri = dupkey_test::test_uri().unwrap();
    let mut options = ClientOptions::parse(&uri).await.unwrap();
    options.hosts = vec![ServerAddress::parse(format!("127.0.0.1:{}", proxy.port)).unwrap()];
    options.direct_connection = Some(true);
    options.retry_writes = Some(false);
    options.max_pool_size = Some(100);
    options.server_selection_timeout = Some(Duration::from_secs(20));
    options
}

fn upstream_address(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = hosts.split(',').next().unwrap_or(hosts);
    host.rsplit_once('@').map_or(host, |(_, h)| h).to_string()
}
