//! The join dialog: where the relay is, which room, under what name, and
//! the password or code the relay may need.
//!
//! A modal window over the board. Above the fields, "On this network" lists
//! the relays found on the local network while the dialog is open
//! ([`super::nearby`]); one click on a room joins it. The room name is
//! checked as it is typed with [`tabula_shared::room_name::validate`], the
//! same rule the relay applies, and problems show under the field they are
//! about. Under the password, "New room: make this its password" gives a
//! room that does not exist yet that password. When a join turns out to
//! need a password or code (or another one), the app reopens the dialog on
//! that room with the password field asking for it ([`JoinDialog::ask_password`]).
//! When the relay took the password but the room refused it (a room with a
//! password of its own on a relay with another), a second field, "Room's
//! own password", asks for the room's, and the first keeps the relay's.
//! Enter joins, Escape cancels.

use egui::{Color32, Context, Key, RichText, TextEdit, Ui, vec2};
use tabula_shared::access::Password;
use tabula_shared::room_name;

use super::nearby::{Looking, Pick, RelaySearch, nearby_ui};
use super::theme;

/// The relay address offered until the user types another.
pub const DEFAULT_RELAY: &str = "ws://127.0.0.1:7457";
/// The longest display name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// What the user asked to join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinTarget {
    /// The room's full address, `ws://HOST:PORT/ROOM`.
    pub url: String,
    /// The display name to appear under.
    pub name: String,
    /// The relay's password or the host's code, when one was typed (a room
    /// address's `#code=` stands in otherwise).
    pub password: Option<Password>,
    /// The password to give the room if it is new ("New room: make this its
    /// password").
    pub new_room_password: Option<Password>,
    /// The room's own password, when it is not the relay's.
    pub room_password: Option<Password>,
}

/// What a reopened dialog asks for ([`JoinDialog::ask_password`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The room (or its relay) needs a password or code, and none was given.
    Password,
    /// The password or code given was wrong.
    WrongPassword,
    /// The relay took the password given, and the room refused it: the
    /// room has one of its own.
    RoomsOwn,
}

/// Which field a problem is about, so it shows under that field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The relay address.
    Relay,
    /// The room name.
    Room,
    /// The display name.
    Name,
    /// The relay's password or the host's code (may stay empty).
    Password,
    /// The room's own password, asked for once the room refused the
    /// relay's.
    RoomPassword,
}

/// Where the keyboard goes on the next frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Focus {
    /// Where it is.
    Stay,
    /// The first empty field.
    FirstEmpty,
    /// This field.
    On(Field),
}

/// The dialog's state between frames.
#[derive(Debug)]
pub struct JoinDialog {
    /// Whether it is showing.
    open: bool,
    /// The relay address as typed, without the room.
    relay: String,
    /// The room name as typed.
    room: String,
    /// The display name as typed.
    name: String,
    /// The password or code as typed; empty for none.
    password: String,
    /// Whether the password is to be a new room's own.
    new_room: bool,
    /// The room's own password as typed, in a field of its own once a room
    /// refused the relay's password (until the dialog is opened afresh);
    /// `None` while that field does not show.
    room_password: Option<String>,
    /// A problem found on submitting (such as a malformed relay address), shown
    /// until the field it concerns is edited.
    error: Option<(Field, String)>,
    /// Whether Join was pressed once: after that even empty fields show errors.
    tried: bool,
    /// Where to put the keyboard on the next frame.
    focus: Focus,
    /// Where to look for relays on the network while the dialog is open.
    search: RelaySearch,
    /// The search under way, from [`Self::look_around`] until the dialog
    /// closes (dropping it stops it).
    looking: Option<Looking>,
}

impl Default for JoinDialog {
    fn default() -> Self {
        Self {
            open: false,
            relay: DEFAULT_RELAY.to_owned(),
            room: String::new(),
            name: String::new(),
            password: String::new(),
            new_room: false,
            room_password: None,
            error: None,
            tried: false,
            focus: Focus::Stay,
            search: RelaySearch::Off,
            looking: None,
        }
    }
}

impl JoinDialog {
    /// Shows the dialog, filled in with `name` and, when the board came from a
    /// room, that room's address.
    pub fn open(&mut self, name: &str, room_url: Option<&str>) {
        // Without an invitation's #fp=: the certificate it named is known
        // for the host by now.
        let bare = room_url.map(|url| url.split_once('#').map_or(url, |(bare, _)| bare));
        if let Some((relay, room)) = bare.and_then(|url| url.rsplit_once('/'))
            && relay.contains("://")
            && !relay.ends_with('/')
        {
            relay.clone_into(&mut self.relay);
            room.clone_into(&mut self.room);
        }
        name.clone_into(&mut self.name);
        self.open = true;
        self.error = None;
        self.tried = false;
        self.room_password = None;
        self.focus = Focus::FirstEmpty;
    }

    /// Whether the dialog is showing.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Closes the dialog, and stops looking for relays.
    pub fn close(&mut self) {
        self.open = false;
        self.looking = None;
    }

    /// Looks for relays with `search` whenever the dialog is open.
    pub fn set_search(&mut self, search: RelaySearch) {
        self.search = search;
    }

    /// Starts looking for relays on the network, if the dialog is open and
    /// not looking yet; `wake` runs a frame when one is found or lost.
    pub fn look_around(&mut self, wake: impl Fn() + Send + 'static) {
        if self.open && self.looking.is_none() {
            self.looking = self.search.start(wake);
        }
    }

    /// Takes in the relays found or lost since the last frame; `true` if the
    /// list changed. The app calls it once a frame, with the network.
    pub fn poll_nearby(&mut self) -> bool {
        self.looking.as_mut().is_some_and(Looking::poll)
    }

    /// Reopens the dialog on the room at `url`, whose relay refused `name`
    /// for what `ask` says, with the field that needs it asking for it.
    /// `given` is the relay's password or code the refused join used (from
    /// the dialog or the address's `#code=`): kept when only the room's own
    /// is wrong.
    pub fn ask_password(&mut self, name: &str, url: &str, ask: Ask, given: Option<&Password>) {
        let room_typed = self.room_password.take();
        let room_asked_before = room_typed.is_some();
        self.open(name, Some(url));
        self.new_room = false;
        let (field, message) = match ask {
            Ask::Password => (
                Field::Password,
                "This room needs a password or code: type it here, then Join",
            ),
            Ask::WrongPassword => (
                Field::Password,
                "That password or code is not the room's: type it again, then Join",
            ),
            Ask::RoomsOwn if room_asked_before => (
                Field::RoomPassword,
                "That is not the room's own password: type it again, then Join",
            ),
            Ask::RoomsOwn => (
                Field::RoomPassword,
                "This room has a password of its own besides the relay's: type it here, then Join",
            ),
        };
        if field == Field::RoomPassword {
            self.password = given.map(|p| p.expose().to_owned()).unwrap_or_default();
            self.room_password = Some(String::new());
        } else {
            self.password.clear();
            self.room_password = room_typed;
        }
        self.error = Some((field, message.to_owned()));
        self.focus = Focus::On(field);
    }

    /// Shows a problem under `field` and keeps the dialog open (for errors found
    /// when actually joining).
    pub fn set_error(&mut self, field: Field, message: impl Into<String>) {
        self.error = Some((field, message.into()));
        self.open = true;
    }

    /// The problem with each field as typed, if any.
    fn problem(&self, field: Field) -> Option<String> {
        if let Some((f, message)) = &self.error
            && *f == field
        {
            return Some(message.clone());
        }
        let (text, check): (&str, fn(&str) -> Option<String>) = match field {
            Field::Relay => (&self.relay, relays_problem),
            Field::Room => (&self.room, |room| {
                room_name::validate(room).err().map(|e| e.to_string())
            }),
            Field::Name => (&self.name, name_problem),
            Field::Password | Field::RoomPassword => return None,
        };
        let text = text.trim();
        if text.is_empty() && !self.tried {
            return None;
        }
        check(text)
    }

    /// Checks every field; the target to join when all are fine.
    fn target(&self) -> Option<JoinTarget> {
        if [Field::Relay, Field::Room, Field::Name]
            .iter()
            .any(|f| self.problem(*f).is_some())
        {
            return None;
        }
        let room = self.room.trim();
        // Several relays of a cluster, tried in turn: one address each.
        let url = relays(&self.relay)
            .map(|relay| format!("{relay}/{room}"))
            .collect::<Vec<_>>()
            .join(",");
        let password = Password::new(self.password.trim());
        let room_password = self.room_password();
        Some(JoinTarget {
            url,
            name: self.name.trim().to_owned(),
            new_room_password: room_password
                .clone()
                .or_else(|| password.clone())
                .filter(|_| self.new_room),
            password,
            room_password,
        })
    }

    /// The room's own password as typed, when its field shows.
    fn room_password(&self) -> Option<Password> {
        Password::new(self.room_password.as_deref()?.trim())
    }

    /// Shows the dialog if it is open; returns what to join when the user
    /// confirms with valid input. The dialog stays open until [`Self::close`] (or
    /// Cancel, Escape, a click outside), so a failed join can report into it.
    pub fn modal_ui(&mut self, ctx: &Context) -> Option<JoinTarget> {
        if !self.open {
            return None;
        }
        let mut submit = false;
        let mut cancel = false;
        let mut pick = None;
        let modal = egui::Modal::new(egui::Id::unique("tabula-join-dialog"))
            .backdrop_color(Color32::from_black_alpha(60))
            .frame(egui::Frame::window(&ctx.global_style()).inner_margin(20))
            .show(ctx, |ui| {
                ui.set_width(400.0);
                ui.heading("Join a room");
                ui.add_space(2.0);
                ui.weak("Everyone in the same room on the same relay draws on one board.");
                ui.add_space(12.0);
                if let Some(looking) = &self.looking {
                    pick = nearby_ui(ui, looking);
                    ui.add_space(4.0);
                    ui.separator();
                    ui.add_space(4.0);
                }
                self.field_ui(ui, Field::Relay, "Relay");
                self.field_ui(ui, Field::Room, "Room");
                self.field_ui(ui, Field::Name, "Your name");
                if self.room_password.is_some() {
                    self.field_ui(ui, Field::Password, "The relay's password or code");
                    self.field_ui(ui, Field::RoomPassword, "The room's own password");
                } else {
                    self.field_ui(
                        ui,
                        Field::Password,
                        "Password or code (if the room needs one)",
                    );
                }
                ui.add_enabled(
                    !self.password.trim().is_empty() || self.room_password().is_some(),
                    egui::Checkbox::new(&mut self.new_room, "New room: make this its password"),
                )
                .on_hover_text(
                    "If the room does not exist yet, only those who know this password can join it",
                );
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    let join =
                        egui::Button::new(RichText::new("Join").color(Color32::WHITE).strong())
                            .fill(theme::ACCENT)
                            .min_size(vec2(72.0, 28.0));
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        submit |= ui.add(join).on_hover_text("Join (Enter)").clicked();
                        cancel |= ui
                            .add(egui::Button::new("Cancel").min_size(vec2(72.0, 28.0)))
                            .on_hover_text("Cancel (Escape)")
                            .clicked();
                    });
                });
                submit |= ui.input(|i| i.key_pressed(Key::Enter));
            });
        if cancel || modal.should_close() {
            self.close();
            return None;
        }
        match pick {
            Some(Pick::Room { url, locked }) => return self.picked(url, locked),
            Some(Pick::Relay(relay)) => {
                self.relay = relay;
                self.room.clear();
                self.focus = Focus::FirstEmpty;
                return None;
            }
            None => {}
        }
        if submit {
            self.tried = true;
            self.error = None;
            return self.target();
        }
        None
    }

    /// A room picked from "On this network": joined at once, unless it
    /// needs a password or code and none is typed, which the password field
    /// then says.
    fn picked(&mut self, url: String, locked: bool) -> Option<JoinTarget> {
        self.tried = true;
        self.error = None;
        if locked && self.password.trim().is_empty() {
            self.error = Some((
                Field::Password,
                "This room needs a password or code: type it here, then pick the room again"
                    .to_owned(),
            ));
            self.focus = Focus::On(Field::Password);
            return None;
        }
        let name = self.name.trim();
        name_problem(name).is_none().then(|| JoinTarget {
            url,
            name: name.to_owned(),
            password: Password::new(self.password.trim()),
            new_room_password: None,
            room_password: self.room_password(),
        })
    }

    /// A labelled single-line field with its problem, if any, underneath.
    fn field_ui(&mut self, ui: &mut Ui, field: Field, label: &str) {
        let hint = match field {
            Field::Relay => DEFAULT_RELAY,
            Field::Room => "design-review",
            Field::Name => "Your name",
            Field::Password => "K7QX2M",
            Field::RoomPassword => "The room's password",
        };
        ui.label(RichText::new(label).strong());
        let problem = self.problem(field);
        let text = match field {
            Field::Relay => &mut self.relay,
            Field::Room => &mut self.room,
            Field::Name => &mut self.name,
            Field::Password => &mut self.password,
            Field::RoomPassword => self.room_password.get_or_insert_default(),
        };
        let mut edit = TextEdit::singleline(text)
            .password(matches!(field, Field::Password | Field::RoomPassword))
            .hint_text(hint)
            .desired_width(f32::INFINITY)
            .margin(vec2(8.0, 5.0));
        if problem.is_some() {
            edit = edit.background_color(ui.visuals().error_fg_color.gamma_multiply(0.12));
        }
        let response = ui.add(edit);
        let focus_here = match self.focus {
            Focus::FirstEmpty => text.is_empty(),
            Focus::On(wanted) => wanted == field,
            Focus::Stay => false,
        };
        if focus_here {
            response.request_focus();
            self.focus = Focus::Stay;
        }
        if response.changed() && self.error.as_ref().is_some_and(|(f, _)| *f == field) {
            self.error = None;
        }
        match problem {
            Some(problem) => {
                ui.colored_label(ui.visuals().error_fg_color, problem);
            }
            None => {
                ui.add_space(4.0);
            }
        }
    }
}

/// The relays in the relay field: one address, or several separated by
/// commas (the relays of a cluster), each without its trailing `/`.
fn relays(field: &str) -> impl Iterator<Item = &str> {
    field
        .split(',')
        .map(|relay| relay.trim().trim_end_matches('/'))
        .filter(|relay| !relay.is_empty())
}

/// What is wrong with the relay field (one address, or several separated by
/// commas), if anything.
fn relays_problem(field: &str) -> Option<String> {
    let mut relays = relays(field).peekable();
    if relays.peek().is_none() {
        return relay_problem("");
    }
    relays.find_map(relay_problem)
}

/// What is wrong with a relay address, if anything.
fn relay_problem(relay: &str) -> Option<String> {
    let Some(rest) = relay
        .strip_prefix("ws://")
        .or_else(|| relay.strip_prefix("wss://"))
    else {
        return Some(format!(
            "a relay address starts with ws:// (or wss://), as in {DEFAULT_RELAY}"
        ));
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() {
        return Some("the address names no host, as in ws://HOST:7457".to_owned());
    }
    if host.contains('/') {
        return Some("put the room in the field below, not in the relay address".to_owned());
    }
    None
}

/// What is wrong with a display name, if anything.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("others see this name next to your pointer".to_owned())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!("at most {MAX_NAME_CHARS} characters"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(relay: &str, room: &str, name: &str) -> JoinDialog {
        let mut dialog = JoinDialog::default();
        dialog.open(name, None);
        relay.clone_into(&mut dialog.relay);
        room.clone_into(&mut dialog.room);
        dialog.tried = true;
        dialog
    }

    #[test]
    fn a_good_form_gives_the_room_address() {
        let mut dialog = filled("ws://127.0.0.1:7457/", " design-review ", " Ada ");
        assert_eq!(
            dialog.target(),
            Some(JoinTarget {
                url: "ws://127.0.0.1:7457/design-review".to_owned(),
                name: "Ada".to_owned(),
                password: None,
                new_room_password: None,
                room_password: None,
            })
        );
        dialog.password = " K7QX2M ".to_owned();
        assert_eq!(
            dialog.target().and_then(|target| target.password),
            Password::new("K7QX2M")
        );
    }

    #[test]
    fn several_relays_of_a_cluster_give_one_address_each() {
        let dialog = filled(" ws://a:7457/ , ws://b:7457", "team", "Ada");
        assert_eq!(
            dialog.target().map(|target| target.url),
            Some("ws://a:7457/team,ws://b:7457/team".to_owned())
        );
        let bad = filled("ws://a:7457, b:7457", "team", "Ada");
        assert!(bad.target().is_none());
        assert!(
            bad.problem(Field::Relay)
                .is_some_and(|p| p.contains("ws://"))
        );
    }

    #[test]
    fn a_locked_room_picked_without_a_password_asks_for_one() {
        let mut dialog = filled("ws://127.0.0.1:7457", "", "Ada");
        let url = "wss://10.0.0.2:7457/studio".to_owned();
        assert_eq!(dialog.picked(url.clone(), true), None);
        assert!(
            dialog
                .problem(Field::Password)
                .is_some_and(|problem| problem.contains("needs a password or code"))
        );
        dialog.password = "K7QX2M".to_owned();
        let target = dialog
            .picked(url.clone(), true)
            .expect("joins with the code");
        assert_eq!(target.password, Password::new("K7QX2M"));
        dialog.password.clear();
        assert!(
            dialog.picked(url, false).is_some(),
            "an open room joins at once"
        );
    }

    #[test]
    fn a_new_rooms_password_goes_only_with_the_box_ticked() {
        let mut dialog = filled("ws://127.0.0.1:7457", "vault", "Ada");
        dialog.password = "sesame".to_owned();
        assert_eq!(dialog.target().and_then(|t| t.new_room_password), None);
        dialog.new_room = true;
        assert_eq!(
            dialog.target().and_then(|t| t.new_room_password),
            Password::new("sesame")
        );
    }

    #[test]
    fn a_room_with_a_password_of_its_own_gets_a_second_field_and_the_relays_is_kept() {
        let url = "ws://relay.example:7457/vault";
        let code = Password::new("K7QX2M");
        let mut dialog = filled("ws://relay.example:7457", "vault", "Ada");
        dialog.ask_password("Ada", url, Ask::RoomsOwn, code.as_ref());
        assert_eq!(dialog.room_password.as_deref(), Some(""));
        assert_eq!(dialog.password, "K7QX2M", "the relay's code stays");
        assert!(
            dialog
                .problem(Field::RoomPassword)
                .is_some_and(|problem| problem.contains("of its own"))
        );
        assert_eq!(dialog.focus, Focus::On(Field::RoomPassword));
        dialog.room_password = Some(" open sesame ".to_owned());
        dialog.new_room = true;
        let target = dialog.target().expect("joins");
        assert_eq!(
            (target.password, target.room_password.clone()),
            (code.clone(), Password::new("open sesame"))
        );
        assert_eq!(target.new_room_password, target.room_password);

        // Wrong again: said so, both fields still there.
        dialog.ask_password("Ada", url, Ask::RoomsOwn, code.as_ref());
        assert_eq!(dialog.room_password.as_deref(), Some(""));
        assert!(
            dialog
                .problem(Field::RoomPassword)
                .is_some_and(|problem| problem.contains("not the room's own"))
        );
        // The relay's wrong now: its field asks, the room's keeps what was typed.
        dialog.room_password = Some("open sesame".to_owned());
        dialog.ask_password("Ada", url, Ask::WrongPassword, code.as_ref());
        assert!(dialog.password.is_empty());
        assert_eq!(dialog.room_password.as_deref(), Some("open sesame"));
        assert_eq!(dialog.focus, Focus::On(Field::Password));
        // Opened afresh: one field again.
        dialog.open("Ada", Some(url));
        assert_eq!(dialog.room_password, None);
        dialog.password = "K7QX2M".to_owned();
        assert_eq!(dialog.target().and_then(|t| t.room_password), None);
    }

    #[test]
    fn a_room_that_needs_a_password_reopens_the_dialog_asking_for_it() {
        let mut dialog = JoinDialog::default();
        dialog.ask_password(
            "Ada",
            "ws://relay.example:7457/vault#code=OLD",
            Ask::WrongPassword,
            Password::new("OLD").as_ref(),
        );
        assert!(dialog.is_open());
        assert_eq!(
            (dialog.relay.as_str(), dialog.room.as_str()),
            ("ws://relay.example:7457", "vault")
        );
        assert!(dialog.password.is_empty());
        assert!(
            dialog
                .problem(Field::Password)
                .is_some_and(|problem| problem.contains("not the room's"))
        );
        assert_eq!(dialog.focus, Focus::On(Field::Password));
    }

    #[test]
    fn bad_fields_are_reported_where_they_are() {
        let dialog = filled("http://x", "no spaces", "");
        assert!(dialog.target().is_none());
        assert!(dialog.problem(Field::Relay).unwrap().contains("ws://"));
        assert!(dialog.problem(Field::Room).unwrap().contains("' '"));
        assert!(dialog.problem(Field::Name).is_some());
        // Before a first try, empty fields are not shouted at.
        let mut fresh = JoinDialog::default();
        fresh.open("Ada", None);
        assert!(fresh.problem(Field::Room).is_none());
    }

    #[test]
    fn reopening_prefills_the_last_room() {
        let mut dialog = JoinDialog::default();
        dialog.open("Ada", Some("ws://relay.example:7457/sketches"));
        assert_eq!(dialog.relay, "ws://relay.example:7457");
        assert_eq!(dialog.room, "sketches");
        assert_eq!(dialog.name, "Ada");
        dialog.open("Ada", Some("wss://relay.example:7457/sketches#fp=abc"));
        assert_eq!(dialog.relay, "wss://relay.example:7457");
        assert_eq!(dialog.room, "sketches");
        assert_eq!(dialog.problem(Field::Relay), None, "wss:// is welcome");
    }
}
