from tap_klaviyo.cli import main

main()
