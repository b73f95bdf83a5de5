//! Every example in the README works as printed. The Rust example runs as a doctest of this
//! crate (`src/lib.rs` includes the README); this file checks the rest: the C examples compile
//! warning-free against libsigsync, one signs a message and one starts and stops the sample
//! relay, the C example of `include/README.md`
//! runs its setup on the simulated tenant, the shell commands name only flags, files and tests
//! that exist, the sample messages come out as the README says, and the JSON profile parses.
//! The Python example runs in `tests/python/test_docs.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sigsync_core::inject::SignatureInjector;
use sigsync_core::setup::ServiceProfile;
use sigsync_core::signature::{SignatureConfig, UserAttributes};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fenced code blocks of a Markdown text, as (language tag, content). A fence indented in
/// a list item takes its indentation off the block's lines.
fn code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match open.as_mut() {
            None if trimmed.starts_with("```") => {
                open = Some((trimmed[3..].trim().to_owned(), String::new(), indent));
            }
            Some(_) if trimmed.starts_with("```") => {
                let (lang, body, _) = open.take().unwrap();
                blocks.push((lang, body));
            }
            Some((_, body, fence_indent)) => {
                body.push_str(&line[indent.min(*fence_indent)..]);
                body.push('\n');
            }
            None => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

fn readme_blocks(lang: &str) -> Vec<String> {
    code_blocks(&read("README.md"))
        .into_iter()
        .filter(|(l, _)| l == lang)
        .map(|(_, b)| b)
        .collect()
}

#[test]
fn every_readme_block_has_a_language_so_only_the_rust_one_is_a_doctest() {
    let blocks = code_blocks(&read("README.md"));
    for (lang, body) in &blocks {
        assert!(
            ["text", "sh", "rust", "python", "c", "toml", "json"].contains(&lang.as_str()),
            "a README code block has the language {lang:?} (rustdoc would compile an untagged \
             block as Rust):\n{body}"
        );
    }
    assert_eq!(readme_blocks("rust").len(), 1, "one Rust example");
    let lib = read("tests/src/lib.rs");
    assert!(
        lib.contains("#[doc = include_str!(\"../../README.md\")]"),
        "tests/src/lib.rs must include the README as a doctest"
    );
}

#[test]
fn readme_dependency_block_names_this_version_and_the_sim_feature() {
    let toml = readme_blocks("toml").concat();
    let version = env!("CARGO_PKG_VERSION");
    let minor = version.rsplit_once('.').unwrap().0;
    assert!(
        toml.contains(&format!(
            "sigsync-core = {{ version = \"{minor}\", features = [\"sim\"] }}"
        )),
        "{toml}"
    );
    let core = read("sigsync-core/Cargo.toml");
    assert!(
        core.contains("\nsim = "),
        "sigsync-core has a `sim` feature"
    );
}

#[test]
fn readme_json_blocks_are_a_valid_service_profile_and_faults_file() {
    use sigsync_core::exchange::sim::SimFaults;
    for json in readme_blocks("json") {
        if json.contains("\"faults\"") {
            SimFaults::from_json(&json).unwrap_or_else(|e| panic!("{e}:\n{json}"));
            continue;
        }
        // As written before the first run: the run completes it with the loop-header value.
        ServiceProfile::create_from_json(&json).unwrap_or_else(|e| panic!("{e}:\n{json}"));
    }
}

// ---- shell commands -----------------------------------------------------------------------

/// The `--flags` a `cargo run --example NAME -- ...` command passes to the example.
fn example_flags(command: &str) -> Option<(String, Vec<String>)> {
    let rest = command.split_once("cargo run --example ")?.1;
    let name = rest.split_whitespace().next()?.to_owned();
    let args = rest.split_once(" -- ").map(|(_, a)| a).unwrap_or("");
    let args = args.split('#').next().unwrap_or("");
    let flags = args
        .split_whitespace()
        .filter(|t| t.starts_with("--"))
        .map(str::to_owned)
        .collect();
    Some((name, flags))
}

fn example_source(name: &str) -> String {
    read(&format!("examples/examples/{name}.rs"))
}

#[test]
fn readme_commands_pass_only_flags_the_examples_accept() {
    let mut checked = 0;
    for block in readme_blocks("sh") {
        for line in block.lines() {
            let Some((name, flags)) = example_flags(line) else {
                continue;
            };
            let source = example_source(&name);
            for flag in flags {
                assert!(
                    source.contains(&format!("\"{flag}\" =>")),
                    "README: `{line}` passes {flag}, which examples/examples/{name}.rs does not accept"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} flags found: did the parser break?"
    );
}

#[test]
fn readme_list_of_setup_flags_matches_the_help_text() {
    let readme = read("README.md");
    let start = readme
        .find("`cargo run --example setup -- --help` lists every flag")
        .expect("the paragraph on the setup flags");
    let paragraph = &readme[start..start + readme[start..].find("\n\n").unwrap()];
    let source = example_source("setup");
    let usage = &source[source.find("const USAGE").unwrap()..];
    let usage = &usage[..usage.find("\";").unwrap()];
    let mut flags: Vec<&str> = paragraph
        .split('`')
        .skip(3) // the `cargo run ... --help` command itself
        .step_by(2)
        .filter_map(|code| code.split_whitespace().next())
        .filter(|f| f.starts_with("--"))
        .collect();
    flags.sort_unstable();
    flags.dedup();
    assert!(flags.len() >= 15, "{flags:?}");
    for flag in &flags {
        assert!(
            usage.contains(&format!("  {flag} ")),
            "README lists {flag}, the --help text does not"
        );
    }
    // And the other way round: every flag of the help text is in the README's list.
    for line in usage.lines() {
        if let Some(flag) = line.trim_start().strip_prefix("--") {
            let flag = format!("--{}", flag.split_whitespace().next().unwrap());
            assert!(
                flags.contains(&flag.as_str()),
                "--help has {flag}, the README's list lacks it"
            );
        }
    }
}

#[test]
fn readme_commands_name_files_and_tests_that_exist() {
    let mut checked = 0;
    for block in readme_blocks("sh") {
        for line in block.lines() {
            let line = line.split(" #").next().unwrap();
            for token in line.split_whitespace() {
                if token.starts_with("examples/") || token.starts_with("tests/") {
                    assert!(
                        root().join(token).exists(),
                        "README: `{line}` names {token}, which does not exist"
                    );
                    checked += 1;
                }
            }
            if let Some(rest) = line.split_once(" --test ") {
                let package = line
                    .split_once(" -p ")
                    .and_then(|(_, p)| p.split_whitespace().next())
                    .expect("a --test command names its package");
                let dir = match package {
                    "sigsync-tests" => "tests",
                    "sigsync-core" => "sigsync-core",
                    other => panic!("README: unexpected package {other}"),
                };
                let test = rest.1.split_whitespace().next().unwrap();
                let path = format!("{dir}/tests/{test}.rs");
                assert!(root().join(&path).exists(), "README: `{line}`: no {path}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} paths found");
}

#[test]
fn readme_inject_commands_sign_the_quarterly_sample_and_pass_the_signed_one_through() {
    let config = SignatureConfig::load(root().join("examples/signature.toml")).unwrap();
    let user: UserAttributes = serde_json::from_str(&read("examples/user.json")).unwrap();
    let injector = SignatureInjector::from_config(&config, None).unwrap();
    let mut out = Vec::new();
    let mut labels = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root().join("examples/messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let msg = std::fs::read(&path).unwrap();
        let outcome = injector.inject(&msg, None, Some(&user), &mut out);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        labels.push((name, outcome.label()));
    }
    assert_eq!(
        labels,
        [
            ("quarterly.eml".to_owned(), "injected"),
            ("smime-signed.eml".to_owned(), "skipped")
        ]
    );
}

// ---- C ------------------------------------------------------------------------------------

/// The folder holding libsigsync.so (built as a dependency of this crate).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let deps = exe.parent().expect("deps folder").to_path_buf();
    for dir in [deps.clone(), deps.parent().unwrap().to_path_buf()] {
        if dir.join("libsigsync.so").exists() {
            return dir;
        }
    }
    panic!("libsigsync.so not found next to {}", exe.display());
}

/// Compiles `source` with the C API's strict flags against the shared library and runs it
/// from the root of the clone.
fn compile_and_run(name: &str, source: &str) -> String {
    let lib = lib_dir();
    let dir = lib.parent().unwrap().join("readme-c");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&src, source).unwrap();
    let out = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg("-DSIGSYNC_SIM")
        .arg("-I")
        .arg(root().join("include"))
        .arg(&src)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lsigsync")
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("gcc (the README's prerequisites include it)");
    assert!(
        out.status.success(),
        "{name}: gcc failed\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // cargo's LD_LIBRARY_PATH lists target/debug first, where a `cargo build` may have left an
    // older libsigsync.so: let the rpath pick the library this test was built with.
    let out = Command::new(&exe)
        .current_dir(root())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn readme_c_example_compiles_warning_free_and_signs_a_message() {
    let out = compile_and_run("readme_sign", &readme_c_block("sigsync_injector_inject"));
    assert!(out.starts_with("X-Sigsync-Processed: true\r\n"), "{out}");
    assert!(out.contains("Hello Ben\r\n\r\n"), "{out}");
    assert!(out.contains("Adele Vance"), "{out}");
}

/// The README's C example that calls `function`: the one signing a message, the one running
/// the relay.
fn readme_c_block(function: &str) -> String {
    let blocks = readme_blocks("c");
    assert_eq!(
        blocks.len(),
        2,
        "two C examples in the README: signing, the relay"
    );
    let mut calling = blocks.into_iter().filter(|b| b.contains(function));
    let block = calling
        .next()
        .unwrap_or_else(|| panic!("no C example calls {function}"));
    assert!(calling.next().is_none(), "two C examples call {function}");
    block
}

#[test]
fn readme_c_relay_example_starts_the_sample_relay_and_stops_it() {
    let out = compile_and_run("readme_relay", &readme_c_block("sigsync_relay_start"));
    let port = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("listening on port "))
        .and_then(|p| p.parse::<u16>().ok());
    assert!(port.is_some_and(|p| p != 0), "{out}");
    assert!(out.contains("\n0 messages signed\nstopped\n"), "{out}");
}

#[test]
fn include_readme_c_example_configures_the_simulated_tenant() {
    let blocks: Vec<String> = code_blocks(&read("include/README.md"))
        .into_iter()
        .filter(|(l, _)| l == "c")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(blocks.len(), 1, "one C example in include/README.md");
    let out = compile_and_run("include_readme_setup", &blocks[0]);
    assert!(out.contains("writes"), "{out}");
}
