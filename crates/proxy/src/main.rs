//! `hookyard`: `run`, `check`, `ctl`, `completions` and `man` (`docs/operating.md`). Everything
//! lives in the library; this file parses the command line, installs the log subscriber and picks the allocator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use hookyard_proxy::config::{Settings, admin_socket, settings_of};
use hookyard_proxy::log::LogFormat;
use hookyard_proxy::{AdminSocket, Listeners, Server, ServerConfig, ctl};

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
        /// The process log's format, instead of hookyard.yaml's `log.format`.
        #[arg(long, value_name = "FORMAT")]
        log_format: Option<LogFormat>,
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
        /// Print one JSON object instead: `ok`, `files` (`file`, `status`), `problems` and
        /// `warnings` (`file`, `line`, `reason`).
        #[arg(long)]
        json: bool,
    },
    /// Talk to a running hookyard over its control socket.
    Ctl {
        /// The control socket (default: `admin` of the configuration's hookyard.yaml, else
        /// admin.sock in its runtime directory).
        #[arg(long, value_name = "PATH", global = true)]
        admin: Option<PathBuf>,
        /// The configuration directory whose hookyard.yaml says where the control socket is.
        #[arg(long, value_name = "DIR", global = true)]
        config: Option<PathBuf>,
        /// Print the raw JSON result.
        #[arg(long, global = true)]
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
    /// The settings in force: hookyard.yaml with its defaults and the command line's
    /// replacements (listen addresses, control socket, metrics, workers, runtime directory).
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
    /// Metrics as Prometheus text; with REGEX, only the series whose name (or family) matches.
    Metrics {
        /// A regular expression searched in each metric name (`^hookyard_origin_`).
        regex: Option<String>,
    },
    /// Print the process log filter; with LEVEL, replace it first.
    LogLevel {
        /// An EnvFilter directive: `debug`, `warn,hookyard=trace`, ...
        level: Option<String>,
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
    /// Send plugin NAME (`*`: every plugin) a message on its LIFECYCLE_MSG hook (ATS's
    /// `traffic_ctl plugin msg`); prints who got it and what plugins answered.
    Msg {
        /// The plugin's name (from its descriptor), or `*`.
        name: String,
        /// What the message is about.
        tag: String,
        /// Its data (default: none).
        data: Option<String>,
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
            Method::Plugin { action: PluginAction::Msg { .. } } => "plugin_msg",
            Method::Hooks { .. } => "hooks",
            Method::Metrics { .. } => "metrics",
            Method::LogLevel { .. } => "log_level",
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
            Method::LogLevel { level: Some(level) } => serde_json::json!({ "level": level }),
            Method::Plugin { action: PluginAction::Msg { name, tag, data } } => {
                serde_json::json!({ "name": name, "tag": tag, "data": data.as_deref().unwrap_or("") })
            }
            _ => serde_json::Value::Null,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = install_log(&cli.command) {
        eprintln!("{}", error_text(&e));
        return ExitCode::FAILURE;
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// Installs the process log: for `run`, in the format and with the filter of its
/// configuration's `log:` (a `hookyard.yaml` that does not parse is reported by the start
/// itself), `--log-format` first; text and the default filter otherwise. `RUST_LOG` wins over
/// `log.level`.
fn install_log(command: &Command) -> anyhow::Result<()> {
    let (format, level) = match command {
        Command::Run { config, log_format, .. } => {
            let log = config
                .as_deref()
                .and_then(|dir| hookyard_proxy::config::settings_of(dir).ok())
                .map(|settings| settings.log)
                .unwrap_or_default();
            (log_format.unwrap_or(log.format), log.level)
        }
        _ => (LogFormat::Text, None),
    };
    hookyard_proxy::log::install(format, level.as_deref()).context("cannot set up the log")?;
    Ok(())
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
        Command::Run { config, listen, listen_tls, admin, metrics, log_format: _, takeover } => {
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
        Command::Check { config, json } => {
            let check = hookyard_proxy::check(&config);
            if json {
                println!("{}", serde_json::to_string_pretty(&check.to_json())?);
                return Ok(if check.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
            }
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
        Command::Ctl { admin, config, json, method } => {
            let path = match (admin, config) {
                (Some(path), _) => path,
                (None, Some(dir)) => admin_socket(&settings_of(&dir).with_context(|| {
                    format!("cannot find the control socket from {}", dir.display())
                })?),
                (None, None) => admin_socket(&Settings::default()),
            };
            // A bad expression is refused before anything is asked.
            let selection = match &method {
                Method::Metrics { regex: Some(pattern) } => Some(
                    regex::Regex::new(pattern)
                        .with_context(|| format!("`{pattern}` is not a regular expression"))?,
                ),
                _ => None,
            };
            let mut result = ctl::call_with(&path, method.name(), method.params())?;
            if let (Some(selection), Some(page)) = (&selection, result.as_str()) {
                result = serde_json::Value::String(ctl::select_metrics(page, selection));
            }
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
