use super::*;

/// The demo's file store: snapshots are listed, and a round on a large,
/// mostly empty image reads only where either side holds data.
#[tokio::test]
async fn file_store_lists_snapshots_and_finds_one_changed_block() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = FileStore::new(dir.path(), None);
    files.create("volume-a", 64 << 30).expect("create");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(files.path("volume-a"))
        .expect("open");
    f.write_all_at(&[7u8; 4096], 1 << 20).expect("write");
    files.snap_create("volume-a", "s1").await.expect("snap");
    f.write_all_at(&[9u8; 100], (40 << 30) + 5).expect("write");
    files.snap_create("volume-a", "s2").await.expect("snap");
    std::fs::write(dir.path().join("volume-a@s3.partial"), b"cut short").expect("partial");
    assert_eq!(files.snap_list("volume-a").expect("list"), ["s1", "s2"]);
    assert_eq!(files.ls().expect("ls"), ["volume-a"], "snapshots are not images");
    // 64 GiB provisioned: only the two blocks holding data are compared.
    let open = |n: &str| File::open(files.path(n)).expect("open");
    let (s1, s2) = (open("volume-a@s1"), open("volume-a@s2"));
    let size = 64 << 30;
    let blocks = data_blocks([&s1, &s2], size).expect("extents");
    let (first, last) = ((1 << 20) / BLOCK, ((40 << 30) + 5) / BLOCK);
    assert_eq!(blocks, [(first, first + 1), (last, last + 1)]);
    let store = BlockStore::File(files);
    let cancel = CancellationToken::new();
    let changed = store.changed_since("volume-a", "s1", &cancel).await.expect("delta");
    assert_eq!(changed.bytes(), BLOCK, "the one block written since s1");
    assert_eq!(changed.0.len(), 1, "{changed:?}");
    let since_s2 = store.changed_since("volume-a", "s2", &cancel).await.expect("delta");
    assert_eq!(since_s2, Extents::default());
}
