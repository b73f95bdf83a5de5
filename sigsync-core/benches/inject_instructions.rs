//! Instruction counts of the injector alone (no rendering): injects one fixed signature into
//! every `.eml` file of a directory, `rounds` times, with `Injector::prepare`. Run it under
//! `valgrind --tool=callgrind` with 1 and with 3 rounds; the difference divided by twice the
//! message count is the injector's instructions per message, load-independent.
//!
//! `cargo bench -p sigsync-core --bench inject_instructions --no-run`, then
//! `valgrind --tool=callgrind BIN --bench DIR ROUNDS`. Prints the outcome counts.

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
    for _ in 0..rounds {
        for m in &msgs {
            let outcome = injector.inject(m, None, |_| Choice::Sign(sig.clone()), &mut out);
            match outcome {
                Outcome::Injected(_) => injected += 1,
                Outcome::Skipped(_) => skipped += 1,
                Outcome::Failed(_) => failed += 1,
            }
            black_box(&out);
        }
    }
    println!(
        "{} messages x {rounds}: injected {injected}, skipped {skipped}, failed {failed}",
        msgs.len()
    );
}
