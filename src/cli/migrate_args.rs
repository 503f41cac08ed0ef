//! `stackmigrate migrate`'s arguments.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Old-cloud project name or id.
    #[arg(long)]
    pub project: String,
    /// `all`, or volume ids separated by commas. An id prefix must name one
    /// volume; a repeated id is migrated once. `all` names each volume it
    /// leaves out for its status (error, maintenance…) and then exits 2;
    /// `migratable` names them too, but as chosen (exit 0 when the rest is done).
    #[arg(long, default_value = "all")]
    pub volumes: String,
    /// Overrides import_strategy from the config.
    ///
    /// Roles in the new cloud: `replace` needs the member role in the target
    /// project (Cinder create, metadata); `manage` needs the admin role there
    /// (Cinder policy: scheduler-stats get_pools and manage-existing), which
    /// pre-flight proves before anything is exported. Both need write access
    /// to the new Ceph pool.
    #[arg(long, value_parser = ["replace", "manage"])]
    pub strategy: Option<String>,
    /// Print the plan and the pre-flight results; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// One JSON object per event on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep export files after verification.
    #[arg(long)]
    pub keep_exports: bool,
    /// Volumes attached to a server that is not SHUTOFF: `sync` copies them
    /// warm, in rounds, and counts them migrated only after a cutover;
    /// `snapshot` copies one crash-consistent snapshot, reported as such
    /// (later writes are not copied; exit 2).
    #[arg(long, value_parser = ["sync", "snapshot"], default_value = "sync")]
    pub in_use: String,
    /// Warm-sync every selected volume: one round each (the full copy first,
    /// then what changed), then exit 3 while they wait for cutover. Run it
    /// as often as you like.
    #[arg(long, conflicts_with = "cutover")]
    pub sync: bool,
    /// Cut the selected warm-synced volumes over: their source must be
    /// detached or its servers SHUTOFF; the final round is verified, then the
    /// volume is finished (and taped) like a cold copy.
    #[arg(long)]
    pub cutover: bool,
    /// Cut over even while a server may still write (loud warning in the log
    /// and the report: writes after the final snapshot are not copied).
    #[arg(long, requires = "cutover")]
    pub force_cutover: bool,
    /// At cutover, also read the whole new image back and compare it with the
    /// manifest (each round already reads back what it wrote).
    #[arg(long)]
    pub full_verify: bool,
    /// Start the volumes named by --volumes over: the journal forgets each
    /// one's copy (export, rounds, the new volume it made) and it is copied
    /// afresh, round 1 included. For a copy that cannot go on: its new volume
    /// deleted, attached or written to between rounds. What that copy made
    /// in the new cloud is left alone, never reused; its warm-sync snapshots
    /// are removed first.
    #[arg(long, conflicts_with = "dry_run")]
    pub start_over: bool,
}

impl MigrateArgs {
    /// `migrate --project <project>`, every other flag at its default (as
    /// the command line has it), for the demo and tests to change.
    pub fn new(project: &str) -> Self {
        #[derive(clap::Parser)]
        struct Line {
            #[command(flatten)]
            args: MigrateArgs,
        }
        <Line as clap::Parser>::parse_from(["migrate", "--project", project]).args
    }

    /// What is wrong with these flags together, before anything is read or
    /// contacted (exit 64); `no_export_file`: the global `--no-export-file`.
    pub fn usage_error(&self, no_export_file: bool) -> Option<String> {
        let every = matches!(self.volumes.as_str(), "all" | "migratable");
        if self.start_over && every {
            return Some("--start-over needs --volumes naming the volumes to start over (ids or prefixes)".into());
        }
        if !every && self.volumes.split(',').all(|id| id.trim().is_empty()) {
            return Some(format!(
                "--volumes {:?} names no volume: pass `all`, `migratable`, or volume ids (or prefixes) separated by commas",
                self.volumes
            ));
        }
        if self.sync && self.in_use == "snapshot" {
            return Some("--sync warm-syncs every selected volume, and --in-use snapshot copies in-use ones from one snapshot: pass one of them".into());
        }
        if self.sync && no_export_file {
            return Some(
                "--sync patches the export file each round, and --no-export-file keeps none: pass one of them".into(),
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> MigrateArgs {
        #[derive(clap::Parser)]
        struct Line {
            #[command(flatten)]
            args: MigrateArgs,
        }
        let line = [&["migrate", "--project", "p"], line].concat();
        <Line as clap::Parser>::parse_from(line).args
    }

    /// Flags that contradict each other, or name nothing, are refused before
    /// any cloud is asked; the rest pass.
    #[test]
    fn contradicting_flags_are_refused_by_name() {
        let refused = |line: &[&str], no_file: bool, says: &str| {
            let e = args(line)
                .usage_error(no_file)
                .unwrap_or_else(|| panic!("{line:?} accepted"));
            assert!(e.contains(says), "{line:?}: {e}");
        };
        refused(&["--start-over"], false, "--start-over needs --volumes");
        refused(
            &["--start-over", "--volumes", "migratable"],
            false,
            "--start-over needs --volumes",
        );
        refused(&["--volumes", ","], false, "names no volume");
        refused(&["--volumes", " "], false, "names no volume");
        refused(&["--sync", "--in-use", "snapshot"], false, "pass one of them");
        refused(&["--sync"], true, "--no-export-file keeps none");
        for (line, no_file) in [
            (&["--start-over", "--volumes", "9a01"][..], false),
            (&["--sync"], false),
            (&["--keep-exports"], false),
            // It still keeps the files earlier runs exported (cleanup deletes by the journal's path).
            (&["--keep-exports"], true),
            (&["--in-use", "snapshot"], true),
            (&["--volumes", "9a01,"], false),
            (&[], true),
        ] {
            assert_eq!(args(line).usage_error(no_file), None, "{line:?}");
        }
    }
}
