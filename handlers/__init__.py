"""Channel-neutral conversation logic: the router (`handlers.router`), the neutral message
types (`handlers.messages`), who may do what (`handlers.access`), the rule core
(`handlers.rules`), shared texts (`handlers.render`) and one chat module per feature, composed
in `handlers.features`.

This package file imports nothing, so that the light parts (`handlers.rules.periods`) load
without the rest.
"""
