//! Which volume type each new volume is created with (the source's, or what
//! `volume_type_map` maps it to), and pre-flight's check that the new cloud
//! has every one of them: a type it lacks would fail the import only after
//! the export.

use crate::check_line::CheckLine;
use crate::escaped::Escaped;
use crate::openstack::{OpenStackError, Volume, VolumeType};
use std::collections::{BTreeMap, BTreeSet};

/// The type `vol`'s new volume is created with; `None`: Cinder's default.
pub fn target_volume_type(vol: &Volume, map: &BTreeMap<String, String>) -> Option<String> {
    vol.volume_type
        .as_ref()
        .map(|t| map.get(t).cloned().unwrap_or_else(|| t.clone()))
}

/// Pre-flight's lines for the types of `to_create` (volumes already created
/// by an earlier run, in `created`, are left out): one line when the new
/// cloud has them all, else one failing line per missing type, naming its
/// volumes and what the new cloud has. A listing the new cloud refuses is
/// said, not failed: Cinder checks the type again at create.
pub fn volume_type_lines(
    listed: Result<Vec<VolumeType>, OpenStackError>,
    to_create: &[Volume],
    created: &[String],
    map: &BTreeMap<String, String>,
) -> Vec<CheckLine> {
    let mut wanted: BTreeMap<String, Vec<&Volume>> = BTreeMap::new();
    for v in to_create.iter().filter(|v| !created.contains(&v.id)) {
        if let Some(t) = target_volume_type(v, map) {
            wanted.entry(t).or_default().push(v);
        }
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let types = match listed {
        Ok(types) => types,
        Err(e) => {
            return vec![CheckLine::new(
                true,
                format!("volume types not checked: cannot list the new cloud's volume types ({e}); Cinder checks them at create"),
            )]
        }
    };
    let missing: Vec<CheckLine> = wanted
        .iter()
        .filter(|(t, _)| !types.iter().any(|k| k.is(t)))
        .map(|(t, vols)| missing_line(t, vols, &types, map))
        .collect();
    if !missing.is_empty() {
        return missing;
    }
    // Map keys: already sorted and distinct.
    let names: Vec<String> = wanted.keys().map(|t| Escaped(t).to_string()).collect();
    vec![CheckLine::new(
        true,
        format!("volume types exist in the new cloud: {}", names.join(", ")),
    )]
}

fn missing_line(t: &str, vols: &[&Volume], types: &[VolumeType], map: &BTreeMap<String, String>) -> CheckLine {
    let named: Vec<String> = vols
        .iter()
        .map(|v| format!("{} ({})", Escaped(v.display_name()), v.id))
        .collect();
    let from: BTreeSet<&str> = vols.iter().filter_map(|v| v.volume_type.as_deref()).collect();
    let quoted = |types: &[&&str]| {
        let q: Vec<String> = types.iter().map(|f| format!("\"{}\"", Escaped(f))).collect();
        q.join(", ")
    };
    let (mapped, unmapped): (Vec<&&str>, Vec<&&str>) = from.iter().partition(|f| map.contains_key(**f));
    let how = match (mapped.is_empty(), unmapped.is_empty()) {
        (false, true) => format!("volume_type_map maps {} to it", quoted(&mapped)),
        (true, _) => "the old cloud's, not in volume_type_map".to_string(),
        (false, false) => format!(
            "volume_type_map maps {} to it, and {} is the old cloud's, not in volume_type_map",
            quoted(&mapped),
            quoted(&unmapped)
        ),
    };
    let have: Vec<String> = types.iter().map(|k| Escaped(&k.name).to_string()).collect();
    CheckLine::new(
        false,
        format!(
            "volume type \"{}\" ({how}) does not exist in the new cloud, for {}; the new cloud has: {}. Set volume_type_map in the config file to map {} to one of those (or, if it is a private type, give the new project access to it: cinder type-access-add)",
            Escaped(t),
            named.join(", "),
            have.join(", "),
            quoted(&from.iter().collect::<Vec<_>>()),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(id: &str, t: Option<&str>) -> Volume {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("v-{id}"), "size": 1, "status": "available", "volume_type": t
        }))
        .expect("volume")
    }

    fn types(names: &[&str]) -> Vec<VolumeType> {
        names
            .iter()
            .map(|n| VolumeType {
                id: format!("id-{n}"),
                name: n.to_string(),
            })
            .collect()
    }

    #[test]
    fn the_mapped_or_the_old_type_is_the_new_volumes() {
        let map: BTreeMap<String, String> = [("ceph-ssd".to_string(), "fast".to_string())].into();
        assert_eq!(
            target_volume_type(&vol("1", Some("ceph-ssd")), &map).as_deref(),
            Some("fast")
        );
        assert_eq!(
            target_volume_type(&vol("2", Some("ceph-hdd")), &map).as_deref(),
            Some("ceph-hdd")
        );
        assert_eq!(target_volume_type(&vol("3", None), &map), None);
    }

    #[test]
    fn a_missing_type_names_its_volumes_the_map_and_what_the_new_cloud_has() {
        let map: BTreeMap<String, String> = [("ceph-ssd".to_string(), "fast".to_string())].into();
        let vols = [vol("1", Some("ceph-ssd")), vol("2", Some("ceph-hdd")), vol("3", None)];
        let lines = volume_type_lines(Ok(types(&["fast", "standard"])), &vols, &[], &map);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!lines[0].ok);
        assert_eq!(
            lines[0].text,
            "volume type \"ceph-hdd\" (the old cloud's, not in volume_type_map) does not exist in the new cloud, for v-2 (2); the new cloud has: fast, standard. Set volume_type_map in the config file to map \"ceph-hdd\" to one of those (or, if it is a private type, give the new project access to it: cinder type-access-add)"
        );
        // A mapped and an unmapped source type lead to the same missing type.
        let vols = [vol("4", Some("ceph-ssd")), vol("5", Some("fast"))];
        let lines = volume_type_lines(Ok(types(&["standard"])), &vols, &[], &map);
        assert!(
            lines[0].text.starts_with("volume type \"fast\" (volume_type_map maps \"ceph-ssd\" to it, and \"fast\" is the old cloud's, not in volume_type_map) does not exist in the new cloud, for v-4 (4), v-5 (5); the new cloud has: standard. Set volume_type_map in the config file to map \"ceph-ssd\", \"fast\" to one of those"),
            "{lines:?}"
        );
        let vols = [vol("1", Some("ceph-ssd")), vol("2", Some("ceph-hdd")), vol("3", None)];
        // Already created by an earlier run: not asked again.
        let lines = volume_type_lines(Ok(types(&["fast"])), &vols, &["2".into()], &map);
        assert_eq!(
            (lines[0].ok, lines[0].text.as_str()),
            (true, "volume types exist in the new cloud: fast")
        );
    }

    #[test]
    fn a_type_named_by_id_counts_and_a_refused_listing_is_said_not_failed() {
        let map: BTreeMap<String, String> = [("ceph-ssd".to_string(), "id-fast".to_string())].into();
        let vols = [vol("1", Some("ceph-ssd"))];
        assert!(volume_type_lines(Ok(types(&["fast"])), &vols, &[], &map)[0].ok);
        let refused = OpenStackError::Config("403".into());
        let lines = volume_type_lines(Err(refused), &vols, &[], &map);
        assert!(
            lines[0].ok && lines[0].text.starts_with("volume types not checked"),
            "{lines:?}"
        );
        assert!(volume_type_lines(Ok(types(&[])), &[vol("2", None)], &[], &map).is_empty());
    }
}
