//! A tiny authoritative DNS server over UDP answering from a fixed table.
//! Names in the table exist; any other name gets NXDOMAIN; names listed in
//! `servfail` get SERVFAIL.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX};
use hickory_resolver::proto::rr::{Name, RData, Record};
use tokio::net::UdpSocket;

/// DNS data to serve.
#[derive(Default, Clone)]
pub struct Zone {
    records: Vec<Record>,
    servfail: Vec<Name>,
}

fn name(s: &str) -> Name {
    let mut n = Name::from_str(s).unwrap();
    n.set_fqdn(true);
    n
}

impl Zone {
    /// An MX record (`exchange` "." for a null MX).
    pub fn mx(mut self, owner: &str, preference: u16, exchange: &str) -> Self {
        let ex = if exchange == "." { Name::root() } else { name(exchange) };
        self.records.push(Record::from_rdata(name(owner), 60, RData::MX(MX::new(preference, ex))));
        self
    }

    /// An A or AAAA record.
    pub fn addr(mut self, owner: &str, ip: &str) -> Self {
        let rdata = match ip.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        self.records.push(Record::from_rdata(name(owner), 60, rdata));
        self
    }

    /// Answer SERVFAIL for every query about `owner`.
    pub fn servfail(mut self, owner: &str) -> Self {
        self.servfail.push(name(owner));
        self
    }

    fn answer(&self, query: &Message) -> Message {
        let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_desired = query.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.add_queries(query.queries.clone());
        let Some(q) = query.queries.first() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp;
        };
        if self.servfail.iter().any(|n| n == q.name()) {
            resp.metadata.response_code = ResponseCode::ServFail;
            return resp;
        }
        let exists = self.records.iter().any(|r| &r.name == q.name());
        if !exists {
            resp.metadata.response_code = ResponseCode::NXDomain;
            return resp;
        }
        let answers: Vec<Record> =
            self.records.iter().filter(|r| &r.name == q.name() && r.record_type() == q.query_type()).cloned().collect();
        resp.add_answers(answers);
        resp
    }

    /// Serves the zone on 127.0.0.1 (any port) until the runtime ends.
    pub async fn serve(self) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else { return };
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let Ok(bytes) = self.answer(&query).to_vec() else { continue };
                let _ = sock.send_to(&bytes, from).await;
            }
        });
        addr
    }
}
