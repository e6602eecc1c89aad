//! `wardgate waf scan` and `wardgate waf explain`: the inspection engine offline.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use wardgate_waf::corpus::{self, Record, Scan};
use wardgate_waf::{Engine, EngineConfig, Header, HttpRequest, RouteContext, Verdict};

/// Run the inspection engine offline.
#[derive(Debug, Args)]
pub struct WafArgs {
    #[command(subcommand)]
    command: WafCommand,
}

#[derive(Debug, Subcommand)]
enum WafCommand {
    /// Run the engine over labelled corpora (JSONL, or a FHIR corpus directory) and print
    /// detection and false-positive rates; the last line is machine-readable.
    Scan(ScanArgs),
    /// Show the verdict for one request or payload, with every finding.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Corpus files (`corpora/waf` JSONL format) or FHIR corpus directories (resources/,
    /// bundles/, requests/), turned into clinical requests.
    #[arg(required = true)]
    corpora: Vec<PathBuf>,
    /// List the attacks that passed.
    #[arg(long)]
    misses: bool,
    /// List the benign requests that were blocked.
    #[arg(long)]
    false_positives: bool,
    /// Paranoia level 1..4.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    paranoia: u8,
    /// Treat every request as on a FHIR route (otherwise only `/{dept}/fhir/...` paths are).
    #[arg(long)]
    fhir_route: bool,
    /// The blocking threshold.
    #[arg(long, default_value_t = 5)]
    threshold: u32,
}

/// Where `--payload` is placed.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Placement {
    /// Query parameter `q`.
    Query,
    /// JSON body `{"q": ...}`.
    Json,
    /// Header `X-Payload`.
    Header,
    /// Form body `q=...`.
    Form,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The path and query, e.g. `/emergency/fhir/Patient?name=O%27Brien`.
    target: Option<String>,
    /// The method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// A header `Name: value` (repeatable).
    #[arg(long = "header", value_name = "K:V")]
    headers: Vec<String>,
    /// The body.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// A file holding the body.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// A payload to place in a request (see `--in`).
    #[arg(long, conflicts_with_all = ["body", "body_file"])]
    payload: Option<String>,
    /// Where to place `--payload`.
    #[arg(long = "in", value_enum, default_value = "query")]
    placement: Placement,
    /// Paranoia level 1..4.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    paranoia: u8,
    /// Treat the request as on a FHIR route (automatic for `/{dept}/fhir/...`).
    #[arg(long)]
    fhir_route: bool,
    /// Also list every input inspected, with its kind and decoded forms.
    #[arg(long)]
    inputs: bool,
}

/// Run `wardgate waf ...`.
pub fn run(args: WafArgs) -> anyhow::Result<()> {
    match args.command {
        WafCommand::Scan(args) => scan(args),
        WafCommand::Explain(args) => explain(args),
    }
}

fn scan(args: ScanArgs) -> anyhow::Result<()> {
    let engine = Engine::new(EngineConfig {
        threshold: args.threshold,
        ..EngineConfig::default()
    });
    let mut result = Scan::default();
    let mut out = String::new();
    for path in &args.corpora {
        let records = if path.is_dir() {
            corpus::clinical::load(path)?
        } else {
            corpus::read_jsonl(path)?
        };
        for record in &records {
            let verdict = record.inspect(&engine, args.paranoia, args.fhir_route);
            result.add(record, &verdict);
        }
    }
    write!(out, "{}", result.tables())?;
    if args.misses {
        writeln!(out, "misses ({}):", result.misses.len())?;
        for m in &result.misses {
            writeln!(
                out,
                "  {} {}/{}/{}: {}",
                m.id, m.source, m.category, m.placement, m.explain
            )?;
        }
        writeln!(out)?;
    }
    if args.false_positives {
        writeln!(out, "false positives ({}):", result.false_positives.len())?;
        for f in &result.false_positives {
            writeln!(
                out,
                "  {} {}/{}: {}",
                f.id, f.source, f.placement, f.explain
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", result.summary_line())?;
    emit(&out)
}

/// Percent-encode everything but unreserved characters, as a client would.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request `explain` inspects, as a corpus record.
fn explain_record(args: &ExplainArgs) -> anyhow::Result<Record> {
    let mut record = Record {
        id: "explain".to_owned(),
        source: "cli".to_owned(),
        label: corpus::Label::Attack,
        category: String::new(),
        method: args.method.clone(),
        path: "/".to_owned(),
        query: String::new(),
        headers: Default::default(),
        body: String::new(),
        body_b64: None,
        placement: String::new(),
        encoding: String::new(),
        origin: String::new(),
    };
    if let Some(target) = &args.target {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        record.path = path.to_owned();
        record.query = query.to_owned();
    }
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("--header takes `Name: value`, got {header:?}");
        };
        record
            .headers
            .insert(name.trim().to_owned(), value.trim().to_owned());
    }
    if let Some(body) = &args.body {
        record.body = body.clone();
    }
    if let Some(file) = &args.body_file {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        match String::from_utf8(bytes) {
            Ok(text) => record.body = text,
            Err(e) => {
                let encoded = base64_encode(e.as_bytes());
                record.body_b64 = Some(encoded);
            }
        }
    }
    if let Some(payload) = &args.payload {
        match args.placement {
            Placement::Query => {
                let sep = if record.query.is_empty() { "" } else { "&" };
                record.query = format!("{}{sep}q={}", record.query, encode(payload));
            }
            Placement::Header => {
                record
                    .headers
                    .insert("X-Payload".to_owned(), payload.clone());
            }
            Placement::Json => {
                record.method = "POST".to_owned();
                record.body = serde_json::json!({ "q": payload }).to_string();
                record
                    .headers
                    .insert("Content-Type".to_owned(), "application/json".to_owned());
            }
            Placement::Form => {
                record.method = "POST".to_owned();
                record.body = format!("q={}", encode(payload));
                record.headers.insert(
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                );
            }
        }
    } else if args.target.is_none() {
        bail!("give a path and query, or --payload");
    }
    Ok(record)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let record = explain_record(&args)?;
    let engine = Engine::new(EngineConfig {
        collect_all: true,
        ..EngineConfig::default()
    });
    let headers: Vec<Header<'_>> = record
        .headers
        .iter()
        .map(|(name, value)| Header {
            name,
            value: value.as_bytes(),
        })
        .collect();
    let body = record.body_bytes();
    let request = HttpRequest {
        method: &record.method,
        path: &record.path,
        query: (!record.query.is_empty()).then_some(record.query.as_str()),
        headers: &headers,
        body: &body,
        content_type: None,
    };
    let route = RouteContext {
        paranoia: args.paranoia,
        fhir: args.fhir_route || record.is_fhir_route(),
        ..RouteContext::default()
    };
    let (verdict, inputs) = engine.inspect_traced(&request, &route);
    let mut out = String::new();
    print_verdict(&mut out, &verdict, route.fhir)?;
    if args.inputs {
        writeln!(out, "inputs ({}):", inputs.len())?;
        for input in &inputs {
            writeln!(out, "  {} [{:?}]", input.location, input.kind)?;
            for (form, text) in &input.forms {
                let shown = wardgate_waf::verdict::bounded(text);
                writeln!(out, "    {:<10} \"{shown}\"", form.name())?;
            }
        }
    }
    emit(&out)
}

fn print_verdict(out: &mut String, verdict: &Verdict, fhir: bool) -> std::fmt::Result {
    writeln!(out, "{}", verdict.explain())?;
    writeln!(
        out,
        "score {} / threshold {} ({}{})",
        verdict.score,
        verdict.threshold,
        verdict.mode.name(),
        if fhir { ", FHIR route" } else { "" }
    )?;
    for hit in &verdict.hits {
        writeln!(
            out,
            "  {:>3}  {:<32} {} [{}] \"{}\"",
            hit.score,
            hit.rule,
            hit.location,
            hit.variant.name(),
            hit.excerpt
        )?;
    }
    for issue in &verdict.fhir_issues {
        writeln!(out, "  fhir {}: {issue}", issue.code())?;
    }
    Ok(())
}

/// Write a command's output to stdout; a reader that has gone (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_encoded_like_a_client_would() {
        assert_eq!(encode("1' OR '1'='1"), "1%27%20OR%20%271%27%3D%271");
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"abc"), "YWJj");
    }
}
