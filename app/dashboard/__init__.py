"""The dashboard a seller opens first: how the day, the week and the month go."""
