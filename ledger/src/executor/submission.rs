//! A queued command with its caller's reply channel, behind one object-safe trait so that one
//! batch can hold commands of every type. The generic [`Submission`] knows its command's output
//! type: deciding keeps the typed output in the submission itself, and answering sends it down
//! the typed channel. Nothing between a caller and its command names an enum of every
//! command's outcome, and a live answer never goes through JSON; only an answer read from an
//! idempotency key's stored result is decoded (into the same type, by [`super::stored`]).

use tokio::sync::oneshot;

use super::stored;
use crate::command::{Command, View};
use crate::error::LedgerError;
use crate::metadata::CommandContext;
use crate::pricing::LedgerConfig;
use crate::store::Executed;
use crate::stream::StreamId;

/// Where a command's answer comes from.
pub(super) enum Reply {
    /// Decided in this batch: the typed output the submission kept.
    Decided,
    /// A stored outcome (`{"outcome": .., "value": ..}`): an earlier transaction's, or the
    /// first command of this batch with the same key.
    Stored(serde_json::Value),
}

/// What the batch writer gives every command back.
pub(super) type Answer = Result<Executed<Reply>, LedgerError>;

/// A command of any type waiting in a batch.
pub(super) trait Pending: Send + Sync {
    /// Who asks, under which idempotency key.
    fn ctx(&self) -> &CommandContext;
    /// See [`Command::streams`].
    fn streams(&self) -> Vec<StreamId>;
    /// See [`Command::fingerprint`].
    fn fingerprint(&self) -> Vec<u8>;
    /// Decides and keeps the typed output for [`Pending::reply`]. With `stored`, also returns
    /// the outcome as it is stored with the idempotency key.
    fn decide(
        &mut self,
        view: &mut View<'_>,
        config: &LedgerConfig,
        stored: bool,
    ) -> Result<Option<serde_json::Value>, LedgerError>;
    /// Sends the answer to the caller.
    fn reply(self: Box<Self>, answer: Answer);
}

/// A typed answer, as the caller receives it.
pub(super) type Typed<C> = Result<Executed<<C as Command>::Output>, LedgerError>;

/// One command of type `C` and the channel its caller waits on.
pub(super) struct Submission<C: Command> {
    command: C,
    ctx: CommandContext,
    reply: oneshot::Sender<Typed<C>>,
    decided: Option<C::Output>,
}

impl<C: Command> Submission<C> {
    /// A submission and the receiver its caller awaits.
    pub(super) fn new(command: C, ctx: CommandContext) -> (Box<Self>, oneshot::Receiver<Typed<C>>) {
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            command,
            ctx,
            reply,
            decided: None,
        };
        (Box::new(submission), answer)
    }
}

impl<C: Command> Pending for Submission<C> {
    fn ctx(&self) -> &CommandContext {
        &self.ctx
    }

    fn streams(&self) -> Vec<StreamId> {
        self.command.streams()
    }

    fn fingerprint(&self) -> Vec<u8> {
        self.command.fingerprint()
    }

    fn decide(
        &mut self,
        view: &mut View<'_>,
        config: &LedgerConfig,
        stored: bool,
    ) -> Result<Option<serde_json::Value>, LedgerError> {
        self.decided = None;
        let output = self.command.decide(view, config)?;
        let outcome = stored.then(|| stored::outcome_json(&output)).transpose()?;
        self.decided = Some(output);
        Ok(outcome)
    }

    fn reply(self: Box<Self>, answer: Answer) {
        let Submission { reply, decided, .. } = *self;
        let typed = answer.and_then(|done| {
            let value = match done.value {
                Reply::Decided => decided.ok_or_else(|| {
                    LedgerError::corrupt("executor", "a command answered before it was decided")
                })?,
                Reply::Stored(outcome) => stored::decode::<C::Output>(&outcome)?,
            };
            Ok(Executed {
                value,
                positions: done.positions,
                replayed: done.replayed,
            })
        });
        // The caller may have given up waiting; its command is decided all the same.
        let _ = reply.send(typed);
    }
}
