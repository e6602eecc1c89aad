//! Development harness for the detectors.
//!
//! ```text
//! cargo run --release -p wardgate-waf --example detector_eval -- [options] CORPUS.jsonl...
//!   --paranoia N        route paranoia (default 1)
//!   --misses CATEGORY   print the attacks of CATEGORY that pass (`all` for every category)
//!   --fps               print the benign requests that are blocked
//!   --clinical DIR      run the detectors directly on every JSON string leaf of
//!                       DIR/resources/*.jsonl as clinical text and every `text.div` as FHIR
//!                       narrative, and print every finding (there must be none)
//!   --any-form        also count a request as blocked when one decoded form of one input has
//!                       a finding of score 5 (what the engine gives when it keeps the highest
//!                       score per rule and input, not the first)
//!   --fhir DIR          also scan the clinical request set built from DIR (every resource as
//!                       a create and an update, every Bundle, every request) through the engine
//! ```
//!
//! Corpora go through the whole engine (extraction, decoding, detectors, scoring), as
//! `wardgate waf scan` does; the clinical check calls the detectors alone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wardgate_waf::corpus::{Label, Record, Scan, read_jsonl};
use wardgate_waf::detect::{Finding, Input, InputKind, detect};
use wardgate_waf::{Engine, EngineConfig};

struct Options {
    paranoia: u8,
    misses: Option<String>,
    fps: bool,
    clinical: Option<PathBuf>,
    fhir: Option<PathBuf>,
    any_form: bool,
    corpora: Vec<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        paranoia: 1,
        misses: None,
        fps: false,
        clinical: None,
        fhir: None,
        any_form: false,
        corpora: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--paranoia" => {
                let n = args.next().ok_or("--paranoia needs a value")?;
                options.paranoia = n.parse().map_err(|_| format!("bad paranoia {n}"))?;
            }
            "--misses" => options.misses = Some(args.next().ok_or("--misses needs a category")?),
            "--fps" => options.fps = true,
            "--any-form" => options.any_form = true,
            "--clinical" => {
                options.clinical = Some(args.next().ok_or("--clinical needs a directory")?.into())
            }
            "--fhir" => options.fhir = Some(args.next().ok_or("--fhir needs a directory")?.into()),
            _ => options.corpora.push(arg.into()),
        }
    }
    Ok(options)
}

fn payload(record: &Record) -> String {
    let mut parts = Vec::new();
    if record.path != "/" {
        parts.push(format!("path={}", record.path));
    }
    if !record.query.is_empty() {
        parts.push(format!("query={}", record.query));
    }
    for (name, value) in &record.headers {
        if !matches!(name.as_str(), "Content-Type" | "Accept") {
            parts.push(format!("{name}: {value}"));
        }
    }
    if !record.body.is_empty() {
        parts.push(format!("body={}", record.body));
    }
    let text = parts.join(" | ");
    let cut = text.char_indices().nth(300).map_or(text.len(), |(i, _)| i);
    text[..cut].replace('\n', "\\n").replace('\r', "\\r")
}

fn scan(options: &Options) -> Result<(), String> {
    let engine = Engine::new(EngineConfig::default());
    let mut scan = Scan::default();
    let mut any_form_extra = 0u64;
    let mut any_form_fp = 0u64;
    let mut sets = Vec::new();
    for path in &options.corpora {
        sets.push(read_jsonl(path).map_err(|e| e.to_string())?);
    }
    if let Some(dir) = &options.fhir {
        sets.push(wardgate_waf::corpus::clinical::load(dir).map_err(|e| e.to_string())?);
    }
    for records in &sets {
        for record in records {
            let verdict = record.inspect(&engine, options.paranoia, false);
            scan.add(record, &verdict);
            let mut blocked = verdict.is_blocked();
            if options.any_form && !blocked && any_form_blocks(&engine, record, options.paranoia) {
                blocked = true;
                any_form_extra += 1;
                if record.label == Label::Benign {
                    any_form_fp += 1;
                }
            }
            let show_miss = record.label == Label::Attack
                && !blocked
                && options
                    .misses
                    .as_deref()
                    .is_some_and(|c| c == "all" || c == record.category);
            let show_fp = record.label == Label::Benign && blocked && options.fps;
            if show_miss {
                println!(
                    "MISS {} {} {}",
                    record.category,
                    record.placement,
                    payload(record)
                );
            }
            if show_fp {
                println!(
                    "FP {} {} :: {}",
                    record.placement,
                    payload(record),
                    verdict.explain()
                );
            }
        }
    }
    if options.any_form {
        println!("any-form: {any_form_extra} more requests blocked ({any_form_fp} of them benign)");
    }
    println!("{}", scan.tables());
    println!("{}", scan.summary_line());
    Ok(())
}

/// Whether one decoded form of one input of `record` has a finding of score 5.
fn any_form_blocks(engine: &Engine, record: &Record, paranoia: u8) -> bool {
    let headers: Vec<wardgate_waf::Header<'_>> = record
        .headers
        .iter()
        .map(|(name, value)| wardgate_waf::Header {
            name,
            value: value.as_bytes(),
        })
        .collect();
    let body = record.body_bytes();
    let request = wardgate_waf::HttpRequest {
        method: &record.method,
        path: &record.path,
        query: (!record.query.is_empty()).then_some(record.query.as_str()),
        headers: &headers,
        body: &body,
        content_type: None,
    };
    let route = wardgate_waf::RouteContext {
        paranoia,
        fhir: record.is_fhir_route(),
        ..Default::default()
    };
    let (_, trace) = engine.inspect_traced(&request, &route);
    let mut findings = Vec::new();
    trace.iter().any(|input| {
        let name = input.location.split_once(':').map(|(_, n)| n);
        input.forms.iter().any(|(_, text)| {
            findings.clear();
            detect(
                &Input {
                    kind: input.kind,
                    name,
                    value: text,
                    paranoia,
                },
                &mut findings,
            );
            findings.iter().any(|f| f.score >= 5)
        })
    })
}

/// Every string leaf of a JSON value with whether it is the narrative `text.div`.
fn leaves<'v>(value: &'v serde_json::Value, parent: &str, out: &mut Vec<(bool, &'v str)>) {
    match value {
        serde_json::Value::String(s) => out.push((parent == "div", s)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| leaves(v, parent, out)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, k, out)),
        _ => {}
    }
}

fn clinical(dir: &Path) -> Result<usize, String> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut count = 0;
    let mut strings = 0;
    let resources = dir.join("resources");
    let entries =
        std::fs::read_dir(&resources).map_err(|e| format!("{}: {e}", resources.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            leaves(&value, "", &mut out);
            for (narrative, s) in out {
                strings += 1;
                let kind = if narrative {
                    InputKind::FhirNarrative
                } else {
                    InputKind::ClinicalText
                };
                findings.clear();
                detect(
                    &Input {
                        kind,
                        name: None,
                        value: s,
                        paranoia: 1,
                    },
                    &mut findings,
                );
                for f in &findings {
                    count += 1;
                    let excerpt: String = s
                        .get(f.span.clone())
                        .unwrap_or("")
                        .chars()
                        .take(120)
                        .collect();
                    println!(
                        "CLINICAL {} {:?} {} score={} :: {excerpt}",
                        path.display(),
                        kind,
                        f.rule,
                        f.score
                    );
                }
            }
        }
    }
    println!("clinical strings={strings} findings={count}");
    Ok(count)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &options.clinical {
        match clinical(dir) {
            Ok(0) => {}
            Ok(_) => return ExitCode::FAILURE,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    if (!options.corpora.is_empty() || options.fhir.is_some())
        && let Err(e) = scan(&options)
    {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
