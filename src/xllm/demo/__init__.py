"""The embedded demo: synthetic languages, their data in real formats, and a tiny Llama."""
