//! Happy paths: both strategies, with random data, zero regions, an
//! unaligned tail, a never-written volume and a big sparse one.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{EngineEvent, MemoryLedger, Stage, SOURCE_KEY, STAGE_STALL, STATE_KEY};
use stackmigrate::openstack::{Cinder, Volume};
use stackmigrate::storage::sparse_file::allocated_bytes;
use stackmigrate::storage::{Counter, ExportTargets, StageOutcome, StageTarget};
use tokio_util::sync::CancellationToken;

/// Migrates `src` end to end and checks the checksum at all four places.
async fn migrate_and_check(tb: &Testbed, src: &Volume, strategy: ImportStrategy) -> String {
    let (old_conf, new_conf) = (tb.var("OLD_CEPH_CONF"), tb.var("NEW_CEPH_CONF"));
    let source_hash = image_hash(&old_conf, &format!("volume-{}", src.id)).await;
    let mut rig = rig(tb, strategy, None);
    let cancel = CancellationToken::new();
    let export = rig.pipeline.export(src, &cancel).await.expect("export");
    assert_eq!(export.hash, source_hash, "export hash = source");
    assert!(export.staged, "the export also streamed into the new cluster");
    // The testbed's Ceph packages bring python3-rbd: the stage read each extent
    // back as it landed, and that read is what verification uses.
    assert_eq!(export.read_back.as_ref(), Some(&source_hash), "read back while written");
    assert_eq!(export.size, src.size * GIB);
    assert_eq!(file_hash(&export.path).await, source_hash, "export file = source");
    let allocated = allocated_bytes(&export.path).expect("allocated");
    assert!(
        allocated <= export.data_bytes + (1 << 20),
        "sparse: {allocated} allocated for {} data bytes",
        export.data_bytes
    );

    let (imported, taped) = rig
        .pipeline
        .import_and_tape(src, &export, &MemoryLedger::default(), &cancel)
        .await;
    let imported = imported.expect("import");
    taped.expect("tape");
    assert_eq!(imported.hash, source_hash);
    let new_image = format!("volume-{}", imported.new_id);
    assert_eq!(
        image_hash(&new_conf, &new_image).await,
        source_hash,
        "new image = source"
    );
    let tape_copy = rig.tape_dir().join(export.path.file_name().expect("name"));
    assert_eq!(file_hash(&tape_copy).await, source_hash, "tape copy = source");

    let op = tb.operator("new");
    let new = Cinder::new(&op)
        .get_volume(&imported.new_id)
        .await
        .expect("new volume visible to the operator");
    assert_eq!(
        (new.size, &new.name, &new.description),
        (src.size, &src.name, &src.description)
    );
    assert_eq!(new.bootable, src.bootable);
    assert_eq!(new.metadata.get(SOURCE_KEY), Some(&src.id));
    assert_eq!(new.metadata.get(STATE_KEY).map(String::as_str), Some("verified"));
    assert_eq!(new.metadata.get("owner"), src.metadata.get("owner"));
    if src.bootable {
        assert_eq!(
            new.volume_image_metadata
                .as_ref()
                .and_then(|m| m.get("os_distro"))
                .map(String::as_str),
            Some("debian")
        );
    }
    // Nothing temporary left behind on either cluster.
    let snaps = rbd(&old_conf)
        .args(["snap", "ls", &format!("volumes/volume-{}", src.id)])
        .output()
        .expect("snap ls");
    assert!(
        String::from_utf8_lossy(&snaps.stdout).trim().is_empty(),
        "export snapshot removed"
    );
    let ls = rbd(&new_conf).args(["ls", "volumes"]).output().expect("ls");
    let ls = String::from_utf8_lossy(&ls.stdout).to_string();
    assert!(
        ls.contains(&new_image)
            && !ls.contains(&format!("stackmigrate-{}", src.id))
            && !ls.contains(&format!("stackmigrate-tmp-{}", imported.new_id)),
        "{ls}"
    );

    let events = rig.drain();
    for stage in [Stage::Export, Stage::Import, Stage::Verify, Stage::Tape] {
        assert!(
            events.contains(&EngineEvent::StageFinished {
                volume: src.id.clone(),
                stage
            }),
            "{stage} finished"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, EngineEvent::Progress { stage: s, .. } if *s == stage)),
            "{stage} progress"
        );
    }
    imported.new_id
}

fn varied_regions() -> Vec<(u64, Vec<u8>)> {
    vec![
        (0, noise(1, 3 << 20)),
        (5 << 20, vec![0u8; 1 << 20]),
        ((100 << 20) + 12_345, noise(2, 777_777)),
        (GIB - 1500, noise(3, 1000)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_strategy_with_random_zero_and_unaligned_data() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("données de test ✓"), 1, &varied_regions(), true).await;
    let new_id = migrate_and_check(&tb, &src, ImportStrategy::Replace).await;
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&tb.operator("new"), &[&new_id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_strategy_with_random_zero_and_unaligned_data() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("managed volume ☃"), 1, &varied_regions(), false).await;
    let new_id = migrate_and_check(&tb, &src, ImportStrategy::Manage).await;
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&tb.operator("new"), &[&new_id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_written_and_big_sparse_volumes() {
    let tb = Testbed::get();
    let empty = source_volume(&tb, &unique("empty"), 1, &[], false).await;
    let sparse_regions = vec![(7 << 20, noise(4, 1 << 20)), ((3 * GIB) + 4095, noise(5, 8192))];
    let sparse = source_volume(&tb, &unique("sparse 4 GiB"), 4, &sparse_regions, false).await;
    let a = migrate_and_check(&tb, &empty, ImportStrategy::Replace).await;
    let b = migrate_and_check(&tb, &sparse, ImportStrategy::Replace).await;
    delete_volumes(&tb.operator("old"), &[&empty.id, &sparse.id]).await;
    delete_volumes(&tb.operator("new"), &[&a, &b]).await;
}

/// Where the Python bindings are missing, the stage is `rbd import-diff` and
/// verification reads the image afterwards: that stage still holds a whole copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_diff_stage_holds_a_whole_copy() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("import-diff stage"), 1, &varied_regions(), false).await;
    let (old_conf, new_conf) = (tb.var("OLD_CEPH_CONF"), tb.var("NEW_CEPH_CONF"));
    let image = format!("volume-{}", src.id);
    let source_hash = image_hash(&old_conf, &image).await;
    let r = rig(&tb, ImportStrategy::Replace, None);
    let cancel = CancellationToken::new();
    let dest = format!("stackmigrate-idiff-{}", src.id);
    let stage = StageTarget {
        store: &r.pipeline.new,
        image: &dest,
        size: GIB,
        stall: STAGE_STALL,
        read_back: false,
    };
    let to = ExportTargets {
        stage: Some(stage),
        ..Default::default()
    };
    let (export, outcome) = r
        .pipeline
        .old
        .export_staged(&image, to, Counter::default(), &cancel)
        .await
        .expect("export");
    assert_eq!(outcome, StageOutcome::Done);
    assert_eq!(export.read_back, None, "no read-back was asked for");
    assert_eq!(export.hash, source_hash);
    assert_eq!(image_hash(&new_conf, &dest).await, source_hash, "the stage = source");
    r.pipeline.new.remove(&dest, &cancel).await.expect("rm");
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
}
