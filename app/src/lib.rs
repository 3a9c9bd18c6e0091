//! Tabula's desktop app: an egui whiteboard that draws on a local board and shares
//! it through a relay.
//!
//! The UI thread owns everything on screen and never waits on the network. A
//! background tokio task owns the WebSocket; the two talk over channels, and the
//! task wakes the UI when something arrives. Each frame reads the board from the
//! session and paints it: immediate mode, no retained scene.
//!
//! # Layout
//! - `main.rs`: the `tabula` binary; flags, logging, the network runtime, the
//!   window.
//! - [`app`]: [`app::TabulaApp`], the `eframe::App`; one frame wires input, session
//!   and painting together.
//! - [`canvas`]: pointer and key input to actions (lists of ops one undo takes
//!   back) for every tool, pan and zoom gestures, and painting the board with the
//!   gesture under way previewed; with the camera, the tools, the gestures, the
//!   selection, the text editor, the renderer and its cache, and the overlays,
//!   each in a module of its own. It knows nothing of the network.
//! - [`live_drags`]: once a frame, our drag under way into our presence and
//!   the others' drags onto the canvas.
//! - [`insert`]: pictures pasted, dropped on the window or chosen with File →
//!   Insert image…, made fit to share on a job and put on the board.
//! - [`jobs`]: [`jobs::Job`], the one way work runs off the UI thread: a
//!   named thread with progress, cancel and a result the frame polls.
//! - [`files`]: saving and opening `.tabula` files as jobs, the save queue,
//!   the recent files, and the File menu with its dialogs and messages.
//! - [`export`]: the board or a selection as PNG (tiny-skia, 1×/2×) or SVG,
//!   drawn and written as a job with the export dialog showing its progress,
//!   and a replay written out as PNG frames, another job.
//! - [`outline`]: the geometry objects are drawn along, defined once for the
//!   screen, the PNG and the SVG: a stroke's smooth curve and an ellipse as
//!   cubic Bézier pieces, an arrow's barbs. The leaf `canvas` and `export`
//!   both import.
//! - [`pictures`]: the pictures images show (blobs held, being fetched,
//!   missing or damaged), reading them into pixels, and making an inserted
//!   file fit to share. A leaf.
//! - [`text`]: a text laid out as egui lays it out on the board, from egui's
//!   own fonts and fallbacks: its glyphs, their widths and their outlines,
//!   for the PNG, the SVG and a note's lines. A leaf.
//! - [`note`]: a sticky note as every drawing shows it: its paper, its
//!   shadow, and its text wrapped and sized to fit, on lines measured with
//!   [`text`].
//! - [`ui`]: the panels over the board and their look: the toolbars, the style
//!   panel, the people chip, the join dialog, the replay's timeline, the
//!   frame-time overlay, the theme, and the system's file dialogs.
//! - [`host`]: hosting a room from the app: the relay library on a runtime of
//!   its own, seeded with the board's log and advertised on the local network;
//!   handing the room over, and taking one over.
//! - [`lan`]: hosting as the window shows it: the app's [`host::hosting::Hosting`]
//!   with the host dialog, the invite panel and the hand-over dialog, and a
//!   close held off while others are in the hosted room.
//! - [`together`]: seeing each other, one frame at a time: the others'
//!   pointers, the laser trails ([`laser`]: ours drawn while K is held down
//!   on the board, theirs as they come, each fading within 1.2 s), following
//!   someone's view and presenting ([`follow`]), and the bar that says so.
//! - [`session`]: the board on screen, who we are, the peers, and the link to a
//!   room; applies local ops at once and the network's events each frame.
//! - [`net`]: the background task that owns the WebSocket, with its reconnects and
//!   outbox, and the channels to it.

pub mod app;
pub mod canvas;
pub mod export;
pub mod files;
pub mod follow;
pub mod host;
pub mod insert;
pub mod jobs;
pub mod lan;
pub mod laser;
pub mod live_drags;
pub mod net;
pub mod note;
pub mod outline;
pub mod pictures;
pub mod session;
pub mod text;
pub mod together;
pub mod ui;
