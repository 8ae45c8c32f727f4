"""The event as data: its message, its JSON, and the Context and Envelope that carry it.

Owns building and validating each call's message (`build`), converting and serializing values
(`codec`), and `Context`/`Envelope` (`context`). Imports nothing of the package but `errors` and
`_version`: every other layer builds on it.
"""
