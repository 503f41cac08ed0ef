//! The datapath bench's 1 GiB random image: every copy's runs, collected in
//! one place, and the table printed from their medians.

use super::common::{cores, median};

/// Wall and CPU seconds of each run, by copy.
#[derive(Default)]
pub struct OneGib {
    pub pipe: Runs,
    /// `rbd export-diff | tee FILE | rbd import-diff`.
    pub diff_tee: Runs,
    pub ours: Runs,
    /// Ours with the whole image read back after the copy (wall only).
    pub ours_then_verify: Vec<f64>,
    pub no_file: Runs,
    pub read_back: Runs,
    pub no_file_read_back: Runs,
    /// The raw pipe, then its copy read back whole.
    pub raw_then_read: Runs,
    pub raw_beside: Runs,
    pub raw_beside_file: Runs,
    /// The raw pipe with the new cluster's OSD hashing an equal copy beside it.
    pub raw_beside_sums: Runs,
    /// The resume path: export to the file, then import it (wall only).
    pub from_file: Vec<f64>,
    /// The disk read and written at once, MiB/s (`disk_mixed_mib_s`).
    pub disk_mib_s: f64,
}

#[derive(Default)]
pub struct Runs {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Runs {
    pub fn push(&mut self, (wall, cpu): (f64, f64)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }

    fn medians(&self) -> (f64, f64) {
        (median(self.wall.clone()), median(self.cpu.clone()))
    }
}

impl OneGib {
    pub fn print(&self, runs: usize) {
        let (p, pc) = self.pipe.medians();
        let (c, cc) = self.ours.medians();
        let v = median(self.ours_then_verify.clone());
        let (t, tc) = self.diff_tee.medians();
        let n = cores();
        println!("1 GiB random image, median of {runs}:");
        println!(
            "  raw rbd export - | rbd import -        {p:6.2} s  {:7.1} MiB/s",
            1024.0 / p
        );
        println!(
            "  stackmigrate export + import           {c:6.2} s  {:7.1} MiB/s   throughput ratio {:.2} (goal >= 0.95)",
            1024.0 / c,
            p / c
        );
        println!(
            "  raw rbd export-diff | tee FILE | rbd import-diff {t:6.2} s, CPU-s {tc:.2}: ratio {:.2} of the raw pipe; stackmigrate with the file is {:.2} of it",
            p / t,
            t / c
        );
        println!(
            "  stackmigrate export + import + verify  {v:6.2} s  {:7.1} MiB/s   throughput ratio {:.2}",
            1024.0 / v,
            p / v
        );
        println!(
            "  CPU-s busy (whole machine): raw pipe {pc:.2} ({:.2} of {n} cores), stackmigrate export + import {cc:.2} ({:.2} cores)",
            pc / p,
            cc / c
        );
        let (rr, rrc) = self.raw_then_read.medians();
        let floor = rrc / n as f64;
        println!(
            "  raw pipe, then the copy read back whole {rr:6.2} s; CPU-s {rrc:.2}: on {n} cores no verified copy can take less than {floor:.2} s, ratio {:.2} at best",
            p / floor
        );
        let (bw, bc) = self.raw_beside.medians();
        println!(
            "  raw pipe with an equal copy read back beside it (rbd export to /dev/null) {bw:6.2} s, CPU-s {bc:.2}: the same work as a verified copy with no export file, by rbd alone; ratio {:.2} (a reference, not a ceiling: our read-back sends no bytes)",
            p / bw
        );
        let (sw, sc) = self.raw_beside_sums.medians();
        println!(
            "  raw pipe with the OSD hashing an equal copy beside it (the engine's checksum read-back) {sw:6.2} s, CPU-s {sc:.2}: the least work of a copy verified in the new cluster, nothing hashed here; ratio {:.2} (goal 3's floor)",
            p / sw
        );
        let (fw, fc) = self.raw_beside_file.medians();
        println!(
            "  the same with the export file written on the way (| tee FILE |, synced) {fw:6.2} s, CPU-s {fc:.2}: a verified copy's work with the file, by rbd alone; ratio {:.2}",
            p / fw
        );
        // Every byte of a copy crosses the disk that holds both clusters'
        // stores (and the export file): read from the old one, written to the
        // new one, read back from it for a verified copy, written to the file.
        let d = self.disk_mib_s;
        let floor = |gib: f64| gib * 1024.0 / d;
        println!(
            "  the disk under both clusters, read and written at once (dd, O_DIRECT, 4 MiB): {d:.0} MiB/s; per GiB copied it moves 2 GiB for a copy (floor {:.2} s), 3 GiB verified with no file ({:.2} s: ratio {:.2} at best), 4 GiB verified with the file ({:.2} s: ratio {:.2} at best)",
            floor(2.0),
            floor(3.0),
            p / floor(3.0),
            floor(4.0),
            p / floor(4.0)
        );
        let (r, rc) = self.read_back.medians();
        println!(
            "  verified while copying, export file written {r:6.2} s  {:7.1} MiB/s   throughput ratio {:.2} (goal >= 0.85); CPU-s {rc:.2} = {:.2}x the raw pipe's; {:.2} of rbd doing the same work",
            1024.0 / r,
            p / r,
            rc / pc,
            fw / r
        );
        let (r, rc) = self.no_file_read_back.medians();
        println!(
            "  verified while copying, no export file  {r:6.2} s  {:7.1} MiB/s   throughput ratio {:.2} (goal >= 0.85); CPU-s {rc:.2} = {:.2}x the raw pipe's; {:.2} of rbd doing the same work",
            1024.0 / r,
            p / r,
            rc / pc,
            bw / r
        );
        let (b, bc) = self.no_file.medians();
        println!(
            "  no export file (--no-export-file)      {b:6.2} s  {:7.1} MiB/s   throughput ratio {:.2}; CPU-s {bc:.2} = {:.2}x the raw pipe's (goal <= 1.10)",
            1024.0 / b,
            p / b,
            bc / pc
        );
        let f = median(self.from_file.clone());
        println!(
            "  resume path: export, then import file  {f:6.2} s  {:7.1} MiB/s   throughput ratio {:.2}",
            1024.0 / f,
            p / f
        );
    }
}
