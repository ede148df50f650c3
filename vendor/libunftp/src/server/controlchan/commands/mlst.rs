//! The RFC 3659 Machine List Single (`MLST`) command
//
// This command causes a listing to be sent from the server to the user. If the pathname
// specifies a file or directory, the server will return information about the file or
// directory. The information is returned in a machine-readable format.

use super::cwd::normalize;
use crate::{
    auth::UserDetail,
    server::{
        chancomms::ControlChanMsg,
        controlchan::{
            Reply, ReplyCode,
            error::ControlChanError,
            handler::{CommandContext, CommandHandler},
        },
    },
    storage::{Metadata, StorageBackend},
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug)]
pub struct Mlst {
    path: Option<String>,
}

impl Mlst {
    pub fn new(path: Option<String>) -> Self {
        Mlst { path }
    }
}

#[async_trait]
impl<Storage, User> CommandHandler<Storage, User> for Mlst
where
    User: UserDetail + 'static,
    Storage: StorageBackend<User> + 'static,
    Storage::Metadata: Metadata,
{
    #[tracing_attributes::instrument(level = "trace", skip_all)]
    async fn handle(&self, args: CommandContext<Storage, User>) -> Result<Reply, ControlChanError> {
        let (user, storage, cwd, facts) = {
            let session = args.session.lock().await;
            (session.user.clone(), Arc::clone(&session.storage), session.cwd.clone(), session.mlst_facts)
        };

        // Nook patch: a relative path is relative to the current folder, as for every other
        // command (upstream looked it up from the root), and failures get the usual replies.
        let path = match &self.path {
            Some(p) => normalize(&cwd.join(p)),
            None => cwd,
        };
        let tx = args.tx_control_chan.clone();
        let logger = args.logger;
        tokio::spawn(async move {
            let msg = match storage.metadata((*user).as_ref().unwrap(), &path).await {
                Ok(metadata) => {
                    let response = format!(" {} {}", format_facts(&metadata, facts), path.display());
                    ControlChanMsg::CommandChannelReply(Reply::new_multiline(ReplyCode::FileActionOkay, vec![" Listing", &response, "End"]))
                }
                Err(e) => ControlChanMsg::StorageError(e),
            };
            if let Err(err) = tx.send(msg).await {
                slog::warn!(logger, "MLST: Could not send internal message with the MLST reply: {}", err);
            }
        });
        Ok(Reply::none())
    }
}

/// The facts MLST and MLSD can show, and which of them a session asked for with `OPTS MLST`
/// (RFC 3659 7.9; Nook patch: upstream always showed all and refused `OPTS MLST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// `type`, `size`, `modify`.
    on: [bool; 3],
}

impl Facts {
    const NAMES: [&'static str; 3] = ["type", "size", "modify"];

    /// The facts named in an `OPTS MLST` list (`type;size;`): case does not matter, unknown
    /// ones are dropped, an empty list selects none.
    pub fn parse(list: &str) -> Self {
        let mut on = [false; 3];
        for name in list.split(';').map(str::trim) {
            if let Some(i) = Self::NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) {
                on[i] = true;
            }
        }
        Facts { on }
    }

    /// The facts in use, as the `OPTS MLST` reply lists them: `type;size;`.
    pub fn selected(&self) -> String {
        Self::NAMES.iter().zip(self.on).filter(|(_, on)| *on).map(|(n, _)| format!("{n};")).collect()
    }

    /// Every fact, those in use marked `*`, as FEAT lists them: `type*;size*;modify*;`.
    pub fn feat(&self) -> String {
        Self::NAMES
            .iter()
            .zip(self.on)
            .map(|(n, on)| format!("{n}{};", if on { "*" } else { "" }))
            .collect()
    }
}

impl Default for Facts {
    fn default() -> Self {
        Facts { on: [true; 3] }
    }
}

/// Format metadata into machine-readable facts string
///
/// Returns a semicolon-separated list of facts in the format defined by RFC 3659.
/// Both MLST and MLSD use the same fact format, so this function provides
/// consistent formatting for both commands.
///
/// # Arguments
/// * `metadata` - The file/directory metadata to format
/// * `selected` - The facts the session asked for
///
/// # Returns
/// A string containing semicolon-separated facts like "type=file;size=1234;modify=20231201120000;"
pub fn format_facts<M: Metadata>(metadata: &M, selected: Facts) -> String {
    let mut facts = Vec::new();

    if selected.on[0] {
        facts.push(if metadata.is_dir() { "type=dir" } else { "type=file" }.to_string());
    }

    if selected.on[1] {
        facts.push(format!("size={}", metadata.len()));
    }

    if selected.on[2]
        && let Ok(modified) = metadata.modified()
    {
        let dt: DateTime<Utc> = modified.into();
        facts.push(format!("modify={}", dt.format("%Y%m%d%H%M%S")));
    }

    // Choosing not to implement create, unique, perm, lang, media-type, charset or most of the
    // UNIX.*, MACOS.* etc ones.

    if metadata.uid() > 0 {
        facts.push(format!("unix.uid={}", metadata.uid()));
    }

    if metadata.gid() > 0 {
        facts.push(format!("unix.gid={}", metadata.gid()));
    }

    facts.iter().map(|f| format!("{f};")).collect()
}
