//! Telling every open session that the server is stopping.
//!
//! Sessions wait for their next command with [`Shutdown::triggered`] beside
//! the socket read: an idle session answers "shutting down" and closes at
//! once, while one in the middle of a transaction finishes it first.

use tokio::sync::watch;

/// The receiving side, cloned into every session.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending side, kept by whoever stops the server.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A connected trigger and signal.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Tells every session to stop.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// A signal that never fires (tests, tools).
    pub fn never() -> Self {
        shutdown_channel().1
    }

    /// Whether the server is stopping.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when the server starts stopping; never if it cannot.
    pub async fn triggered(&self) {
        let mut rx = self.0.clone();
        loop {
            if *rx.borrow_and_update() {
                return;
            }
            if rx.changed().await.is_err() {
                // The trigger is gone without firing: nothing will ever stop us.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_once_for_everyone() {
        let (trigger, a) = shutdown_channel();
        let b = a.clone();
        assert!(!a.is_triggered());
        trigger.fire();
        a.triggered().await;
        b.triggered().await;
        assert!(b.is_triggered());
        let never = Shutdown::never();
        let r = tokio::time::timeout(std::time::Duration::from_millis(20), never.triggered()).await;
        assert!(r.is_err());
    }
}
