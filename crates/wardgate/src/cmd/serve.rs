//! `wardgate serve [--config FILE] [--data DIR]`: run the gateway.
//!
//! On a fresh clone this writes the commented default policy and the data folder, creates
//! the development CA and server certificate, says how to trust the CA and call the gateway,
//! and listens on the policy's public and admin addresses. The policy file is watched (and
//! SIGHUP reloads it); SIGTERM or Ctrl-C drain in-flight requests and stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use wardgate_gateway::{
    DepartmentResponse, DepartmentService, ExchangeLog, Gateway, GatewayOptions, RevocationList,
    RunningGateway, TlsMaterial, server_config,
};
use wardgate_guard::{MemoryRateLimitStore, RateLimitStore, RedisRateLimitStore};
use wardgate_policy::{
    Policy, PolicyHandle, UpstreamTarget, config_path, summary, write_default_policy,
};

/// Run the gateway.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The policy file (default: $WARDGATE_CONFIG, else ./wardgate.toml; written if missing).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data folder: development CA, department databases, identity store, keys.
    #[arg(
        long,
        visible_alias = "data-dir",
        value_name = "DIR",
        env = "WARDGATE_DATA",
        default_value = "wardgate-data"
    )]
    data: PathBuf,
    /// The public origin clients use (token issuer and FHIR bases; default: https:// and the
    /// public listener's address).
    #[arg(long, value_name = "URL", env = "WARDGATE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Keep accounts and sessions, and the built-in departments (one schema each), in this
    /// PostgreSQL (shared by every gateway node) instead of SQLite in the data folder.
    #[arg(long, value_name = "URL", env = "WARDGATE_IDENTITY_DATABASE_URL")]
    database_url: Option<String>,
    /// The PostgreSQL schema for the identity store.
    #[arg(long, value_name = "NAME", env = "WARDGATE_IDENTITY_DATABASE_SCHEMA")]
    database_schema: Option<String>,
    /// The prefix of the built-in departments' PostgreSQL schemas (`wardgate_emergency`, ...;
    /// the same default as `wardgate keys`).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "WARDGATE_DEPARTMENTS_SCHEMA_PREFIX",
        default_value = "wardgate_"
    )]
    schema_prefix: String,
    /// Listen here instead of the policy's `listen.public` (e.g. 127.0.0.1:0 in tests).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Serve admin endpoints here instead of the policy's `listen.admin`.
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Keep rate-limit state in this Redis (shared by every gateway node) instead of memory.
    #[arg(long, value_name = "URL", env = "WARDGATE_REDIS_URL")]
    redis: Option<String>,
    /// How long in-flight requests may take to finish at shutdown, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    drain_timeout: u64,
}

/// Run `wardgate serve` until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let policy_path = config_path(args.config.clone());
    if write_default_policy(&policy_path)
        .with_context(|| format!("writing {}", policy_path.display()))?
    {
        eprintln!(
            "wrote the default policy to {} (edit it; `wardgate check` validates it)",
            policy_path.display()
        );
    }
    let policy = match PolicyHandle::load(&policy_path) {
        Ok(policy) => policy,
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{}", diagnostic.render());
            }
            eprintln!(
                "{}",
                summary(&policy_path.display().to_string(), &diagnostics)
            );
            bail!("the policy has errors; nothing was started");
        }
    };
    for warning in &policy.current().warnings {
        eprintln!("{}", warning.render());
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating the data folder {}", args.data.display()))?;

    let active = policy.current();
    let (tls, trust_hint, hospital_ca) = tls_for(&active.policy, &args.data)?;
    let upstream_cas = match &hospital_ca {
        Some(path) => read_certificates(path)?,
        None => Vec::new(),
    };
    let public_addr = args.listen.unwrap_or(active.policy.listen.public);
    let admin_addr = args.admin.unwrap_or(active.policy.listen.admin);
    let public = tokio::net::TcpListener::bind(public_addr)
        .await
        .with_context(|| format!("listening on {public_addr} (is another wardgate running?)"))?;
    let admin = tokio::net::TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("listening on the admin address {admin_addr}"))?;
    let rate_limits: Arc<dyn RateLimitStore> = match &args.redis {
        Some(url) => Arc::new(
            RedisRateLimitStore::connect(url, "wardgate:rl:")
                .await
                .context("connecting to the rate-limit Redis")?,
        ),
        None => Arc::new(MemoryRateLimitStore::default()),
    };
    let departments = builtin_departments(
        &active.policy,
        &args.data,
        public.local_addr()?,
        args.database_url
            .as_deref()
            .map(|url| (url, args.schema_prefix.as_str())),
    )
    .await?;
    let exchange_log = ExchangeLog::open(&active.policy.audit.log)?;
    let origin = args.public_url.clone().unwrap_or_else(|| {
        format!(
            "https://{}",
            display_addr(public.local_addr().unwrap_or(public_addr))
        )
    });
    let identity = open_identity(&args, &active.policy, &origin).await?;
    let demo = identity
        .create_demo_accounts()
        .await
        .context("creating the demo accounts")?;
    drop(active);

    let gateway = Gateway::start(GatewayOptions {
        policy: policy.clone(),
        tls,
        public,
        admin,
        rate_limits,
        departments,
        exchange_log,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        upstream_cas,
        revocations: revocations(&args.data),
        identity,
    })?;
    print_banner(&gateway, &trust_hint);
    print_demo_accounts(&demo, &origin, &trust_hint);

    let watcher = wardgate_policy::watch_file(
        policy.clone(),
        policy_path.clone(),
        Duration::from_secs(1),
        gateway.reload_listener(),
    );
    wait_for_signals(&gateway, &policy_path, &args.data).await?;
    watcher.abort();
    tracing::info!(
        "draining in-flight requests (up to {} s)",
        args.drain_timeout
    );
    gateway.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// The identity service on SQLite in the data folder, or on the PostgreSQL named, with the
/// access part of the policy.
async fn open_identity(
    args: &ServeArgs,
    policy: &Policy,
    origin: &str,
) -> anyhow::Result<wardgate_identity::Identity> {
    use wardgate_identity::store::StoreLocation;
    use wardgate_identity::{Identity, IdentityConfig, policy::AccessPolicy};
    let mut config = match &args.database_url {
        Some(url) => IdentityConfig::new(
            StoreLocation::Postgres {
                url: url.clone(),
                schema: args.database_schema.clone(),
            },
            args.data.clone(),
            origin,
        ),
        None => IdentityConfig::embedded(args.data.clone(), origin),
    };
    config.policy = AccessPolicy::from_policy(policy).with_default_system_roles();
    Identity::open(config).await.with_context(|| {
        format!(
            "opening the identity store (data folder {})",
            args.data.display()
        )
    })
}

/// On the first run (an empty identity store), how to log in with the demo accounts.
fn print_demo_accounts(
    demo: &[wardgate_identity::DemoAccount],
    origin: &str,
    ca: &Option<PathBuf>,
) {
    if demo.is_empty() {
        return;
    }
    println!();
    println!("created demo accounts (first run; shown once; disable them before real use):");
    for account in demo {
        println!(
            "  {:<28} role {:<22} departments {:<22} password {}",
            account.name,
            account.role,
            account.departments.join(","),
            account.password.as_str()
        );
        println!(
            "  {:<28} TOTP enrolment: {}",
            "",
            account.otpauth_uri.as_str()
        );
    }
    let cacert = ca
        .as_ref()
        .map(|ca| format!("--cacert {} ", ca.display()))
        .unwrap_or_default();
    println!("log in (add the URI above to an authenticator app for the 6-digit code):");
    println!(
        "  curl {cacert}{origin}/auth/login -d username=demo.physician -d password=PASSWORD   # -> mfa_ticket"
    );
    println!(
        "  curl {cacert}{origin}/auth/mfa -d mfa_ticket=TICKET -d code=123456            # -> access_token"
    );
    println!(
        "  curl {cacert}-H \"Authorization: Bearer ACCESS_TOKEN\" {origin}/emergency/fhir/Patient"
    );
}

/// The rustls configuration, the CA file a client should trust (if ours), and the hospital
/// CA file (trusted for device certificates and `https://` upstreams).
type TlsSetup = (Arc<rustls::ServerConfig>, Option<PathBuf>, Option<PathBuf>);

/// The server certificate from the policy, or the development CA's in the data folder.
fn tls_for(policy: &Policy, data: &Path) -> anyhow::Result<TlsSetup> {
    let (certificate, key, ca_hint, development_ca) =
        match (&policy.tls.certificate, &policy.tls.private_key) {
            (Some(certificate), Some(key)) => (certificate.clone(), key.clone(), None, None),
            _ => {
                let (ca, created) = wardgate_pki::HospitalCa::load_or_create(data)
                    .with_context(|| format!("the development CA in {}", data.display()))?;
                if created {
                    eprintln!(
                        "created the development CA {}",
                        ca.certificate_path().display()
                    );
                }
                let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
                let server = wardgate_pki::ensure_server_certificate(data, &ca, &names)
                    .context("the development server certificate")?;
                let ca_path = ca.certificate_path().to_owned();
                (
                    server.certificate,
                    server.private_key,
                    Some(ca_path.clone()),
                    Some(ca_path),
                )
            }
        };
    let client_ca = policy.tls.client_ca.clone().or(development_ca);
    let material = TlsMaterial::from_pem_files(&certificate, &key, client_ca.as_deref())?;
    Ok((
        server_config(material, policy.tls.min_version)?,
        ca_hint,
        client_ca,
    ))
}

/// The device certificates revoked in the data folder's inventory (none if it has none).
fn revocations(data: &Path) -> RevocationList {
    RevocationList::load(data).unwrap_or_else(|error| {
        tracing::error!(%error, "cannot read the device inventory; no certificate is treated as revoked");
        RevocationList::default()
    })
}

/// The certificates of a PEM file.
fn read_certificates(
    path: &Path,
) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the CA certificates in {}", path.display()))
}

/// The built-in department services of the departments the policy serves `builtin`, on
/// SQLite files in the data folder, or in PostgreSQL when `postgres` (URL, schema prefix)
/// is given.
async fn builtin_departments(
    policy: &Policy,
    data: &Path,
    public: SocketAddr,
    postgres: Option<(&str, &str)>,
) -> anyhow::Result<Option<Arc<dyn DepartmentService>>> {
    let origin = format!("https://{}", display_addr(public));
    let configs: Vec<_> = policy
        .departments
        .values()
        .filter(|d| d.upstream == UpstreamTarget::Builtin)
        .map(|d| department_config(d, &origin))
        .collect();
    if configs.is_empty() {
        return Ok(None);
    }
    let master = wardgate_departments::MasterKey::load_or_create(data)
        .with_context(|| format!("the departments' master key in {}", data.display()))?;
    let stores = match postgres {
        Some((url, schema_prefix)) => wardgate_departments::StoreConfig::Postgres {
            url: url.to_owned(),
            schema_prefix: schema_prefix.to_owned(),
        },
        None => wardgate_departments::StoreConfig::Sqlite {
            data_dir: data.to_owned(),
        },
    };
    let departments = wardgate_departments::Departments::open(configs, &stores, Arc::new(master))
        .await
        .context("opening the built-in departments")?;
    Ok(Some(Arc::new(BuiltinDepartments(departments))))
}

/// A built-in department as the policy configures it. The gateway applies the policy's body
/// limit of the route first; the department takes the largest body any of its FHIR routes
/// lets through, and the largest STOW-RS body as its largest DICOM instance, so that it never
/// refuses what the policy allows.
fn department_config(
    department: &wardgate_policy::model::Department,
    origin: &str,
) -> wardgate_departments::DepartmentConfig {
    let mut config =
        wardgate_departments::DepartmentConfig::with_defaults(&department.name, origin);
    if let Some(types) = &department.resource_types {
        config.resource_types = types.clone();
    }
    let largest_under = |api: &str| {
        let base = format!("{}{api}", department.prefix);
        department
            .routes
            .iter()
            .filter(|route| route.path.starts_with(&base))
            .map(|route| route.effective.limits.max_body_bytes.bytes())
            .chain([department.effective.limits.max_body_bytes.bytes()])
            .max()
            .map_or(usize::MAX, |bytes| {
                usize::try_from(bytes).unwrap_or(usize::MAX)
            })
    };
    config.limits.max_body_bytes = largest_under("fhir");
    config.max_instance_bytes = largest_under("dicom-web");
    config
}

/// The departments crate's services behind the gateway's seam.
struct BuiltinDepartments(wardgate_departments::Departments);

impl DepartmentService for BuiltinDepartments {
    fn handle<'a>(
        &'a self,
        department: &'a str,
        request: http::Request<bytes::Bytes>,
    ) -> DepartmentResponse<'a> {
        wardgate_departments::DepartmentService::handle(&self.0, department, request)
    }
}

/// `127.0.0.1:8443` stays as is; a wildcard address is shown as localhost for the curl line.
fn display_addr(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn print_banner(gateway: &RunningGateway, ca: &Option<PathBuf>) {
    let public = display_addr(gateway.public_addr());
    let first = gateway
        .policy()
        .current()
        .policy
        .departments
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "emergency".into());
    println!("wardgate is listening on https://{public} (HTTP/1.1 and HTTP/2)");
    println!(
        "admin endpoints: http://{}/metrics /healthz /readyz",
        gateway.admin_addr()
    );
    if let Some(ca) = ca {
        let ca = std::fs::canonicalize(ca).unwrap_or_else(|_| ca.clone());
        println!(
            "TLS uses the development CA {}; trust it for this machine only:",
            ca.display()
        );
        println!(
            "  curl --cacert {} https://{public}/{first}/fhir/metadata",
            ca.display()
        );
        println!(
            "  (Debian: sudo cp {} /usr/local/share/ca-certificates/wardgate-dev.crt && sudo update-ca-certificates)",
            ca.display()
        );
    } else {
        println!("  curl https://{public}/{first}/fhir/metadata");
    }
    println!(
        "stop with Ctrl-C or SIGTERM (in-flight requests finish); reload with SIGHUP or by saving the policy"
    );
}

/// Reload on SIGHUP (policy, certificate files, revocations) and re-read the revocations
/// every 5 s; return on SIGTERM or Ctrl-C.
async fn wait_for_signals(
    gateway: &RunningGateway,
    policy_path: &Path,
    data: &Path,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut inventory_poll = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the policy and certificates");
                let _ = gateway.reload(policy_path);
                match tls_for(&gateway.policy().current().policy, data) {
                    Ok((tls, _, _)) => gateway.set_tls(tls),
                    Err(error) => tracing::error!(%error, "certificates not reloaded; the previous ones stay"),
                }
                gateway.set_revocations(revocations(data));
            }
            // `wardgate cert revoke` writes the inventory; pick it up without a signal.
            _ = inventory_poll.tick() => gateway.set_revocations(revocations(data)),
            _ = terminate.recv() => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_take_the_policys_body_limits() {
        let policy = Policy::hospital_default().expect("default policy").policy;
        let config = |name: &str| department_config(&policy.departments[name], "https://h.test");
        // [departments.emergency.limits] max_body_bytes = "20 MiB".
        assert_eq!(config("emergency").limits.max_body_bytes, 20 << 20);
        // The global [limits] max_body_bytes = "10 MiB".
        assert_eq!(config("laboratory").limits.max_body_bytes, 10 << 20);
        // The STOW-RS route's 2 GiB is the largest instance; FHIR keeps the department's.
        let radiology = config("radiology");
        assert_eq!(radiology.max_instance_bytes, 2 << 30);
        assert_eq!(radiology.limits.max_body_bytes, 10 << 20);
        // The record keeps its own list and every type no department lists ("others").
        let record = config("record").resource_types;
        assert!(record.iter().any(|t| t == "DocumentReference"));
        assert!(record.iter().any(|t| t == "Claim"));
        assert!(!record.iter().any(|t| t == "Specimen"));
    }
}
