//! The TRANSACTION state: `STAT`, `LIST`, `UIDL`, `RETR`, `TOP`, `DELE` and
//! `RSET` on the snapshot taken at login (`QUIT` is in `session.rs`).
//!
//! A message marked by `DELE` answers "No such message" to everything until
//! `RSET`; nothing is deleted from the store before `QUIT`.

use super::{Session, State};
use crate::backend::Backend;
use crate::command::Command;
use crate::response::{self, Reply};

/// The answer for a message number that does not exist or is marked deleted.
const NO_SUCH_MESSAGE: &str = "No such message";

impl<B: Backend> Session<B> {
    /// Handles a maildrop command; the state is TRANSACTION.
    pub(super) fn transaction(&mut self, cmd: Command) -> Reply {
        let State::Transaction(tx) = &mut self.state else {
            return Reply::err("Not logged in yet");
        };
        let snapshot = &mut tx.snapshot;
        match cmd {
            Command::Stat => {
                let (count, size) = snapshot.stat();
                Reply::ok(&format!("{count} {size}"))
            }
            Command::List(None) => {
                let (count, size) = snapshot.stat();
                let lines = snapshot.visible().map(|(n, m)| format!("{n} {}", m.size));
                Reply::multiline(&format!("{count} messages ({size} octets)"), lines)
            }
            Command::List(Some(n)) => match snapshot.get(n) {
                Some(m) => Reply::ok(&format!("{n} {}", m.size)),
                None => Reply::err(NO_SUCH_MESSAGE),
            },
            Command::Uidl(None) => {
                let lines = snapshot.visible().map(|(n, m)| format!("{n} {}", snapshot.unique_id(m)));
                Reply::multiline("Unique ids follow", lines)
            }
            Command::Uidl(Some(n)) => match snapshot.get(n) {
                Some(m) => Reply::ok(&format!("{n} {}", snapshot.unique_id(m))),
                None => Reply::err(NO_SUCH_MESSAGE),
            },
            Command::Retr(n) => {
                let Some(m) = snapshot.get(n) else {
                    return Reply::err(NO_SUCH_MESSAGE);
                };
                match self.backend.read(&m.message_id) {
                    Ok(bytes) => {
                        self.summary.retrieved += 1;
                        Reply::message(&format!("{} octets", m.size), &bytes)
                    }
                    Err(e) => {
                        tracing::error!(
                            session = self.session_id,
                            account = %tx.address,
                            message_id = %m.message_id,
                            error = %e,
                            "pop3 could not read a message"
                        );
                        Reply::err("[SYS/TEMP] The message could not be read, try again later")
                    }
                }
            }
            Command::Top { msg, lines } => {
                let Some(m) = snapshot.get(msg) else {
                    return Reply::err(NO_SUCH_MESSAGE);
                };
                match self.backend.read(&m.message_id) {
                    Ok(bytes) => Reply::message("Top of message follows", response::top(&bytes, lines)),
                    Err(e) => {
                        tracing::error!(
                            session = self.session_id,
                            account = %tx.address,
                            message_id = %m.message_id,
                            error = %e,
                            "pop3 could not read a message"
                        );
                        Reply::err("[SYS/TEMP] The message could not be read, try again later")
                    }
                }
            }
            Command::Dele(n) => {
                if snapshot.mark(n) {
                    Reply::ok(&format!("Message {n} marked for deletion"))
                } else {
                    Reply::err(NO_SUCH_MESSAGE)
                }
            }
            Command::Rset => {
                snapshot.reset();
                let (count, size) = snapshot.stat();
                Reply::ok(&format!("Maildrop has {count} messages ({size} octets)"))
            }
            _ => Reply::err("Not allowed after login"),
        }
    }
}
