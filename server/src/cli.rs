//! Command line: `nook [serve]`, `nook openapi`, `nook migrate`, `nook healthcheck`, and
//! `nook user add|passwd|list` — the last work on the database directly, so an administrator
//! locked out of the web side can always get back in.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::users::NewUser;

#[derive(Debug, Parser)]
#[command(name = "nook", version, about = "Self-hosted NAS file manager: web app, JSON API and FTP in one binary")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalFlags {
    /// TOML configuration file (also NOOK_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data folder: database, JWT secret, generated files.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Storage root users browse (default <data-dir>/files).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the OpenAPI spec as JSON.
    Openapi,
    /// Apply database migrations and exit.
    Migrate,
    /// Exit 0 when the configured server answers /api/is_up.
    Healthcheck,
    /// Manage users directly in the database.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from stdin with --password-stdin, else generated and printed.
    Add {
        username: String,
        /// Role: admin, user or a custom role.
        #[arg(long, default_value = "user")]
        role: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Readable paths (repeatable), e.g. --path /photos.
        #[arg(long = "path")]
        paths: Vec<String>,
        /// Writable paths (repeatable).
        #[arg(long = "write-path")]
        paths_write: Vec<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (read from stdin); ends the user's sessions and re-enables the account.
    Passwd {
        username: String,
        /// Read the password from the first line of stdin (default when stdin is not a terminal).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let flags = Overrides {
        config: cli.global.config.clone(),
        listen: cli.global.listen.clone(),
        data_dir: cli.global.data_dir.clone(),
        root: cli.global.root.clone(),
    };
    if let Some(Command::Openapi) = cli.command {
        print!("{}", crate::api::spec_json());
        return 0;
    }
    let config = match Config::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nook: {e}");
            return 2;
        }
    };
    init_tracing(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nook: cannot start runtime: {e}");
            return 1;
        }
    };
    let mut restart = None;
    let result = runtime.block_on(async {
        match cli.command {
            None | Some(Command::Serve) => crate::serve(config).await.map(|(_, plan)| {
                restart = plan;
                0
            }),
            Some(Command::Openapi) => Ok(0),
            Some(Command::Migrate) => crate::open_database(&config).await.map(|_| {
                println!("migrations applied");
                0
            }),
            Some(Command::Healthcheck) => Ok(healthcheck(&config.listen).await),
            Some(Command::User(cmd)) => user_command(config, cmd).await,
        }
    });
    // Threads still blocked (a sysinfo read, a child's pipe) get a moment, then are left to
    // the exec, which ends them.
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let (Ok(_), Some(plan)) = (&result, restart) {
        let e = crate::restart_in_place(plan);
        eprintln!("nook: restart failed: {e}");
        return 1;
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nook: {e}");
            1
        }
    }
}

fn init_tracing(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(crate::config::color_logs())
        .try_init();
}

/// GET /api/is_up on the configured address (0.0.0.0 and :: mean this machine).
async fn healthcheck(listen: &str) -> i32 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
        s.write_all(format!("GET /api/is_up HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf);
        let status_line = text.lines().next()?.to_string();
        Some(status_line.split_whitespace().nth(1) == Some("200"))
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Some(true)) => {
            println!("ok");
            0
        }
        _ => {
            eprintln!("nook: {addr} did not answer /api/is_up with 200");
            1
        }
    }
}

fn read_password_line() -> Result<String, crate::StartError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| crate::StartError(format!("cannot read password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The `user` commands act on the database a server uses. A mistyped `--data-dir` must not
/// create an empty database and "succeed" on it (a rescue `nook user passwd` that no server
/// sees): refuse a database that does not exist yet, or that was never migrated.
async fn require_existing_database(config: &Config) -> Result<(), crate::StartError> {
    let url = config.database_url();
    let missing = || {
        crate::StartError(format!(
            "no Nook database at {} (data dir {}): start the server once or run `nook migrate` first, \
             or check --data-dir / database_url",
            without_credentials(&url),
            config.data_dir.display()
        ))
    };
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || !std::path::Path::new(path).is_file() {
            return Err(missing());
        }
        return Ok(());
    }
    let db = crate::db::connect(&url).await.map_err(|e| crate::StartError(format!("cannot open the database: {e}")))?;
    use sea_orm::ConnectionTrait as _;
    let migrated = db.execute_unprepared("SELECT 1 FROM seaql_migrations LIMIT 1").await.is_ok();
    db.close().await.ok();
    if migrated { Ok(()) } else { Err(missing()) }
}

/// A database URL fit for a message: `postgres://user:pass@host/db` -> `postgres://***@host/db`.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}***{}", &url[..start + 3], &url[at..]),
        _ => url.to_string(),
    }
}

async fn user_command(config: Config, cmd: UserCommand) -> Result<i32, crate::StartError> {
    require_existing_database(&config).await?;
    let (state, _audit) = crate::build_state(config).await?;
    match cmd {
        UserCommand::Add { username, role, name, paths, paths_write, password_stdin } => {
            let (password, generated) =
                if password_stdin { (read_password_line()?, false) } else { (crate::users::generate_password(), true) };
            let paths = crate::access::paths::parse_path_list(&serde_json::json!(paths))?;
            let paths_write = crate::access::paths::parse_path_list(&serde_json::json!(paths_write))?;
            let new =
                NewUser { username, password: password.clone(), name, role, paths, paths_write, ..NewUser::default() };
            let (user, key) = state.users.create(new).await?;
            state.audit.record(crate::audit::AuditEvent::new("user_create").actor("cli").detail(user.username.clone()));
            println!("created user {} (id {}, role {})", user.username, user.id, user.role);
            if generated {
                println!("password: {password}");
            }
            println!("API key (shown once): {key}");
        }
        UserCommand::Passwd { username, password_stdin: _ } => {
            let mut password = read_password_line()?;
            if password.is_empty() {
                let mut rest = String::new();
                let _ = std::io::stdin().read_to_string(&mut rest);
                password = rest.trim().to_string();
            }
            let user = state.users.get_by_name(&username).await?;
            let changes =
                crate::users::UserChanges { password: Some(password), disabled: Some(false), ..Default::default() };
            state.users.edit(user.id, changes).await?;
            state.audit.record(crate::audit::AuditEvent::new("user_passwd").actor("cli").detail(username.clone()));
            println!("password changed for {username}; their sessions have ended");
        }
        UserCommand::List => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{:<6} {:<24} {:<10} {:<9} name", "id", "username", "role", "disabled");
            for u in state.users.list().await? {
                let _ = writeln!(out, "{:<6} {:<24} {:<10} {:<9} {}", u.id, u.username, u.role, u.disabled, u.name);
            }
        }
    }
    state.audit.flush().await;
    Ok(0)
}
