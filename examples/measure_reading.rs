//! Measures the peak memory of reading inputs: generates a large synthetic
//! identity feed or live export, or reads one with the project's readers and
//! prints what it holds, so `/usr/bin/time -v` can report the peak from
//! outside.
//!
//! ```text
//! cargo build --release --example measure_reading
//! M=target/release/examples/measure_reading
//! $M gen-identities 400000 /tmp/ids.jsonl      # or ids.csv: the extension picks the format
//! $M gen-live 100000 /tmp/live.jsonl           # 21 grants per identity (or live.csv)
//! /usr/bin/time -v $M identities /tmp/ids.jsonl    # "Maximum resident set size"
//! /usr/bin/time -v $M live /tmp/live.jsonl
//! /usr/bin/time -v $M identities /dev/null         # the baseline: the example organisation loaded
//! ```
//!
//! The identities are people of the bundled example organisation's schema;
//! the live grants are its entitlement ids.

use std::io::{BufWriter, Write};
use std::path::Path;

use entitle::io::identities::read_identities;
use entitle::io::live::read_live;
use entitle::project::Project;

const DEPARTMENTS: [&str; 6] = ["Engineering", "Finance", "Sales", "Support", "People", "Legal"];
/// Catalog entitlements of the example organisation, birthright and not, so a plan has work to do.
const ENTITLEMENTS: [&str; 21] = [
    "okta:sso",
    "google:mail",
    "google:drive",
    "google:all-staff-list",
    "slack:member",
    "slack:office-london",
    "1password:personal",
    "1password:engineering-vault",
    "github:org-member",
    "github:repo-write",
    "github:copilot",
    "jenkins:viewer",
    "jenkins:build",
    "aws:dev-readonly",
    "aws:dev-deploy",
    "aws:staging-readonly",
    "aws:prod-readonly",
    "pagerduty:responder",
    "jira:software",
    "servicenow:requester",
    "workday:self-service",
];

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [_, "gen-identities", n, file] => generate_identities(n.parse().unwrap_or_else(|_| usage()), file),
        [_, "gen-live", n, file] => generate_live(n.parse().unwrap_or_else(|_| usage()), file),
        [_, "identities", file] => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let Ok(project) = Project::load(&root.join("roles"), Some(&root.join("policies"))) else {
                eprintln!("the example organisation does not load");
                std::process::exit(1);
            };
            match read_identities(Path::new(file), None, &project.defs) {
                Ok(feed) => println!("{} valid, {} invalid", feed.identities.len(), feed.invalid.len()),
                Err(e) => eprintln!("{e}"),
            }
            Ok(())
        }
        [_, "live", file] => {
            match read_live(Path::new(file), None, None) {
                Ok(live) => println!("{} grants", live.len()),
                Err(e) => eprintln!("{e}"),
            }
            Ok(())
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: measure_reading identities|live FILE | gen-identities|gen-live N FILE");
    std::process::exit(2);
}

fn generate_identities(n: usize, file: &str) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(file)?);
    let csv = file.ends_with(".csv");
    if csv {
        writeln!(out, "id,kind,status,department,job_code,location,worker_type,start_date,clearance")?;
    }
    for i in 0..n {
        let department = DEPARTMENTS[(i * 7919) % DEPARTMENTS.len()];
        let job = i % 900;
        if csv {
            writeln!(out, "u-{i},person,active,{department},ENG-{job},London,employee,2020-01-01,1")?;
        } else {
            writeln!(
                out,
                r#"{{"id": "u-{i}", "kind": "person", "attributes": {{"status": "active", "department": "{department}", "job_code": "ENG-{job}", "location": "London", "worker_type": "employee", "start_date": "2020-01-01", "clearance": 1}}}}"#
            )?;
        }
    }
    out.flush()
}

fn generate_live(n: usize, file: &str) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(file)?);
    let csv = file.ends_with(".csv");
    if csv {
        writeln!(out, "identity,entitlement")?;
    }
    for i in 0..n {
        for entitlement in ENTITLEMENTS {
            if csv {
                writeln!(out, "u-{i},{entitlement}")?;
            } else {
                writeln!(out, r#"{{"identity": "u-{i}", "entitlement": "{entitlement}"}}"#)?;
            }
        }
    }
    out.flush()
}
