//! Integration tests: a real relay on `127.0.0.1:0`, driven by real WebSocket
//! clients (and, for the HTTP side, raw TCP). One test binary, so that it links
//! once.

mod access;
mod bad_input;
mod catch_up;
mod child;
mod cluster;
mod crash;
mod discovery;
mod durable;
mod failover;
mod handover;
mod hostile;
mod http;
mod images;
mod liveness;
mod ordering;
mod presence;
mod redis_server;
mod rooms;
mod shutdown;
mod snapshots;
mod support;
mod tls;
