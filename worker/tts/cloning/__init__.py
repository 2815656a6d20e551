"""Voice cloning at enrollment: picking a style from the stock voices and refining it."""
