"""One module per group of commands: each registers its subcommands and holds their handlers."""
