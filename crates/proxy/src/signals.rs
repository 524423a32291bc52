//! Signals for `hookyard run`: SIGHUP reloads; SIGUSR1 reopens the access log; SIGTERM and
//! SIGINT shut down gracefully.

use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use crate::server::ServerHandle;

/// Serves until SIGTERM or SIGINT, reloading on SIGHUP; then stops accepting, lets in-flight
/// transactions finish (bounded by `timeouts.shutdown`) and returns.
///
/// # Errors
///
/// The signal handlers or their runtime cannot be set up.
pub fn run_until_signalled(handle: ServerHandle) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let handle = std::sync::Arc::new(handle);
    let waiter = handle.clone();
    runtime.block_on(async move {
        let mut hangup = signal(SignalKind::hangup())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut user1 = signal(SignalKind::user_defined1())?;
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    info!("SIGHUP: reloading");
                    let handle = handle.clone();
                    match tokio::task::spawn_blocking(move || handle.reload()).await {
                        Ok(report) if report.ok => info!(generation = report.generation, "reload done"),
                        Ok(report) => warn!(problems = ?report.problems, "reload refused"),
                        Err(e) => warn!(error = %e, "reload task failed"),
                    }
                }
                _ = user1.recv() => {
                    info!("SIGUSR1: reopening the access log");
                    handle.reopen_logs();
                }
                _ = terminate.recv() => { info!("SIGTERM: shutting down"); break }
                _ = interrupt.recv() => { info!("SIGINT: shutting down"); break }
            }
        }
        handle.shutdown();
        Ok::<_, std::io::Error>(())
    })?;
    drop(runtime);
    match std::sync::Arc::try_unwrap(waiter) {
        Ok(handle) => handle.wait(),
        Err(_) => warn!("a reload is still running at shutdown"),
    }
    info!("hookyard stopped");
    Ok(())
}
