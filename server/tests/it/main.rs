//! Nook's integration tests: one binary, each module a group of behaviours, each test against
//! the real `nook` binary (see `common::TestApp`).

mod auth;
mod cli;
mod common;
mod connections;
mod disk_full;
mod download;
mod files;
mod ftp;
mod ftp_conformance;
mod openapi;
mod reliability;
mod roles;
mod schemathesis;
mod settings_logs;
mod symlinks;
mod system;
mod transfer;
mod users;
mod web;
mod webdav;
