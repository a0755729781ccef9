//! `mailroomd`: the Mailroom engine binary (serve, and administer the data directory).

use std::process::ExitCode;

fn main() -> ExitCode {
    mailroom_engine::cli::main()
}
