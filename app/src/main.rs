//! `tabula`: the desktop whiteboard.
//!
//! Parses the flags, sets up logging, starts the runtime the network task runs on
//! and opens the window on a local board (or on `FILE.tabula`), joining a room
//! straight away with `--join`, or hosting the board on the local network with
//! `--host`. Everything else lives in the library.

use anyhow::Context as _;
use clap::Parser;
use tabula_app::app::TabulaApp;
use tabula_app::host::names::random_room_name;
use tabula_app::session::{Identity, KnownHosts, Session, room_urls};
use tabula_app::ui::file_dialog::Portal;
use tabula_app::ui::presence::identity_color;
use tabula_app::ui::theme;
use tabula_server::discovery::{INTERFACES_VARIABLE, Interfaces};
use tabula_shared::{ClientId, room_name};
use tracing_subscriber::EnvFilter;

/// A collaborative whiteboard. Draws on a local board; `--join` or `--host`
/// shares it.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A saved session (`.tabula`) to open as the board.
    #[arg(value_name = "FILE")]
    file: Option<std::path::PathBuf>,
    /// A room to join at start, as `ws://HOST:7457/ROOM`; or the relays of a
    /// cluster, separated by commas (`ws://a:7457/team,ws://b:7457/team`),
    /// tried in turn when one fails.
    #[arg(long, value_name = "URL")]
    join: Option<String>,
    /// A picture (PNG, JPEG, GIF or WebP) to put on the board at start, in
    /// the middle of the view, as File → Insert image… does; repeatable.
    #[arg(long, value_name = "IMAGE")]
    insert: Vec<std::path::PathBuf>,
    /// Host this board on the local network at start, in room ROOM (a
    /// readable random name, such as blue-otter-42, when none is given):
    /// others find it in their join dialog. Each address others can join at
    /// is logged.
    #[arg(
        long,
        value_name = "ROOM",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["join", "file"],
    )]
    host: Option<String>,
    /// Advertise a hosted room, and look for relays in the join dialog, on
    /// this network interface only (repeatable, or comma-separated), e.g.
    /// `eth0`, or `lo` for this machine alone. Default: every interface.
    #[arg(
        long = "mdns-interface",
        value_name = "NAME",
        env = INTERFACES_VARIABLE,
        value_delimiter = ','
    )]
    mdns_interfaces: Vec<String>,
    /// The name others see next to your pointer.
    #[arg(long, env = "USER", hide_env_values = true, default_value = "Guest")]
    name: String,
    /// Window size and position, X11-style: `WIDTHxHEIGHT[+X+Y]`, e.g. `960x700+0+0`.
    #[arg(long, value_name = "GEOMETRY", value_parser = parse_geometry)]
    geometry: Option<Geometry>,
    /// Light or dark panels; `system` follows the desktop's preference.
    #[arg(long, value_enum, default_value_t = ThemeChoice::System)]
    theme: ThemeChoice,
}

/// The `--theme` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ThemeChoice {
    /// Follow the desktop (light when it does not say).
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl From<ThemeChoice> for egui::ThemePreference {
    fn from(choice: ThemeChoice) -> Self {
        match choice {
            ThemeChoice::System => Self::System,
            ThemeChoice::Light => Self::Light,
            ThemeChoice::Dark => Self::Dark,
        }
    }
}

/// A window size and an optional position, from `--geometry`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Geometry {
    /// Inner size in points.
    size: [f32; 2],
    /// Top-left corner on the screen, if given.
    position: Option<[f32; 2]>,
}

fn parse_geometry(text: &str) -> Result<Geometry, String> {
    let bad = || format!("expected WIDTHxHEIGHT or WIDTHxHEIGHT+X+Y, got {text:?}");
    let (size, position) = match text.split_once('+') {
        Some((size, position)) => (size, Some(position)),
        None => (text, None),
    };
    let number = |s: &str| s.trim().parse::<u16>().map(f32::from).map_err(|_| bad());
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let position = match position.map(|p| p.split_once('+').ok_or_else(bad)) {
        Some(Ok((x, y))) => Some([number(x)?, number(y)?]),
        Some(Err(e)) => return Err(e),
        None => None,
    };
    Ok(Geometry {
        size: [number(w)?, number(h)?],
        position,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    // The relay this app hosts holds a socket a person and room files: as many as the
    // system allows, as tabula-server does, so a desktop's default limit of
    // 1,024 does not cap a hosted room at a few hundred people.
    if let Some(limit) = tabula_server::raise_open_file_limit() {
        tracing::debug!(limit, "open-file limit");
    }
    if let Some(url) = &args.join {
        room_urls(url).with_context(|| format!("cannot join {url}"))?;
    }
    let host_room = match args.host.as_deref().map(str::trim) {
        Some("") => Some(random_room_name()),
        Some(room) => Some(
            room_name::validate(room)
                .with_context(|| format!("cannot host {room:?}"))?
                .to_owned(),
        ),
        None => None,
    };

    // One worker is plenty for one WebSocket; it lives as long as the window.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tabula-net")
        .enable_all()
        .build()
        .context("starting the network runtime")?;

    let client = ClientId::random();
    let name = match args.name.trim() {
        "" => "Guest".to_owned(),
        name => name.to_owned(),
    };
    let me = Identity {
        client,
        name,
        color: identity_color(client),
    };
    tracing::info!(%client, name = %me.name, "starting");

    let geometry = args.geometry.unwrap_or(Geometry {
        size: [1280.0, 800.0],
        position: None,
    });
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Tabula")
        .with_app_id("tabula")
        .with_inner_size(geometry.size)
        .with_min_inner_size([640.0, 420.0]);
    if let Some(position) = geometry.position {
        viewport = viewport.with_position(position);
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        "Tabula",
        options,
        Box::new(move |cc| {
            theme::apply(&cc.egui_ctx);
            cc.egui_ctx.set_theme(args.theme);
            let mut session = Session::offline(me);
            // The relays' certificates trusted so far, kept across runs.
            session.set_known_hosts(KnownHosts::in_data_dir());
            let mut app = TabulaApp::new(session, handle);
            // The system's file dialogs; typed paths when none answers.
            app.set_file_dialogs(std::sync::Arc::new(Portal));
            app.set_mdns_interfaces(Interfaces::named(&args.mdns_interfaces));
            if let Some(path) = &args.file {
                // Read and built off the UI thread; a file that cannot be
                // opened is explained in the window.
                app.start_opening(path, &cc.egui_ctx);
            }
            if let Some(url) = &args.join {
                app.join(url, &cc.egui_ctx)?;
            }
            for picture in &args.insert {
                app.insert_file(picture, &cc.egui_ctx);
            }
            if let Some(room) = &host_room {
                app.host(room, &cc.egui_ctx)?;
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window failed: {e}"))?;
    drop(runtime);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_is_parsed_x11_style() {
        assert_eq!(
            parse_geometry("960x700+10+20"),
            Ok(Geometry {
                size: [960.0, 700.0],
                position: Some([10.0, 20.0])
            })
        );
        assert_eq!(parse_geometry("800x600").map(|g| g.position), Ok(None));
        assert!(parse_geometry("800").is_err());
        assert!(parse_geometry("800x600+5").is_err());
    }
}
