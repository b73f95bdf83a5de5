//! Instruction counts of the injector alone (no rendering): injects one fixed signature into
//! every `.eml` file of a directory, `rounds` times, with `Injector::prepare`. Run it under
//! `valgrind --tool=callgrind` with 1 and with 3 rounds; the difference divided by twice the
//! message count is the injector's instructions per message, load-independent.
//!
//! `cargo bench -p sigsync-core --bench inject_instructions --no-run`, then
//! `valgrind --tool=callgrind BIN --bench DIR ROUNDS`. Prints the outcome counts. With a
//! third argument FILE it also writes every outcome and output there (of the last round), so
//! that two builds can be compared byte for byte.

use std::hint::black_box;

use sigsync_core::inject::{Choice, InjectConfig, Injector, Outcome};
use sigsync_core::signature::RenderedSignature;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let (Some(dir), Some(rounds)) = (args.get(1), args.get(2).and_then(|r| r.parse().ok())) else {
        println!("inject_instructions: run with `--bench DIR ROUNDS`");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let msgs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let injector = Injector::new(InjectConfig::default()).expect("injector");
    let sig = RenderedSignature {
        html: r#"<table style="font-family:Arial"><tr><td><b>Anna Schmidt</b><br>Sales | EMEA<br>Contoso | <a href="tel:+49 30 1234">+49 30 1234</a></td></tr></table>"#.into(),
        text: "Anna Schmidt\nSales | EMEA\nContoso | +49 30 1234".into(),
        ..Default::default()
    };
    let (mut injected, mut skipped, mut failed) = (0, 0, 0);
    let mut out = Vec::new();
    let mut dump = args.get(3).map(|_| Vec::new());
    for _ in 0..rounds {
        if let Some(d) = dump.as_mut() {
            d.clear();
        }
        for m in &msgs {
            let mut info = String::new();
            let choose = |i: &sigsync_core::inject::MessageInfo| {
                if dump.is_some() {
                    info = format!("{i:?}");
                }
                Choice::Sign(sig.clone())
            };
            let outcome = injector.inject(m, None, choose, &mut out);
            match outcome {
                Outcome::Injected(_) => injected += 1,
                Outcome::Skipped(_) => skipped += 1,
                Outcome::Failed(_) => failed += 1,
            }
            if let Some(d) = dump.as_mut() {
                d.extend_from_slice(format!("\n{outcome:?} {info} {}\n", out.len()).as_bytes());
                d.extend_from_slice(&out);
            }
            black_box(&out);
        }
    }
    if let (Some(path), Some(d)) = (args.get(3), dump) {
        std::fs::write(path, d).expect("write the dump");
    }
    println!(
        "{} messages x {rounds}: injected {injected}, skipped {skipped}, failed {failed}",
        msgs.len()
    );
}
