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
}
