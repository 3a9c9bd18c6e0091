//! The panels that float over the board, and the look they share.
//!
//! Each panel is a function or a small struct of its own state with a `*_ui`
//! method: it draws itself from what it is given and returns what was asked
//! for (a tool picked, a room to join, a replay to leave), and the app
//! carries that out. None of them reaches into the session or the canvas.
//!
//! # Layout
//! - [`theme`]: spacing, radii and colours for the light and dark themes,
//!   the floating panels' frame, the board's paper, and the sizes the panels
//!   share; it uses no other module.
//! - [`toolbar`]: the tools bar, the bottom bar (zoom, undo, redo, clear,
//!   export) and their keyboard shortcuts.
//! - [`style_panel`]: colour, custom colour, width, fill, font size, and the
//!   selection's commands.
//! - [`presence`]: the connection status and the people in the room.
//! - [`people`]: the people list with each one's role, "View only", and for
//!   an operator the actions on each person, the room's switches (lock,
//!   view-only) and the invitation links (also in [`invite`]).
//! - [`join_dialog`]: the modal that asks for relay, room and name, and checks
//!   them; [`nearby`]: its "On this network" list of the relays found over
//!   mDNS, with their rooms, one click to join.
//! - [`host_dialog`]: the modal that asks which room to host the board in.
//! - [`invite`]: the invite panel: how others join the hosted room.
//! - [`hand_over`]: the modal that asks whom to hand the hosted room to
//!   before stopping or quitting, and shows how it went.
//! - [`replay`]: replay mode, the timeline under the canvas: play, speed,
//!   scrub, steps, who was there when, compressed pauses, timelapse frames,
//!   back to live.
//! - [`frame_stats`]: the frame-time overlay (F12): canvas, UI and eframe's
//!   frame time, with a sparkline.
//! - [`closing`]: the modal shown while a close waits for the saves.
//! - [`notices`]: short messages in the corner (what the relay refused,
//!   what a board skipped), fading or kept until closed.
//! - [`file_dialog`]: choosing a path in the system's file dialog, run as a
//!   job, or typing it when there is none; it uses only [`crate::jobs`].
//!
//! Imports among them run one way: every panel may use [`theme`],
//! [`replay`] uses [`presence`] for people's colours and [`file_dialog`] for
//! its requests, [`join_dialog`] uses [`nearby`], and [`presence`] and
//! [`invite`] use [`people`], [`presence`] uses [`toolbar`] to keep clear
//! of it; [`file_dialog`] is a
//! leaf the File menu and the export dialog use too. Outside the folder,
//! [`host_dialog`], [`invite`] and [`presence`] use `host` (a random room
//! name, the host's addresses, hosting's notice); `host` uses none of them.
//! [`people`] uses `follow` for what following asks for; `follow` uses
//! none of them.

pub mod closing;
pub mod file_dialog;
pub mod frame_stats;
pub mod hand_over;
pub mod host_dialog;
pub mod invite;
pub mod join_dialog;
pub mod nearby;
pub mod notices;
pub mod people;
pub mod presence;
pub mod replay;
pub mod style_panel;
pub mod theme;
pub mod toolbar;
