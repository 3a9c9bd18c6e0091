//! "On this network": the join dialog's list of the relays found on the
//! local network, with their rooms, how many people are in each and a lock
//! where a password is needed; one click on a room joins it.
//!
//! Where the list comes from is a [`RelaySearch`]: mDNS (a
//! [`Browser`], running only while the dialog is open), a list
//! given as it is (tests show one without any network), or nowhere. The app
//! polls the search once a frame, with the network; the section only draws
//! what is known.

use egui::accesskit::Role;
use egui::epaint::PathShape;
use egui::{Pos2, RichText, Sense, Stroke, Ui, WidgetInfo, vec2};
use tabula_server::discovery::{Browser, FoundRelay, Interfaces};
use tabula_shared::PROTOCOL_VERSION;
use tabula_shared::lan::Advert;
use tracing::warn;

/// What the lock beside a room that needs a password says (on hover, and
/// to screen readers).
pub const NEEDS_PASSWORD: &str = "Needs a password";

/// The tallest the list grows before it scrolls, in points.
const MAX_LIST_HEIGHT: f32 = 190.0;

/// Where the join dialog looks for relays while it is open.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RelaySearch {
    /// Nowhere: the section is not shown (the default, so that tests never
    /// send a packet).
    #[default]
    Off,
    /// mDNS on these interfaces (every one when none is named).
    Mdns(Interfaces),
    /// These relays, as they are: what a test shows.
    Given(Vec<FoundRelay>),
}

impl RelaySearch {
    /// Starts looking; `wake` runs a frame when something is found or lost.
    /// `None` when the search is off.
    #[must_use]
    pub fn start(&self, wake: impl Fn() + Send + 'static) -> Option<Looking> {
        let source = match self {
            Self::Off => return None,
            Self::Mdns(interfaces) => match Browser::start(interfaces, wake) {
                Ok(browser) => Source::Browser(browser),
                Err(err) => {
                    // Shown in the section, in place of the list.
                    warn!(%err, "cannot look for relays on the local network");
                    Source::Failed(err.to_string())
                }
            },
            Self::Given(relays) => Source::Given(relays.clone()),
        };
        Some(Looking { source })
    }
}

/// A search under way, while the dialog is open; dropping it stops it.
#[derive(Debug)]
pub struct Looking {
    /// Where the relays come from.
    source: Source,
}

/// Where a running search's relays come from.
#[derive(Debug)]
enum Source {
    /// mDNS, on its `tabula-browse` thread.
    Browser(Browser),
    /// A given list.
    Given(Vec<FoundRelay>),
    /// Nowhere: the search could not start, for this reason.
    Failed(String),
}

impl Looking {
    /// Takes in what was found since the last call; `true` if the list
    /// changed.
    pub fn poll(&mut self) -> bool {
        match &mut self.source {
            Source::Browser(browser) => browser.poll(),
            Source::Given(_) | Source::Failed(_) => false,
        }
    }

    /// The relays known now.
    #[must_use]
    pub fn relays(&self) -> Vec<&FoundRelay> {
        match &self.source {
            Source::Browser(browser) => browser.relays().collect(),
            Source::Given(relays) => relays.iter().collect(),
            Source::Failed(_) => Vec::new(),
        }
    }
}

/// What a click in the list asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Join this room, at this URL; `locked`: it needs a password or code.
    Room {
        /// The room's URL.
        url: String,
        /// Whether its advert says it needs a password or code.
        locked: bool,
    },
    /// Use this relay (`ws://ADDRESS:PORT`) and type the room: it lists none.
    Relay(String),
}

/// The "On this network" section: each relay with its rooms. Returns what
/// was clicked.
pub fn nearby_ui(ui: &mut Ui, looking: &Looking) -> Option<Pick> {
    let mut pick = None;
    ui.label(RichText::new("On this network").strong());
    if let Source::Failed(reason) = &looking.source {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Could not look for relays: {reason}. Type an address below."),
        );
        return None;
    }
    let relays = looking.relays();
    if relays.is_empty() {
        ui.weak("Looking for relays… none found yet. Type an address below.");
        return None;
    }
    ui.weak("Click a room to join it.");
    egui::ScrollArea::vertical()
        .max_height(MAX_LIST_HEIGHT)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for relay in relays {
                ui.push_id(&relay.fullname, |ui| {
                    if let Some(clicked) = relay_ui(ui, relay) {
                        pick = Some(clicked);
                    }
                });
                ui.add_space(4.0);
            }
        });
    pick
}

/// Why a relay cannot be joined from here, if it cannot.
#[must_use]
pub fn incompatibility(relay: &FoundRelay) -> Option<String> {
    match &relay.advert {
        Err(err) => Some(format!("its advertisement could not be read ({err})")),
        Ok(advert) if advert.protocol > PROTOCOL_VERSION => Some("needs a newer Tabula".to_owned()),
        Ok(advert) if advert.protocol < PROTOCOL_VERSION => {
            Some("needs an older Tabula".to_owned())
        }
        Ok(_) if relay.addresses.is_empty() => Some("has no address yet".to_owned()),
        Ok(_) => None,
    }
}

/// One relay: its name and address, then its rooms (or why it cannot be
/// joined, or that it lists none).
fn relay_ui(ui: &mut Ui, relay: &FoundRelay) -> Option<Pick> {
    let problem = incompatibility(relay);
    let address = relay.addresses.first().map_or_else(
        || format!("port {}", relay.port),
        |ip| match ip {
            std::net::IpAddr::V4(v4) => format!("{v4}:{}", relay.port),
            std::net::IpAddr::V6(v6) => format!("[{v6}]:{}", relay.port),
        },
    );
    ui.horizontal_wrapped(|ui| {
        let name = RichText::new(&relay.instance).strong();
        if problem.is_some() {
            ui.label(name.weak());
        } else {
            ui.label(name);
        }
        ui.weak(address);
    });
    if let Some(problem) = problem {
        ui.weak(problem);
        return None;
    }
    let Ok(advert) = &relay.advert else {
        return None;
    };
    rooms_ui(ui, relay, advert)
}

/// A relay's rooms, each a button that joins it, with its head count and a
/// lock where a password is needed.
fn rooms_ui(ui: &mut Ui, relay: &FoundRelay, advert: &Advert) -> Option<Pick> {
    let mut pick = None;
    if !advert.lists_rooms {
        ui.horizontal_wrapped(|ui| {
            ui.weak("It does not list its rooms:");
            let base = relay
                .url("")
                .map(|url| url.trim_end_matches('/').to_owned());
            if let Some(base) = base
                && ui
                    .small_button("Use this relay")
                    .on_hover_text(format!("Put {base} in the Relay field"))
                    .clicked()
            {
                pick = Some(Pick::Relay(base));
            }
            ui.weak("and type the room's name below.");
        });
        return pick;
    }
    if advert.rooms.is_empty() && advert.more_rooms == 0 {
        ui.weak("No room is open on it.");
    }
    for room in &advert.rooms {
        let Some(url) = relay.url(&room.name) else {
            continue;
        };
        ui.horizontal(|ui| {
            ui.add_space(8.0);
            let button = ui
                .button(RichText::new(&room.name).color(ui.visuals().strong_text_color()))
                .on_hover_text(format!("Join {url}"));
            if button.clicked() {
                pick = Some(Pick::Room {
                    url: url.clone(),
                    locked: room.password || advert.password,
                });
            }
            ui.weak(people(room.members));
            if room.password || advert.password {
                lock_ui(ui);
            }
        });
    }
    if advert.more_rooms > 0 {
        let more = match advert.more_rooms {
            1 => "1 more room".to_owned(),
            n => format!("{n} more rooms"),
        };
        ui.weak(format!("and {more}: type its name below"));
    }
    pick
}

/// "1 here", "3 here", "nobody here".
#[must_use]
pub fn people(count: u32) -> String {
    match count {
        0 => "nobody here".to_owned(),
        n => format!("{n} here"),
    }
}

/// A small padlock, drawn (egui's fonts have no lock glyph), that says
/// [`NEEDS_PASSWORD`].
fn lock_ui(ui: &mut Ui) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(vec2(12.0, 14.0), Sense::hover());
    response.widget_info(|| WidgetInfo::labeled(Role::Image, true, NEEDS_PASSWORD));
    if ui.is_rect_visible(rect) {
        let ink = ui.visuals().text_color();
        let painter = ui.painter();
        let body = egui::Rect::from_min_max(
            Pos2::new(rect.left() + 1.0, rect.top() + 6.0),
            Pos2::new(rect.right() - 1.0, rect.bottom() - 1.0),
        );
        painter.rect_filled(body, 1.5, ink);
        // The shackle: a half circle on two short legs.
        let centre = Pos2::new(rect.center().x, rect.top() + 5.0);
        let radius = 3.2;
        let mut shackle = vec![Pos2::new(centre.x - radius, body.top())];
        shackle.extend((0..=12_u8).map(|step| {
            let angle = std::f32::consts::PI * (1.0 + f32::from(step) / 12.0);
            centre + radius * vec2(angle.cos(), angle.sin())
        }));
        shackle.push(Pos2::new(centre.x + radius, body.top()));
        painter.add(PathShape::line(shackle, Stroke::new(1.5, ink)));
    }
    response.on_hover_text(NEEDS_PASSWORD)
}
