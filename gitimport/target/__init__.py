"""Questions to the interpreter that will run the code (``--python``): what it imports, what it has installed."""
