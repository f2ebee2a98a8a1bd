from tunelint.cli import main

main()
