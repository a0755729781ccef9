//! Runs `serve` on a real loopback TCP socket against an in-memory backend
//! and talks raw POP3 to it: login, pipelining, RETR/TOP, the QUIT-only
//! deletion rule, line limits and the idle timeout.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mailroom_pop3::{AuthOutcome, Backend, DropMessage, Maildrop, Pop3Config, serve};
use mailroom_transport::Connection;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const HELLO: &[u8] = b"From: a@example.org\r\nSubject: hello\r\n\r\nfirst line\r\n.starts with a dot\r\nlast\r\n";
const BARE_LF: &[u8] = b"Subject: unix\n\nbody\n";

#[derive(Default)]
struct Store {
    locked: Mutex<HashSet<i64>>,
    deletions: Mutex<Vec<(i64, Vec<u32>)>>,
}

struct Guard(Arc<Store>, i64);

impl Drop for Guard {
    fn drop(&mut self) {
        guard(&self.0.locked).remove(&self.1);
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Default)]
struct Fake(Arc<Store>);

impl Backend for Fake {
    fn authenticate(&self, _peer: IpAddr, user: &str, password: &str) -> AuthOutcome {
        if user == "alice" && password == "secret" {
            AuthOutcome::Ok { account_id: 1, address: "alice@example.org".into() }
        } else {
            AuthOutcome::Failed { delay: Duration::from_millis(10) }
        }
    }

    fn lock(&self, account_id: i64) -> Option<Box<dyn Send>> {
        guard(&self.0.locked).insert(account_id).then(|| Box::new(Guard(self.0.clone(), account_id)) as Box<dyn Send>)
    }

    fn maildrop(&self, _account_id: i64) -> io::Result<Maildrop> {
        Ok(Maildrop {
            uid_validity: 1700,
            messages: vec![
                DropMessage { uid: 12, message_id: "bare".into(), size: 23 },
                DropMessage { uid: 4, message_id: "hello".into(), size: HELLO.len() as u64 },
            ],
        })
    }

    fn read(&self, message_id: &str) -> io::Result<Vec<u8>> {
        match message_id {
            "hello" => Ok(HELLO.to_vec()),
            "bare" => Ok(BARE_LF.to_vec()),
            _ => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn delete(&self, account_id: i64, uids: &[u32]) -> io::Result<()> {
        guard(&self.0.deletions).push((account_id, uids.to_vec()));
        Ok(())
    }
}

struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("read");
        line
    }

    /// Reads a multi-line response up to and including the final ".".
    async fn multiline(&mut self) -> String {
        let mut all = String::new();
        loop {
            let line = self.line().await;
            assert!(!line.is_empty(), "connection closed inside a multi-line response: {all}");
            all.push_str(&line);
            if line == ".\r\n" {
                return all;
            }
        }
    }

    async fn send(&mut self, text: &str) {
        self.reader.get_mut().write_all(text.as_bytes()).await.expect("write");
    }

    async fn cmd(&mut self, text: &str) -> String {
        self.send(&format!("{text}\r\n")).await;
        self.line().await
    }
}

/// Starts one session on a fresh loopback port and connects to it.
async fn start(config: Pop3Config, backend: Fake) -> (Client, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let timeout = config.timeout;
    let config = Arc::new(config);
    let backend = Arc::new(backend);
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let conn = Connection::new(tcp, timeout).expect("connection");
        serve(conn, backend, config, 7).await;
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut client = Client { reader: BufReader::new(tcp) };
    assert_eq!(client.line().await, "+OK pop.example.org POP3 server ready\r\n");
    (client, server)
}

fn trusted() -> Pop3Config {
    Pop3Config { allow_plaintext_auth: true, ..Pop3Config::new("pop.example.org") }
}

async fn finished(server: JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("session ends").expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_session_deletes_on_quit() {
    let fake = Fake::default();
    let (mut c, server) = start(trusted(), fake.clone()).await;

    c.send("CAPA\r\n").await;
    let capa = c.multiline().await;
    assert!(capa.starts_with("+OK"), "{capa}");
    assert!(capa.contains("\r\nUSER\r\n") && capa.contains("\r\nPIPELINING\r\n"), "{capa}");
    assert!(!capa.contains("STLS"), "no certificate configured: {capa}");

    assert!(c.cmd("USER alice").await.starts_with("+OK"));
    assert_eq!(c.cmd("PASS wrong").await, "-ERR [AUTH] Authentication failed\r\n");
    assert!(c.cmd("USER alice").await.starts_with("+OK"));
    let total = HELLO.len() + 23;
    assert_eq!(c.cmd("PASS secret").await, format!("+OK Logged in, 2 messages ({total} octets)\r\n"));
    assert!(guard(&fake.0.locked).contains(&1));

    // Pipelined: three commands in one packet, answered in order.
    c.send("STAT\r\nLIST\r\nUIDL\r\n").await;
    assert_eq!(c.line().await, format!("+OK 2 {total}\r\n"));
    assert_eq!(c.multiline().await, format!("+OK 2 messages ({total} octets)\r\n1 {}\r\n2 23\r\n.\r\n", HELLO.len()));
    assert_eq!(c.multiline().await, "+OK Unique ids follow\r\n1 1700.4\r\n2 1700.12\r\n.\r\n");

    c.send("RETR 1\r\n").await;
    assert_eq!(
        c.multiline().await,
        format!(
            "+OK {} octets\r\nFrom: a@example.org\r\nSubject: hello\r\n\r\nfirst line\r\n..starts with a dot\r\nlast\r\n.\r\n",
            HELLO.len()
        )
    );
    c.send("RETR 2\r\n").await;
    assert_eq!(c.multiline().await, "+OK 23 octets\r\nSubject: unix\r\n\r\nbody\r\n.\r\n");
    c.send("TOP 1 1\r\n").await;
    assert_eq!(
        c.multiline().await,
        "+OK Top of message follows\r\nFrom: a@example.org\r\nSubject: hello\r\n\r\nfirst line\r\n.\r\n"
    );

    assert_eq!(c.cmd("DELE 2").await, "+OK Message 2 marked for deletion\r\n");
    assert_eq!(c.cmd("RETR 2").await, "-ERR No such message\r\n");
    assert!(guard(&fake.0.deletions).is_empty(), "DELE only marks");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye, 1 messages deleted\r\n");
    assert_eq!(c.line().await, "", "server closes after QUIT");

    finished(server).await;
    assert_eq!(*guard(&fake.0.deletions), vec![(1, vec![12])]);
    assert!(guard(&fake.0.locked).is_empty(), "lock released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_deletes_nothing() {
    let fake = Fake::default();
    let (mut c, server) = start(trusted(), fake.clone()).await;
    assert!(c.cmd("USER alice").await.starts_with("+OK"));
    assert!(c.cmd("PASS secret").await.starts_with("+OK"));
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    drop(c);
    finished(server).await;
    assert!(guard(&fake.0.deletions).is_empty());
    assert!(guard(&fake.0.locked).is_empty(), "lock released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_login_is_refused_with_a_hint() {
    let (mut c, server) = start(Pop3Config::new("pop.example.org"), Fake::default()).await;
    c.send("CAPA\r\n").await;
    let capa = c.multiline().await;
    assert!(!capa.contains("USER") && !capa.contains("SASL"), "{capa}");
    let hint = "-ERR Please use STLS first; logins are not accepted in plaintext\r\n";
    assert_eq!(c.cmd("USER alice").await, hint);
    assert_eq!(c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await, hint);
    assert_eq!(c.cmd("STLS").await, "-ERR TLS is not available on this server\r\n");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
    finished(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_get_errors_and_too_many_close() {
    let (mut c, server) = start(trusted(), Fake::default()).await;
    let long = "A".repeat(300);
    assert_eq!(c.cmd(&long).await, "-ERR Line too long\r\n");
    c.send("NO\0OP\r\n").await;
    assert_eq!(c.line().await, "-ERR NUL characters are not allowed in commands\r\n");
    // Bare LF line end.
    c.send("NOOP\n").await;
    assert_eq!(c.line().await, "+OK\r\n");
    for _ in 0..7 {
        assert!(c.cmd("XYZZY").await.starts_with("-ERR Unknown command"));
    }
    assert_eq!(c.cmd("XYZZY").await, "-ERR Too many errors\r\n");
    assert_eq!(c.line().await, "", "connection closed");
    finished(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_client_is_disconnected() {
    let config = Pop3Config { timeout: Duration::from_millis(200), ..trusted() };
    let (mut c, server) = start(config, Fake::default()).await;
    assert_eq!(c.line().await, "-ERR Idle timeout, closing the connection\r\n");
    assert_eq!(c.line().await, "");
    finished(server).await;
}
