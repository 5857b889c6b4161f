"""The public functions, a module per concept; each works on the default client
unless given one. ``import prodml`` exposes them by name (see ``prodml.__init__``)."""
