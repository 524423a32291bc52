//! The process's WebAssembly runtime: one engine, the thread that advances its epoch (the clock
//! of every callback's deadline), and the compiled modules, cached by content hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use wasmtime::{Config, Engine, OptLevel};

use crate::Error;

/// How often the epoch advances: a callback's deadline is counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(2);

/// How many modules no version uses any more stay compiled.
const RECENT: usize = 8;

/// A compiled module and the hash of the bytes it was compiled from.
#[derive(Debug)]
pub struct CompiledModule {
    pub(crate) module: wasmtime::Module,
    hash: [u8; 32],
}

impl CompiledModule {
    /// The SHA-256 of the module's bytes, in hex.
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The engine and the module cache; one per process ([`Runtime::get`]).
pub struct Runtime {
    pub(crate) engine: Engine,
    /// Modules by content hash, while any plugin version uses them.
    modules: Mutex<HashMap<[u8; 32], Weak<CompiledModule>>>,
    /// The modules used last, kept compiled when no version uses them any more: a reload back
    /// to an earlier module (a rollback, two versions alternating) compiles nothing.
    recent: Mutex<std::collections::VecDeque<Arc<CompiledModule>>>,
    compiled: std::sync::atomic::AtomicU64,
}

impl Runtime {
    /// The process's runtime, made (and its epoch thread started) on first use.
    ///
    /// # Errors
    ///
    /// The engine could not be made for this machine, or the epoch thread not started.
    pub fn get() -> Result<&'static Runtime, Error> {
        static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
        RUNTIME
            .get_or_init(|| Runtime::new().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Engine(e.clone()))
    }

    fn new() -> Result<Runtime, Error> {
        // Calibrates the clock filter calls are timed with (once, under a millisecond mostly,
        // at most 200 ms) before the first module loads, not in its first call.
        quanta::Instant::now();
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config).map_err(|e| Error::Engine(e.to_string()))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("hookyard-wasm-epoch".to_owned())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| Error::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Runtime {
            engine,
            modules: Mutex::new(HashMap::new()),
            recent: Mutex::new(std::collections::VecDeque::new()),
            compiled: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The compiled module of `bytes`: the cached one when a module with the same content is
    /// still in use, else compiled now.
    ///
    /// # Errors
    ///
    /// The bytes are not a valid WebAssembly module.
    pub fn module(&self, bytes: &[u8]) -> Result<Arc<CompiledModule>, Error> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let mut modules = self.modules.lock().unwrap_or_else(PoisonError::into_inner);
        modules.retain(|_, m| m.strong_count() > 0);
        if let Some(found) = modules.get(&hash).and_then(Weak::upgrade) {
            debug!(hash = %found.hash_hex(), "wasm module found in the cache");
            self.keep(&found);
            return Ok(found);
        }
        // Compiled under the lock: two loads of one module never compile it twice.
        let module = wasmtime::Module::new(&self.engine, bytes)
            .map_err(|e| Error::Compile(format!("{e:#}")))?;
        self.compiled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let compiled = Arc::new(CompiledModule { module, hash });
        modules.insert(hash, Arc::downgrade(&compiled));
        if modules.len() > 1024 {
            warn!(modules = modules.len(), "many distinct wasm modules are in use at once");
        }
        self.keep(&compiled);
        Ok(compiled)
    }

    /// Keeps `module` among the [`RECENT`] used last.
    fn keep(&self, module: &Arc<CompiledModule>) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.retain(|m| !Arc::ptr_eq(m, module));
        recent.push_front(module.clone());
        recent.truncate(RECENT);
    }

    /// How many modules this process compiled (a cache hit compiles none).
    pub fn compiled(&self) -> u64 {
        self.compiled.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("compiled", &self.compiled()).finish_non_exhaustive()
    }
}
