from deepgram_standin.server import main

main()
