//! The C API end to end (issue 8): the committed header is what cbindgen generates, the C
//! enum matches the core's error kinds, the version macros match the crate, the C programs
//! in `examples/c` and `tests/c` compile warning-free against the static and the shared
//! library and run clean (under valgrind when it is installed), the header compiles as C++
//! when included twice, and the shared library exports only `sigsync_` symbols.
//!
//! The relay from C (issue 19): `tests/c/test_relay.c` sends a message through a relay to a
//! next hop with real TLS that requires the tenant's client certificate, and
//! `examples/c/relay.c` serves, reloads on SIGHUP and stops on SIGTERM, both under valgrind.
//!
//! Regenerate the header with `SIGSYNC_BLESS=1 cargo test -p sigsync-tests --test c_api`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sigsync_core::ErrorKind;

mod next_hop;

const BLESS: &str = "run `SIGSYNC_BLESS=1 cargo test -p sigsync-tests --test c_api` to regenerate";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn header_path() -> PathBuf {
    root().join("include/sigsync.h")
}

fn generate_header() -> String {
    let crate_dir = root().join("sigsync-ffi");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("sigsync-ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

fn committed_header() -> String {
    std::fs::read_to_string(header_path())
        .unwrap_or_else(|e| panic!("include/sigsync.h: {e}; {BLESS}"))
}

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let fresh = generate_header();
    if std::env::var_os("SIGSYNC_BLESS").is_some() {
        std::fs::write(header_path(), &fresh).expect("write include/sigsync.h");
        return;
    }
    let committed = committed_header();
    if fresh != committed {
        let first = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| fresh.lines().count().min(committed.lines().count()));
        panic!(
            "include/sigsync.h is out of date (first difference at line {}): {BLESS}",
            first + 1
        );
    }
}

/// `SIGSYNC_RESULT_<NAME> = <n>` for every core error kind, with the same number.
#[test]
fn c_result_enum_matches_the_core_error_kinds() {
    let header = committed_header();
    for kind in ErrorKind::ALL {
        let line = format!(
            "SIGSYNC_RESULT_{} = {},",
            kind.name().to_ascii_uppercase(),
            kind.code()
        );
        assert!(
            header.contains(&line),
            "the header lacks `{line}` for {kind:?}; {BLESS}"
        );
    }
    for ffi_only in [
        "SIGSYNC_RESULT_OK = 0,",
        "SIGSYNC_RESULT_NULL_PARAMETER = 1000,",
        "SIGSYNC_RESULT_INVALID_UTF8 = 1001,",
        "SIGSYNC_RESULT_INSUFFICIENT_SIZE = 1002,",
        "SIGSYNC_RESULT_ALREADY_USED = 1003,",
        "SIGSYNC_RESULT_INVALID_PARAMETER = 1004,",
        "SIGSYNC_RESULT_PANIC = 1999,",
    ] {
        assert!(header.contains(ffi_only), "the header lacks `{ffi_only}`");
    }
}

#[test]
fn version_macros_match_the_crate_version() {
    let header = committed_header();
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    for name in ["MAJOR", "MINOR", "PATCH"] {
        let want = format!("#define SIGSYNC_VERSION_{name} {}", parts.next().unwrap());
        assert!(
            header.contains(&want),
            "the header lacks `{want}` (crate version {version}): edit after_includes in \
             sigsync-ffi/cbindgen.toml, then {BLESS}"
        );
    }
}

// ---- the C programs ----------------------------------------------------------------------

/// The folder holding libsigsync.a and libsigsync.so (built as a dependency of this crate).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let deps = exe.parent().expect("deps folder").to_path_buf();
    for dir in [deps.clone(), deps.parent().unwrap().to_path_buf()] {
        if dir.join("libsigsync.a").exists() && dir.join("libsigsync.so").exists() {
            return dir;
        }
    }
    panic!(
        "libsigsync.a and libsigsync.so not found next to {}",
        exe.display()
    );
}

fn out_dir() -> PathBuf {
    let dir = lib_dir().parent().unwrap().join("c-api");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

const CFLAGS: &[&str] = &[
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
    "-DSIGSYNC_SIM",
    "-DSIGSYNC_RELAY",
];

/// Compiles `source` against the static (`shared = false`) or shared library.
fn compile(source: &Path, shared: bool) -> PathBuf {
    let lib = lib_dir();
    let stem = source.file_stem().unwrap().to_string_lossy();
    let exe = out_dir().join(format!(
        "{stem}-{}",
        if shared { "shared" } else { "static" }
    ));
    let mut cmd = Command::new("gcc");
    cmd.args(CFLAGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(source)
        .arg("-o")
        .arg(&exe);
    if shared {
        cmd.arg(format!("-L{}", lib.display()))
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lsigsync");
    } else {
        cmd.arg(lib.join("libsigsync.a")).args([
            "-lpthread",
            "-ldl",
            "-lm",
            "-lrt",
            "-lgcc_s",
            "-lutil",
        ]);
    }
    run(&mut cmd);
    exe
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `exe` with `args`, under valgrind when it is installed.
fn run_program(exe: &Path, args: &[PathBuf], valgrind: bool) -> String {
    let out = run(&mut program_command(exe, args, valgrind));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command that runs `exe` with `args` from the workspace root, under valgrind (leaks
/// are errors) when `valgrind`.
fn program_command(exe: &Path, args: &[PathBuf], valgrind: bool) -> Command {
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=1",
        ])
        .arg(format!(
            "--suppressions={}",
            root().join("tests/c/valgrind.supp").display()
        ))
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    // cargo puts target/debug first on LD_LIBRARY_PATH, which outranks the rpath: a stale
    // libsigsync.so left there by an earlier `cargo build` would be loaded instead.
    cmd.args(args)
        .current_dir(root())
        .env_remove("LD_LIBRARY_PATH");
    cmd
}

struct Program {
    source: &'static str,
    args: &'static [&'static str],
    /// Text the program's output must contain.
    expect: &'static str,
}

const PROGRAMS: &[Program] = &[
    Program {
        source: "tests/c/test_api.c",
        args: &[
            "sigsync-core/tests/fixtures/app-cert.pem",
            "sigsync-core/tests/fixtures/app-key.pem",
            "examples/signature.toml",
        ],
        expect: "all C API tests passed",
    },
    Program {
        source: "examples/c/inject.c",
        args: &["examples/signature.toml", "examples/c/sample.eml"],
        expect: "outcome: injected",
    },
    Program {
        source: "examples/c/setup.c",
        args: &[],
        expect: "Result: configured",
    },
];

#[test]
fn c_programs_compile_against_both_libraries_and_run_clean() {
    let valgrind = have("valgrind");
    if !valgrind {
        println!("SKIPPED: valgrind is not installed; the C programs run without it");
        eprintln!("SKIPPED: valgrind is not installed; the C programs run without it");
    }
    // Compile everything first, then run the programs two at a time (valgrind is slow).
    let mut runs = Vec::new();
    for program in PROGRAMS {
        let source = root().join(program.source);
        let args: Vec<PathBuf> = program.args.iter().map(|a| root().join(a)).collect();
        for shared in [false, true] {
            runs.push((program, compile(&source, shared), args.clone(), shared));
        }
    }
    for pair in runs.chunks(2) {
        std::thread::scope(|scope| {
            for (program, exe, args, shared) in pair {
                scope.spawn(move || {
                    let out = run_program(exe, args, valgrind);
                    assert!(
                        out.contains(program.expect),
                        "{} ({}{}): expected `{}` in\n{out}",
                        program.source,
                        if *shared { "shared" } else { "static" },
                        if valgrind { ", valgrind" } else { "" },
                        program.expect
                    );
                });
            }
        });
    }
}

/// The minimal example of `include/README.md` compiles warning-free and runs.
#[test]
fn readme_minimal_example_builds_and_runs() {
    let readme = std::fs::read_to_string(root().join("include/README.md")).unwrap();
    let start = readme
        .find("```c\n")
        .expect("a ```c block in include/README.md")
        + 5;
    let end = start + readme[start..].find("```").unwrap();
    let source = out_dir().join("readme_example.c");
    std::fs::write(&source, &readme[start..end]).unwrap();
    let exe = compile(&source, true);
    let out = run_program(&exe, &[], false);
    assert!(
        out.contains("4 writes"),
        "include/README.md example printed:\n{out}"
    );
}

/// `include/sigsync.pc.in`, filled in, gives the flags that build a program against the
/// library (`--static` adds the system libraries a static link needs).
#[test]
fn pkg_config_file_builds_a_program() {
    if !have("pkg-config") {
        println!("SKIPPED: pkg-config is not installed");
        eprintln!("SKIPPED: pkg-config is not installed");
        return;
    }
    let template = std::fs::read_to_string(root().join("include/sigsync.pc.in")).unwrap();
    assert!(
        template.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "include/sigsync.pc.in: Version differs from the crate version"
    );
    let dir = out_dir().join("pkgconfig");
    std::fs::create_dir_all(&dir).unwrap();
    let pc = template
        .replace("@LIBDIR@", &lib_dir().display().to_string())
        .replace(
            "@INCLUDEDIR@",
            &root().join("include").display().to_string(),
        );
    std::fs::write(dir.join("sigsync.pc"), pc).unwrap();
    for static_link in [false, true] {
        let mut query = Command::new("pkg-config");
        query
            .env("PKG_CONFIG_PATH", &dir)
            .args(["--cflags", "--libs"]);
        if static_link {
            query.arg("--static");
        }
        let flags = String::from_utf8(run(query.arg("sigsync")).stdout).unwrap();
        let exe = out_dir().join(format!("pc-setup-{static_link}"));
        let mut cc = Command::new("gcc");
        cc.args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
            .arg(root().join("examples/c/setup.c"))
            .arg("-o")
            .arg(&exe)
            .args(flags.split_whitespace())
            .arg(format!("-Wl,-rpath,{}", lib_dir().display()));
        run(&mut cc);
        assert!(exe.exists());
    }
}

#[test]
fn header_compiles_as_cpp_when_included_twice() {
    run(Command::new("g++")
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-fsyntax-only",
            "-DSIGSYNC_SIM",
            "-DSIGSYNC_RELAY",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c/double_include.cpp")));
}

#[test]
fn shared_library_exports_only_sigsync_symbols() {
    let so = lib_dir().join("libsigsync.so");
    let out = run(Command::new("nm").args(["-D", "--defined-only"]).arg(&so));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut exported = 0;
    let mut foreign = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_addr), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // Text (T) and data (D, B, R) symbols; weak and versioned runtime symbols included.
        if !matches!(kind, "T" | "D" | "B" | "R" | "W" | "V" | "i") {
            continue;
        }
        exported += 1;
        if !name.starts_with("sigsync_") {
            foreign.push(name.to_owned());
        }
    }
    assert!(exported > 50, "only {exported} exported symbols:\n{text}");
    assert!(
        foreign.is_empty(),
        "libsigsync.so exports symbols without the sigsync_ prefix: {foreign:?}"
    );
}

// ---- the relay from C ----------------------------------------------------------------------

const CONTOSO_ID: &str = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01";

/// A folder for one test's files under the C programs' output folder.
fn scratch(tag: &str) -> PathBuf {
    let dir = out_dir().join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A relay configuration for the tenant contoso whose mail goes back to `next_hop_port` on
/// loopback over TLS with contoso's client certificate; the signature configuration knows
/// Adele Vance.
fn write_relay_config(dir: &Path, next_hop_port: u16) -> PathBuf {
    let p = |n: &str| next_hop::pki(n).display().to_string();
    std::fs::write(dir.join("allow.txt"), "127.0.0.0/8\n").unwrap();
    std::fs::write(
        dir.join("signature.toml"),
        r#"accepted_domains = ["contoso.com"]

[fallback]
companyName = "Contoso Ltd"

[signatures.standard]
html = "<p><b>{{ displayName }}</b><br>{{ jobTitle }}</p>"
text = "{{ displayName }}\n{{ jobTitle }}"

[[rules]]
name = "everyone"
signature = "standard"

[directory]
source = "memory"
[directory.users."adele@contoso.com"]
displayName = "Adele Vance"
jobTitle = "Retail Manager"
"#,
    )
    .unwrap();
    let config = format!(
        r#"[listener]
address = "127.0.0.1:0"
hostname = "relay.test"
certificate = "{relay_pem}"
private_key = "{relay_key}"
allow_list = "allow.txt"

[next_hop]
roots = {{ file = "{root_ca}" }}

[[tenants]]
name = "contoso"
tenant_id = "{CONTOSO_ID}"
initial_domain = "contoso.onmicrosoft.com"
profile = "{profile}"
signatures = "signature.toml"
client_certificate = "{contoso_pem}"
client_key = "{contoso_key}"
return_endpoint = "127.0.0.1:{next_hop_port}"
"#,
        relay_pem = p("relay.pem"),
        relay_key = p("relay.key"),
        root_ca = p("root.pem"),
        profile = root().join("examples/relay/contoso-profile.json").display(),
        contoso_pem = p("contoso.pem"),
        contoso_key = p("contoso.key"),
    );
    let path = dir.join("relay.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn valgrind_or_say_skipped() -> bool {
    let valgrind = have("valgrind");
    if !valgrind {
        println!("SKIPPED: valgrind is not installed; the C programs run without it");
        eprintln!("SKIPPED: valgrind is not installed; the C programs run without it");
    }
    valgrind
}

#[test]
fn c_relay_sends_one_message_to_a_tls_next_hop_signed_and_stops_clean() {
    let valgrind = valgrind_or_say_skipped();
    let hop = next_hop::NextHop::start();
    let dir = scratch("relay-c-test");
    let config = write_relay_config(&dir, hop.port);
    let contoso = next_hop::first_certificate(&next_hop::pki("contoso.pem"));
    let source = root().join("tests/c/test_relay.c");
    for shared in [false, true] {
        let before = hop.delivered().len();
        let exe = compile(&source, shared);
        let out = run_program(&exe, std::slice::from_ref(&config), valgrind);
        let how = format!(
            "{}{}",
            if shared { "shared" } else { "static" },
            if valgrind { ", valgrind" } else { "" }
        );
        assert!(
            out.contains("end of data: 250") && out.contains("all relay C tests passed"),
            "test_relay.c ({how}):\n{out}"
        );
        let delivered = hop.delivered();
        assert_eq!(delivered.len(), before + 1, "({how}) one message went on");
        let d = &delivered[before];
        assert_eq!(
            d.client_certificate.as_ref(),
            Some(&contoso),
            "({how}) the relay presented contoso's client certificate"
        );
        assert_eq!(d.mail_from, "MAIL FROM:<adele@contoso.com>");
        let text = String::from_utf8_lossy(&d.data);
        assert!(
            text.starts_with("X-Sigsync-Processed: 5c0d8e1f3a7b4962b8e0d4f1a2c3e4b5\r\n")
                || text.contains("\r\nX-Sigsync-Processed: 5c0d8e1f3a7b4962b8e0d4f1a2c3e4b5\r\n"),
            "({how}) the loop header from the profile:\n{text}"
        );
        assert!(
            text.contains("Adele Vance") && text.contains("Retail Manager"),
            "({how}) signed:\n{text}"
        );
        assert!(
            text.contains("Subject: Quarterly numbers\r\n")
                && text.contains("the numbers are attached")
                && !text.contains("..the numbers"),
            "({how}) the rest of the message intact, dot-stuffing undone once:\n{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn c_relay_example_serves_reloads_on_sighup_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let valgrind = valgrind_or_say_skipped();
    let hop = next_hop::NextHop::start();
    let dir = scratch("relay-c-example");
    let config = write_relay_config(&dir, hop.port);
    let source = root().join("examples/c/relay.c");
    compile(&source, false); // builds against the static library too; runs shared
    let exe = compile(&source, true);
    let mut child = program_command(&exe, &[config, "127.0.0.1:0".into()], valgrind)
        .stdout(Stdio::piped())
        // A file, not a pipe: valgrind's leak summary at exit could fill an unread pipe.
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port: u16 = line
        .strip_prefix("listening on ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    let mut smtp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut greeting = [0u8; 64];
    let n = smtp.read(&mut greeting).unwrap();
    assert!(greeting[..n].starts_with(b"220 relay.test ESMTP"));
    drop(smtp);

    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-HUP");
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "reloaded\n");
    signal("-TERM");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap();
    assert!(status.success(), "{status}\n{rest}\n{stderr}");
    assert!(
        rest.contains("accepted 0 messages")
            && rest.contains("stopped (every transaction finished)"),
        "{rest}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
