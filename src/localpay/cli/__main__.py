from localpay.cli.main import run

run()
