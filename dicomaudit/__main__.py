from dicomaudit.cli import main

main()
