//! `wardgate cert device|list|revoke|ca`: the hospital CA and the device certificates it issues.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use wardgate_pki::{HospitalCa, Inventory, data_dir};
use wardgate_policy::{Policy, config_path};

/// Issue, list and revoke device certificates; show the CA.
#[derive(Debug, Args)]
pub struct CertArgs {
    #[command(subcommand)]
    command: CertCommand,
    /// The data folder holding the CA (default: $WARDGATE_DATA, else ./wardgate-data).
    #[arg(long, value_name = "DIR", global = true)]
    data: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Issue a client certificate for a device (NAME.pem and NAME-key.pem).
    Device(DeviceArgs),
    /// List every device certificate issued, with its status.
    List,
    /// Revoke every certificate of a device.
    Revoke {
        /// The device name.
        name: String,
    },
    /// Show where the CA certificate is and how to trust it.
    Ca,
}

#[derive(Debug, Args)]
struct DeviceArgs {
    /// The device name (letters, digits, `.`, `_`, `-`), e.g. `pump-ward3-07`.
    name: String,
    /// The device's zone, as defined in the policy's [zones] (e.g. `devices`).
    #[arg(long)]
    zone: String,
    /// Where to write NAME.pem and NAME-key.pem.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// The policy whose zones the zone is checked against (default: $WARDGATE_CONFIG, else
    /// ./wardgate.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Run `wardgate cert`.
pub fn run(args: CertArgs) -> anyhow::Result<()> {
    let dir = data_dir(args.data);
    match args.command {
        CertCommand::Device(device) => issue(&dir, device),
        CertCommand::List => list(&dir),
        CertCommand::Revoke { name } => revoke(&dir, &name),
        CertCommand::Ca => show_ca(&dir),
    }
}

fn load_or_create_ca(dir: &Path) -> anyhow::Result<HospitalCa> {
    let (ca, created) = HospitalCa::load_or_create(dir)
        .with_context(|| format!("opening the hospital CA in {}", dir.display()))?;
    if created {
        println!(
            "Created the development hospital CA: {}",
            ca.certificate_path().display()
        );
    }
    Ok(ca)
}

/// Refuses a zone the policy does not define; says so when the policy cannot be read.
fn check_zone_in_policy(zone: &str, config: Option<PathBuf>) -> anyhow::Result<()> {
    let path = config_path(config);
    if !path.exists() {
        eprintln!(
            "note: {} not found: the zone {zone:?} was not checked against the policy",
            path.display()
        );
        return Ok(());
    }
    match Policy::load(&path) {
        Ok(validated) if validated.policy.zones.contains_key(zone) => Ok(()),
        Ok(validated) => {
            let zones: Vec<&str> = validated.policy.zones.keys().map(String::as_str).collect();
            bail!(
                "zone {zone:?} is not defined in {} (its zones: {}); add [zones.{zone}] first",
                path.display(),
                zones.join(", ")
            )
        }
        Err(_) => {
            eprintln!(
                "note: {} does not validate (run `wardgate check`): the zone {zone:?} was not \
                 checked against it",
                path.display()
            );
            Ok(())
        }
    }
}

fn issue(dir: &Path, args: DeviceArgs) -> anyhow::Result<()> {
    check_zone_in_policy(&args.zone, args.config)?;
    let ca = load_or_create_ca(dir)?;
    let issued = Inventory::issue_device(dir, &ca, &args.name, &args.zone, args.days)?;
    let (certificate, key) = issued.write_files(&args.out, &args.name)?;
    let until = issued.not_after.date();
    println!(
        "Issued a certificate for device {:?} in zone {:?}, valid until {until}.",
        args.name, args.zone
    );
    println!("  certificate:         {}", certificate.display());
    println!(
        "  private key:         {} (mode 600: install it on the device only)",
        key.display()
    );
    println!("  SHA-256 fingerprint: {}", issued.fingerprint);
    println!("  serial:              {}", issued.serial);
    println!();
    println!("Use it, for example:");
    println!(
        "  curl --cert {} --key {} --cacert {} https://localhost:8443/emergency/fhir/metadata",
        certificate.display(),
        key.display(),
        ca.certificate_path().display()
    );
    println!("Revoke it: wardgate cert revoke {}", args.name);
    Ok(())
}

fn list(dir: &Path) -> anyhow::Result<()> {
    let inventory = Inventory::load(dir)?;
    if inventory.records().is_empty() {
        println!("No device certificate issued yet (wardgate cert device NAME --zone ZONE).");
        return Ok(());
    }
    println!(
        "{:<24} {:<12} {:<8} {:<20} FINGERPRINT (SHA-256)",
        "NAME", "ZONE", "STATUS", "EXPIRES"
    );
    for record in inventory.records() {
        let status = record.status().as_str();
        println!(
            "{:<24} {:<12} {:<8} {:<20} {}",
            record.name,
            record.zone,
            status,
            record.expires.get(..19).unwrap_or(&record.expires),
            record.fingerprint
        );
    }
    Ok(())
}

fn revoke(dir: &Path, name: &str) -> anyhow::Result<()> {
    let ca = HospitalCa::load(dir)
        .with_context(|| format!("opening the hospital CA in {}", dir.display()))?;
    let revoked = Inventory::revoke(dir, &ca, name)?;
    if revoked.is_empty() {
        println!("Every certificate of {name:?} was already revoked.");
    }
    for record in &revoked {
        println!("Revoked {name:?} (fingerprint {}).", record.fingerprint);
    }
    println!(
        "Updated {} and {}; a running gateway refuses the certificate once it has reloaded them.",
        dir.join(wardgate_pki::INVENTORY_FILE).display(),
        dir.join(wardgate_pki::CRL_FILE).display()
    );
    Ok(())
}

fn show_ca(dir: &Path) -> anyhow::Result<()> {
    let ca = load_or_create_ca(dir)?;
    let path = std::fs::canonicalize(ca.certificate_path())
        .unwrap_or_else(|_| ca.certificate_path().to_owned());
    let fingerprint = wardgate_pki::CertificateFingerprint::of(ca.certificate_der());
    println!("Hospital CA certificate: {}", path.display());
    println!("SHA-256 fingerprint:     {fingerprint}");
    println!();
    println!("Trust it (so browsers and tools accept the gateway's certificate):");
    println!(
        "  Debian/Ubuntu: sudo cp {} /usr/local/share/ca-certificates/wardgate-ca.crt && sudo update-ca-certificates",
        path.display()
    );
    println!(
        "  macOS:         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {}",
        path.display()
    );
    println!(
        "  Windows:       certutil -addstore -f Root {}",
        path.display()
    );
    println!(
        "  One command:   curl --cacert {} https://localhost:8443/...",
        path.display()
    );
    println!();
    println!(
        "Compare the fingerprint with `openssl x509 -in {} -noout -fingerprint -sha256` before trusting a copy.",
        path.display()
    );
    Ok(())
}
