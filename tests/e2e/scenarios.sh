real_main() { e2e_die "real scenarios not written yet"; }
