//! Rules that types alone cannot express. Each returns the dotted field path
//! and a message that says what to do.

use super::{AuthMethod, CloudConfig, Config};

pub(super) fn validate(config: &Config) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    cloud(&mut errors, "old_cloud", &config.old_cloud);
    cloud(&mut errors, "new_cloud", &config.new_cloud);
    if let Some(usage) = &config.usage {
        if usage.start >= usage.end {
            errors.push((
                "usage.end".into(),
                format!(
                    "start ({}) must be before end ({}); fix usage.start or usage.end",
                    usage.start, usage.end
                ),
            ));
        }
    }
    if let Some(tape) = &config.tape {
        if tape.command.first().is_none_or(|c| c.trim().is_empty()) {
            errors.push((
                "tape.command".into(),
                "the tape command is empty; give an argv such as [\"dd\", \"if={file}\", \"of=/dev/nst0\"] or set tape to null to disable it".into(),
            ));
        }
        // It runs without a shell: a whole command line in one argument is
        // looked for as a program of that name.
        if let [line] = tape.command.as_slice() {
            // A program whose path holds a space is one argument indeed.
            if line.trim().contains(char::is_whitespace) && !std::path::Path::new(line).is_file() {
                errors.push((
                    "tape.command".into(),
                    format!(
                        "{line:?} is one argument holding a whole command line, and it runs without a shell; give one argument per item, such as [\"dd\", \"if={{file}}\", \"of=/dev/nst0\"]"
                    ),
                ));
            }
        }
        match &tape.drives {
            None if tape.names_drive() => errors.push((
                "tape.command".into(),
                "has a {drive} argument and tape.drives lists no drive; list them, e.g. \"drives\": [\"/dev/nst0\", \"/dev/nst1\"]".into(),
            )),
            Some(d) if d.is_empty() || d.len() > 64 || d.iter().any(|x| x.is_empty() || x.trim() != x) => errors.push((
                "tape.drives".into(),
                "list from 1 to 64 drives, none empty or with spaces around it, or leave drives out".into(),
            )),
            Some(_) if !tape.names_drive() => errors.push((
                "tape.drives".into(),
                "lists drives but tape.command has no {drive} argument: every job would write where the command says; put {drive} where the device goes".into(),
            )),
            Some(d) if (1..d.len()).any(|i| d[..i].contains(&d[i])) => errors.push((
                "tape.drives".into(),
                "lists a drive twice: two jobs would write to it at once".into(),
            )),
            _ => {}
        }
    }
    for (name, value) in [
        ("exports", config.concurrency.exports),
        ("imports", config.concurrency.imports),
        ("tapes", config.concurrency.tapes),
        ("usage_queries", config.concurrency.usage_queries),
    ] {
        if value == 0 || value > 64 {
            errors.push((
                format!("concurrency.{name}"),
                format!("{value} is out of range; use a number from 1 to 64"),
            ));
        }
    }
    if config.stall_seconds == 0 || config.stall_seconds > 3600 {
        errors.push((
            "stall_seconds".into(),
            format!(
                "{} is out of range; use a number of seconds from 1 to 3600 (default 60)",
                config.stall_seconds
            ),
        ));
    }
    let dirs = [
        ("work_dir", Some(&config.work_dir)),
        ("export_dir", config.export_dir.as_ref()),
    ];
    for (field, dir) in dirs.into_iter().filter_map(|(f, d)| Some((f, d?))) {
        if dir.as_os_str().is_empty() {
            errors.push((field.into(), "must not be empty; give a directory path".into()));
        }
    }
    if config.file_tape_without_export_file() {
        errors.push(("tape.command".into(), crate::engine::NO_FILE_TAPE.into()));
    }
    errors
}

fn cloud(errors: &mut Vec<(String, String)>, name: &str, cloud: &CloudConfig) {
    match reqwest::Url::parse(&cloud.auth_url) {
        // Not echoed: the URL holds a secret, which errors and logs would show.
        Ok(u) if !u.username().is_empty() || u.password().is_some() => errors.push((
            format!("{name}.auth_url"),
            "holds a user name or password (user:password@host); remove them from the URL and give them in the auth fields".into(),
        )),
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            if let Err(e) = cloud.keystone_v3_url() {
                errors.push((format!("{name}.auth_url"), e));
            }
        }
        _ => errors.push((
            format!("{name}.auth_url"),
            format!(
                "{:?} is not an http(s) URL; use the Keystone v3 URL such as https://keystone.example.org:5000/v3",
                cloud.auth_url
            ),
        )),
    }
    let empty = match &cloud.auth {
        AuthMethod::Password { username, password, .. } => {
            [("username", username.is_empty()), ("password", password.is_empty())]
        }
        AuthMethod::ApplicationCredential {
            application_credential_id: id,
            application_credential_secret: secret,
        } => [
            ("application_credential_id", id.is_empty()),
            ("application_credential_secret", secret.is_empty()),
        ],
    };
    for (field, _) in empty.into_iter().filter(|(_, e)| *e) {
        errors.push((format!("{name}.auth.{field}"), "is empty; fill it in".into()));
    }
    if cloud.ceph.is_some() && cloud.files.is_some() {
        errors.push((
            format!("{name}.files"),
            "is set beside ceph, and only one store is used: keep the one that holds this cloud's volumes (ceph for RBD, files for a directory such as NFS), and remove the other".into(),
        ));
    }
    if let AuthMethod::Password { .. } = cloud.auth {
        if cloud.project_name.is_none() && cloud.project_id.is_none() {
            errors.push((
                format!("{name}.project_name"),
                "password auth needs a project to scope to; set project_name (or project_id)".into(),
            ));
        }
    }
    if let Some(ceph) = &cloud.ceph {
        if ceph.pool.is_empty() {
            errors.push((
                format!("{name}.ceph.pool"),
                "must not be empty; the RADOS pool of Cinder's volumes, usually \"volumes\"".into(),
            ));
        }
    }
}

/// Files the config names that must exist on the machine that loads it:
/// checked for a file loaded to run (not for a text parsed alone).
pub(super) fn missing_files(config: &Config) -> Vec<(String, String)> {
    [("old_cloud", &config.old_cloud), ("new_cloud", &config.new_cloud)]
        .into_iter()
        .filter_map(|(name, c)| {
            let ca = c.cacert.as_ref().filter(|ca| !ca.is_file())?;
            Some((
                format!("{name}.cacert"),
                format!(
                    "{}: no such file; give the path of the CA bundle (PEM) that signed the cloud's certificates, or null to trust the system's",
                    ca.display()
                ),
            ))
        })
        .collect()
}
