//! Live drags between the canvas and the room, once a frame: our drag under
//! way (from the canvas's input) goes into our presence, and the others'
//! drags (from their presence) go to the canvas to be shown until the ops
//! they land as have arrived. See `canvas::live_drag` and
//! `canvas::previews`; nothing of it touches the board, undo, the log or
//! files.

use tabula_shared::presence::Preview;

use crate::canvas::Canvas;
use crate::canvas::previews::PeerDrag;
use crate::session::Session;

/// Hands the room `ours` (our drag this frame, `None` if its ops were
/// dropped: replaying, or only viewing) and the canvas the others' drags,
/// at `now` (seconds, egui's clock); a replay shows no one's.
pub fn exchange(
    canvas: &mut Canvas,
    session: &mut Session,
    ours: Option<Preview>,
    replaying: bool,
    now: f64,
) {
    session.show_drag(ours);
    if replaying {
        canvas.peer_drags_mut().clear();
        return;
    }
    let peers = session.peers().map(|peer| PeerDrag {
        client: peer.info.client,
        name: &peer.info.name,
        color: peer.info.color,
        preview: peer.presence.preview.as_ref(),
    });
    canvas
        .peer_drags_mut()
        .update(peers, |op| session.has_op(op), now);
}
