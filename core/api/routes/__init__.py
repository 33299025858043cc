"""The API's routes, one module per kind of thing they act on."""
