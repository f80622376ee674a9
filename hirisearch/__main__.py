from hirisearch.entry import run

run()
