//! The UI's end of the network task: starts it, hands it commands (sending
//! never blocks), and takes its events, drained each frame. Dropping it ends
//! the task, which closes the connection politely.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Command, Event, EventSink, JoinRequest, task};

/// The UI's end of a network task. Dropping it ends the task, which closes the
/// connection politely.
pub struct Connection {
    /// Commands to the task; sending never blocks.
    commands: mpsc::UnboundedSender<Command>,
    /// Events from the task, drained each frame.
    events: std::sync::mpsc::Receiver<Event>,
}

/// The far end of a [`Connection::detached`] connection, standing in for the task
/// in tests.
pub struct Remote {
    /// What the UI sent.
    pub commands: mpsc::UnboundedReceiver<Command>,
    /// Events to hand the UI.
    pub events: std::sync::mpsc::Sender<Event>,
}

impl Connection {
    /// Starts the network task on `runtime`. `wake` is called after every event.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        request: JoinRequest,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = std::sync::mpsc::channel();
        let events = EventSink {
            tx: event_tx,
            wake: Arc::new(wake),
        };
        runtime.spawn(task::run(request, command_rx, events));
        Self {
            commands: command_tx,
            events: event_rx,
        }
    }

    /// A connection with no task behind it: the test holds the other end.
    #[must_use]
    pub fn detached() -> (Self, Remote) {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = std::sync::mpsc::channel();
        (
            Self {
                commands: command_tx,
                events: event_rx,
            },
            Remote {
                commands: command_rx,
                events: event_tx,
            },
        )
    }

    /// Hands the task a command. If the task has ended, its last status event
    /// already said why, so there is nothing more to report here.
    pub fn send(&self, command: Command) {
        let _ended = self.commands.send(command).is_err();
    }

    /// The next event, if one has arrived.
    #[must_use]
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}
