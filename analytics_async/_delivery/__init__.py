"""Delivery on the wire: the pipeline that batches and sends, and everything a request needs.

Owns the per-loop pipeline (queue, batcher, sends), one batch's attempts and their pure retry
decisions, the default aiohttp adapter and its resolver, OAuth tokens, the durable spool and the
batch-observer seam. May import `_core` and `_message`; it reports each batch's outcome to its owner
and never settles an event itself.
"""
