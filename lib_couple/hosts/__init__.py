"""Host adapters: thin layers between a host's attention hooks and the regional engine."""
