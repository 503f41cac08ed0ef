//! Compiles the warm-sync round's Ceph helper (`assets/rbd_helper.cc`: a delta
//! reader that reads objects sparsely, and the round's writer; docs/decisions.md
//! "The round's helpers are compiled where the Ceph headers are"), where a C++ compiler and the
//! cluster's development headers (Debian: `g++ libradospp-dev librbd-dev`)
//! are installed. Elsewhere the file is left empty and stackmigrate uses
//! the Python helpers, as before. Either way the build succeeds.
use std::path::Path;
use std::process::Command;

const SOURCE: &str = "assets/rbd_helper.cc";
/// What it includes.
const INCLUDED: [&str; 3] = [
    "assets/delta_reader.hpp",
    "assets/delta_stream.hpp",
    "assets/round_writer.hpp",
];
const HEADERS: [&str; 2] = ["/usr/include/rados/librados.hpp", "/usr/include/rbd/librbd.hpp"];
/// Changes when a package is installed or removed (Debian): a build made
/// before the headers were installed is redone after.
const PACKAGES: &str = "/var/lib/dpkg/status";

fn main() {
    for file in INCLUDED.iter().chain([&SOURCE]) {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-env-changed=CXX");
    for path in HEADERS.iter().chain([&PACKAGES]) {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("rbd_helper");
    let _ = std::fs::remove_file(&out);
    if HEADERS.iter().all(|h| Path::new(h).exists()) {
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let run = Command::new(&cxx)
            .args(["-O2", "-std=c++17", "-Wall", "-Wextra", "-o"])
            .arg(&out)
            .arg(SOURCE)
            .args(["-lrbd", "-lrados", "-Wl,-z,now"])
            .output();
        match run {
            Ok(o) if o.status.success() => return,
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let last = err.lines().rev().take(5).collect::<Vec<_>>();
                println!(
                    "cargo:warning={SOURCE} did not compile ({}); warm-sync rounds use the Python helpers",
                    last.join(" / ")
                );
            }
            Err(e) => println!("cargo:warning={cxx}: {e}; warm-sync rounds use the Python helpers"),
        }
        let _ = std::fs::remove_file(&out);
    }
    // No compiled helper: an empty file, which stackmigrate takes for none.
    std::fs::write(&out, b"").expect("writing OUT_DIR");
}
