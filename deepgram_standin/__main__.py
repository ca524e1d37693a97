from deepgram_standin.cli import main

main()
