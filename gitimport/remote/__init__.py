"""Talking to git servers: the host policy, fetches, credentials, the bare repositories, signatures.

Everything that imports dulwich's client lives here, and nothing below this
layer imports it; the warm import path never reaches it.
"""
