//! `hookyard`: `run`, `check`, `ctl`, `completions` and `man` (`docs/operating.md`). Everything lives in the library;
//! this file parses the command line, installs the log subscriber and picks the allocator.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use hookyard_proxy::{
    AdminSocket, Listeners, Server, ServerConfig, config::Settings, ctl, runtime_dir,
};

/// The binary's allocator: mimalloc, which cut the proxy's time in malloc and free (13 % of its
/// profile under load with glibc's) — see docs/benchmarks.md. Plugins keep their own (they
/// never free what the host allocates, nor the reverse).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The hookyard reverse proxy.
#[derive(Parser)]
#[command(name = "hookyard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: the configuration directory's, or the embedded default without --config.
    Run {
        /// The configuration directory (hookyard.yaml, remap.config, plugin.yaml).
        #[arg(long, value_name = "DIR")]
        config: Option<PathBuf>,
        /// Listen here instead of hookyard.yaml's addresses (repeatable).
        #[arg(long, value_name = "ADDR")]
        listen: Vec<SocketAddr>,
        /// Listen for TLS here instead of hookyard.yaml's `tls_listen` (repeatable).
        #[arg(long, value_name = "ADDR")]
        listen_tls: Vec<SocketAddr>,
        /// The control socket's path.
        #[arg(long, value_name = "PATH")]
        admin: Option<PathBuf>,
        /// Serve Prometheus metrics on this address.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<SocketAddr>,
        /// Zero-downtime upgrade: take the listening sockets (and metrics and control sockets)
        /// of the hookyard running on this control socket, serve on them, then drain it.
        #[arg(long)]
        takeover: bool,
    },
    /// Validate a configuration directory: exit 0 when it would load, 1 with every problem.
    Check {
        /// The configuration directory.
        #[arg(long, value_name = "DIR")]
        config: PathBuf,
    },
    /// Talk to a running hookyard over its control socket.
    Ctl {
        /// The control socket (default: admin.sock in the runtime directory).
        #[arg(long, value_name = "PATH")]
        admin: Option<PathBuf>,
        /// Print the raw JSON result.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        method: Method,
    },
    /// Print a completion script for SHELL to standard output (e.g. into
    /// /usr/share/bash-completion/completions/hookyard).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff, section 1) to standard output (`hookyard man | man -l -`).
    Man {
        /// Instead: write hookyard.1 and one page per subcommand (hookyard-run.1, ...) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Clone)]
enum Method {
    /// Reload the configuration directory; prints a per-file report.
    Reload,
    /// Generation, uptime, connections, in-flight transactions.
    Status,
    /// The serving settings (hookyard.yaml with its defaults), as JSON.
    Config,
    /// The serving remap rules.
    Rules,
    /// Loaded plugin versions: kind, state, retirement, dropped events, references, instances,
    /// continuations, paths.
    Plugins,
    /// Act on the loaded versions of one plugin.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Global callbacks per hook of the serving generation, in dispatch order.
    Hooks {
        /// Instead: wait (up to 10 s) for the next transaction and show what its hooks ran,
        /// with its session and transaction callbacks and their per-transaction changes.
        #[arg(long)]
        txn_sample: bool,
    },
    /// Drain: the health route answers 503, connections close after their next response,
    /// listeners close after `drain.grace`; the process exits 0 once in-flight transactions
    /// finished (at most `drain.deadline`).
    Drain,
}

#[derive(Subcommand, Clone)]
enum PluginAction {
    /// Retire every loaded version of plugin NAME (global or remap, serving or not): its events
    /// still dispatch for `retirement.drain`, then are dropped; a later reload loads its file
    /// anew. Prints the versions retired.
    Retire {
        /// The plugin's name (from its descriptor, as `ctl plugins` shows it).
        name: String,
        /// Drop its events from now on, without draining.
        #[arg(long)]
        force: bool,
    },
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::Reload => "reload",
            Method::Status => "status",
            Method::Config => "config",
            Method::Rules => "rules",
            Method::Plugins => "plugins",
            Method::Plugin { action: PluginAction::Retire { .. } } => "retire",
            Method::Hooks { .. } => "hooks",
            Method::Drain => "drain",
        }
    }

    /// The request's params (`Value::Null`: none).
    fn params(&self) -> serde_json::Value {
        match self {
            Method::Hooks { txn_sample: true } => serde_json::json!({ "txn_sample": true }),
            Method::Plugin { action: PluginAction::Retire { name, force } } => {
                serde_json::json!({ "name": name, "force": force })
            }
            _ => serde_json::Value::Null,
        }
    }
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,hookyard=info"));
    // Colour only for a person at a terminal: a file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: on one line, `hookyard: what: why`; a cause of
/// several lines (every problem of a configuration) goes below, one per line.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::from("hookyard");
    for cause in error.chain() {
        let cause = cause.to_string();
        if cause.contains('\n') {
            text.push_str(":\n");
            text.push_str(&cause);
            break;
        }
        text.push_str(": ");
        text.push_str(&cause);
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config, listen, listen_tls, admin, metrics, takeover } => {
            let options = ServerConfig {
                config_dir: config,
                listen,
                listen_tls,
                admin: admin.map_or(AdminSocket::FromConfig, AdminSocket::At),
                metrics,
                workers: None,
            };
            let activated = hookyard_proxy::systemd::activated().context("cannot start")?;
            let listeners = match (takeover, activated) {
                (true, Some(_)) => {
                    anyhow::bail!("cannot start: --takeover with sockets from systemd (LISTEN_FDS)")
                }
                (true, None) => Listeners::TakeOver,
                (false, Some(sockets)) => Listeners::Activated(sockets),
                (false, None) => Listeners::Bind,
            };
            let handle = Server::start_with(options, listeners).context("cannot start")?;
            for addr in handle.addrs() {
                eprintln!("hookyard: listening on http://{addr}");
            }
            for addr in handle.tls_addrs() {
                eprintln!("hookyard: listening on https://{addr}");
            }
            if let Some(path) = handle.admin_path() {
                eprintln!("hookyard: control socket {}", path.display());
            }
            if let Some(addr) = handle.metrics_addr() {
                eprintln!("hookyard: metrics on http://{addr}/metrics");
            }
            hookyard_proxy::run_until_signalled(handle).context("signal handling")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => {
            let check = hookyard_proxy::check(&config);
            for line in &check.files {
                println!("{line}");
            }
            for problem in &check.problems {
                println!("{problem}");
            }
            if check.ok {
                println!("{}: ok", config.display());
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Ctl { admin, json, method } => {
            let path = admin.unwrap_or_else(|| {
                let defaults = Settings::default();
                runtime_dir(defaults.runtime_dir.as_deref()).join("admin.sock")
            });
            let result = ctl::call_with(&path, method.name(), method.params())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                print!("{}", ctl::render(method.name(), &result));
            }
            let failed_reload = matches!(method, Method::Reload) && result["ok"] != true;
            Ok(if failed_reload { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "hookyard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: None } => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: Some(dir) } => {
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
