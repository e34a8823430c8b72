"""The Forge host: everything that knows Forge's objects.

`runner`, `architectures` and `patchers/` work on duck-typed Forge objects and import nothing of Forge;
`services`, `settings`, `walk_host`, `ahead_queue` and `temp_folder` are the only modules that import
`modules.*`, and only when called.
"""
