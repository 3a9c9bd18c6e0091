//! The app's tests, in one binary: the app is linked once, with egui and the
//! relay, instead of once per file.
//!
//! - [`access`]: who someone is, through real relays: resume secrets kept
//!   across reconnects, an impostor's session refused.
//! - [`support`]: the rig they share: identities, the app in a headless
//!   window, the canvas on its own, drags and clicks, relays and a proxy,
//!   waiting until something has happened.
//! - [`app`]: the whole window, on a session whose network task is replaced
//!   by a detached connection.
//! - [`closing`]: closing the window while a save runs.
//! - [`cluster`]: a session given several relays of a cluster moves to the
//!   next when its relay goes away, losing and doubling nothing (with a
//!   `redis-server` of its own: `redis_server`, the relay tests' file).
//! - [`dialogs`]: paths chosen in the system's file dialog (a scripted one),
//!   or typed when there is none.
//! - [`canvas`]: the canvas on its own: pointer input in, ops and camera
//!   moves out.
//! - [`tools`]: each tool's drags and clicks make the right objects.
//! - [`files`]: saving and opening `.tabula` files: real files in temporary
//!   folders; [`files::snapshots`]: files with board snapshots, and saves in
//!   the background.
//! - [`replay`]: replay mode and timelapse frames.
//! - [`export`]: the PNG and SVG exports.
//! - [`end_to_end`]: sessions with their real network tasks, through real
//!   relays on 127.0.0.1:0.
//! - [`live_drags`]: a move, a resize or a shape being dragged out shown
//!   to the others while it is dragged, and kept until its op arrives: in
//!   the window, and end to end through a real relay.
//! - [`notes`]: a sticky note through a real relay: to a peer, into the
//!   room's file, and to a late joiner from the relay's snapshot.
//! - [`presence`]: presence through a real relay: a laser's points, a
//!   view and presenting reach the others, a late joiner and a reconnect.
//! - [`hosting`]: the app's own hosting, with no window: hosting a board,
//!   handing the room over, hosting a copy when the host vanished.
//! - [`lan`]: hosting and finding rooms in the window: the invite panel, the
//!   join dialog's "On this network", the host and hand-over dialogs, and
//!   the window hosting on loopback and handing its room over as it quits.
//! - [`roles`]: roles and operators: a viewer's window (View only, no
//!   tools), an operator's people list, and through real relays a viewer's
//!   link, a kick, a room's own password and the join dialog asking for it.
//! - [`seeing`]: the laser pointer (ours and a peer's trail, fading as
//!   the harness's clock runs), following someone's view until an input of
//!   our own, presenting, and a people chip clear of the toolbar.
//! - [`tls`]: sessions over `wss://`: trust on first use, a changed
//!   certificate refused, an invitation's fingerprint checked.

mod access;
mod app;
mod canvas;
mod closing;
mod cluster;
mod dialogs;
mod end_to_end;
mod export;
mod files;
mod hosting;
mod images;
mod lan;
mod live_drags;
mod notes;
mod presence;
// The relay tests' Redis; these tests never restart it.
#[allow(dead_code)]
#[path = "../../../server/tests/relay/redis_server.rs"]
mod redis_server;
mod replay;
mod roles;
mod seeing;
mod support;
mod tls;
mod tools;
