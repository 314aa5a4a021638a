fn main() -> std::process::ExitCode {
    nethergaze::entry::main(std::env::args_os())
}
