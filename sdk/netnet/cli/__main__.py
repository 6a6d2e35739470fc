from netnet.cli.app import main

main()
