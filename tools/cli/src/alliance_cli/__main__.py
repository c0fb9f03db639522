"""`python -m alliance_cli`: the same as the `alliance` command."""

from alliance_cli.main import main

main()
