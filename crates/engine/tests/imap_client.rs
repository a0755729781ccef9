//! End-to-end test of the IMAP server with a real Rust IMAP client (async-imap over tokio-rustls).
//!
//! The test provisions a data directory with the `mailroomd` CLI, starts `mailroomd serve` on a
//! free port offset, connects to the implicit-TLS port (N+993), pinning the server's self-signed
//! certificate from `DATA/tls/cert.pem`, and walks through a typical client session: CAPABILITY,
//! LIST, CREATE/RENAME/DELETE, APPEND with flags, STATUS, SELECT/EXAMINE, FETCH, STORE, SEARCH,
//! UID COPY, UID MOVE, EXPUNGE, IDLE woken by an APPEND from a second connection, and LOGOUT.
//! Every await has a timeout, and the server is killed when the guard drops (also on panic).

use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_imap::imap_proto::{BodyStructure, MailboxDatum, Outcome, Response, ResponseCode, SectionPath, Status};
use async_imap::types::{Fetch, Flag, Mailbox, Name, NameAttribute};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use rand::Rng;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

type Tls = TlsStream<TcpStream>;

const ALICE: &str = "alice@example.test";
const ALICE_PW: &str = "alice-pw-1";
/// Limit for one protocol step; the whole scenario has its own limit on top.
const STEP: Duration = Duration::from_secs(10);
/// Ports `mailroomd serve` listens on, relative to `--port-offset`.
const PORT_BASES: [u16; 7] = [25, 587, 465, 110, 995, 143, 993];

const REPORT: &str = "From: Bob Example <bob@example.test>\r\n\
To: Alice <alice@example.test>\r\n\
Subject: Quarterly report\r\n\
Date: Mon, 03 Mar 2025 09:00:00 +0000\r\n\
Message-ID: <q1@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Numbers are up.\r\n\
See you soon.\r\n";
const REPORT_BODY: &str = "Numbers are up.\r\nSee you soon.\r\n";

const LUNCH: &str = "From: Bob Example <bob@example.test>\r\n\
To: Alice <alice@example.test>\r\n\
Subject: Lunch on Friday\r\n\
Date: Tue, 04 Mar 2025 10:00:00 +0000\r\n\
Message-ID: <l1@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Pizza at noon?\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Pizza at noon?</p>\r\n\
--b1--\r\n";

const INVOICE: &str = "From: Carol <carol@example.test>\r\n\
To: Alice <alice@example.test>\r\n\
Subject: Invoice 42\r\n\
Date: Wed, 05 Mar 2025 11:00:00 +0000\r\n\
Message-ID: <i42@example.test>\r\n\
\r\n\
Please pay by the end of the month.\r\n";

const WAKE_UP: &str = "From: Bob Example <bob@example.test>\r\n\
To: Alice <alice@example.test>\r\n\
Subject: Sent while you were idle\r\n\
Date: Thu, 06 Mar 2025 12:00:00 +0000\r\n\
Message-ID: <w1@example.test>\r\n\
\r\n\
Wake up.\r\n";

// ---------------------------------------------------------------- server process

/// A child process that is killed when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A provisioned data directory and a running `mailroomd serve`; killed on drop.
struct Server {
    child: ChildGuard,
    data_dir: PathBuf,
    log: PathBuf,
    imaps: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
        if std::thread::panicking() {
            eprintln!("--- mailroomd log ({}) ---\n{}", self.log.display(), read_log(&self.log));
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"))
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_mailroomd")
}

/// Runs one admin command; fails the test if it does not succeed within 60 s.
fn cli(data_dir: &Path, args: &[&str]) {
    let mut child = Command::new(binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mailroomd");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait for mailroomd").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mailroomd {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("mailroomd output");
    assert!(
        out.status.success(),
        "mailroomd {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ports_free(offset: u16) -> bool {
    PORT_BASES.iter().all(|base| TcpListener::bind(("127.0.0.1", offset + base)).is_ok())
}

/// Waits for `runtime.json` of this process with a connectable `imaps` listener.
fn wait_ready(child: &mut Child, data_dir: &Path, timeout: Duration) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + timeout;
    let pid = child.id();
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("server exited with {status}"));
        }
        let info: Option<serde_json::Value> =
            std::fs::read(data_dir.join("runtime.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(info) = info.filter(|i| i["pid"].as_u64() == Some(u64::from(pid)))
            && let Some(addr) = info["listeners"]["imaps"].as_str().and_then(|a| a.parse::<SocketAddr>().ok())
            && StdTcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        {
            return Ok(addr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("runtime.json with an imaps listener not ready within {timeout:?}"))
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir).expect("create data dir");
        let log = dir.path().join("server.log");
        cli(&data_dir, &["domain", "add", "example.test"]);
        cli(&data_dir, &["account", "add", ALICE, "--password", ALICE_PW]);

        let mut last_error = String::new();
        for _attempt in 0..5 {
            let offset = (0..200)
                .map(|_| rand::thread_rng().gen_range(20000..40000))
                .find(|n| ports_free(*n))
                .expect("no free port offset in 20000..40000");
            let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("open log");
            let child = Command::new(binary())
                .arg("--data-dir")
                .arg(&data_dir)
                .args(["serve", "--bind", "127.0.0.1", "--port-offset", &offset.to_string()])
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("clone log handle"))
                .stderr(log_file)
                .spawn()
                .expect("spawn mailroomd serve");
            let mut child = ChildGuard(child);
            match wait_ready(&mut child.0, &data_dir, Duration::from_secs(30)) {
                Ok(imaps) => return Server { child, data_dir, log, imaps, _dir: dir },
                // Most likely lost a race for a port: the guard kills it, try a new offset.
                Err(e) => last_error = e,
            }
        }
        panic!("mailroomd did not start: {last_error}\n--- log ---\n{}", read_log(&log));
    }

    fn certificate(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(self.data_dir.join("tls").join("cert.pem")).expect("read tls/cert.pem")
    }
}

// ---------------------------------------------------------------- TLS

/// Accepts exactly the server's own self-signed certificate (and checks the handshake signatures).
#[derive(Debug)]
struct PinnedCertificate {
    cert: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the certificate in the data directory".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector(server: &Server) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCertificate { cert: server.certificate(), provider: provider.clone() };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

// ---------------------------------------------------------------- helpers

/// Awaits `fut` for at most [`STEP`] and fails the test on a timeout or an error.
async fn step<T, E: Debug>(what: &str, fut: impl Future<Output = Result<T, E>>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Err(_) => panic!("{what}: no answer within {STEP:?}"),
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Ok(Ok(v)) => v,
    }
}

/// Awaits `fut` for at most [`STEP`]; returns its result (an error is expected by the caller).
async fn attempt<T, E>(what: &str, fut: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    match tokio::time::timeout(STEP, fut).await {
        Err(_) => panic!("{what}: no answer within {STEP:?}"),
        Ok(r) => r,
    }
}

async fn connect(server: &Server) -> Client<Tls> {
    let tcp = step("TCP connect", TcpStream::connect(server.imaps)).await;
    let name = ServerName::try_from("localhost").expect("server name");
    let tls = step("TLS handshake", tls_connector(server).connect(name, tcp)).await;
    let mut client = Client::new(tls);
    let greeting = step("greeting", client.read_response()).await.expect("connection closed before the greeting");
    assert!(
        matches!(greeting.parsed(), Response::Data { status: Status::Ok, .. }),
        "greeting is not OK: {:?}",
        greeting.parsed()
    );
    client
}

async fn login(server: &Server) -> Session<Tls> {
    let client = connect(server).await;
    match attempt("LOGIN", client.login(ALICE, ALICE_PW)).await {
        Ok(session) => session,
        Err((e, _)) => panic!("LOGIN {ALICE} failed: {e:?}"),
    }
}

async fn list_all(session: &mut Session<Tls>) -> Vec<Name> {
    let stream = step("LIST", session.list(Some(""), Some("*"))).await;
    step("LIST responses", stream.try_collect::<Vec<_>>()).await
}

fn names(list: &[Name]) -> HashSet<String> {
    list.iter().map(|n| n.name().to_string()).collect()
}

async fn fetch(session: &mut Session<Tls>, set: &str, items: &str) -> Vec<Fetch> {
    let what = format!("FETCH {set} {items}");
    let stream = step(&what, session.fetch(set, items)).await;
    let mut v = step(&what, stream.try_collect::<Vec<_>>()).await;
    v.sort_by_key(|f| f.message);
    v
}

async fn status(session: &mut Session<Tls>, mailbox: &str) -> Mailbox {
    step(&format!("STATUS {mailbox}"), session.status(mailbox, "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")).await
}

async fn search(session: &mut Session<Tls>, query: &str) -> HashSet<u32> {
    step(&format!("SEARCH {query}"), session.search(query)).await
}

fn flags(f: &Fetch) -> HashSet<Flag<'static>> {
    f.flags()
        .map(|flag| match flag {
            Flag::Custom(c) => Flag::Custom(c.into_owned().into()),
            Flag::Seen => Flag::Seen,
            Flag::Answered => Flag::Answered,
            Flag::Flagged => Flag::Flagged,
            Flag::Deleted => Flag::Deleted,
            Flag::Draft => Flag::Draft,
            Flag::Recent => Flag::Recent,
            Flag::MayCreate => Flag::MayCreate,
        })
        .collect()
}

fn subject(f: &Fetch) -> String {
    let env = f.envelope().unwrap_or_else(|| panic!("no ENVELOPE for message {}", f.message));
    String::from_utf8_lossy(env.subject.as_deref().unwrap_or_default()).into_owned()
}

fn lossy(b: Option<&[u8]>) -> String {
    String::from_utf8_lossy(b.unwrap_or_default()).into_owned()
}

/// A command's outcome read from the raw responses: async-imap reports neither READ-ONLY nor the
/// tagged status of FETCH/STORE (its response streams end at the tagged line, whatever it says).
#[derive(Debug, Default)]
struct RawReply {
    /// The tagged status (`Ok`, `No`, `Bad`).
    status: String,
    read_only: bool,
    exists: Option<u32>,
    transcript: Vec<String>,
}

/// Sends `command` by hand and reads every response up to the tagged one.
async fn raw_command(session: &mut Session<Tls>, command: &str) -> RawReply {
    let tag = step(command, session.run_command(command)).await;
    let mut out = RawReply::default();
    loop {
        let resp = step(command, session.read_response()).await.expect("connection closed");
        out.transcript.push(format!("{:?}", resp.parsed()));
        match resp.parsed() {
            Response::MailboxData(MailboxDatum::Exists(n)) => out.exists = Some(*n),
            Response::Done { tag: t, status, outcome } if *t == tag => {
                out.status = format!("{status:?}");
                out.read_only = matches!(outcome, Outcome { code: Some(ResponseCode::ReadOnly), .. });
                return out;
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- the test

#[test]
fn imap_client_session_over_tls() {
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(90), scenario(&server)).await {
            Ok(()) => {}
            Err(_) => panic!("the IMAP scenario did not finish within 90 s"),
        }
    });
}

async fn scenario(server: &Server) {
    let mut s = login(server).await;

    // CAPABILITY after login.
    let caps = step("CAPABILITY", s.capabilities()).await;
    for cap in ["IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "LITERAL+"] {
        assert!(caps.has_str(cap), "CAPABILITY lacks {cap}: {:?}", caps.iter().collect::<Vec<_>>());
    }

    // LIST: a new account has an INBOX.
    let list = list_all(&mut s).await;
    let inbox = list
        .iter()
        .find(|n| n.name().eq_ignore_ascii_case("INBOX"))
        .unwrap_or_else(|| panic!("LIST * has no INBOX: {list:?}"));
    assert_eq!(inbox.name(), "INBOX", "INBOX must be listed in upper case");
    let delim = inbox.delimiter().expect("INBOX has a hierarchy delimiter").to_string();
    // The account may come with default folders (Sent, Trash, ...); the test adds its own next to them.
    let initial = names(&list);

    // CREATE / RENAME / DELETE, with a child mailbox that moves along with its parent.
    let child = format!("Projects{delim}2025");
    step("CREATE Projects", s.create("Projects")).await;
    step("CREATE child", s.create(&child)).await;
    step("CREATE Kept", s.create("Kept")).await;
    let after_create = names(&list_all(&mut s).await);
    for n in ["INBOX", "Projects", child.as_str(), "Kept"] {
        assert!(after_create.contains(n), "LIST after CREATE lacks {n}: {after_create:?}");
    }
    let projects = list_all(&mut s).await.into_iter().find(|n| n.name() == "Projects").expect("Projects listed");
    assert!(
        projects
            .attributes()
            .iter()
            .any(|a| matches!(a, NameAttribute::Extension(e) if e.eq_ignore_ascii_case("\\HasChildren"))),
        "Projects should be listed \\HasChildren: {:?}",
        projects.attributes()
    );
    assert!(attempt("CREATE existing", s.create("Projects")).await.is_err(), "CREATE of an existing mailbox succeeded");

    step("RENAME Projects Clients", s.rename("Projects", "Clients")).await;
    let renamed_child = format!("Clients{delim}2025");
    let after_rename = names(&list_all(&mut s).await);
    assert!(after_rename.contains("Clients"), "LIST after RENAME lacks Clients: {after_rename:?}");
    assert!(after_rename.contains(&renamed_child), "RENAME did not move the child mailbox: {after_rename:?}");
    assert!(!after_rename.contains("Projects"), "Projects still listed after RENAME: {after_rename:?}");
    assert!(!after_rename.contains(&child), "old child still listed after RENAME: {after_rename:?}");

    step("DELETE child", s.delete(&renamed_child)).await;
    step("DELETE Clients", s.delete("Clients")).await;
    let after_delete = names(&list_all(&mut s).await);
    let mut expected = initial.clone();
    expected.insert("Kept".to_string());
    assert_eq!(after_delete, expected, "LIST after DELETE");
    assert!(attempt("DELETE INBOX", s.delete("INBOX")).await.is_err(), "DELETE INBOX succeeded");

    // APPEND with flags.
    step("APPEND report", s.append("INBOX", Some("(\\Seen \\Flagged)"), None, REPORT)).await;
    step("APPEND lunch", s.append("INBOX", None, None, LUNCH)).await;
    step("APPEND invoice", s.append("INBOX", Some("(\\Draft)"), None, INVOICE)).await;

    // STATUS of a mailbox that is not selected.
    let st = status(&mut s, "INBOX").await;
    assert_eq!(st.exists, 3, "STATUS INBOX MESSAGES");
    assert_eq!(st.unseen, Some(2), "STATUS INBOX UNSEEN");
    assert!(st.uid_validity.is_some_and(|v| v > 0), "STATUS UIDVALIDITY: {st:?}");

    // SELECT fields.
    let mb = step("SELECT INBOX", s.select("INBOX")).await;
    assert_eq!(mb.exists, 3, "SELECT EXISTS: {mb:?}");
    assert_eq!(mb.recent, 3, "SELECT RECENT (first session to see the appended messages): {mb:?}");
    assert_eq!(mb.unseen, Some(2), "SELECT [UNSEEN n] is the first unseen message: {mb:?}");
    assert_eq!(mb.uid_validity, st.uid_validity, "SELECT and STATUS disagree on UIDVALIDITY");
    for f in [Flag::Seen, Flag::Answered, Flag::Flagged, Flag::Deleted, Flag::Draft] {
        assert!(mb.flags.contains(&f), "SELECT FLAGS lacks {f:?}: {:?}", mb.flags);
        assert!(mb.permanent_flags.contains(&f), "PERMANENTFLAGS lacks {f:?}: {:?}", mb.permanent_flags);
    }

    // FETCH FLAGS ENVELOPE BODYSTRUCTURE UID RFC822.SIZE.
    let all = fetch(&mut s, "1:*", "(UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)").await;
    assert_eq!(all.iter().map(|f| f.message).collect::<Vec<_>>(), vec![1, 2, 3], "FETCH 1:* sequence numbers");
    let uids: Vec<u32> = all.iter().map(|f| f.uid.expect("FETCH UID")).collect();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "UIDs must ascend with sequence numbers: {uids:?}");
    assert_eq!(st.uid_next, mb.uid_next, "STATUS and SELECT disagree on UIDNEXT");
    assert!(mb.uid_next.is_some_and(|n| n > uids[2]), "UIDNEXT {:?} must exceed the last UID {}", mb.uid_next, uids[2]);
    assert_eq!(
        all.iter().map(subject).collect::<Vec<_>>(),
        ["Quarterly report", "Lunch on Friday", "Invoice 42"],
        "ENVELOPE subjects"
    );
    let env = all[0].envelope().expect("envelope");
    let from = &env.from.as_ref().expect("ENVELOPE from")[0];
    assert_eq!(lossy(from.name.as_deref()), "Bob Example", "ENVELOPE from name");
    assert_eq!(lossy(from.mailbox.as_deref()), "bob", "ENVELOPE from mailbox");
    assert_eq!(lossy(from.host.as_deref()), "example.test", "ENVELOPE from host");
    assert_eq!(lossy(env.message_id.as_deref()), "<q1@example.test>", "ENVELOPE message-id");
    assert_eq!(lossy(env.date.as_deref()), "Mon, 03 Mar 2025 09:00:00 +0000", "ENVELOPE date");
    let to = &env.to.as_ref().expect("ENVELOPE to")[0];
    assert_eq!(lossy(to.mailbox.as_deref()), "alice", "ENVELOPE to mailbox");
    // No Sender/Reply-To fields: both default to From.
    assert_eq!(env.sender, env.from, "ENVELOPE sender defaults to from");
    assert_eq!(env.reply_to, env.from, "ENVELOPE reply-to defaults to from");

    let f0 = flags(&all[0]);
    assert!(f0.contains(&Flag::Seen) && f0.contains(&Flag::Flagged), "APPEND flags of message 1: {f0:?}");
    assert!(!flags(&all[1]).contains(&Flag::Seen), "message 2 must be unseen: {:?}", flags(&all[1]));
    assert!(flags(&all[2]).contains(&Flag::Draft), "APPEND flags of message 3: {:?}", flags(&all[2]));
    for (f, msg) in all.iter().zip([REPORT, LUNCH, INVOICE]) {
        assert_eq!(f.size, Some(msg.len() as u32), "RFC822.SIZE of message {}", f.message);
    }

    match all[0].bodystructure().expect("BODYSTRUCTURE 1") {
        BodyStructure::Text { common, other, lines, .. } => {
            assert!(common.ty.ty.eq_ignore_ascii_case("text") && common.ty.subtype.eq_ignore_ascii_case("plain"));
            assert_eq!(other.octets as usize, REPORT_BODY.len(), "body octets of message 1");
            assert_eq!(*lines, 2, "body lines of message 1");
        }
        other => panic!("BODYSTRUCTURE of message 1 is not text/plain: {other:?}"),
    }
    match all[1].bodystructure().expect("BODYSTRUCTURE 2") {
        BodyStructure::Multipart { common, bodies, .. } => {
            assert!(common.ty.subtype.eq_ignore_ascii_case("alternative"), "multipart subtype: {common:?}");
            let types: Vec<String> = bodies
                .iter()
                .map(|b| match b {
                    BodyStructure::Text { common, .. } => format!("{}/{}", common.ty.ty, common.ty.subtype),
                    other => format!("{other:?}"),
                })
                .map(|t| t.to_ascii_lowercase())
                .collect();
            assert_eq!(types, ["text/plain", "text/html"], "parts of message 2");
        }
        other => panic!("BODYSTRUCTURE of message 2 is not multipart: {other:?}"),
    }

    // BODY.PEEK[] returns the appended bytes and leaves \Seen alone; BODY[] sets it.
    let peek = fetch(&mut s, "2", "BODY.PEEK[]").await;
    assert_eq!(lossy(peek[0].body()), LUNCH, "BODY.PEEK[] of message 2");
    let text = fetch(&mut s, "2", "BODY.PEEK[1]").await;
    let part1 = text[0].section(&SectionPath::Part(vec![1], None));
    assert_eq!(lossy(part1), "Pizza at noon?", "BODY[1] of message 2");
    assert!(!flags(&fetch(&mut s, "2", "FLAGS").await[0]).contains(&Flag::Seen), "BODY.PEEK[] set \\Seen");
    let body3 = fetch(&mut s, "3", "BODY[]").await;
    assert_eq!(lossy(body3[0].body()), INVOICE, "BODY[] of message 3");
    assert!(flags(&fetch(&mut s, "3", "FLAGS").await[0]).contains(&Flag::Seen), "BODY[] did not set \\Seen");

    // STORE returns the new flags.
    let stored = {
        let stream = step("STORE", s.store("2", "+FLAGS (\\Answered \\Flagged)")).await;
        step("STORE responses", stream.try_collect::<Vec<_>>()).await
    };
    assert_eq!(stored.len(), 1, "STORE 2 answers with one FETCH: {stored:?}");
    let sf = flags(&stored[0]);
    assert!(sf.contains(&Flag::Answered) && sf.contains(&Flag::Flagged), "STORE +FLAGS result: {sf:?}");

    // SEARCH.
    assert_eq!(search(&mut s, "FLAGGED").await, HashSet::from([1, 2]));
    assert_eq!(search(&mut s, "UNSEEN").await, HashSet::from([2]));
    assert_eq!(search(&mut s, "SUBJECT \"invoice\"").await, HashSet::from([3]));
    assert_eq!(search(&mut s, "BODY \"pizza\"").await, HashSet::from([2]));
    assert_eq!(search(&mut s, "FROM \"carol\"").await, HashSet::from([3]));
    assert_eq!(search(&mut s, "OR DRAFT ANSWERED").await, HashSet::from([2, 3]));
    assert_eq!(search(&mut s, "NOT SEEN").await, HashSet::from([2]));
    assert_eq!(
        step("UID SEARCH", s.uid_search("ANSWERED")).await,
        HashSet::from([uids[1]]),
        "UID SEARCH ANSWERED returns UIDs"
    );

    // UID COPY keeps the source; UID MOVE removes it.
    while s.unsolicited_responses.try_recv().is_ok() {}
    step("UID COPY", s.uid_copy(uids[0].to_string(), "Kept")).await;
    assert_eq!(search(&mut s, "ALL").await.len(), 3, "INBOX after UID COPY");
    assert_eq!(status(&mut s, "Kept").await.exists, 1, "Kept after UID COPY");
    step("UID MOVE", s.uid_mv(uids[2].to_string(), "Kept")).await;
    let mut expunged = Vec::new();
    while let Ok(u) = s.unsolicited_responses.try_recv() {
        if let async_imap::types::UnsolicitedResponse::Expunge(n) = u {
            expunged.push(n);
        }
    }
    assert_eq!(expunged, [3], "UID MOVE must announce EXPUNGE of message 3");
    assert_eq!(search(&mut s, "ALL").await, HashSet::from([1, 2]), "INBOX after UID MOVE");
    let kept = status(&mut s, "Kept").await;
    assert_eq!(kept.exists, 2, "Kept after UID MOVE");
    assert_eq!(kept.unseen, Some(0), "copied and moved messages keep \\Seen");

    // EXPUNGE.
    {
        let stream = step("STORE \\Deleted", s.store("1", "+FLAGS.SILENT (\\Deleted)")).await;
        let silent = step("STORE responses", stream.try_collect::<Vec<_>>()).await;
        assert!(silent.is_empty(), "+FLAGS.SILENT answered with FETCH: {silent:?}");
    }
    let gone = {
        let stream = step("EXPUNGE", s.expunge()).await;
        step("EXPUNGE responses", stream.try_collect::<Vec<_>>()).await
    };
    assert_eq!(gone, [1], "EXPUNGE removes message 1");
    let left = fetch(&mut s, "1:*", "(UID ENVELOPE)").await;
    assert_eq!(left.len(), 1, "INBOX after EXPUNGE: {left:?}");
    assert_eq!(subject(&left[0]), "Lunch on Friday");
    assert_eq!(left[0].uid, Some(uids[1]), "UIDs do not change on EXPUNGE");

    // EXAMINE is read-only: fields are there, changes are refused.
    let ex = raw_command(&mut s, "EXAMINE Kept").await;
    assert_eq!(ex.status, "Ok", "EXAMINE Kept failed: {:#?}", ex.transcript);
    assert!(ex.read_only, "EXAMINE must answer [READ-ONLY]: {:#?}", ex.transcript);
    assert_eq!(ex.exists, Some(2), "EXAMINE Kept EXISTS: {:#?}", ex.transcript);
    let arch = fetch(&mut s, "1:*", "(FLAGS ENVELOPE)").await;
    assert_eq!(arch.iter().map(subject).collect::<Vec<_>>(), ["Quarterly report", "Invoice 42"], "Kept contents");
    assert!(flags(&arch[0]).contains(&Flag::Flagged), "UID COPY kept \\Flagged: {:?}", flags(&arch[0]));
    assert!(flags(&arch[1]).contains(&Flag::Draft), "UID MOVE kept \\Draft: {:?}", flags(&arch[1]));
    let refused = raw_command(&mut s, "STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(refused.status, "No", "STORE on a mailbox opened with EXAMINE: {:#?}", refused.transcript);
    assert!(
        !flags(&fetch(&mut s, "1", "FLAGS").await[0]).contains(&Flag::Deleted),
        "a refused STORE changed the flags"
    );

    // IDLE, woken by an APPEND from a second connection.
    let mb = step("SELECT INBOX again", s.select("INBOX")).await;
    assert_eq!(mb.exists, 1);
    let mut other = login(server).await;
    let mut idle = s.idle();
    step("IDLE", idle.init()).await;
    let (woken, appended) = {
        let (wait, _stop) = idle.wait_with_timeout(STEP);
        tokio::join!(wait, async {
            // Give the server a moment to be in IDLE before the change.
            tokio::time::sleep(Duration::from_millis(200)).await;
            attempt("APPEND from a second connection", other.append("INBOX", None, None, WAKE_UP)).await
        })
    };
    appended.expect("APPEND from the second connection");
    match woken.expect("IDLE wait") {
        async_imap::extensions::idle::IdleResponse::NewData(resp) => assert!(
            matches!(resp.parsed(), Response::MailboxData(MailboxDatum::Exists(2))),
            "IDLE must report 2 EXISTS first, got {:?}",
            resp.parsed()
        ),
        other => panic!("IDLE was not woken by the APPEND: {other:?}"),
    }
    let mut s = step("DONE", idle.done()).await;
    let now = fetch(&mut s, "2", "(ENVELOPE)").await;
    assert_eq!(subject(&now[0]), "Sent while you were idle", "message seen through IDLE");

    // LOGOUT.
    step("LOGOUT", s.logout()).await;
    step("LOGOUT second", other.logout()).await;
}
