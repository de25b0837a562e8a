from localpay.entrypoints.cli.main import run

run()
