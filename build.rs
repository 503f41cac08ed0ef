//! Compiles the warm-sync delta reader that reads objects sparsely
//! (`assets/rbd_delta_reader.cc`, docs/decisions.md "The delta reader is
//! compiled where the Ceph headers are"), where a C++ compiler and the
//! cluster's development headers (Debian: `g++ libradospp-dev librbd-dev`)
//! are installed. Elsewhere the file is left empty and stackmigrate uses
//! the Python reader, as before. Either way the build succeeds.
use std::path::Path;
use std::process::Command;

const SOURCE: &str = "assets/rbd_delta_reader.cc";
/// What it includes.
const INCLUDED: [&str; 2] = ["assets/delta_reader.hpp", "assets/delta_stream.hpp"];
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
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("rbd_delta_reader");
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
                    "cargo:warning={SOURCE} did not compile ({}); warm-sync rounds use the Python reader",
                    last.join(" / ")
                );
            }
            Err(e) => println!("cargo:warning={cxx}: {e}; warm-sync rounds use the Python reader"),
        }
        let _ = std::fs::remove_file(&out);
    }
    // No compiled reader: an empty file, which stackmigrate takes for none.
    std::fs::write(&out, b"").expect("writing OUT_DIR");
}
