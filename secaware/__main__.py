from secaware.cli import main

main()
