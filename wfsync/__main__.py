from wfsync.cli import main

main()
