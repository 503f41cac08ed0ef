//! Byte counts as people read them: the one formatter every client and log
//! line uses (`1.5 GiB`, `12.0 MiB`, `512 B`).

const KIB: f64 = 1024.0;
const MIB: f64 = KIB * 1024.0;
const GIB: f64 = MIB * 1024.0;

/// `1.5 GiB`, `12.0 MiB`, `3.0 KiB`, `512 B` (binary units, one decimal).
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    if f >= GIB {
        format!("{:.1} GiB", f / GIB)
    } else if f >= MIB {
        format!("{:.1} MiB", f / MIB)
    } else if f >= KIB {
        format!("{:.1} KiB", f / KIB)
    } else {
        format!("{n} B")
    }
}
