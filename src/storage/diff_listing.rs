//! `rbd diff --format plain` listings (`Offset Length Type` lines under a
//! header), read line by line as the child writes them.

use super::Extents;
use std::io::BufRead;

/// Calls `each(offset, length, is_data)` for every extent of the listing.
fn for_each_extent(out: impl std::io::Read, mut each: impl FnMut(u64, u64, bool)) -> std::io::Result<()> {
    let bad = |line: &str| std::io::Error::other(format!("rbd diff line {line:?}"));
    for line in std::io::BufReader::new(out).lines() {
        let line = line?;
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[..] {
            [] | ["Offset", "Length", "Type"] => {}
            [offset, length, kind @ ("data" | "zero")] => {
                let offset: u64 = offset.parse().map_err(|_| bad(&line))?;
                let length: u64 = length.parse().map_err(|_| bad(&line))?;
                each(offset, length, kind == "data");
            }
            _ => return Err(bad(&line)),
        }
    }
    Ok(())
}

/// The bytes in the listing's `data` extents.
pub(super) fn sum_data_extents(out: impl std::io::Read) -> std::io::Result<u64> {
    let mut used = 0u64;
    for_each_extent(out, |_, length, data| {
        if data {
            used += length
        }
    })?;
    Ok(used)
}

/// Every extent of the listing, `data` or `zero` (with `--from-snap`, both
/// were changed since the snapshot).
pub(super) fn changed_extents(out: impl std::io::Read) -> std::io::Result<Extents> {
    let mut changed = Extents::default();
    for_each_extent(out, |offset, length, _| changed.push(offset, length))?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::{changed_extents, sum_data_extents};

    const LISTING: &str =
        "Offset     Length   Type\n0          4194304  data\n67108864   4194304  zero\n134217728  1048576  data\n";

    #[test]
    fn data_extents_are_summed_zero_extents_and_the_header_are_not() {
        assert_eq!(sum_data_extents(LISTING.as_bytes()).expect("sum"), 5 << 20);
        assert_eq!(sum_data_extents(&b""[..]).expect("empty image"), 0);
        let e = sum_data_extents(&b"0 x data\n"[..]).expect_err("bad length");
        assert!(e.to_string().contains("rbd diff line"), "{e}");
        let e = sum_data_extents(&b"0 4096 hole\n"[..]).expect_err("unknown type");
        assert!(e.to_string().contains("rbd diff line"), "{e}");
    }

    #[test]
    fn changed_extents_count_zeroed_extents_as_changed() {
        let changed = changed_extents(LISTING.as_bytes()).expect("listing");
        assert_eq!(changed.0, vec![(0, 4 << 20), (64 << 20, 4 << 20), (128 << 20, 1 << 20)]);
        assert_eq!(changed.bytes(), 9 << 20);
        assert!(changed_extents(&b"Offset Length Type\n"[..])
            .expect("none")
            .0
            .is_empty());
    }
}
