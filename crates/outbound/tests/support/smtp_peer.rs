//! A scripted SMTP server for client tests: answers from a small script,
//! records every command and every message as it came over the wire.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the peer answers.
pub struct Script {
    /// Full greeting line without CRLF.
    pub greeting: String,
    /// Name in the first EHLO line.
    pub ehlo_name: String,
    /// EHLO keywords (STARTTLS is only shown before TLS).
    pub extensions: Vec<String>,
    /// TLS for STARTTLS, if offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Answer STARTTLS with 220 and then send garbage instead of a handshake
    /// (first connection only).
    pub broken_tls: bool,
    /// TLS from the first byte (port 465 style), using `tls`.
    pub implicit_tls: bool,
    /// Reply to EHLO (None: the usual 250 list).
    pub ehlo_reply: Option<String>,
    /// Reply per RCPT address.
    pub rcpt: Box<dyn Fn(&str) -> String + Send + Sync>,
    /// Reply after the message data.
    pub data_final: String,
    /// Wait this long before the reply after the data.
    pub data_delay: Option<Duration>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            greeting: "220 mx.example.test ESMTP test peer".into(),
            ehlo_name: "mx.example.test".into(),
            extensions: vec!["PIPELINING".into(), "SIZE 10000000".into(), "8BITMIME".into()],
            tls: None,
            broken_tls: false,
            implicit_tls: false,
            ehlo_reply: None,
            rcpt: Box::new(|_| "250 2.1.5 Ok".into()),
            data_final: "250 2.0.0 Ok: queued as T1".into(),
            data_delay: None,
        }
    }
}

/// One command as received.
#[derive(Debug, Clone)]
pub struct Command {
    /// The line without CRLF.
    pub line: String,
    /// Whether more client bytes were already waiting (pipelined).
    pub more_waiting: bool,
    /// Whether it arrived over TLS.
    pub tls: bool,
    /// Which connection (0-based).
    pub conn: usize,
}

/// What the peer saw.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// Connections accepted.
    pub connections: usize,
    /// Every command line in order.
    pub commands: Vec<Command>,
    /// Each message's data as sent on the wire, up to and including `.` CRLF.
    pub data: Vec<Vec<u8>>,
}

impl Log {
    /// Just the command lines.
    pub fn lines(&self) -> Vec<String> {
        self.commands.iter().map(|c| c.line.clone()).collect()
    }

    /// Commands starting with `verb`.
    pub fn count(&self, verb: &str) -> usize {
        self.commands.iter().filter(|c| c.line.to_ascii_uppercase().starts_with(verb)).count()
    }
}

/// A running peer.
pub struct Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl Peer {
    /// Starts a peer on 127.0.0.1 (any port).
    pub async fn start(script: Script) -> Peer {
        Self::start_on("127.0.0.1:0".parse().unwrap(), script).await
    }

    /// Starts a peer on a given address.
    pub async fn start_on(addr: SocketAddr, script: Script) -> Peer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let script = Arc::new(script);
        let l = log.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let n = {
                    let mut g = l.lock().unwrap();
                    g.connections += 1;
                    g.connections - 1
                };
                let (script, log) = (script.clone(), l.clone());
                tokio::spawn(async move {
                    let _ = serve(tcp, n, script, log).await;
                });
            }
        });
        Peer { addr, log }
    }

    /// A copy of the log so far.
    pub fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn serve(tcp: TcpStream, conn: usize, script: Arc<Script>, log: Arc<Mutex<Log>>) -> std::io::Result<()> {
    let mut tls = false;
    let mut io: BufReader<Box<dyn Io>> = match (&script.tls, script.implicit_tls) {
        (Some(cfg), true) => {
            tls = true;
            BufReader::new(Box::new(tokio_rustls::TlsAcceptor::from(cfg.clone()).accept(tcp).await?))
        }
        _ => BufReader::new(Box::new(tcp)),
    };
    let mut accepted = 0usize;
    io.write_all(format!("{}\r\n", script.greeting).as_bytes()).await?;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        let more_waiting = !io.buffer().is_empty();
        log.lock().unwrap().commands.push(Command { line: line.clone(), more_waiting, tls, conn });
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_string();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                if let Some(r) = &script.ehlo_reply {
                    r.clone()
                } else {
                    let mut exts = script.extensions.clone();
                    if script.tls.is_some() && !tls && !script.implicit_tls {
                        exts.push("STARTTLS".into());
                    }
                    let mut r = format!("250-{} hello", script.ehlo_name);
                    for e in exts {
                        r.push_str(&format!("\r\n250-{e}"));
                    }
                    r.push_str("\r\n250 HELP");
                    r
                }
            }
            "HELO" => format!("250 {}", script.ehlo_name),
            "STARTTLS" => {
                io.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                io.flush().await?;
                if script.broken_tls && conn == 0 {
                    io.write_all(b"this is not a TLS record\r\n\r\n\r\n\r\n").await?;
                    io.flush().await?;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return Ok(());
                }
                let Some(cfg) = &script.tls else { return Ok(()) };
                let inner = io.into_inner();
                let stream = tokio_rustls::TlsAcceptor::from(cfg.clone()).accept(inner).await?;
                io = BufReader::new(Box::new(stream));
                tls = true;
                accepted = 0;
                continue;
            }
            "AUTH" => {
                if upper.starts_with("AUTH LOGIN") {
                    io.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                    io.flush().await?;
                    let mut u = String::new();
                    io.read_line(&mut u).await?;
                    io.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                    io.flush().await?;
                    let mut p = String::new();
                    io.read_line(&mut p).await?;
                    let mut g = log.lock().unwrap();
                    for l in [u, p] {
                        g.commands.push(Command { line: l.trim_end().to_string(), more_waiting: false, tls, conn });
                    }
                }
                "235 2.7.0 Authentication successful".into()
            }
            "MAIL" => {
                accepted = 0;
                "250 2.1.0 Ok".into()
            }
            "RCPT" => {
                let addr = line.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(a, _)| a).unwrap_or("");
                let r = (script.rcpt)(addr);
                if r.starts_with('2') {
                    accepted += 1;
                }
                r
            }
            "DATA" => {
                if accepted == 0 {
                    "554 5.5.1 Error: no valid recipients".into()
                } else {
                    io.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    io.flush().await?;
                    let mut data = Vec::new();
                    loop {
                        let mut l = Vec::new();
                        if io.read_until(b'\n', &mut l).await? == 0 {
                            return Ok(());
                        }
                        data.extend_from_slice(&l);
                        if l == b".\r\n" {
                            break;
                        }
                    }
                    log.lock().unwrap().data.push(data);
                    if let Some(d) = script.data_delay {
                        tokio::time::sleep(d).await;
                    }
                    accepted = 0;
                    script.data_final.clone()
                }
            }
            "RSET" => {
                accepted = 0;
                "250 2.0.0 Ok".into()
            }
            "NOOP" => "250 2.0.0 Ok".into(),
            "QUIT" => {
                io.write_all(b"221 2.0.0 Bye\r\n").await?;
                io.flush().await?;
                return Ok(());
            }
            _ => "502 5.5.2 Error: command not recognized".into(),
        };
        io.write_all(format!("{reply}\r\n").as_bytes()).await?;
        io.flush().await?;
    }
}

/// Reads everything a socket sends (helper for raw tests).
pub async fn drain(mut s: TcpStream) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v).await;
    v
}

/// A test CA and a server certificate for `names`, signed by it.
pub struct TestPki {
    /// The CA certificate (for `extra_roots`).
    pub ca: rustls_pki_types::CertificateDer<'static>,
    /// Server TLS settings presenting the leaf certificate.
    pub server: Arc<rustls::ServerConfig>,
}

impl TestPki {
    /// Makes a CA and a leaf for `names`.
    pub fn new(names: &[&str]) -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Mailroom Test CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut leaf_params = rcgen::CertificateParams::new(names).unwrap();
        leaf_params.distinguished_name.push(rcgen::DnType::CommonName, "mx");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        TestPki { ca: ca.der().clone(), server: Arc::new(server) }
    }
}
