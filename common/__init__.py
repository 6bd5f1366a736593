"""Small shared infrastructure: configuration, DB wiring, outbox, event envelope, RPC client.

Domain logic never lives here.
"""
