//! The `mailwatch` desktop binary. Everything lives in the `mailwatch_shell` library so that
//! the same code can be driven by tests.

// Keeps a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(missing) = mailwatch_shell::check_display() {
        eprintln!("{missing}");
        std::process::exit(1);
    }
    mailwatch_shell::run();
}
