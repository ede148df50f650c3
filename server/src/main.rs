fn main() {
    nook::alloc::tune();
    std::process::exit(nook::cli::main());
}
