//! `hookyard`: `run`, `check`, `ctl`, `completions` and `man` (`docs/operating.md`). Everything
//! lives in the library; this file parses the command line, installs the log subscriber and picks the allocator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use hookyard_proxy::config::{Settings, admin_socket, settings_of};
use hookyard_proxy::log::LogFormat;
use hookyard_proxy::{AdminSocket, Listeners, Server, ServerConfig, SignalHandlers, ctl};

mod allocator;

/// The binary's allocator: mimalloc, which cut the proxy's time in malloc and free (13 % of its
/// profile under load with glibc's) — see docs/benchmarks.md. Plugins keep their own (they
/// never free what the host allocates, nor the reverse).
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

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
        #[command(flatten)]
        fleet: FleetNodeArgs,
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
    /// Publish a configuration directory to a fleet's etcd as its next revision.
    Publish {
        #[command(flatten)]
        etcd: EtcdArgs,
        /// The configuration directory (checked as `hookyard check` does first).
        #[arg(long, value_name = "DIR")]
        config: PathBuf,
        /// Send it only to the nodes with this label (`hookyard fleet promote` sends it to all).
        #[arg(long, value_name = "K=V")]
        canary: Option<hookyard_fleet::Label>,
    },
    /// Show or steer a fleet: status, promote, rollback.
    Fleet {
        #[command(subcommand)]
        action: FleetAction,
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

/// Where a fleet's etcd is and how to log in.
#[derive(clap::Args, Clone)]
struct EtcdArgs {
    /// etcd endpoints, comma-separated (`http://127.0.0.1:2379`; `https://` for TLS).
    #[arg(long, value_name = "URL", value_delimiter = ',', required = true)]
    etcd: Vec<String>,
    /// The cluster: the nodes that serve the same revisions.
    #[arg(long, value_name = "NAME", required = true)]
    cluster: String,
    #[command(flatten)]
    login: EtcdLogin,
}

/// etcd credentials (none of them is ever logged).
#[derive(clap::Args, Clone)]
struct EtcdLogin {
    /// An etcd user; its password comes from `HOOKYARD_ETCD_PASSWORD` or --etcd-password-file.
    #[arg(long, value_name = "USER")]
    etcd_user: Option<String>,
    /// A file holding the etcd user's password (its first line).
    #[arg(long, value_name = "PATH")]
    etcd_password_file: Option<PathBuf>,
    /// The CA certificate (PEM) of etcd's server certificates.
    #[arg(long, value_name = "PATH")]
    etcd_ca: Option<PathBuf>,
    /// A client certificate (PEM) for etcd, with --etcd-key.
    #[arg(long, value_name = "PATH")]
    etcd_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "PATH")]
    etcd_key: Option<PathBuf>,
}

/// `run` as a fleet node: given --etcd, the configuration comes from the cluster.
#[derive(clap::Args, Clone)]
struct FleetNodeArgs {
    /// Run as a node of a fleet: serve the revisions published to this etcd.
    #[arg(
        long,
        value_name = "URL",
        value_delimiter = ',',
        requires = "cluster",
        conflicts_with = "config"
    )]
    etcd: Vec<String>,
    /// The node's cluster.
    #[arg(long, value_name = "NAME", requires = "etcd")]
    cluster: Option<String>,
    /// A label of the node (repeatable); a canary goes to the nodes with its label.
    #[arg(long, value_name = "K=V", requires = "etcd")]
    label: Vec<hookyard_fleet::Label>,
    /// The node's name in the cluster (default: the host's name).
    #[arg(long, value_name = "NAME", requires = "etcd")]
    node: Option<String>,
    /// Where the node keeps its revision (default: /var/lib/hookyard/fleet/CLUSTER as root,
    /// else ~/.local/state/hookyard/fleet/CLUSTER).
    #[arg(long, value_name = "DIR", requires = "etcd")]
    state: Option<PathBuf>,
    #[command(flatten)]
    login: EtcdLogin,
}

#[derive(Subcommand, Clone)]
enum FleetAction {
    /// The stable and canary revisions, and every live node: serving, health, refusals.
    Status {
        #[command(flatten)]
        etcd: EtcdArgs,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Send the canary revision to every node.
    Promote {
        #[command(flatten)]
        etcd: EtcdArgs,
        /// Promote even a canary that some of its nodes refused.
        #[arg(long)]
        force: bool,
    },
    /// Republish the revision the stable one replaced, to every node.
    Rollback {
        #[command(flatten)]
        etcd: EtcdArgs,
    },
}

impl EtcdLogin {
    fn options(&self, endpoints: Vec<String>) -> anyhow::Result<hookyard_fleet::EtcdOptions> {
        let password = match (&self.etcd_password_file, std::env::var("HOOKYARD_ETCD_PASSWORD")) {
            (Some(file), _) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            (None, Ok(password)) => Some(password),
            (None, Err(_)) => None,
        };
        if self.etcd_user.is_none() && password.is_some() && self.etcd_password_file.is_some() {
            anyhow::bail!("--etcd-password-file needs --etcd-user");
        }
        Ok(hookyard_fleet::EtcdOptions {
            endpoints,
            user: self.etcd_user.clone(),
            password,
            ca: self.etcd_ca.clone(),
            cert: self.etcd_cert.clone(),
            key: self.etcd_key.clone(),
            timeout: None,
        })
    }
}

impl EtcdArgs {
    fn options(&self) -> anyhow::Result<hookyard_fleet::EtcdOptions> {
        self.login.options(self.etcd.clone())
    }
}

/// The fleet commands: `publish` and `fleet status|promote|rollback`.
fn run_fleet(command: Command) -> anyhow::Result<ExitCode> {
    use hookyard_proxy::fleet::{block_on, render_status, revision_files};
    match command {
        Command::Publish { etcd, config, canary } => {
            let files = revision_files(&config)?;
            let options = etcd.options()?;
            let manifest =
                block_on(hookyard_fleet::publish(&options, &etcd.cluster, &files, canary.clone()))?;
            let to = canary.map_or("every node".to_owned(), |l| format!("the nodes with {l}"));
            println!(
                "published revision {} of cluster {} ({} files) to {to}",
                manifest.number,
                etcd.cluster,
                manifest.files.len()
            );
        }
        Command::Fleet { action: FleetAction::Status { etcd, json } } => {
            let status = block_on(hookyard_fleet::status(&etcd.options()?, &etcd.cluster))?;
            if json {
                out_json(&status)?;
            } else {
                out(&render_status(&status))?;
            }
        }
        Command::Fleet { action: FleetAction::Promote { etcd, force } } => {
            let revision =
                block_on(hookyard_fleet::promote(&etcd.options()?, &etcd.cluster, force))?;
            println!("promoted revision {revision} of cluster {} to every node", etcd.cluster);
        }
        Command::Fleet { action: FleetAction::Rollback { etcd } } => {
            let manifest = block_on(hookyard_fleet::rollback(&etcd.options()?, &etcd.cluster))?;
            println!(
                "published revision {} of cluster {}: {}",
                manifest.number, etcd.cluster, manifest.origin
            );
        }
        _ => unreachable!("run_fleet is called with fleet commands only"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The node options of `run --etcd`.
fn node_options(fleet: &FleetNodeArgs) -> anyhow::Result<Option<hookyard_fleet::NodeOptions>> {
    let Some(cluster) = fleet.cluster.clone() else { return Ok(None) };
    let name = match &fleet.node {
        Some(name) => name.clone(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .context("cannot read the host name; give --node")?
            .trim()
            .to_owned(),
    };
    let state = match &fleet.state {
        Some(dir) => dir.clone(),
        None => {
            let root = std::fs::metadata("/proc/self")
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
            let home = std::env::var_os("HOME").filter(|_| !root).map(PathBuf::from);
            match home {
                Some(home) => home.join(".local/state/hookyard/fleet"),
                None => PathBuf::from("/var/lib/hookyard/fleet"),
            }
            .join(&cluster)
        }
    };
    Ok(Some(hookyard_fleet::NodeOptions {
        etcd: fleet.login.options(fleet.etcd.clone())?,
        cluster,
        name,
        labels: fleet.label.clone(),
        state_dir: state,
    }))
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
    /// The hosts of the serving strategies (strategies.yaml): name, state, reason, requests,
    /// errors.
    Hosts,
    /// Mark a host of the strategies down or up (ATS's `traffic_ctl host down|up`).
    Host {
        #[command(subcommand)]
        action: HostAction,
    },
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
enum HostAction {
    /// Take host NAME (`host:port` as `ctl hosts` shows it, or a host for each of its ports)
    /// out: it gets no new transactions until `ctl host up`, across reloads. Prints the hosts
    /// marked.
    Down {
        /// The host.
        name: String,
        /// Why (shown by `ctl hosts`; default `manual`).
        #[arg(long, value_name = "R")]
        reason: Option<String>,
    },
    /// Put host NAME back (whatever the reason it was marked down by the operator).
    Up {
        /// The host.
        name: String,
    },
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
            Method::Hosts => "hosts",
            Method::Host { action: HostAction::Down { .. } } => "host_down",
            Method::Host { action: HostAction::Up { .. } } => "host_up",
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
            Method::Host { action: HostAction::Down { name, reason } } => {
                serde_json::json!({ "name": name, "reason": reason.as_deref().unwrap_or("manual") })
            }
            Method::Host { action: HostAction::Up { name } } => serde_json::json!({ "name": name }),
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
        command @ (Command::Publish { .. } | Command::Fleet { .. }) => run_fleet(command),
        Command::Run {
            config,
            listen,
            listen_tls,
            admin,
            metrics,
            log_format: _,
            takeover,
            fleet,
        } => {
            let options = ServerConfig {
                config_dir: config,
                listen,
                listen_tls,
                admin: admin.map_or(AdminSocket::FromConfig, AdminSocket::At),
                metrics,
                workers: None,
            };
            if let Some(node) = node_options(&fleet)? {
                anyhow::ensure!(!takeover, "cannot start: --takeover is not supported with --etcd");
                hookyard_proxy::fleet::run_node(node, options)?;
                return Ok(ExitCode::SUCCESS);
            }
            let activated = hookyard_proxy::systemd::activated().context("cannot start")?;
            let listeners = match (takeover, activated) {
                (true, Some(_)) => {
                    anyhow::bail!("cannot start: --takeover with sockets from systemd (LISTEN_FDS)")
                }
                (true, None) => Listeners::TakeOver,
                (false, Some(sockets)) => Listeners::Activated(sockets),
                (false, None) => Listeners::Bind,
            };
            let signals = SignalHandlers::install().context("signal handling")?;
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
            signals.serve(handle).context("signal handling")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config, json } => {
            let check = hookyard_proxy::check(&config);
            if json {
                out_json(&check.to_json())?;
                return Ok(if check.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
            }
            let mut text = String::new();
            for line in check.files.iter().chain(&check.problems) {
                text.push_str(line);
                text.push('\n');
            }
            if check.ok {
                text.push_str(&format!("{}: ok\n", config.display()));
            }
            out(&text)?;
            Ok(if check.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
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
                out_json(&result)?;
            } else {
                out(&ctl::render(method.name(), &result))?;
            }
            let failed_reload = matches!(method, Method::Reload) && result["ok"] != true;
            Ok(if failed_reload { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hookyard", &mut script);
            out_bytes(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: None } => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .context("cannot render the man page")?;
            out_bytes(&page)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: Some(dir) } => {
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `value` to standard output as pretty-printed JSON, on lines of its own.
fn out_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// Writes `text` to standard output.
fn out(text: &str) -> anyhow::Result<()> {
    out_bytes(text.as_bytes())
}

/// Writes `bytes` to standard output. A reader that stopped reading (`| head`) ends the output
/// quietly, as with other command-line tools, rather than as an error.
fn out_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("cannot write to standard output"),
    }
}
