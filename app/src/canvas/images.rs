//! Images on the canvas: one GPU texture per picture, made once from its
//! blob, and a placeholder with a message where a picture is not to be had.
//!
//! A picture is decoded off the UI thread (a `tabula-decode` job per blob,
//! started the first frame it is on screen); its texture is then made once
//! and shared by every image that shows it, at any zoom (egui samples it
//! linearly, with mipmaps). Until then, and for a picture that is missing or
//! damaged, the image's rectangle shows a placeholder saying so: never a
//! crash, never a gap.

use std::collections::HashMap;

use egui::{
    Align2, Color32, ColorImage, Context, FontId, Painter, Rect, Stroke, StrokeKind, TextureHandle,
    TextureOptions, pos2,
};
use tabula_shared::blob::BlobId;

use crate::jobs::Job;
use crate::pictures::decode::{PictureError, decode};
use crate::pictures::{Lack, Pictures, Shown};

/// What the canvas has made of one picture.
enum Texture {
    /// Being decoded.
    Decoding(Job<Result<ColorImage, PictureError>>),
    /// On the GPU.
    Ready(TextureHandle),
    /// It would not decode, and why.
    Failed(String),
}

impl std::fmt::Debug for Texture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Decoding(_) => "Decoding",
            Self::Ready(_) => "Ready",
            Self::Failed(_) => "Failed",
        })
    }
}

/// What to paint in an image's rectangle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Look {
    /// The picture.
    Picture(egui::TextureId),
    /// A placeholder with this message.
    Placeholder(String),
}

/// The textures of the pictures on show, by blob.
#[derive(Debug, Default)]
pub struct Textures {
    /// One entry per picture the canvas has wanted to show.
    entries: HashMap<BlobId, Texture>,
}

impl Textures {
    /// What to paint for the picture `id`: its texture once it is decoded,
    /// otherwise a placeholder that says why not (starting the decode the
    /// first time it is asked for a picture that is held).
    pub fn look(&mut self, ctx: &Context, pictures: &Pictures, id: BlobId) -> Look {
        if let Some(entry) = self.entries.get_mut(&id) {
            if let Texture::Decoding(job) = entry {
                match job.poll() {
                    None => return Look::Placeholder("Loading the image…".to_owned()),
                    Some(Ok(Ok(pixels))) => {
                        let name = format!("picture-{id}");
                        *entry =
                            Texture::Ready(ctx.load_texture(name, pixels, TextureOptions::LINEAR));
                    }
                    Some(Ok(Err(err))) => {
                        tracing::warn!(blob = %id, %err, "an image does not decode");
                        *entry = Texture::Failed(format!("This image is damaged: {err}"));
                    }
                    Some(Err(lost)) => *entry = Texture::Failed(lost.to_string()),
                }
            }
            return match entry {
                Texture::Ready(texture) => Look::Picture(texture.id()),
                Texture::Failed(message) => Look::Placeholder(message.clone()),
                Texture::Decoding(_) => Look::Placeholder("Loading the image…".to_owned()),
            };
        }
        match pictures.shown(id) {
            Shown::Held(blob) => {
                let bytes = blob.bytes().clone();
                let waker = ctx.clone();
                match Job::spawn(
                    "tabula-decode",
                    move || waker.request_repaint(),
                    move |_| decode(&bytes),
                ) {
                    Ok(job) => {
                        self.entries.insert(id, Texture::Decoding(job));
                    }
                    Err(err) => {
                        self.entries
                            .insert(id, Texture::Failed(format!("Cannot read the image: {err}")));
                    }
                }
                Look::Placeholder("Loading the image…".to_owned())
            }
            Shown::Lacking(Lack::Fetching) | Shown::Unknown => {
                Look::Placeholder("Fetching the image…".to_owned())
            }
            Shown::Lacking(Lack::Missing) => {
                Look::Placeholder("This image's picture is missing".to_owned())
            }
            Shown::Lacking(Lack::Damaged(why)) => {
                Look::Placeholder(format!("This image is damaged: {why}"))
            }
        }
    }
}

/// Paints an image's `look` into `rect` (on screen), `faded` while the
/// eraser holds it.
pub fn paint_picture(painter: &Painter, rect: Rect, look: &Look, faded: bool) {
    let tint = if faded {
        Color32::from_white_alpha(64)
    } else {
        Color32::WHITE
    };
    match look {
        Look::Picture(texture) => {
            let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
            painter.image(*texture, rect, uv, tint);
        }
        Look::Placeholder(message) => paint_placeholder(painter, rect, message),
    }
}

/// A grey box with a crossed frame and `message`, where a picture cannot be
/// shown.
pub fn paint_placeholder(painter: &Painter, rect: Rect, message: &str) {
    let ink = Color32::from_gray(140);
    painter.rect(
        rect,
        2.0,
        Color32::from_gray(232),
        Stroke::new(1.0, ink),
        StrokeKind::Inside,
    );
    let thin = Stroke::new(1.0, Color32::from_gray(200));
    painter.line_segment([rect.left_top(), rect.right_bottom()], thin);
    painter.line_segment([rect.right_top(), rect.left_bottom()], thin);
    if rect.width() > 60.0 && rect.height() > 24.0 {
        let size = (rect.height() / 8.0).clamp(9.0, 14.0);
        let galley = painter.layout(
            message.to_owned(),
            FontId::proportional(size),
            Color32::from_gray(70),
            rect.width() - 12.0,
        );
        let at = Align2::CENTER_CENTER.align_size_within_rect(galley.size(), rect);
        painter.rect_filled(at.expand(3.0), 3.0, Color32::from_white_alpha(220));
        painter.galley(at.min, galley, Color32::from_gray(70));
    }
}
