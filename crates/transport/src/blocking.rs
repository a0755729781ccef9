//! Running store calls (SQLite, disk) from async code without stalling the
//! runtime's worker threads.

/// Runs `f`, which may block, without stalling the async worker it is called
/// from. On a multi-threaded runtime the worker hands its other tasks to a
/// sibling first; anywhere else (a current-thread runtime, no runtime) the
/// call simply runs, because `block_in_place` would panic there.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
