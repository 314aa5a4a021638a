fn main() -> std::process::ExitCode {
    nethergaze::app::main(std::env::args_os())
}
