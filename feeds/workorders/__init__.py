"""Work orders from the 12345 hotline, the grid app, digital city management, petitions and 110 calls."""
