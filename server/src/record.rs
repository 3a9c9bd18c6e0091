//! How a room is run, as its log says: the roles operators gave (and the
//! operator and viewer roles the room gave on entry), the kicks, the lock,
//! view-only, and who has been in the room. The first client id to join
//! while the room has no operator becomes its operator ([`Record::apply`]
//! of its join), as the room decided when it let it in; a viewer's role is
//! recorded before its join, so a viewer never does. A [`Record`] is a pure fold of
//! the log's [`OpKind::Moderated`] and [`OpKind::Joined`] ops, in sequence
//! order ([`Ruling`]), so every node of a cluster and every reopening of a
//! room rebuilds the same one from the same log.
//!
//! Rebuilding from the first op would read a long room's whole history at
//! each opening, so the snapshotter keeps a checkpoint beside each board
//! snapshot: the record after the snapshot's op, in the room's settings
//! ([`CHECKPOINT_SETTING`], text of [`Record::to_setting`]). A room opens
//! from the checkpoint and folds only the ops after it ([`read`]).
//!
//! Nothing here locks anything; [`read`] reads the log it is given. Used by
//! `room::rules` (the open room's record) and `snapshots` (the checkpoint).

use std::collections::{HashMap, HashSet};

use tabula_shared::access::Role;
use tabula_shared::{ClientId, Moderated, OpKind, ServerMessage, decode};
use uuid::Uuid;

use crate::store::{OpLog, StoreError};

/// The room setting that keeps the record as of an op (see [`Record::to_setting`]).
pub const CHECKPOINT_SETTING: &str = "moderation";
/// The most client ids the record keeps a role, a kick or a visit for; past
/// it, newcomers are not recorded (every node stops at the same op).
pub const MAX_RECORDED: usize = 10_000;
/// How many ops a rebuild reads at a time.
const READ_CHUNK: usize = 4096;
/// The most bytes of ops a rebuild reads at a time (at least one op).
const READ_CHUNK_BYTES: usize = 16 * 1024 * 1024;
/// The first line of a checkpoint's text.
const CHECKPOINT_HEADER: &str = "tabula-moderation 1";

/// What one logged op says about how the room is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ruling {
    /// This client id entered the room.
    Joined(ClientId),
    /// An operator (or the room, for a role given on entry) ran the room.
    Moderated(Moderated),
}

impl Ruling {
    /// What an op by `author` says, if anything.
    #[must_use]
    pub fn of(author: ClientId, kind: &OpKind) -> Option<Self> {
        match kind {
            OpKind::Joined { .. } => Some(Self::Joined(author)),
            OpKind::Moderated(what) => Some(Self::Moderated(what.clone())),
            _ => None,
        }
    }
}

/// How a room is run, as of one op of its log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Roles recorded by client id.
    pub roles: HashMap<ClientId, Role>,
    /// Client ids kicked out.
    pub kicked: HashSet<ClientId>,
    /// Client ids that have entered the room: who a locked room still lets in.
    pub seen: HashSet<ClientId>,
    /// Newcomers are turned away.
    pub locked: bool,
    /// Only operators may change the board.
    pub view_only: bool,
}

impl Record {
    /// Takes in the next op's ruling; whether it changed how the room is
    /// run (a visit does not).
    pub fn apply(&mut self, ruling: &Ruling) -> bool {
        match ruling {
            Ruling::Joined(client) => {
                if self.seen.len() < MAX_RECORDED {
                    self.seen.insert(*client);
                }
                let first = !self.has_operator()
                    && !self.roles.contains_key(client)
                    && !self.kicked.contains(client)
                    && self.roles.len() < MAX_RECORDED;
                if first {
                    self.roles.insert(*client, Role::Operator);
                }
                first
            }
            Ruling::Moderated(Moderated::Role { client, role }) => {
                if self.roles.contains_key(client) || self.roles.len() < MAX_RECORDED {
                    self.roles.insert(*client, *role) != Some(*role)
                } else {
                    false
                }
            }
            Ruling::Moderated(Moderated::Kicked { client }) => {
                let had_role = self.roles.remove(client).is_some();
                (self.kicked.len() < MAX_RECORDED && self.kicked.insert(*client)) || had_role
            }
            Ruling::Moderated(Moderated::Locked(locked)) => {
                std::mem::replace(&mut self.locked, *locked) != *locked
            }
            Ruling::Moderated(Moderated::ViewOnly(view_only)) => {
                std::mem::replace(&mut self.view_only, *view_only) != *view_only
            }
        }
    }

    /// Whether anyone is an operator.
    #[must_use]
    pub fn has_operator(&self) -> bool {
        self.roles.values().any(|role| *role == Role::Operator)
    }

    /// The checkpoint's text: the record after op `seq`, a line a fact.
    #[must_use]
    pub fn to_setting(&self, seq: u64) -> String {
        let mut lines = vec![CHECKPOINT_HEADER.to_owned(), format!("seq {seq}")];
        if self.locked {
            lines.push("locked".to_owned());
        }
        if self.view_only {
            lines.push("view-only".to_owned());
        }
        let mut facts: Vec<String> = self
            .roles
            .iter()
            .map(|(client, role)| format!("role {} {role}", client.0.simple()))
            .chain(
                self.kicked
                    .iter()
                    .map(|client| format!("kicked {}", client.0.simple())),
            )
            .chain(
                self.seen
                    .iter()
                    .map(|client| format!("seen {}", client.0.simple())),
            )
            .collect();
        facts.sort_unstable();
        lines.extend(facts);
        lines.join("\n")
    }

    /// Reads [`Self::to_setting`]'s text: the op it is as of, and the
    /// record; `None` for text this relay did not write.
    #[must_use]
    pub fn from_setting(text: &str) -> Option<(u64, Self)> {
        let mut lines = text.lines();
        if lines.next()? != CHECKPOINT_HEADER {
            return None;
        }
        let seq = lines.next()?.strip_prefix("seq ")?.parse().ok()?;
        let client = |hex: &str| Uuid::parse_str(hex).ok().map(ClientId);
        let mut record = Self::default();
        for line in lines {
            let mut words = line.split(' ');
            match (words.next()?, words.next(), words.next()) {
                ("locked", None, None) => record.locked = true,
                ("view-only", None, None) => record.view_only = true,
                ("role", Some(who), Some(role)) => {
                    record.roles.insert(client(who)?, Role::from_name(role)?);
                }
                ("kicked", Some(who), None) => {
                    record.kicked.insert(client(who)?);
                }
                ("seen", Some(who), None) => {
                    record.seen.insert(client(who)?);
                }
                _ => return None,
            }
        }
        Some((seq, record))
    }

    /// Takes in the rulings of the ops after `after` up to `up_to` in `log`.
    /// Blocks on the log: off the tokio workers.
    pub fn fold(&mut self, log: &dyn OpLog, after: u64, up_to: u64) -> Result<(), StoreError> {
        let mut at = after;
        while at < up_to {
            let frames = log.frames_between(at, up_to, READ_CHUNK, READ_CHUNK_BYTES)?;
            if frames.is_empty() {
                return Err(StoreError::HistoryGap { seq: at + 1 });
            }
            for frame in frames {
                at += 1;
                let op = match decode(&frame) {
                    Ok(ServerMessage::Op(op)) => op,
                    Ok(_) => {
                        return Err(StoreError::Unreadable {
                            seq: at,
                            detail: "not an op".to_owned(),
                        });
                    }
                    Err(err) => {
                        return Err(StoreError::Unreadable {
                            seq: at,
                            detail: err.to_string(),
                        });
                    }
                };
                if let Some(ruling) = Ruling::of(op.author, &op.op.kind) {
                    self.apply(&ruling);
                }
            }
        }
        Ok(())
    }
}

/// The record of `log` as of op `head`: from its checkpoint (when it is at
/// or before `head`) and the ops after it. Blocks on the log: off the tokio
/// workers.
pub fn read(log: &dyn OpLog, head: u64) -> Result<Record, StoreError> {
    let (from, mut record) = log
        .setting(CHECKPOINT_SETTING)?
        .as_deref()
        .and_then(Record::from_setting)
        .filter(|(seq, _)| *seq <= head)
        .unwrap_or_default();
    record.fold(log, from, head)?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_the_fold_of_its_rulings_and_survives_its_text() {
        let (a, b, c) = (ClientId::random(), ClientId::random(), ClientId::random());
        let mut record = Record::default();
        for ruling in [
            // A viewer first: its role is recorded before its join.
            Ruling::Moderated(Moderated::Role {
                client: b,
                role: Role::Viewer,
            }),
            Ruling::Joined(b),
            // The first who may edit runs the room.
            Ruling::Joined(a),
            Ruling::Moderated(Moderated::Locked(true)),
            Ruling::Moderated(Moderated::ViewOnly(true)),
            Ruling::Moderated(Moderated::ViewOnly(false)),
            Ruling::Joined(c),
            Ruling::Moderated(Moderated::Kicked { client: c }),
        ] {
            record.apply(&ruling);
        }
        assert_eq!(record.roles.get(&a), Some(&Role::Operator));
        assert_eq!(record.roles.get(&b), Some(&Role::Viewer));
        assert!(record.kicked.contains(&c) && !record.roles.contains_key(&c));
        assert!(record.locked && !record.view_only);
        assert_eq!(record.seen.len(), 3);
        let text = record.to_setting(9);
        assert_eq!(Record::from_setting(&text), Some((9, record)));
        assert_eq!(Record::from_setting("something else\nseq 3"), None);
        assert_eq!(
            Record::from_setting(&format!("{CHECKPOINT_HEADER}\nseq 3\nrole zz editor")),
            None
        );
    }
}
