//! The `tollgate` command: `serve`, `migrate`, and the operator's `company` / `credential` commands.
//! Data goes to stdout as JSON; errors go to stderr with a non-zero exit code. Every command opens the
//! database through `tollgate_store::open`, which applies pending migrations first.

mod checks;
mod cli;
mod client_cmds;
mod output;
mod serve;

use std::process::ExitCode;

use clap::FromArgMatches as _;

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::run(cli, &matches)) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`tollgate audit list | head`): nothing to say.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` comes from writing to a closed stdout.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}
