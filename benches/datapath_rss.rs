//! The datapath bench's memory part: peak RSS with 4 exports (streaming into
//! staging images that read back) and 4 imports in flight.

use stackmigrate::storage::{BlockStore, Counter, ExportTargets, StageOutcome, StageTarget};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

fn targets<'a>(file: &'a std::path::Path, stage: StageTarget<'a>) -> ExportTargets<'a> {
    ExportTargets {
        file: Some(file),
        stage: Some(stage),
        tape: None,
        // Four exports of one image at once: its lock admits one reader (the
        // engine never reads one source twice at a time), and a reader is a
        // child process, outside this process's RSS either way.
        locked: false,
    }
}

/// Four exports (each streaming into a staging image) and four imports
/// from export files, all eight in flight at once, as the engine's default
/// limits allow; then this process's peak RSS.
pub async fn four_and_four(old: &BlockStore, new: &BlockStore, dir: &std::path::Path, image: &str, tag: u32) {
    let cancel = CancellationToken::new();
    let files: Vec<_> = (0..4).map(|i| dir.join(format!("four-{i}.raw"))).collect();
    for f in &files {
        old.export_to_file(image, f, Counter::default(), &cancel)
            .await
            .expect("export");
    }
    let (size, _) = old.usage(image, &cancel).await.expect("du");
    // The peak from here on: in a full run the earlier parts' heap (their
    // threads' malloc arenas) would otherwise set it (`BENCH_ONLY=rss` runs
    // this part alone).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let start = Instant::now();
    let exports = (0..4).map(|i| {
        let (dest, file) = (format!("bench-4e-{tag}-{i}"), dir.join(format!("four-e{i}.raw")));
        let cancel = &cancel;
        async move {
            let stage = StageTarget {
                store: new,
                image: &dest,
                size,
                stall: stackmigrate::engine::STAGE_STALL,
                read_back: true,
            };
            let (_, outcome) = old
                .export_staged(image, targets(&file, stage), Counter::default(), cancel)
                .await
                .expect("export");
            assert_eq!(outcome, StageOutcome::Done, "streamed");
            (dest, Some(file))
        }
    });
    let imports = files.iter().enumerate().map(|(i, f)| {
        let dest = format!("bench-4i-{tag}-{i}");
        let cancel = &cancel;
        async move {
            new.import_from_file(f, &dest, Counter::default(), cancel)
                .await
                .expect("import");
            (dest, None)
        }
    });
    let (e, i) = tokio::join!(
        futures_util::future::join_all(exports),
        futures_util::future::join_all(imports)
    );
    let wall = start.elapsed().as_secs_f64();
    println!(
        "peak RSS with 4 exports and 4 imports in flight (8 GiB moved in {wall:.1} s): {:.1} MiB (goal <= 48 MiB)",
        peak_rss_mib()
    );
    for (dest, file) in e.into_iter().chain(i) {
        new.remove(&dest, &cancel).await.expect("rm");
        if let Some(f) = file {
            std::fs::remove_file(f).expect("rm file");
        }
    }
    for f in files {
        std::fs::remove_file(f).expect("rm file");
    }
}

pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}
