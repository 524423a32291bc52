//! Signals for `hookyard run`: SIGHUP reloads; SIGUSR1 reopens the access log; SIGTERM and
//! SIGINT drain, as `ctl drain` does.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{error, info, warn};

use crate::server::ServerHandle;

/// The process's signal handlers, installed before anything serves: a signal that arrives
/// while the server starts waits for [`SignalHandlers::serve`] instead of taking its default
/// action (SIGUSR1 and SIGHUP would end the process).
pub struct SignalHandlers {
    runtime: tokio::runtime::Runtime,
    signals: Signals,
}

impl SignalHandlers {
    /// Installs the handlers for SIGHUP, SIGTERM, SIGINT and SIGUSR1.
    ///
    /// # Errors
    ///
    /// The signal handlers or their runtime cannot be set up.
    pub fn install() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let signals = {
            let _entered = runtime.enter();
            Signals {
                hangup: signal(SignalKind::hangup())?,
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
                user1: signal(SignalKind::user_defined1())?,
            }
        };
        Ok(Self { runtime, signals })
    }

    /// Serves until a drain (SIGTERM, SIGINT or `ctl drain`) has run its course, reloading on
    /// SIGHUP and reopening the access log on SIGUSR1; then returns, the process's work done.
    ///
    /// A drain keeps the listeners open for `drain.grace` (a SIGTERM or SIGINT during it, the
    /// second or the first after `ctl drain`, ends the grace at once), then closes them and
    /// waits for what still runs, until `drain.deadline` from its start.
    ///
    /// # Errors
    ///
    /// The watchdog thread cannot be started.
    pub fn serve(self, handle: ServerHandle) -> std::io::Result<()> {
        let Self { runtime, mut signals } = self;
        let handle = Arc::new(handle);
        let waiter = handle.clone();
        runtime.block_on(async move {
            let mut draining = handle.drain_state().subscribe();
            crate::notify::notify("READY=1\nSTATUS=serving");
            loop {
                tokio::select! {
                    // A drain already started (`ctl drain`, a successor) first: a SIGTERM that
                    // came meanwhile then ends its grace, as one during the grace does.
                    biased;
                    _ = draining.wait_for(|draining| *draining) => break,
                    _ = signals.terminate.recv() => { info!("SIGTERM: draining"); break }
                    _ = signals.interrupt.recv() => { info!("SIGINT: draining"); break }
                    () = reload_on(&mut signals.hangup, &handle) => {}
                    () = reopen_on(&mut signals.user1, &handle) => {}
                }
            }
            let draining = handle.drain();
            watchdog(Duration::from_millis(draining.deadline_left_ms) + WATCHDOG_MARGIN)?;
            let grace_end =
                tokio::time::Instant::now() + Duration::from_millis(draining.grace_left_ms);
            loop {
                tokio::select! {
                    () = reload_on(&mut signals.hangup, &handle) => {}
                    () = reopen_on(&mut signals.user1, &handle) => {}
                    () = tokio::time::sleep_until(grace_end) => break,
                    _ = signals.terminate.recv() => {
                        info!("SIGTERM again: closing the listeners now");
                        break;
                    }
                    _ = signals.interrupt.recv() => {
                        info!("SIGINT again: closing the listeners now");
                        break;
                    }
                }
            }
            info!("drain grace over: listeners closed, waiting for in-flight transactions");
            handle.shutdown();
            Ok::<_, std::io::Error>(())
        })?;
        drop(runtime);
        match Arc::try_unwrap(waiter) {
            Ok(handle) => handle.wait(),
            Err(_) => warn!("a reload is still running at shutdown"),
        }
        info!("hookyard stopped");
        Ok(())
    }
}

/// How long past `drain.deadline` a process that has not exited yet is ended by the watchdog.
const WATCHDOG_MARGIN: Duration = Duration::from_secs(5);

/// Ends the process with status 1 if it still runs after `limit`: a drain is bounded by its
/// deadline, and what still runs then (a plugin's teardown that never returns) must not keep
/// the process from exiting. An exit this way is an error, logged as one.
fn watchdog(limit: Duration) -> std::io::Result<()> {
    std::thread::Builder::new().name("hookyard-drain-watchdog".to_owned()).spawn(move || {
        std::thread::sleep(limit);
        error!(?limit, "still running past drain.deadline: exiting now");
        std::process::exit(1);
    })?;
    Ok(())
}

/// The signals `run` handles.
struct Signals {
    hangup: Signal,
    terminate: Signal,
    interrupt: Signal,
    user1: Signal,
}

/// Waits for a SIGHUP and reloads.
async fn reload_on(hangup: &mut Signal, handle: &Arc<ServerHandle>) {
    if hangup.recv().await.is_none() {
        // No more SIGHUPs can come: wait for the other branches.
        std::future::pending::<()>().await;
    }
    info!("SIGHUP: reloading");
    let handle = handle.clone();
    match tokio::task::spawn_blocking(move || handle.reload()).await {
        Ok(report) if report.ok => info!(generation = report.generation, "reload done"),
        Ok(report) => warn!(problems = ?report.problems, "reload refused"),
        Err(e) => warn!(error = %e, "reload task failed"),
    }
}

/// Waits for a SIGUSR1 and reopens the access log (after logrotate renamed it).
async fn reopen_on(user1: &mut Signal, handle: &ServerHandle) {
    if user1.recv().await.is_none() {
        std::future::pending::<()>().await;
    }
    info!("SIGUSR1: reopening the access log");
    handle.reopen_logs();
}
