"""Renders the figures bench/run.sh collected into BENCHMARKS.md.

Usage: python3 bench/report.py RESULTS_DIR BENCHMARKS.md DURATION [NOTE]

Replaces the text between the "bench:begin" and "bench:end" markers of the
Markdown file (appending them if absent) and leaves everything else alone, so
the written analysis around the tables survives a new run.
"""

import datetime
import json
import pathlib
import platform
import re
import subprocess
import sys

BEGIN = "<!-- bench:begin (written by bench/run.sh; edits here are overwritten) -->"
END = "<!-- bench:end -->"
RELAYS = ["tabula", "tabula-memory", "node-ws", "python-websockets", "fastwebsockets"]
TABULAS = ["tabula", "tabula-memory"]
PEERS = ["node-ws", "python-websockets", "fastwebsockets"]
LOAD = [
    ("fanout-2", "Fan-out, 1 room, 2 peers × 60 Hz, 100 B"),
    ("fanout-10", "Fan-out, 1 room, 10 peers × 60 Hz, 100 B"),
    ("fanout-100", "Fan-out, 1 room, 100 peers × 60 Hz, 100 B"),
    ("room-1000fps", "Room load 1,000 frames/s in: 10 peers × 100 Hz, 100 B"),
    ("rooms-100x10", "100 rooms × 10 peers × 60 Hz, 100 B"),
    ("slow-consumer", "1 room, 100 peers × 60 Hz + 1 peer that never reads"),
]


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def load(results, name, relay):
    path = results / f"{name}.{relay}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def command(results, name, relay):
    path = results / f"{name}.{relay}.cmd"
    return path.read_text().strip() if path.exists() else None


def ms(us):
    return "–" if us is None else f"{us / 1000:.2f}"


def num(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:.1f}"


def per_cpu(r):
    """Frames delivered per second of relay CPU (one core busy for one second),
    or None without the relay's CPU."""
    cpu = r and r.get("relay_cpu_pct")
    if not cpu:
        return None
    return r["delivered_per_s"] / (cpu / 100)


def ratio(a, b):
    if not a or not b:
        return "–"
    return f"{a / b:.2f}×"


def machine():
    cpu = "?"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    cores = run("nproc")
    ws = run("node", "-e", "console.log(require('./bench/peers/node-ws/node_modules/ws/package.json').version)")
    websockets = run(
        "bench/peers/python-websockets/.venv/bin/python", "-c", "import websockets; print(websockets.__version__)"
    )
    fastwebsockets = "?"
    lock = pathlib.Path("bench/peers/fastwebsockets-rust/Cargo.lock")
    if lock.exists():
        found = re.search(r'name = "fastwebsockets"\nversion = "([^"]+)"', lock.read_text())
        fastwebsockets = found.group(1) if found else "?"
    return [
        f"- CPU: {cpu}, {cores} cores; memory {mem}; Linux {platform.release()}",
        f"- {run('rustc', '--version')}; Node {run('node', '--version')} with ws {ws}; "
        f"Python {platform.python_version()} with websockets {websockets}; "
        f"Rust fastwebsockets {fastwebsockets} (release, LTO)",
        f"- Tabula at {run('git', 'rev-parse', '--short', 'HEAD')}",
    ]


def sent_share(r):
    offered = r.get("offered")
    return f"{r['sent'] / offered:.0%}" if offered else "–"


def load_table(results, name):
    rows = [
        "| relay | delivered/s | sent of offered | lost | p50 ms | p99 ms | p99.9 ms | relay CPU % | relay RSS MiB (peak) | generator CPU % | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for relay in RELAYS:
        r = load(results, name, relay)
        if r is None:
            continue
        note = r.get("error") or ""
        note = (note[:80] + "…") if len(note) > 80 else note
        rss = f"{mib(r.get('relay_rss_kib'))} ({mib(r.get('relay_peak_rss_kib'))})"
        rows.append(
            f"| {relay} | {num(r['delivered_per_s'])} | {sent_share(r)} | {r['lost']:,} of {r['expected']:,} | "
            f"{ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['p999_us'])} | "
            f"{num(r.get('relay_cpu_pct'))} | {rss} | {num(r.get('bench_cpu_pct'))} | {note} |"
        )
    return rows


def holds(r):
    """Whether a ramp step held: no error, no loss, p99 within 50 ms, and at
    least 90 % of the offered frames sent (a relay that stops reading pushes
    back on the senders, which hides its saturation from the latency)."""
    offered = r.get("offered")
    return (
        r.get("error") is None
        and r["lost"] == 0
        and r["p99_us"] <= 50_000
        and (offered is None or r["sent"] >= 0.9 * offered)
    )


def ramp(results, relay):
    """The ramp's steps for one relay, and the highest rate that held."""
    steps = []
    for path in results.glob(f"ramp-*.{relay}.json"):
        rate = int(re.match(r"ramp-(\d+)\.", path.name).group(1))
        r = load(results, f"ramp-{rate}", relay)
        if r is not None:
            steps.append((rate, r))
    steps.sort(key=lambda s: s[0])
    held = None
    for rate, r in steps:
        if holds(r):
            held = (rate, r)
        else:
            break
    return steps, held


def render(results, duration, note):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    start = (results / "loadavg-start").read_text().strip() if (results / "loadavg-start").exists() else "?"
    end = (results / "loadavg-end").read_text().strip() if (results / "loadavg-end").exists() else "?"
    out = [BEGIN, "", f"## Run of {now}", ""]
    out += machine()
    out += [
        f"- Each load scenario sent for {duration} s; the relay on core 0, tabula-bench on core 1.",
        f"- Load before the run: `{start}`; after: `{end}`.",
    ]
    if note:
        out.append(f"- Note: {note}")
    for tabula in TABULAS:
        if not any(load(results, name, tabula) for name, _ in LOAD):
            continue
        out += ["", f"### Ratios: {tabula} ÷ peer", ""]
        out += [
            "| scenario | "
            + " | ".join(f"delivered/s vs {peer}" for peer in PEERS)
            + " | "
            + " | ".join(f"p99 of {peer} ÷ this" for peer in PEERS)
            + " |",
            "|---|" + "---:|" * (2 * len(PEERS)),
        ]
        for name, title in LOAD:
            t = load(results, name, tabula)
            if t is None:
                continue
            cells = []
            for peer in PEERS:
                p = load(results, name, peer)
                cells.append(ratio(t["delivered_per_s"], p and p["delivered_per_s"]))
            for peer in PEERS:
                p = load(results, name, peer)
                cells.append(ratio(p and p["p99_us"], t["p99_us"]))
            out.append(f"| {title} | " + " | ".join(cells) + " |")
        sat = []
        for peer in PEERS:
            _, t_held = ramp(results, tabula)
            _, p_held = ramp(results, peer)
            if t_held and not p_held:
                sat.append(f"{peer} held no step")
            else:
                sat.append(ratio(t_held and t_held[1]["delivered_per_s"], p_held and p_held[1]["delivered_per_s"]))
        out.append("| Saturation (delivered/s at the highest rate that held) | " + " | ".join(sat) + " |" + " |" * len(PEERS))

    cpu_relays = [relay for relay in RELAYS if any(per_cpu(load(results, name, relay)) for name, _ in LOAD)]
    if cpu_relays:
        out += ["", "### Delivered frames per second of relay CPU", ""]
        out += [
            "Frames delivered per second ÷ the relay's CPU (in cores) over the send window: "
            "what a relay gets out of one busy core. A generator near 100 % voids a row.",
            "",
        ]
        against = "fastwebsockets" if "fastwebsockets" in cpu_relays else None
        mine = [t for t in TABULAS if t in cpu_relays] if against else []
        out += [
            "| scenario | "
            + " | ".join(cpu_relays)
            + "".join(f" | {t} ÷ {against}" for t in mine)
            + " |",
            "|---|" + "---:|" * (len(cpu_relays) + len(mine)),
        ]
        rows = [(title, {relay: load(results, name, relay) for relay in cpu_relays}) for name, title in LOAD]
        held = {relay: ramp(results, relay)[1] for relay in cpu_relays}
        rows.append(
            (
                "Saturation (at the highest rate that held)",
                {relay: held[relay] and held[relay][1] for relay in cpu_relays},
            )
        )
        for title, figures in rows:
            if not any(figures.values()):
                continue
            cells = [num(per_cpu(figures[relay])) for relay in cpu_relays]
            cells += [ratio(per_cpu(figures[t]), per_cpu(figures[against])) for t in mine]
            out.append(f"| {title} | " + " | ".join(cells) + " |")
    for name, title in LOAD:
        if not any(load(results, name, relay) for relay in RELAYS):
            continue
        out += ["", f"### {title}", ""]
        out += load_table(results, name)

    out += ["", "### Saturation: 100 peers in one room, rate doubled until p99 > 50 ms, a loss, or under 90 % of the offered frames sent", ""]
    out += [
        "| relay | steps (Hz per peer: delivered/s, p99 ms) | highest rate that held | delivered/s there |",
        "|---|---|---:|---:|",
    ]
    for relay in RELAYS:
        steps, held = ramp(results, relay)
        if not steps:
            continue
        cells = "; ".join(
            f"{rate}: {num(r['delivered_per_s'])}, {ms(r['p99_us'])}"
            + (f" ({r['lost']:,} lost)" if r["lost"] else "")
            + (
                f" (sent {r['sent'] / r['offered']:.0%} of offered)"
                if r.get("offered") and r["sent"] < 0.9 * r["offered"]
                else ""
            )
            + (" (error)" if r.get("error") else "")
            for rate, r in steps
        )
        out.append(
            f"| {relay} | {cells} | {f'{held[0]} Hz' if held else f'none: {steps[0][0]} Hz already failed'} | "
            f"{num(held[1]['delivered_per_s']) if held else '–'} |"
        )

    out += ["", "### Idle connections", ""]
    out += [
        "| relay | connections | opened in s | relay RSS before → after MiB | per connection KiB | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for relay in RELAYS:
        r = load(results, "idle", relay)
        if r is None:
            continue
        per = r.get("rss_per_conn_bytes")
        out.append(
            f"| {relay} | {r['connections']:,} | {r['connect_s']:.1f} | "
            f"{mib(r.get('relay_rss_before_kib'))} → {mib(r.get('relay_rss_after_kib'))} | "
            f"{'–' if per is None else f'{per / 1024:.1f}'} | {r.get('error') or ''} |"
        )

    joins = [(relay, load(results, "join", relay)) for relay in TABULAS]
    joins = [(relay, j) for relay, j in joins if j is not None]
    if joins:
        out += ["", "### Joining a big room (Tabula only: the peers keep no history)", ""]
        out += [
            "| relay | ops in the room | filled in s | welcome ms | joined ms (board ready) | snapshot MiB (parts) | decoding it ms | ops after it | relay RSS MiB | note |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for relay, j in joins:
            snapshot_bytes = j.get("snapshot_bytes")
            snapshot = (
                "–"
                if not snapshot_bytes
                else f"{snapshot_bytes / 1048576:.1f} ({j.get('snapshot_parts', 0)})"
            )
            note = j.get("error") or ("" if j.get("snapshot_covered", True) else "snapshot lagged")
            out.append(
                f"| {relay} | {j.get('ops', 0):,} | {j.get('fill_s', 0):.1f} | {num(j.get('welcome_ms'), 1)} | "
                f"{num(j.get('join_ms', j.get('caught_up_ms')), 1)} | {snapshot} | {num(j.get('decode_ms'), 1)} | "
                f"{num(j.get('tail_ops'))} | {mib(j.get('relay_rss_kib'))} | {note} |"
            )

    out += ["", "### Commands", "", "```"]
    for path in sorted(results.glob("*.tabula.cmd")):
        out.append(path.read_text().strip())
    out += [
        "# the relays: tabula, then tabula-memory, then the peers (which get the same flags with --raw)",
        "taskset -c 0 target/release/tabula-server --data FRESH_DIR --listen 127.0.0.1:PORT",
        "taskset -c 0 target/release/tabula-server --memory --listen 127.0.0.1:PORT",
        "taskset -c 0 node bench/peers/node-ws/server.js PORT",
        "taskset -c 0 bench/peers/python-websockets/.venv/bin/python bench/peers/python-websockets/server.py PORT",
        "taskset -c 0 target/release/fastwebsockets-relay PORT",
        "```",
        "",
        END,
    ]
    return "\n".join(out)


def main():
    results = pathlib.Path(sys.argv[1])
    target = pathlib.Path(sys.argv[2])
    duration = sys.argv[3]
    note = sys.argv[4] if len(sys.argv) > 4 else ""
    section = render(results, duration, note)
    text = target.read_text() if target.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        before = text[: text.index(BEGIN)]
        after = text[text.index(END) + len(END):]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    target.write_text(text)


if __name__ == "__main__":
    main()
