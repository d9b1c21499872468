"""Opastin's NLU: what a customer's message means (intent), in which language, and its entities.

Modules, one concept each:

- ``data``: Rasa 3 NLU YAML → examples, with ``file:line`` errors (``errors``).
- ``model``: train, save, load, ``NLUModel.parse(text, lang_hint, now) -> ParsedMessage``.
- ``features``, ``finnish``, ``augment``: what the classifier sees, spoken Finnish, training variants.
- ``lang``: fi/sv/en identification that keeps the conversation's language unless clearly switched.
- ``entities`` (``dates``, ``pii``): dates and times, identity codes, phones, e-mails, counts; ``redact``.
- ``interpreter``: the ``Interpreter`` seam and the Rasa server client; ``to_rasa_json``.
- ``evaluation``, ``cli``: ``opastin nlu train|parse|test``.

Imports point inward: ``flows`` only, never ``bot``.
"""
